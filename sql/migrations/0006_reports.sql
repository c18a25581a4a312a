-- Admin reports: a daily rollup of the ledger and of finished images, kept current incrementally.
-- Days are UTC dates. Each event is attributed to the plan its user had at that instant, read from
-- user_plan_history (kept by triggers on users, so no code path can forget it).

CREATE TABLE user_plan_history (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    plan        text NOT NULL REFERENCES plans (key),
    -- '-infinity' marks the plan a user started with: it holds for everything before the first change.
    valid_from  timestamptz NOT NULL,
    PRIMARY KEY (user_id, valid_from)
);

CREATE FUNCTION user_plan_history_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_plan_history (user_id, plan, valid_from)
    VALUES (NEW.id, NEW.plan, CASE WHEN TG_OP = 'INSERT' THEN '-infinity'::timestamptz ELSE now() END)
    ON CONFLICT (user_id, valid_from) DO UPDATE SET plan = EXCLUDED.plan;
    RETURN NULL;
END $$;

CREATE TRIGGER users_plan_history_insert AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION user_plan_history_record();
CREATE TRIGGER users_plan_history_update AFTER UPDATE OF plan ON users
    FOR EACH ROW WHEN (OLD.plan IS DISTINCT FROM NEW.plan) EXECUTE FUNCTION user_plan_history_record();

INSERT INTO user_plan_history (user_id, plan, valid_from) SELECT id, plan, '-infinity' FROM users;

-- Latency histogram: bucket 0 is under 50 ms, bucket b >= 1 is [50 * 1.1^(b-1), 50 * 1.1^b) ms, up to 199.
-- A percentile read from it is the bucket's geometric middle: within 4.9 % of the exact value.
CREATE FUNCTION usage_latency_bucket(ms double precision) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN ms < 50 THEN 0 ELSE least(floor(ln(ms / 50) / ln(1.1))::integer + 1, 199) END;

CREATE FUNCTION usage_latency_bucket_ms(bucket integer) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN bucket = 0 THEN 25 ELSE 50 * power(1.1, bucket - 0.5) END;

-- Per user and day. model, backend and image_size are '' for ledger rows without a job (grants, resets).
CREATE TABLE usage_daily (
    day               date NOT NULL,
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    plan              text NOT NULL,
    backend           text NOT NULL,
    model             text NOT NULL,
    image_size        text NOT NULL,
    images_done       integer NOT NULL DEFAULT 0,
    images_failed     integer NOT NULL DEFAULT 0,
    safety_blocks     integer NOT NULL DEFAULT 0,
    cost_usd          numeric(14, 4) NOT NULL DEFAULT 0,
    credits_captured  bigint NOT NULL DEFAULT 0,
    credits_released  bigint NOT NULL DEFAULT 0,
    credits_granted   bigint NOT NULL DEFAULT 0,
    credits_adjusted  bigint NOT NULL DEFAULT 0,
    credits_reset     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, user_id, plan, backend, model, image_size)
);
CREATE INDEX usage_daily_by_user ON usage_daily (user_id, day);

-- The same summed over users: what the unfiltered and plan-filtered reports read.
CREATE TABLE usage_daily_plan (
    day               date NOT NULL,
    plan              text NOT NULL,
    backend           text NOT NULL,
    model             text NOT NULL,
    image_size        text NOT NULL,
    images_done       integer NOT NULL DEFAULT 0,
    images_failed     integer NOT NULL DEFAULT 0,
    safety_blocks     integer NOT NULL DEFAULT 0,
    cost_usd          numeric(14, 4) NOT NULL DEFAULT 0,
    credits_captured  bigint NOT NULL DEFAULT 0,
    credits_released  bigint NOT NULL DEFAULT 0,
    credits_granted   bigint NOT NULL DEFAULT 0,
    credits_adjusted  bigint NOT NULL DEFAULT 0,
    credits_reset     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, plan, backend, model, image_size)
);

-- Generation latency (finished_at - started_at of done images) as sparse histograms.
CREATE TABLE usage_latency_daily (
    day      date NOT NULL,
    user_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    plan     text NOT NULL,
    model    text NOT NULL,
    bucket   integer NOT NULL CHECK (bucket BETWEEN 0 AND 199),
    images   integer NOT NULL CHECK (images > 0),
    PRIMARY KEY (day, user_id, plan, model, bucket)
);
CREATE INDEX usage_latency_daily_by_user ON usage_latency_daily (user_id, day);

CREATE TABLE usage_latency_daily_plan (
    day      date NOT NULL,
    plan     text NOT NULL,
    model    text NOT NULL,
    bucket   integer NOT NULL CHECK (bucket BETWEEN 0 AND 199),
    images   integer NOT NULL CHECK (images > 0),
    PRIMARY KEY (day, plan, model, bucket)
);

-- One row: events at or after (watermark - overlap) are re-read by the next refresh.
CREATE TABLE usage_rollup_state (
    id            boolean PRIMARY KEY DEFAULT true CHECK (id),
    watermark     timestamptz,
    refreshed_at  timestamptz
);
INSERT INTO usage_rollup_state (id) VALUES (true);

-- Finished images by time, so a refresh finds the days it must recompute without a full scan.
CREATE INDEX differences_by_finished_at ON differences (finished_at);
