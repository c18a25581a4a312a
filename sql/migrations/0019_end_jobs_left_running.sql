-- Jobs left 'running' with every item ended: two items ending at once each counted the other as open
-- (fixed by locking the job before refreshing it, query lock_job). End them as refresh_job_status would;
-- the end trigger then tells their owners, as it does for any job that ends.
UPDATE generation_jobs j SET
    status = CASE WHEN s.done > 0 THEN 'done' WHEN s.cancelled = s.total THEN 'cancelled' ELSE 'failed' END,
    finished_at = coalesce(j.finished_at, s.last_ended, now())
FROM (SELECT job_id, count(*) AS total,
             count(*) FILTER (WHERE status IN ('queued', 'running')) AS open,
             count(*) FILTER (WHERE status = 'done') AS done,
             count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
             max(finished_at) AS last_ended
      FROM differences GROUP BY job_id) s
WHERE s.job_id = j.id AND s.open = 0 AND j.status IN ('queued', 'running');
