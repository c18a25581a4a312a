-- Economy batches: the items of an economy job go to Gemini as Batch API jobs at half the price. Each
-- Batch API job the studio created is a row here, with its name, so any worker resumes polling after a
-- restart; the items it carries point at it. Notebook prompt trials are jobs of kind 'trial'.
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
