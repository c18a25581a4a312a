-- Stripe billing. Stripe sends events more than once and in any order: each event id is stored once,
-- and subscriptions hold what the API said when re-fetched, never what an event payload claimed.

CREATE TABLE stripe_events (
    id            text PRIMARY KEY CHECK (id LIKE 'evt\_%'),
    type          text NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    -- NULL: stored but not acted on (a type the studio ignores).
    processed_at  timestamptz,
    CONSTRAINT stripe_events_processed_after_received CHECK (processed_at IS NULL OR processed_at >= received_at)
);

CREATE TABLE subscriptions (
    id                    text PRIMARY KEY CHECK (id LIKE 'sub\_%'),
    user_id               uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    customer_id           text NOT NULL CHECK (customer_id LIKE 'cus\_%'),
    price_id              text,
    plan                  text NOT NULL REFERENCES plans (key),
    -- Stripe's status as given (active, trialing, past_due, canceled, unpaid, incomplete, ...): not a closed
    -- list here, so a status Stripe adds later cannot make every webhook fail.
    status                text NOT NULL CHECK (length(status) > 0),
    current_period_end    timestamptz,
    cancel_at_period_end  boolean NOT NULL DEFAULT false,
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_by_user ON subscriptions (user_id, updated_at DESC);
