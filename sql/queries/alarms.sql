-- name: alarm_gemini_errors
-- Gemini images that ended in the window (cancelled ones aside) and how many failed for the model's or
-- the service's reasons (not content refusals).
SELECT count(*) FILTER (WHERE d.status IN ('done', 'failed')) AS ended,
       count(*) FILTER (WHERE d.status = 'failed' AND d.failure_kind = ANY(:kinds)) AS errors
FROM differences d JOIN generation_jobs j ON j.id = d.job_id
WHERE j.backend = 'gemini' AND d.finished_at > now() - make_interval(secs => :window_seconds);

-- name: alarm_connections
-- Connections open on the server against its limit.
SELECT (SELECT count(*) FROM pg_stat_activity) AS used, current_setting('max_connections')::int AS max;

-- name: alarm_oldest_waiting
-- Seconds the oldest waiting image has waited (0 when none waits).
SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM differences WHERE status = 'queued';

-- name: alarm_states
-- Every check's current state.
SELECT name, firing, since, value, checked_at FROM alarm_states ORDER BY name;

-- name: upsert_alarm_state
-- Record a check's value; `since` moves only when the state turns. Returns the previous state (NULL: new).
INSERT INTO alarm_states AS s (name, firing, value) VALUES (:name, :firing, :value)
ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, checked_at = now(),
    firing = EXCLUDED.firing, since = CASE WHEN s.firing = EXCLUDED.firing THEN s.since ELSE now() END
RETURNING (SELECT firing FROM alarm_states WHERE name = :name) AS before;

-- name: insert_alarm_event
-- One transition of a check, and how admins were told.
INSERT INTO alarm_events (name, firing, value, notified) VALUES (:name, :firing, :value, :notified);

-- name: recent_alarm_events
-- The newest transitions.
SELECT name, firing, value, at, notified FROM alarm_events ORDER BY id DESC LIMIT :limit;

-- name: active_admin_emails
-- Where alarm emails go.
SELECT email FROM users WHERE role = 'admin' AND is_active ORDER BY email;

-- name: add_service_calls
-- Add one process's counts of a minute to the shared ones.
INSERT INTO service_calls AS s (minute, service, outcome, calls, seconds, slow)
VALUES (:minute, :service, :outcome, :calls, :seconds, :slow)
ON CONFLICT (minute, service, outcome) DO UPDATE
SET calls = s.calls + EXCLUDED.calls, seconds = s.seconds + EXCLUDED.seconds, slow = s.slow + EXCLUDED.slow;

-- name: service_calls_window
-- One service's calls in the window (whole minutes that started inside it): all, failed, slow.
SELECT coalesce(sum(calls), 0) AS calls,
       coalesce(sum(calls) FILTER (WHERE outcome = 'error'), 0) AS errors,
       coalesce(sum(slow), 0) AS slow
FROM service_calls
WHERE service = :service AND minute > now() - make_interval(secs => :window_seconds);
