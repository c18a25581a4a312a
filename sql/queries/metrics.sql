-- name: metrics_latency
-- Generation time of the images that finished in the window, by model, as cumulative bucket counts.
SELECT j.model,
       count(*) AS total,
       coalesce(sum(extract(epoch FROM d.finished_at - d.started_at)), 0) AS seconds,
       count(*) FILTER (WHERE d.finished_at - d.started_at <= interval '1 second') AS le_1,
       count(*) FILTER (WHERE d.finished_at - d.started_at <= interval '2 seconds') AS le_2,
       count(*) FILTER (WHERE d.finished_at - d.started_at <= interval '5 seconds') AS le_5,
       count(*) FILTER (WHERE d.finished_at - d.started_at <= interval '10 seconds') AS le_10,
       count(*) FILTER (WHERE d.finished_at - d.started_at <= interval '30 seconds') AS le_30,
       count(*) FILTER (WHERE d.finished_at - d.started_at <= interval '60 seconds') AS le_60,
       count(*) FILTER (WHERE d.finished_at - d.started_at <= interval '120 seconds') AS le_120,
       count(*) FILTER (WHERE d.finished_at - d.started_at <= interval '300 seconds') AS le_300
FROM differences d JOIN generation_jobs j ON j.id = d.job_id
WHERE d.finished_at > now() - make_interval(secs => :window_seconds) AND d.status = 'done' AND d.started_at IS NOT NULL
GROUP BY j.model;

-- name: metrics_outcomes
-- Images that ended in the window, by model and outcome (done, or the failure kind; cancelled).
SELECT j.model, CASE WHEN d.status = 'failed' THEN coalesce(d.failure_kind, 'failed') ELSE d.status END AS outcome,
       count(*) AS n
FROM differences d JOIN generation_jobs j ON j.id = d.job_id
WHERE d.finished_at > now() - make_interval(secs => :window_seconds) AND d.status IN ('done', 'failed', 'cancelled')
GROUP BY 1, 2;

-- name: metrics_queue
-- Images waiting for a worker, images being made, and the age of the oldest waiting one.
SELECT (SELECT count(*) FROM differences WHERE status = 'queued') AS queued,
       (SELECT count(*) FROM differences WHERE status = 'running') AS running,
       coalesce(extract(epoch FROM now() - (SELECT min(created_at) FROM differences WHERE status = 'queued')), 0)
           AS oldest_seconds;

-- name: metrics_workers
-- Every registered worker and the seconds since its last heartbeat.
SELECT id, extract(epoch FROM now() - last_heartbeat) AS age FROM procrastinate_workers ORDER BY id;

-- name: metrics_credits
-- Credits held now, and captured (charged) in the window.
SELECT (SELECT coalesce(sum(held), 0) FROM user_credits) AS held,
       (SELECT coalesce(sum(amount), 0) FROM credit_transactions
         WHERE kind = 'capture' AND created_at > now() - make_interval(secs => :window_seconds)) AS captured;

-- name: metrics_service_calls
-- API requests and storage operations in the window, by outcome, with their time and the slow ones.
SELECT service, outcome, sum(calls) AS calls, sum(seconds) AS seconds, sum(slow) AS slow
FROM service_calls WHERE minute > now() - make_interval(secs => :window_seconds)
GROUP BY 1, 2 ORDER BY 1, 2;
