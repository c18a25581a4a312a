-- Admin reports over long ranges and revenue: monthly rollups beside the daily ones, and revenue per month
-- and plan. A report reads whole calendar months from the monthly tables and the days around them from
-- the daily ones, so a year costs twelve rows per group instead of 365.

-- When a plan-history row was written: an account inserted with an earlier created_at (an import) changes
-- the revenue of the months since then, and this is how a refresh finds it.
ALTER TABLE user_plan_history ADD COLUMN recorded_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX user_plan_history_by_recorded_at ON user_plan_history (recorded_at);

CREATE OR REPLACE FUNCTION user_plan_history_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_plan_history (user_id, plan, valid_from)
    VALUES (NEW.id, NEW.plan, CASE WHEN TG_OP = 'INSERT' THEN '-infinity'::timestamptz ELSE now() END)
    ON CONFLICT (user_id, valid_from) DO UPDATE SET plan = EXCLUDED.plan, recorded_at = now();
    RETURN NULL;
END $$;

-- usage_daily summed per calendar month (month is its first day), without the model columns.
CREATE TABLE usage_monthly (
    month             date NOT NULL CHECK (extract(day FROM month) = 1),
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    plan              text NOT NULL,
    images_done       bigint NOT NULL DEFAULT 0,
    cost_usd          numeric(14, 4) NOT NULL DEFAULT 0,
    credits_captured  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (month, user_id, plan)
);
CREATE INDEX usage_monthly_by_user ON usage_monthly (user_id, month);

CREATE TABLE usage_monthly_plan (
    month             date NOT NULL CHECK (extract(day FROM month) = 1),
    plan              text NOT NULL,
    images_done       bigint NOT NULL DEFAULT 0,
    cost_usd          numeric(14, 4) NOT NULL DEFAULT 0,
    credits_captured  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (month, plan)
);

CREATE TABLE usage_latency_monthly (
    month    date NOT NULL CHECK (extract(day FROM month) = 1),
    user_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    plan     text NOT NULL,
    model    text NOT NULL,
    bucket   integer NOT NULL CHECK (bucket BETWEEN 0 AND 199),
    images   integer NOT NULL CHECK (images > 0),
    PRIMARY KEY (month, user_id, plan, model, bucket)
);
CREATE INDEX usage_latency_monthly_by_user ON usage_latency_monthly (user_id, month);

CREATE TABLE usage_latency_monthly_plan (
    month    date NOT NULL CHECK (extract(day FROM month) = 1),
    plan     text NOT NULL,
    model    text NOT NULL,
    bucket   integer NOT NULL CHECK (bucket BETWEEN 0 AND 199),
    images   integer NOT NULL CHECK (images > 0),
    PRIMARY KEY (month, plan, model, bucket)
);

-- Accounts per plan at each month's end (or at the refresh, for the current month); revenue is accounts
-- times the plan's price, read when the report runs. Plans without accounts have no row.
CREATE TABLE revenue_monthly (
    month     date NOT NULL CHECK (extract(day FROM month) = 1),
    plan      text NOT NULL REFERENCES plans (key),
    accounts  integer NOT NULL CHECK (accounts > 0),
    PRIMARY KEY (month, plan)
);

-- The new tables start empty: the next refresh rebuilds everything.
UPDATE usage_rollup_state SET watermark = NULL;
