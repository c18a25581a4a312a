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

-- Latency histograms summed over plans, for the unfiltered report (a third of the plan rows).
CREATE TABLE usage_latency_daily_total (
    day      date NOT NULL,
    model    text NOT NULL,
    bucket   integer NOT NULL CHECK (bucket BETWEEN 0 AND 199),
    images   integer NOT NULL CHECK (images > 0),
    PRIMARY KEY (day, model, bucket) INCLUDE (images)
);

-- Covering indexes: the reports read them without visiting the table (index-only scans).
ALTER TABLE usage_latency_daily_plan DROP CONSTRAINT usage_latency_daily_plan_pkey,
    ADD PRIMARY KEY (day, plan, model, bucket) INCLUDE (images);
DROP INDEX usage_daily_by_user;
CREATE INDEX usage_daily_by_user ON usage_daily (user_id, day)
    INCLUDE (plan, model, credits_captured, images_done, images_failed, safety_blocks, cost_usd);
DROP INDEX usage_latency_daily_by_user;
CREATE INDEX usage_latency_daily_by_user ON usage_latency_daily (user_id, day) INCLUDE (plan, model, bucket, images);
-- Most per-user rows are grants, resets and releases; top users reads only the rows that spent something.
CREATE INDEX usage_daily_spending ON usage_daily (day) INCLUDE (plan, user_id, credits_captured, images_done, cost_usd)
    WHERE credits_captured <> 0 OR images_done <> 0 OR cost_usd <> 0;

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
CREATE INDEX usage_monthly_by_user ON usage_monthly (user_id, month)
    INCLUDE (plan, credits_captured, images_done, cost_usd);

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
CREATE INDEX usage_latency_monthly_by_user ON usage_latency_monthly (user_id, month)
    INCLUDE (plan, model, bucket, images);

CREATE TABLE usage_latency_monthly_plan (
    month    date NOT NULL CHECK (extract(day FROM month) = 1),
    plan     text NOT NULL,
    model    text NOT NULL,
    bucket   integer NOT NULL CHECK (bucket BETWEEN 0 AND 199),
    images   integer NOT NULL CHECK (images > 0),
    PRIMARY KEY (month, plan, model, bucket) INCLUDE (images)
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
