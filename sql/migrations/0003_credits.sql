-- The credit ledger: every change is an append-only row whose deltas explain the balance exactly,
-- each item's hold resolves once (captured or released), and prices per image live in a table.

CREATE TABLE credit_prices (
    model       text NOT NULL,
    image_size  text NOT NULL CHECK (image_size IN ('512', '1K', '2K', '4K')),
    credits     integer NOT NULL CHECK (credits > 0),
    PRIMARY KEY (model, image_size)
);

INSERT INTO credit_prices (model, image_size, credits) VALUES
    ('gemini-3.1-flash-lite-image', '512', 1), ('gemini-3.1-flash-lite-image', '1K', 1),
    ('gemini-3.1-flash-image', '512', 1), ('gemini-3.1-flash-image', '1K', 2),
    ('gemini-3.1-flash-image', '2K', 3), ('gemini-3.1-flash-image', '4K', 4),
    ('gemini-3-pro-image', '1K', 4), ('gemini-3-pro-image', '2K', 4), ('gemini-3-pro-image', '4K', 7);

ALTER TABLE credit_transactions ADD COLUMN delta_available integer NOT NULL DEFAULT 0;
ALTER TABLE credit_transactions ADD COLUMN delta_held integer NOT NULL DEFAULT 0;
ALTER TABLE credit_transactions ADD COLUMN actor_id uuid REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE credit_transactions ADD CONSTRAINT credit_transactions_deltas_match_kind CHECK (
    (kind = 'hold' AND amount > 0 AND delta_available = -amount AND delta_held = amount)
    OR (kind = 'capture' AND amount > 0 AND delta_available = 0 AND delta_held = -amount)
    OR (kind = 'release' AND amount > 0 AND delta_available = amount AND delta_held = -amount)
    OR (kind = 'grant' AND amount > 0 AND delta_available = amount AND delta_held = 0)
    OR (kind IN ('monthly_reset', 'adjustment') AND delta_available = amount AND delta_held = 0));
ALTER TABLE credit_transactions ADD CONSTRAINT credit_transactions_adjustment_has_reason
    CHECK (kind <> 'adjustment' OR length(btrim(reason)) > 0);
CREATE UNIQUE INDEX credit_transactions_one_hold_per_item
    ON credit_transactions (difference_id) WHERE kind = 'hold';
CREATE UNIQUE INDEX credit_transactions_one_resolution_per_item
    ON credit_transactions (difference_id) WHERE kind IN ('capture', 'release');
CREATE INDEX credit_transactions_by_day ON credit_transactions (created_at);
