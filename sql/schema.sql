-- The whole current schema in one file, for reading and for fresh databases.
-- sql/migrations/ holds the numbered steps that bring an existing database here;
-- tests/test_migrations.py proves both give the same schema. The job engine's tables (procrastinate_*)
-- come from procrastinate's own schema, applied by migration 0004.

CREATE TABLE plans (
    key              text PRIMARY KEY CHECK (key IN ('free', 'basic', 'pro')),
    name             text NOT NULL,
    monthly_credits  integer NOT NULL CHECK (monthly_credits >= 0),
    max_batch_size   integer NOT NULL CHECK (max_batch_size > 0),
    allowed_models   text[] NOT NULL DEFAULT '{}',
    allowed_sizes    text[] NOT NULL DEFAULT '{}',
    price_usd_cents  integer NOT NULL DEFAULT 0 CHECK (price_usd_cents >= 0)
);

INSERT INTO plans (key, name, monthly_credits, max_batch_size, allowed_models, allowed_sizes, price_usd_cents) VALUES
    ('free',  'Free',   30,   12, '{offline,gemini-3.1-flash-lite-image}', '{512,1K}', 0),
    ('basic', 'Basic', 300,   40, '{offline,gemini-3.1-flash-lite-image,gemini-3.1-flash-image}', '{512,1K,2K}', 1900),
    ('pro',   'Pro',  1500,  100, '{offline,gemini-3.1-flash-lite-image,gemini-3.1-flash-image,gemini-3-pro-image}', '{512,1K,2K,4K}', 7900);

CREATE TABLE users (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email                 text NOT NULL,
    display_name          text NOT NULL,
    password_hash         text NOT NULL,
    role                  text NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member')),
    plan                  text NOT NULL DEFAULT 'free' REFERENCES plans (key),
    is_active             boolean NOT NULL DEFAULT true,
    -- Sessions authenticated before this instant are void (logout, password reset, disable).
    sessions_valid_after  timestamptz NOT NULL DEFAULT now(),
    stripe_customer_id    text UNIQUE,
    created_at            timestamptz NOT NULL DEFAULT now(),
    notify_email          boolean NOT NULL DEFAULT true,  -- an email when a batch ends
    webhook_url           text CONSTRAINT users_webhook_url CHECK (webhook_url IS NULL OR
                              (webhook_url ~ '^https?://[^[:space:]]+$' AND length(webhook_url) <= 2000)),
    webhook_secret        text,
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_email_lower CHECK (email = lower(btrim(email)) AND email LIKE '%_@_%'),
    CONSTRAINT users_password_bcrypt CHECK (password_hash LIKE '$2_$%')
);

-- Failed sign-ins per account and source; a lock is a count inside a sliding window, so it always ends.
CREATE TABLE login_failures (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email      text NOT NULL,
    source     text NOT NULL,
    failed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_lookup ON login_failures (email, source, failed_at);
CREATE INDEX login_failures_by_email ON login_failures (email, failed_at);

-- Sign-in throttling per account: failures from any address count towards a short lock that doubles on each
-- repeated lock-out; a claim takes this row FOR UPDATE first, so simultaneous guesses are checked one by one.
CREATE TABLE login_accounts (
    email         text PRIMARY KEY REFERENCES users (email) ON DELETE CASCADE ON UPDATE CASCADE,
    -- How many lock-outs in a row: the next lock lasts the first lock's length times 2^lock_level.
    lock_level    integer NOT NULL DEFAULT 0 CHECK (lock_level BETWEEN 0 AND 30),
    locked_until  timestamptz,
    -- Failures before this instant no longer count towards the account lock (set by a lock, a sign-in, an unlock).
    counted_from  timestamptz NOT NULL DEFAULT '-infinity'
);

CREATE TABLE characters (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    features     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(features) = 'object'),
    base_key     text NOT NULL,
    base_width   integer NOT NULL CHECK (base_width > 0),
    base_height  integer NOT NULL CHECK (base_height > 0),
    base_source  text NOT NULL CHECK (base_source IN ('upload', 'generated')),
    -- (x, y, w, h) of the region that may change between expressions; NULL = not known yet.
    face_box     integer[]
                 CHECK (face_box IS NULL OR (array_length(face_box, 1) = 4 AND face_box[3] > 0 AND face_box[4] > 0)),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    -- Where face_box came from; an 'estimated' box is confirmed by a person before the first batch.
    face_source  text NOT NULL DEFAULT 'estimated'
                 CHECK (face_source IN ('detected', 'estimated', 'drawn', 'user')),
    -- {"left_eye": [x, y], "right_eye": [x, y], "mouth": [x, y]} in base pixels; NULL = not known.
    face_points  jsonb CHECK (face_points IS NULL OR jsonb_typeof(face_points) = 'object'),
    face_note    text NOT NULL DEFAULT '' CHECK (length(face_note) <= 300)
);
CREATE INDEX characters_by_user ON characters (user_id, created_at DESC);

-- "Describe with Gemini" calls: what each cost, for the reports, whether or not it gave a description.
CREATE TABLE describe_calls (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    model       text NOT NULL CHECK (length(model) BETWEEN 1 AND 100),
    ok          boolean NOT NULL,
    cost_usd    numeric(10, 4) NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
    usage       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(usage) = 'object'),
    reason      text NOT NULL DEFAULT '' CHECK (length(reason) <= 500),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX describe_calls_by_day ON describe_calls (created_at);

CREATE TABLE custom_expressions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    character_id  uuid NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    key           text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]{0,39}$'),
    label_en      text NOT NULL CHECK (length(label_en) BETWEEN 1 AND 40),
    label_ja      text NOT NULL CHECK (length(label_ja) BETWEEN 1 AND 40),
    prompt        text NOT NULL CHECK (length(prompt) BETWEEN 1 AND 300),
    intensity     integer NOT NULL CHECK (intensity BETWEEN 1 AND 5),
    face          text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT custom_expressions_key_per_character UNIQUE (character_id, key)
);

-- Versioned prompt templates; exactly one is active.
CREATE TABLE prompt_templates (
    version     integer PRIMARY KEY CHECK (version > 0),
    body        text NOT NULL CHECK (body LIKE '%$keep%' AND body LIKE '%$change%'),
    notes       text NOT NULL DEFAULT '',
    is_active   boolean NOT NULL DEFAULT false,
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX prompt_templates_one_active ON prompt_templates (is_active) WHERE is_active;

INSERT INTO prompt_templates (version, body, notes, is_active) VALUES (1,
'Edit this illustration of the anime character $name. Keep everything that is not the facial expression exactly as it is: $keep. Keep the same pose, framing, camera distance, canvas size, line art style, colours, lighting and background.$notes
Change only the facial expression: $change.
Return the whole illustration, not a crop.',
'Baseline plus delta: restate what must not change, then the one change.', true);

CREATE TABLE user_credits (
    user_id       uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    available     integer NOT NULL DEFAULT 0 CHECK (available >= 0),
    held          integer NOT NULL DEFAULT 0 CHECK (held >= 0),
    period_start  date NOT NULL DEFAULT date_trunc('month', now())::date
);

CREATE TABLE generation_jobs (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    character_id  uuid NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    status        text NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    backend       text NOT NULL,
    model         text NOT NULL,
    image_size    text NOT NULL,
    settings      jsonb NOT NULL DEFAULT '{}',
    template_version integer REFERENCES prompt_templates (version),
    created_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
CREATE INDEX generation_jobs_by_user ON generation_jobs (user_id, created_at DESC);

-- One expression variant (差分) of a character, produced by one item of a generation job.
CREATE TABLE differences (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    job_id          uuid NOT NULL REFERENCES generation_jobs (id) ON DELETE CASCADE,
    character_id    uuid NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    expression_key  text NOT NULL,
    variant         text CHECK (variant IN ('mouth_open', 'blink')),
    -- A variant (mouth_open, blink) is a small edit of its expression's image: that row is its parent.
    parent_id       uuid REFERENCES differences (id) ON DELETE CASCADE,
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    review          text NOT NULL DEFAULT 'pending' CHECK (review IN ('pending', 'approved', 'rejected')),
    image_key       text,
    raw_key         text,
    score           real CHECK (score BETWEEN 0 AND 100),
    score_parts     jsonb,
    failure_reason  text,
    failure_kind    text,
    prompt          text,
    attempts        jsonb NOT NULL DEFAULT '[]',
    cost_credits    integer NOT NULL DEFAULT 0 CHECK (cost_credits >= 0),
    cost_usd        numeric(10, 4) NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    position        integer NOT NULL DEFAULT 0,  -- display order inside the job
    attempt         integer NOT NULL DEFAULT 1 CHECK (attempt BETWEEN 1 AND 20),  -- best-of-n and regenerations
    started_at      timestamptz,
    finished_at     timestamptz,
    image_sha256    text CHECK (image_sha256 ~ '^[0-9a-f]{64}$'),  -- an identical re-run is not charged (0014)
    CONSTRAINT differences_one_per_job_item UNIQUE NULLS NOT DISTINCT (job_id, expression_key, variant, attempt),
    CONSTRAINT differences_variant_has_parent CHECK ((variant IS NULL) = (parent_id IS NULL)),
    CONSTRAINT differences_done_has_image CHECK (status <> 'done' OR image_key IS NOT NULL),
    CONSTRAINT differences_failed_has_reason CHECK (status <> 'failed' OR failure_reason IS NOT NULL)
);
CREATE INDEX differences_by_character ON differences (character_id, created_at DESC);
CREATE INDEX differences_by_job ON differences (job_id);

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

-- The ledger: append-only; the deltas of a user's rows sum to their available and held balances.
CREATE TABLE credit_transactions (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind             text NOT NULL
                     CHECK (kind IN ('grant', 'hold', 'capture', 'release', 'monthly_reset', 'adjustment')),
    amount           integer NOT NULL,
    idempotency_key  text NOT NULL UNIQUE,
    job_id           uuid REFERENCES generation_jobs (id) ON DELETE SET NULL,
    difference_id    uuid REFERENCES differences (id) ON DELETE SET NULL,
    reason           text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    delta_available  integer NOT NULL DEFAULT 0,
    delta_held       integer NOT NULL DEFAULT 0,
    actor_id         uuid REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT credit_transactions_deltas_match_kind CHECK (
        (kind = 'hold' AND amount > 0 AND delta_available = -amount AND delta_held = amount)
        OR (kind = 'capture' AND amount > 0 AND delta_available = 0 AND delta_held = -amount)
        OR (kind = 'release' AND amount > 0 AND delta_available = amount AND delta_held = -amount)
        OR (kind = 'grant' AND amount > 0 AND delta_available = amount AND delta_held = 0)
        OR (kind IN ('monthly_reset', 'adjustment') AND delta_available = amount AND delta_held = 0)),
    CONSTRAINT credit_transactions_adjustment_has_reason CHECK (kind <> 'adjustment' OR length(btrim(reason)) > 0)
);
CREATE INDEX credit_transactions_by_user ON credit_transactions (user_id, created_at DESC);
CREATE INDEX credit_transactions_by_day ON credit_transactions (created_at);
CREATE UNIQUE INDEX credit_transactions_one_hold_per_item
    ON credit_transactions (difference_id) WHERE kind = 'hold';
CREATE UNIQUE INDEX credit_transactions_one_resolution_per_item
    ON credit_transactions (difference_id) WHERE kind IN ('capture', 'release');

-- Stripe billing (0005).

CREATE TABLE stripe_events (
    id            text PRIMARY KEY CHECK (id LIKE 'evt\_%'),
    type          text NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    -- NULL: stored but not acted on (a type the studio ignores).
    processed_at  timestamptz,
    -- Set instead of processed_at when the event can never be acted on (a malformed id, an id Stripe refuses):
    -- it is answered 200 so that Stripe does not retry it for days.
    unprocessable_reason text,
    CONSTRAINT stripe_events_processed_after_received CHECK (processed_at IS NULL OR processed_at >= received_at),
    CONSTRAINT stripe_events_unprocessable_reason
        CHECK (unprocessable_reason IS NULL OR (length(unprocessable_reason) BETWEEN 1 AND 500 AND processed_at IS NULL))
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

-- 0006: admin reports (daily rollup, plan history).

CREATE TABLE user_plan_history (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    plan        text NOT NULL REFERENCES plans (key),
    -- '-infinity' marks the plan a user started with: it holds for everything before the first change.
    valid_from  timestamptz NOT NULL,
    -- When the row was written: an account inserted with an earlier created_at (an import) changes the
    -- revenue of the months since then, and this is how a refresh finds it.
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, valid_from)
);
CREATE INDEX user_plan_history_by_recorded_at ON user_plan_history (recorded_at);

CREATE FUNCTION user_plan_history_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_plan_history (user_id, plan, valid_from)
    VALUES (NEW.id, NEW.plan, CASE WHEN TG_OP = 'INSERT' THEN '-infinity'::timestamptz ELSE now() END)
    ON CONFLICT (user_id, valid_from) DO UPDATE SET plan = EXCLUDED.plan, recorded_at = now();
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
CREATE INDEX usage_daily_by_user ON usage_daily (user_id, day)
    INCLUDE (plan, model, credits_captured, images_done, images_failed, safety_blocks, cost_usd);
-- Most per-user rows are grants, resets and releases; top users reads only the rows that spent something.
CREATE INDEX usage_daily_spending ON usage_daily (day) INCLUDE (plan, user_id, credits_captured, images_done, cost_usd)
    WHERE credits_captured <> 0 OR images_done <> 0 OR cost_usd <> 0;

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
CREATE INDEX usage_latency_daily_by_user ON usage_latency_daily (user_id, day) INCLUDE (plan, model, bucket, images);

CREATE TABLE usage_latency_daily_plan (
    day      date NOT NULL,
    plan     text NOT NULL,
    model    text NOT NULL,
    bucket   integer NOT NULL CHECK (bucket BETWEEN 0 AND 199),
    images   integer NOT NULL CHECK (images > 0),
    PRIMARY KEY (day, plan, model, bucket) INCLUDE (images)
);

-- The same summed over plans, for the unfiltered report (a third of the plan rows).
CREATE TABLE usage_latency_daily_total (
    day      date NOT NULL,
    model    text NOT NULL,
    bucket   integer NOT NULL CHECK (bucket BETWEEN 0 AND 199),
    images   integer NOT NULL CHECK (images > 0),
    PRIMARY KEY (day, model, bucket) INCLUDE (images)
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

-- 0007: monthly rollups and revenue per month and plan, for long ranges.

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

-- 0009: an item whose credits are still held cannot be deleted (its hold would be stranded). Deleting a
-- character releases its holds first; deleting a whole account takes its ledger with it, so that is allowed.

CREATE FUNCTION differences_refuse_open_hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM credit_transactions h JOIN users u ON u.id = h.user_id
               WHERE h.difference_id = OLD.id AND h.kind = 'hold'
                 AND NOT EXISTS (SELECT 1 FROM credit_transactions r
                                 WHERE r.difference_id = OLD.id AND r.kind IN ('capture', 'release'))) THEN
        RAISE EXCEPTION 'item % still holds credits: cancel it and release them before deleting it', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN OLD;
END $$;

CREATE TRIGGER differences_no_open_hold BEFORE DELETE ON differences
    FOR EACH ROW EXECUTE FUNCTION differences_refuse_open_hold();
CREATE TABLE api_tokens (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100 AND name !~ '[[:cntrl:]]'),
    token_hash    bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    prefix        text NOT NULL CHECK (length(prefix) BETWEEN 4 AND 16),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz CHECK (expires_at IS NULL OR expires_at > created_at),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at DESC);

CREATE TABLE notifications (
    id               bigserial PRIMARY KEY,
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    job_id           uuid NOT NULL UNIQUE REFERENCES generation_jobs (id) ON DELETE CASCADE,
    outcome          text NOT NULL CHECK (outcome IN ('done', 'failed', 'cancelled')),
    done             integer NOT NULL CHECK (done >= 0),
    failed           integer NOT NULL CHECK (failed >= 0),
    cancelled        integer NOT NULL CHECK (cancelled >= 0),
    created_at       timestamptz NOT NULL DEFAULT now(),
    seen_at          timestamptz,
    email_state      text NOT NULL DEFAULT 'pending' CHECK (email_state IN ('pending', 'sent', 'skipped', 'gave_up')),
    email_attempts   integer NOT NULL DEFAULT 0,
    email_next_at    timestamptz NOT NULL DEFAULT now(),
    email_error      text,
    webhook_state    text NOT NULL DEFAULT 'pending'
                     CHECK (webhook_state IN ('pending', 'sent', 'skipped', 'gave_up')),
    webhook_attempts integer NOT NULL DEFAULT 0,
    webhook_next_at  timestamptz NOT NULL DEFAULT now(),
    webhook_error    text
);
CREATE INDEX notifications_of_user ON notifications (user_id, created_at DESC);
CREATE INDEX notifications_email_due ON notifications (email_next_at) WHERE email_state = 'pending';
CREATE INDEX notifications_webhook_due ON notifications (webhook_next_at) WHERE webhook_state = 'pending';

CREATE FUNCTION generation_jobs_notify_end() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO notifications (user_id, job_id, outcome, done, failed, cancelled)
    SELECT NEW.user_id, NEW.id, NEW.status,
           count(*) FILTER (WHERE d.status = 'done'), count(*) FILTER (WHERE d.status = 'failed'),
           count(*) FILTER (WHERE d.status = 'cancelled')
    FROM differences d WHERE d.job_id = NEW.id
    ON CONFLICT (job_id) DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER generation_jobs_notify_end AFTER UPDATE OF status ON generation_jobs
    FOR EACH ROW WHEN (OLD.status IN ('queued', 'running') AND NEW.status IN ('done', 'failed', 'cancelled'))
    EXECUTE FUNCTION generation_jobs_notify_end();

-- 0015: the queue as /metrics reads it.
CREATE INDEX differences_queued ON differences (created_at) WHERE status = 'queued';

-- 0016: alarms.
CREATE TABLE alarm_states (
    name        text PRIMARY KEY,
    firing      boolean NOT NULL,
    since       timestamptz NOT NULL DEFAULT now(),
    value       double precision,
    checked_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE alarm_events (
    id        bigserial PRIMARY KEY,
    name      text NOT NULL,
    firing    boolean NOT NULL,
    value     double precision,
    at        timestamptz NOT NULL DEFAULT now(),
    notified  text NOT NULL CHECK (notified IN ('email', 'log'))
);
CREATE INDEX alarm_events_recent ON alarm_events (at DESC);

-- 0017: calls to the studio's own services.
CREATE TABLE service_calls (
    minute   timestamptz NOT NULL,
    service  text NOT NULL CHECK (service IN ('api', 'storage')),
    outcome  text NOT NULL CHECK (outcome IN ('ok', 'error')),
    calls    bigint NOT NULL CHECK (calls >= 0),
    seconds  double precision NOT NULL CHECK (seconds >= 0),
    slow     bigint NOT NULL CHECK (slow >= 0 AND slow <= calls),
    PRIMARY KEY (minute, service, outcome)
);

-- 0018: economy batches (Gemini Batch API) and notebook trial calls.
ALTER TABLE generation_jobs
    ADD COLUMN tier text NOT NULL DEFAULT 'standard' CHECK (tier IN ('standard', 'economy')),
    ADD COLUMN kind text NOT NULL DEFAULT 'generation' CHECK (kind IN ('generation', 'trial'));

CREATE TABLE gemini_batches (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    job_id         uuid NOT NULL REFERENCES generation_jobs (id) ON DELETE CASCADE,
    -- 'batches/…' once Gemini accepted it; NULL while it is being submitted (display_name finds it again).
    name           text UNIQUE,
    display_name   text NOT NULL UNIQUE,
    model          text NOT NULL,
    image_size     text NOT NULL,
    state          text NOT NULL DEFAULT 'SUBMITTING' CHECK (state IN (
                       'SUBMITTING', 'JOB_STATE_QUEUED', 'JOB_STATE_PENDING', 'JOB_STATE_RUNNING',
                       'JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED', 'JOB_STATE_EXPIRED')),
    item_ids       uuid[] NOT NULL CHECK (cardinality(item_ids) > 0),  -- in request order
    submitted_at   timestamptz,
    checked_at     timestamptz,
    polls          integer NOT NULL DEFAULT 0,
    progress       jsonb,  -- what the SDK reported (completion stats), when it reports any
    ended_at       timestamptz,
    -- Every item's answer was taken over (stored and queued, or failed and refunded): nothing left to do.
    resolved_at    timestamptz,
    failure_reason text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gemini_batches_open ON gemini_batches (created_at) WHERE resolved_at IS NULL;
CREATE INDEX gemini_batches_by_job ON gemini_batches (job_id);

ALTER TABLE differences
    ADD COLUMN tier text NOT NULL DEFAULT 'standard' CHECK (tier IN ('standard', 'economy')),
    ADD COLUMN gemini_batch_id uuid REFERENCES gemini_batches (id) ON DELETE SET NULL,
    -- The Batch API answer taken over for post-processing: {"raw_key", "cost_usd", "usage"}.
    ADD COLUMN batch_answer jsonb;
CREATE INDEX differences_by_gemini_batch ON differences (gemini_batch_id) WHERE gemini_batch_id IS NOT NULL;

-- Gemini calls made outside generation (notebook prompt trials): one row per call, on a job of kind 'trial'.
CREATE TABLE trial_calls (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id        uuid NOT NULL REFERENCES generation_jobs (id) ON DELETE CASCADE,
    expression_key text NOT NULL,
    outcome       text NOT NULL,
    calls         integer NOT NULL CHECK (calls >= 0),
    cost_usd      numeric(10, 4) NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX trial_calls_by_job ON trial_calls (job_id);
