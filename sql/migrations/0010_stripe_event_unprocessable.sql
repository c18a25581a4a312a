-- A signed Stripe event the studio can never act on (a malformed id, an id Stripe refuses) is recorded
-- with the reason and answered 200, so that Stripe does not retry it for days.
ALTER TABLE stripe_events
    ADD COLUMN unprocessable_reason text,
    ADD CONSTRAINT stripe_events_unprocessable_reason
        CHECK (unprocessable_reason IS NULL OR (length(unprocessable_reason) BETWEEN 1 AND 500 AND processed_at IS NULL));
