-- Notifications when a batch ends: one row per batch, written by Postgres itself when the batch's status
-- first turns final (so several workers finishing at once still make exactly one), then delivered in the
-- app (seen_at), by email and to the user's webhook, each with its own retry state.
ALTER TABLE users
    ADD COLUMN notify_email boolean NOT NULL DEFAULT true,
    ADD COLUMN webhook_url text CONSTRAINT users_webhook_url CHECK (webhook_url IS NULL OR
        (webhook_url ~ '^https?://[^[:space:]]+$' AND length(webhook_url) <= 2000)),
    ADD COLUMN webhook_secret text;

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
