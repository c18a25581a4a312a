-- Calls to the studio's own services (REST API requests, object-storage operations), counted per minute by
-- each process and added here every few seconds: the API and storage alarms and /metrics read them.
CREATE TABLE service_calls (
    minute   timestamptz NOT NULL,
    service  text NOT NULL CHECK (service IN ('api', 'storage')),
    outcome  text NOT NULL CHECK (outcome IN ('ok', 'error')),
    calls    bigint NOT NULL CHECK (calls >= 0),
    seconds  double precision NOT NULL CHECK (seconds >= 0),
    slow     bigint NOT NULL CHECK (slow >= 0 AND slow <= calls),
    PRIMARY KEY (minute, service, outcome)
);
