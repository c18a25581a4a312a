-- Alarms: the state of each health check (ok, or firing since when) and every transition, for the Health page
-- and for telling admins once per transition.
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
