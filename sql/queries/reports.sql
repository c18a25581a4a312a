-- Admin reports. Days are UTC dates and ranges are inclusive: :date_from <= day <= :date_to.
-- Report queries read the rollup: usage_*_plan when no user is chosen, usage_* (per user) when one is;
-- the branch not taken costs nothing. raw_* queries compute the same from the raw tables.

-- name: rollup_lock
-- Serialise refreshes (held until the caller's transaction ends).
SELECT pg_advisory_xact_lock(:lock_id);

-- name: rollup_state
-- The refresh watermark and when the rollup was last refreshed.
SELECT watermark, refreshed_at FROM usage_rollup_state;

-- name: rollup_days_touched
-- Days with events at or after :since, plus days already rolled up from that date on.
SELECT DISTINCT day FROM (
    SELECT (created_at AT TIME ZONE 'UTC')::date AS day FROM credit_transactions
    WHERE created_at >= CAST(:since AS timestamptz)
    UNION
    SELECT (finished_at AT TIME ZONE 'UTC')::date FROM differences WHERE finished_at >= CAST(:since AS timestamptz)
    UNION
    SELECT (created_at AT TIME ZONE 'UTC')::date FROM describe_calls WHERE created_at >= CAST(:since AS timestamptz)
    UNION
    SELECT (valid_from AT TIME ZONE 'UTC')::date FROM user_plan_history
    WHERE valid_from >= CAST(:since AS timestamptz) AND valid_from > '-infinity'
    UNION
    SELECT day FROM usage_daily WHERE day >= (CAST(:since AS timestamptz) AT TIME ZONE 'UTC')::date
) touched ORDER BY day;

-- name: rollup_clear_days
-- Remove the rolled-up rows of the given days from every rollup table.
WITH a AS (DELETE FROM usage_daily WHERE day = ANY(CAST(:days AS date[]))),
     b AS (DELETE FROM usage_daily_plan WHERE day = ANY(CAST(:days AS date[]))),
     c AS (DELETE FROM usage_latency_daily WHERE day = ANY(CAST(:days AS date[]))),
     d AS (DELETE FROM usage_latency_daily_plan WHERE day = ANY(CAST(:days AS date[])))
DELETE FROM usage_latency_daily_total WHERE day = ANY(CAST(:days AS date[]));

-- name: rollup_insert_usage
-- Recompute usage_daily for the given days: ledger rows by created_at, finished images by finished_at,
-- each under the plan its user had at that instant.
INSERT INTO usage_daily (day, user_id, plan, backend, model, image_size, images_done, images_failed, safety_blocks,
                         cost_usd, credits_captured, credits_released, credits_granted, credits_adjusted,
                         credits_reset)
WITH touched AS (
    SELECT d AS day, d::timestamp AT TIME ZONE 'UTC' AS lo, (d + 1)::timestamp AT TIME ZONE 'UTC' AS hi
    FROM unnest(CAST(:days AS date[])) AS d
), events AS (
    SELECT t.day, c.user_id, c.created_at AS at, coalesce(j.backend, '') AS backend,
           coalesce(j.model, '') AS model, coalesce(j.image_size, '') AS image_size,
           0 AS done, 0 AS failed, 0 AS blocked, 0::numeric AS cost,
           CASE WHEN c.kind = 'capture' THEN c.amount ELSE 0 END AS captured,
           CASE WHEN c.kind = 'release' THEN c.amount ELSE 0 END AS released,
           CASE WHEN c.kind = 'grant' THEN c.amount ELSE 0 END AS granted,
           CASE WHEN c.kind = 'adjustment' THEN c.amount ELSE 0 END AS adjusted,
           CASE WHEN c.kind = 'monthly_reset' THEN c.amount ELSE 0 END AS reset
    FROM touched t
    JOIN credit_transactions c ON c.created_at >= t.lo AND c.created_at < t.hi
    LEFT JOIN generation_jobs j ON j.id = c.job_id
    UNION ALL
    SELECT t.day, j.user_id, d.finished_at, j.backend, j.model, j.image_size,
           CASE WHEN d.status = 'done' THEN 1 ELSE 0 END, CASE WHEN d.status = 'failed' THEN 1 ELSE 0 END,
           CASE WHEN d.failure_kind IN ('safety', 'prompt_blocked') THEN 1 ELSE 0 END, d.cost_usd, 0, 0, 0, 0, 0
    FROM touched t
    JOIN differences d ON d.finished_at >= t.lo AND d.finished_at < t.hi AND d.status IN ('done', 'failed')
    JOIN generation_jobs j ON j.id = d.job_id
    UNION ALL  -- "Describe with Gemini" calls: cost only, under image size 'describe'
    SELECT t.day, g.user_id, g.created_at, 'gemini', g.model, 'describe', 0, 0, 0, g.cost_usd, 0, 0, 0, 0, 0
    FROM touched t
    JOIN describe_calls g ON g.created_at >= t.lo AND g.created_at < t.hi
)
SELECT e.day, e.user_id, p.plan, e.backend, e.model, e.image_size, sum(e.done), sum(e.failed), sum(e.blocked),
       sum(e.cost), sum(e.captured), sum(e.released), sum(e.granted), sum(e.adjusted), sum(e.reset)
FROM events e
CROSS JOIN LATERAL (SELECT h.plan FROM user_plan_history h
                    WHERE h.user_id = e.user_id AND h.valid_from <= e.at
                    ORDER BY h.valid_from DESC LIMIT 1) p
GROUP BY e.day, e.user_id, p.plan, e.backend, e.model, e.image_size;

-- name: rollup_insert_latency
-- Recompute the latency histograms of done images for the given days.
INSERT INTO usage_latency_daily (day, user_id, plan, model, bucket, images)
WITH touched AS (
    SELECT d AS day, d::timestamp AT TIME ZONE 'UTC' AS lo, (d + 1)::timestamp AT TIME ZONE 'UTC' AS hi
    FROM unnest(CAST(:days AS date[])) AS d
)
SELECT t.day, j.user_id, p.plan, j.model,
       usage_latency_bucket(extract(epoch FROM d.finished_at - d.started_at)::float8 * 1000), count(*)
FROM touched t
JOIN differences d ON d.finished_at >= t.lo AND d.finished_at < t.hi AND d.status = 'done'
                  AND d.started_at IS NOT NULL
JOIN generation_jobs j ON j.id = d.job_id
CROSS JOIN LATERAL (SELECT h.plan FROM user_plan_history h
                    WHERE h.user_id = j.user_id AND h.valid_from <= d.finished_at
                    ORDER BY h.valid_from DESC LIMIT 1) p
GROUP BY 1, 2, 3, 4, 5;

-- name: rollup_insert_plan_totals
-- Sum the per-user rows of the given days over users (and the latency histograms over plans too).
WITH usage AS (
    INSERT INTO usage_daily_plan (day, plan, backend, model, image_size, images_done, images_failed, safety_blocks,
                                  cost_usd, credits_captured, credits_released, credits_granted, credits_adjusted,
                                  credits_reset)
    SELECT day, plan, backend, model, image_size, sum(images_done), sum(images_failed), sum(safety_blocks),
           sum(cost_usd), sum(credits_captured), sum(credits_released), sum(credits_granted), sum(credits_adjusted),
           sum(credits_reset)
    FROM usage_daily WHERE day = ANY(CAST(:days AS date[]))
    GROUP BY day, plan, backend, model, image_size
), latency AS (
    INSERT INTO usage_latency_daily_plan (day, plan, model, bucket, images)
    SELECT day, plan, model, bucket, sum(images) FROM usage_latency_daily WHERE day = ANY(CAST(:days AS date[]))
    GROUP BY day, plan, model, bucket
)
INSERT INTO usage_latency_daily_total (day, model, bucket, images)
SELECT day, model, bucket, sum(images) FROM usage_latency_daily WHERE day = ANY(CAST(:days AS date[]))
GROUP BY day, model, bucket;

-- name: rollup_clear_months
-- Remove the rolled-up rows of the given months (first days) from every monthly rollup table.
WITH a AS (DELETE FROM usage_monthly WHERE month = ANY(CAST(:months AS date[]))),
     b AS (DELETE FROM usage_monthly_plan WHERE month = ANY(CAST(:months AS date[]))),
     c AS (DELETE FROM usage_latency_monthly WHERE month = ANY(CAST(:months AS date[])))
DELETE FROM usage_latency_monthly_plan WHERE month = ANY(CAST(:months AS date[]));

-- name: rollup_insert_months
-- Sum the daily rows of the given months into the monthly tables (all-zero sums are left out).
WITH months AS (
    SELECT m AS month, (m + interval '1 month')::date AS next FROM unnest(CAST(:months AS date[])) AS m
), a AS (
    INSERT INTO usage_monthly (month, user_id, plan, images_done, cost_usd, credits_captured)
    SELECT m.month, d.user_id, d.plan, sum(d.images_done), sum(d.cost_usd), sum(d.credits_captured)
    FROM months m JOIN usage_daily d ON d.day >= m.month AND d.day < m.next
    GROUP BY 1, 2, 3 HAVING sum(d.images_done) <> 0 OR sum(d.cost_usd) <> 0 OR sum(d.credits_captured) <> 0
), b AS (
    INSERT INTO usage_monthly_plan (month, plan, images_done, cost_usd, credits_captured)
    SELECT m.month, d.plan, sum(d.images_done), sum(d.cost_usd), sum(d.credits_captured)
    FROM months m JOIN usage_daily_plan d ON d.day >= m.month AND d.day < m.next
    GROUP BY 1, 2 HAVING sum(d.images_done) <> 0 OR sum(d.cost_usd) <> 0 OR sum(d.credits_captured) <> 0
), c AS (
    INSERT INTO usage_latency_monthly (month, user_id, plan, model, bucket, images)
    SELECT m.month, d.user_id, d.plan, d.model, d.bucket, sum(d.images)
    FROM months m JOIN usage_latency_daily d ON d.day >= m.month AND d.day < m.next
    GROUP BY 1, 2, 3, 4, 5
)
INSERT INTO usage_latency_monthly_plan (month, plan, model, bucket, images)
SELECT m.month, d.plan, d.model, d.bucket, sum(d.images)
FROM months m JOIN usage_latency_daily_plan d ON d.day >= m.month AND d.day < m.next
GROUP BY 1, 2, 3, 4;

-- name: rollup_revenue_from
-- The first month whose revenue may have changed since :since: plan changes from then on, and accounts
-- recorded since then from the month they were created (an import may backdate it). NULL: no accounts.
SELECT date_trunc('month', min(at) AT TIME ZONE 'UTC')::date AS month FROM (
    SELECT greatest(CAST(:since AS timestamptz), min(created_at)) AS at FROM users HAVING count(*) > 0
    UNION ALL
    SELECT CASE WHEN h.valid_from = '-infinity' THEN u.created_at ELSE h.valid_from END
    FROM user_plan_history h JOIN users u ON u.id = h.user_id
    WHERE h.recorded_at >= CAST(:since AS timestamptz)
) changes;

-- name: rollup_clear_revenue
-- Remove the revenue rows of the given months.
DELETE FROM revenue_monthly WHERE month = ANY(CAST(:months AS date[]));

-- name: rollup_insert_revenue
-- Count the accounts per plan of the given months at each month's end (at now() for the current one),
-- under the plan each account has at that instant.
WITH months AS (
    SELECT m AS month, least((m + interval '1 month')::timestamp AT TIME ZONE 'UTC', now()) AS until
    FROM unnest(CAST(:months AS date[])) AS m
)
INSERT INTO revenue_monthly (month, plan, accounts)
SELECT m.month, p.plan, count(*)
FROM months m
JOIN users u ON u.created_at < m.until
CROSS JOIN LATERAL (SELECT h.plan FROM user_plan_history h
                    WHERE h.user_id = u.id AND h.valid_from < m.until
                    ORDER BY h.valid_from DESC LIMIT 1) p
GROUP BY 1, 2;

-- name: rollup_set_watermark
-- Remember up to when events have been rolled up.
UPDATE usage_rollup_state SET watermark = CAST(:watermark AS timestamptz), refreshed_at = now();

-- name: rollup_now
-- The transaction's start: the next watermark (later commits of earlier transactions are the overlap's job).
SELECT now();

-- name: report_credits_by_day
-- Credits captured per day, plan and model.
SELECT day, plan, model, sum(credits_captured)::bigint AS credits
FROM (
    SELECT day, plan, model, credits_captured FROM usage_daily_plan
    WHERE CAST(:user_id AS uuid) IS NULL AND day BETWEEN CAST(:date_from AS date) AND CAST(:date_to AS date)
      AND (CAST(:plan AS text) IS NULL OR plan = CAST(:plan AS text))
    UNION ALL
    SELECT day, plan, model, credits_captured FROM usage_daily
    WHERE user_id = CAST(:user_id AS uuid) AND day BETWEEN CAST(:date_from AS date) AND CAST(:date_to AS date)
      AND (CAST(:plan AS text) IS NULL OR plan = CAST(:plan AS text))
) u
GROUP BY day, plan, model HAVING sum(credits_captured) <> 0
ORDER BY day, plan, model;

-- name: raw_credits_by_day
-- report_credits_by_day from the ledger itself.
SELECT (c.created_at AT TIME ZONE 'UTC')::date AS day, p.plan, coalesce(j.model, '') AS model,
       sum(c.amount)::bigint AS credits
FROM credit_transactions c
LEFT JOIN generation_jobs j ON j.id = c.job_id
CROSS JOIN LATERAL (SELECT h.plan FROM user_plan_history h
                    WHERE h.user_id = c.user_id AND h.valid_from <= c.created_at
                    ORDER BY h.valid_from DESC LIMIT 1) p
WHERE c.kind = 'capture'
  AND c.created_at >= CAST(:date_from AS date)::timestamp AT TIME ZONE 'UTC'
  AND c.created_at < (CAST(:date_to AS date) + 1)::timestamp AT TIME ZONE 'UTC'
  AND (CAST(:plan AS text) IS NULL OR p.plan = CAST(:plan AS text))
  AND (CAST(:user_id AS uuid) IS NULL OR c.user_id = CAST(:user_id AS uuid))
GROUP BY 1, 2, 3 HAVING sum(c.amount) <> 0
ORDER BY 1, 2, 3;

-- name: report_spend_by_model_size
-- Images, credits captured and cost per backend, model and image size (captures without a job left out).
SELECT backend, model, image_size, sum(images_done)::bigint AS images, sum(images_failed)::bigint AS failed,
       sum(credits_captured)::bigint AS credits, sum(cost_usd)::float8 AS cost_usd
FROM (
    SELECT backend, model, image_size, images_done, images_failed, credits_captured, cost_usd FROM usage_daily_plan
    WHERE CAST(:user_id AS uuid) IS NULL AND day BETWEEN CAST(:date_from AS date) AND CAST(:date_to AS date)
      AND (CAST(:plan AS text) IS NULL OR plan = CAST(:plan AS text))
    UNION ALL
    SELECT backend, model, image_size, images_done, images_failed, credits_captured, cost_usd FROM usage_daily
    WHERE user_id = CAST(:user_id AS uuid) AND day BETWEEN CAST(:date_from AS date) AND CAST(:date_to AS date)
      AND (CAST(:plan AS text) IS NULL OR plan = CAST(:plan AS text))
) u
WHERE model <> ''
GROUP BY backend, model, image_size
HAVING sum(images_done) + sum(images_failed) <> 0 OR sum(credits_captured) <> 0 OR sum(cost_usd) <> 0
ORDER BY sum(cost_usd) DESC, sum(credits_captured) DESC, backend, model, image_size;

-- name: report_cost_vs_revenue
-- Per month touching the range (:months, their first days): Gemini cost from the monthly rollup and
-- subscription revenue as of the last refresh from revenue_monthly (one account: from its plan history),
-- up to the refresh's month.
WITH months AS (
    SELECT m AS month, least((m + interval '1 month')::timestamp AT TIME ZONE 'UTC', s.watermark) AS until
    FROM usage_rollup_state s, unnest(CAST(:months AS date[])) AS m
    WHERE m <= s.watermark AT TIME ZONE 'UTC'
), revenue AS (
    SELECT m.month, coalesce(sum(a.accounts), 0) AS accounts, coalesce(sum(a.accounts * pl.price_usd_cents), 0) AS cents
    FROM months m
    LEFT JOIN LATERAL (
        SELECT r.plan, r.accounts FROM revenue_monthly r
        WHERE CAST(:user_id AS uuid) IS NULL AND r.month = m.month
          AND (CAST(:plan AS text) IS NULL OR r.plan = CAST(:plan AS text))
        UNION ALL
        SELECT p.plan, 1 FROM users u
        CROSS JOIN LATERAL (SELECT h.plan FROM user_plan_history h
                            WHERE h.user_id = u.id AND h.valid_from < m.until
                            ORDER BY h.valid_from DESC LIMIT 1) p
        WHERE u.id = CAST(:user_id AS uuid) AND u.created_at < m.until
          AND (CAST(:plan AS text) IS NULL OR p.plan = CAST(:plan AS text))
    ) a ON true
    LEFT JOIN plans pl ON pl.key = a.plan
    GROUP BY m.month
), cost AS (
    SELECT month, sum(cost_usd) AS cost_usd
    FROM (
        SELECT month, cost_usd FROM usage_monthly_plan
        WHERE CAST(:user_id AS uuid) IS NULL AND month = ANY(CAST(:months AS date[]))
          AND (CAST(:plan AS text) IS NULL OR plan = CAST(:plan AS text))
        UNION ALL
        SELECT month, cost_usd FROM usage_monthly
        WHERE user_id = CAST(:user_id AS uuid) AND month = ANY(CAST(:months AS date[]))
          AND (CAST(:plan AS text) IS NULL OR plan = CAST(:plan AS text))
    ) u
    GROUP BY month HAVING sum(cost_usd) <> 0
)
SELECT coalesce(r.month, c.month) AS month, coalesce(r.accounts, 0)::bigint AS accounts,
       (coalesce(r.cents, 0) / 100.0)::float8 AS revenue_usd, coalesce(c.cost_usd, 0)::float8 AS cost_usd,
       round(coalesce(r.cents, 0) / 100.0 - coalesce(c.cost_usd, 0), 4)::float8 AS margin_usd
FROM revenue r FULL JOIN cost c ON c.month = r.month
ORDER BY 1;

-- name: raw_cost_vs_revenue
-- report_cost_vs_revenue from the finished images, the accounts and their plan history, up to now: every
-- account that exists by the month's end (or now) pays the price of the plan it has at that instant.
-- Free accounts count, at 0.
WITH months AS (
    SELECT m AS month, least((m + interval '1 month')::timestamp AT TIME ZONE 'UTC', now()) AS until
    FROM unnest(CAST(:months AS date[])) AS m
    WHERE m <= now() AT TIME ZONE 'UTC'
), revenue AS (
    SELECT m.month, count(a.id) AS accounts, coalesce(sum(pl.price_usd_cents), 0) AS cents
    FROM months m
    LEFT JOIN LATERAL (
        SELECT u.id, p.plan FROM users u
        CROSS JOIN LATERAL (SELECT h.plan FROM user_plan_history h
                            WHERE h.user_id = u.id AND h.valid_from < m.until
                            ORDER BY h.valid_from DESC LIMIT 1) p
        WHERE u.created_at < m.until
          AND (CAST(:plan AS text) IS NULL OR p.plan = CAST(:plan AS text))
          AND (CAST(:user_id AS uuid) IS NULL OR u.id = CAST(:user_id AS uuid))
    ) a ON true
    LEFT JOIN plans pl ON pl.key = a.plan
    GROUP BY m.month
), cost_parts AS (
    SELECT date_trunc('month', d.finished_at AT TIME ZONE 'UTC')::date AS month, sum(d.cost_usd) AS cost_usd
    FROM differences d
    JOIN generation_jobs j ON j.id = d.job_id
    CROSS JOIN LATERAL (SELECT h.plan FROM user_plan_history h
                        WHERE h.user_id = j.user_id AND h.valid_from <= d.finished_at
                        ORDER BY h.valid_from DESC LIMIT 1) p
    WHERE d.status IN ('done', 'failed')
      AND d.finished_at >= date_trunc('month', CAST(:date_from AS date)::timestamp) AT TIME ZONE 'UTC'
      AND d.finished_at < (date_trunc('month', CAST(:date_to AS date)::timestamp) + interval '1 month')
                          AT TIME ZONE 'UTC'
      AND (CAST(:plan AS text) IS NULL OR p.plan = CAST(:plan AS text))
      AND (CAST(:user_id AS uuid) IS NULL OR j.user_id = CAST(:user_id AS uuid))
    GROUP BY 1 HAVING sum(d.cost_usd) <> 0
    UNION ALL
    SELECT date_trunc('month', g.created_at AT TIME ZONE 'UTC')::date, sum(g.cost_usd)
    FROM describe_calls g
    CROSS JOIN LATERAL (SELECT h.plan FROM user_plan_history h
                        WHERE h.user_id = g.user_id AND h.valid_from <= g.created_at
                        ORDER BY h.valid_from DESC LIMIT 1) p
    WHERE g.created_at >= date_trunc('month', CAST(:date_from AS date)::timestamp) AT TIME ZONE 'UTC'
      AND g.created_at < (date_trunc('month', CAST(:date_to AS date)::timestamp) + interval '1 month')
                         AT TIME ZONE 'UTC'
      AND (CAST(:plan AS text) IS NULL OR p.plan = CAST(:plan AS text))
      AND (CAST(:user_id AS uuid) IS NULL OR g.user_id = CAST(:user_id AS uuid))
    GROUP BY 1 HAVING sum(g.cost_usd) <> 0
), cost AS (
    SELECT month, sum(cost_usd) AS cost_usd FROM cost_parts GROUP BY month
)
SELECT coalesce(r.month, c.month) AS month, coalesce(r.accounts, 0)::bigint AS accounts,
       (coalesce(r.cents, 0) / 100.0)::float8 AS revenue_usd, coalesce(c.cost_usd, 0)::float8 AS cost_usd,
       round(coalesce(r.cents, 0) / 100.0 - coalesce(c.cost_usd, 0), 4)::float8 AS margin_usd
FROM revenue r FULL JOIN cost c ON c.month = r.month
ORDER BY 1;

-- name: report_top_users
-- Users by credits captured in the range (then cost), with images made: the range's :whole_months from
-- usage_monthly, its :edge_days (the days outside whole months) from usage_daily.
SELECT t.user_id::text AS user_id, u.email, u.plan AS current_plan, t.credits::bigint AS credits,
       t.images::bigint AS images, t.cost_usd::float8 AS cost_usd
FROM (SELECT user_id, sum(credits_captured) AS credits, sum(images_done) AS images, sum(cost_usd) AS cost_usd
      FROM (
          SELECT user_id, credits_captured, images_done, cost_usd FROM usage_monthly
          WHERE CAST(:user_id AS uuid) IS NULL
            AND month = ANY(CAST(:whole_months AS date[]))
            AND (CAST(:plan AS text) IS NULL OR plan = CAST(:plan AS text))
          UNION ALL
          SELECT user_id, credits_captured, images_done, cost_usd FROM usage_daily
          WHERE CAST(:user_id AS uuid) IS NULL AND (credits_captured <> 0 OR images_done <> 0 OR cost_usd <> 0)
            AND day = ANY(CAST(:edge_days AS date[]))
            AND (CAST(:plan AS text) IS NULL OR plan = CAST(:plan AS text))
          UNION ALL
          SELECT user_id, credits_captured, images_done, cost_usd FROM usage_monthly
          WHERE user_id = CAST(:user_id AS uuid)
            AND month = ANY(CAST(:whole_months AS date[]))
            AND (CAST(:plan AS text) IS NULL OR plan = CAST(:plan AS text))
          UNION ALL
          SELECT user_id, credits_captured, images_done, cost_usd FROM usage_daily
          WHERE user_id = CAST(:user_id AS uuid)
            AND day = ANY(CAST(:edge_days AS date[]))
            AND (CAST(:plan AS text) IS NULL OR plan = CAST(:plan AS text))
      ) u
      GROUP BY user_id
      HAVING sum(credits_captured) <> 0 OR sum(images_done) <> 0 OR sum(cost_usd) <> 0) t
JOIN users u ON u.id = t.user_id
ORDER BY t.credits DESC, t.cost_usd DESC, u.email
LIMIT :limit;

-- name: raw_top_users
-- report_top_users from the ledger and the finished images.
WITH ledger AS (
    SELECT c.user_id, sum(c.amount) AS credits
    FROM credit_transactions c
    CROSS JOIN LATERAL (SELECT h.plan FROM user_plan_history h
                        WHERE h.user_id = c.user_id AND h.valid_from <= c.created_at
                        ORDER BY h.valid_from DESC LIMIT 1) p
    WHERE c.kind = 'capture'
      AND c.created_at >= CAST(:date_from AS date)::timestamp AT TIME ZONE 'UTC'
      AND c.created_at < (CAST(:date_to AS date) + 1)::timestamp AT TIME ZONE 'UTC'
      AND (CAST(:plan AS text) IS NULL OR p.plan = CAST(:plan AS text))
      AND (CAST(:user_id AS uuid) IS NULL OR c.user_id = CAST(:user_id AS uuid))
    GROUP BY c.user_id
), image_parts AS (
    SELECT j.user_id, count(*) FILTER (WHERE d.status = 'done') AS images, sum(d.cost_usd) AS cost_usd
    FROM differences d
    JOIN generation_jobs j ON j.id = d.job_id
    CROSS JOIN LATERAL (SELECT h.plan FROM user_plan_history h
                        WHERE h.user_id = j.user_id AND h.valid_from <= d.finished_at
                        ORDER BY h.valid_from DESC LIMIT 1) p
    WHERE d.status IN ('done', 'failed')
      AND d.finished_at >= CAST(:date_from AS date)::timestamp AT TIME ZONE 'UTC'
      AND d.finished_at < (CAST(:date_to AS date) + 1)::timestamp AT TIME ZONE 'UTC'
      AND (CAST(:plan AS text) IS NULL OR p.plan = CAST(:plan AS text))
      AND (CAST(:user_id AS uuid) IS NULL OR j.user_id = CAST(:user_id AS uuid))
    GROUP BY j.user_id
    UNION ALL
    SELECT g.user_id, 0, sum(g.cost_usd)
    FROM describe_calls g
    CROSS JOIN LATERAL (SELECT h.plan FROM user_plan_history h
                        WHERE h.user_id = g.user_id AND h.valid_from <= g.created_at
                        ORDER BY h.valid_from DESC LIMIT 1) p
    WHERE g.created_at >= CAST(:date_from AS date)::timestamp AT TIME ZONE 'UTC'
      AND g.created_at < (CAST(:date_to AS date) + 1)::timestamp AT TIME ZONE 'UTC'
      AND (CAST(:plan AS text) IS NULL OR p.plan = CAST(:plan AS text))
      AND (CAST(:user_id AS uuid) IS NULL OR g.user_id = CAST(:user_id AS uuid))
    GROUP BY g.user_id
), images AS (
    SELECT user_id, sum(images) AS images, sum(cost_usd) AS cost_usd FROM image_parts GROUP BY user_id
), t AS (
    SELECT coalesce(l.user_id, i.user_id) AS user_id, coalesce(l.credits, 0) AS credits,
           coalesce(i.images, 0) AS images, coalesce(i.cost_usd, 0) AS cost_usd
    FROM ledger l FULL JOIN images i ON i.user_id = l.user_id
    WHERE coalesce(l.credits, 0) <> 0 OR coalesce(i.images, 0) <> 0 OR coalesce(i.cost_usd, 0) <> 0
)
SELECT t.user_id::text AS user_id, u.email, u.plan AS current_plan, t.credits::bigint AS credits,
       t.images::bigint AS images, t.cost_usd::float8 AS cost_usd
FROM t JOIN users u ON u.id = t.user_id
ORDER BY t.credits DESC, t.cost_usd DESC, u.email
LIMIT :limit;

-- name: report_failure_rates
-- Finished images per model: done, failed, safety blocks (safety and prompt_blocked) and their rates.
SELECT model, sum(images_done)::bigint AS done, sum(images_failed)::bigint AS failed,
       sum(safety_blocks)::bigint AS safety_blocks,
       sum(images_failed)::float8 / (sum(images_done) + sum(images_failed)) AS failure_rate,
       sum(safety_blocks)::float8 / (sum(images_done) + sum(images_failed)) AS safety_rate
FROM (
    SELECT model, images_done, images_failed, safety_blocks FROM usage_daily_plan
    WHERE CAST(:user_id AS uuid) IS NULL AND day BETWEEN CAST(:date_from AS date) AND CAST(:date_to AS date)
      AND (CAST(:plan AS text) IS NULL OR plan = CAST(:plan AS text))
    UNION ALL
    SELECT model, images_done, images_failed, safety_blocks FROM usage_daily
    WHERE user_id = CAST(:user_id AS uuid) AND day BETWEEN CAST(:date_from AS date) AND CAST(:date_to AS date)
      AND (CAST(:plan AS text) IS NULL OR plan = CAST(:plan AS text))
) u
GROUP BY model HAVING sum(images_done) + sum(images_failed) > 0
ORDER BY model;

-- name: raw_failure_rates
-- report_failure_rates from the finished images themselves.
SELECT j.model, count(*) FILTER (WHERE d.status = 'done') AS done, count(*) FILTER (WHERE d.status = 'failed') AS failed,
       count(*) FILTER (WHERE d.failure_kind IN ('safety', 'prompt_blocked')) AS safety_blocks,
       (count(*) FILTER (WHERE d.status = 'failed'))::float8 / count(*) AS failure_rate,
       (count(*) FILTER (WHERE d.failure_kind IN ('safety', 'prompt_blocked')))::float8 / count(*) AS safety_rate
FROM differences d
JOIN generation_jobs j ON j.id = d.job_id
CROSS JOIN LATERAL (SELECT h.plan FROM user_plan_history h
                    WHERE h.user_id = j.user_id AND h.valid_from <= d.finished_at
                    ORDER BY h.valid_from DESC LIMIT 1) p
WHERE d.status IN ('done', 'failed')
  AND d.finished_at >= CAST(:date_from AS date)::timestamp AT TIME ZONE 'UTC'
  AND d.finished_at < (CAST(:date_to AS date) + 1)::timestamp AT TIME ZONE 'UTC'
  AND (CAST(:plan AS text) IS NULL OR p.plan = CAST(:plan AS text))
  AND (CAST(:user_id AS uuid) IS NULL OR j.user_id = CAST(:user_id AS uuid))
GROUP BY j.model ORDER BY j.model;

-- name: report_latency
-- p50 and p95 of generation time (finished_at - started_at of done images) per model, from the histograms:
-- the range's :whole_months from the monthly ones, its :edge_days from the daily ones (over all plans:
-- usage_latency_daily_total). One user's: report_latency_of_user.
WITH h AS (
    SELECT model, bucket, sum(images) AS n
    FROM (
        SELECT model, bucket, images FROM usage_latency_monthly_plan
        WHERE month = ANY(CAST(:whole_months AS date[]))
          AND (CAST(:plan AS text) IS NULL OR plan = CAST(:plan AS text))
        UNION ALL
        SELECT model, bucket, images FROM usage_latency_daily_total
        WHERE CAST(:plan AS text) IS NULL AND day = ANY(CAST(:edge_days AS date[]))
        UNION ALL
        SELECT model, bucket, images FROM usage_latency_daily_plan
        WHERE plan = CAST(:plan AS text) AND day = ANY(CAST(:edge_days AS date[]))
    ) u
    GROUP BY model, bucket
), c AS (
    SELECT model, bucket, sum(n) OVER (PARTITION BY model ORDER BY bucket) AS cum,
           sum(n) OVER (PARTITION BY model) AS total
    FROM h
)
SELECT model, max(total)::bigint AS images,
       usage_latency_bucket_ms(min(bucket) FILTER (WHERE cum >= ceil(0.5 * total))) AS p50_ms,
       usage_latency_bucket_ms(min(bucket) FILTER (WHERE cum >= ceil(0.95 * total))) AS p95_ms
FROM c GROUP BY model ORDER BY model;

-- name: report_latency_of_user
-- report_latency for one user, from the per-user histograms.
WITH h AS (
    SELECT model, bucket, sum(images) AS n
    FROM (
        SELECT model, bucket, images FROM usage_latency_monthly
        WHERE user_id = CAST(:user_id AS uuid) AND month = ANY(CAST(:whole_months AS date[]))
          AND (CAST(:plan AS text) IS NULL OR plan = CAST(:plan AS text))
        UNION ALL
        SELECT model, bucket, images FROM usage_latency_daily
        WHERE user_id = CAST(:user_id AS uuid) AND day = ANY(CAST(:edge_days AS date[]))
          AND (CAST(:plan AS text) IS NULL OR plan = CAST(:plan AS text))
    ) u
    GROUP BY model, bucket
), c AS (
    SELECT model, bucket, sum(n) OVER (PARTITION BY model ORDER BY bucket) AS cum,
           sum(n) OVER (PARTITION BY model) AS total
    FROM h
)
SELECT model, max(total)::bigint AS images,
       usage_latency_bucket_ms(min(bucket) FILTER (WHERE cum >= ceil(0.5 * total))) AS p50_ms,
       usage_latency_bucket_ms(min(bucket) FILTER (WHERE cum >= ceil(0.95 * total))) AS p95_ms
FROM c GROUP BY model ORDER BY model;

-- name: raw_latency
-- report_latency from the finished images themselves, exact (nearest-rank percentiles).
SELECT j.model, count(*) AS images,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.finished_at - d.started_at)::float8 * 1000)
           AS p50_ms,
       percentile_disc(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM d.finished_at - d.started_at)::float8 * 1000)
           AS p95_ms
FROM differences d
JOIN generation_jobs j ON j.id = d.job_id
CROSS JOIN LATERAL (SELECT h.plan FROM user_plan_history h
                    WHERE h.user_id = j.user_id AND h.valid_from <= d.finished_at
                    ORDER BY h.valid_from DESC LIMIT 1) p
WHERE d.status = 'done' AND d.started_at IS NOT NULL
  AND d.finished_at >= CAST(:date_from AS date)::timestamp AT TIME ZONE 'UTC'
  AND d.finished_at < (CAST(:date_to AS date) + 1)::timestamp AT TIME ZONE 'UTC'
  AND (CAST(:plan AS text) IS NULL OR p.plan = CAST(:plan AS text))
  AND (CAST(:user_id AS uuid) IS NULL OR j.user_id = CAST(:user_id AS uuid))
GROUP BY j.model ORDER BY j.model;

-- name: report_gemini_spend
-- Gemini spend per day and line (standard calls, economy Batch API images, notebook trials): images, calls, USD.
SELECT day, line, sum(images)::bigint AS images, sum(calls)::bigint AS calls, round(sum(cost_usd), 4)::float AS cost_usd
FROM (
    SELECT (coalesce(d.finished_at, d.created_at) AT TIME ZONE 'UTC')::date AS day, d.tier AS line,
           count(*) FILTER (WHERE d.status = 'done') AS images, sum(jsonb_array_length(d.attempts)) AS calls,
           sum(d.cost_usd) AS cost_usd
    FROM differences d JOIN generation_jobs j ON j.id = d.job_id JOIN users u ON u.id = j.user_id
    WHERE j.backend = 'gemini' AND d.status IN ('done', 'failed')
      AND (coalesce(d.finished_at, d.created_at) AT TIME ZONE 'UTC')::date BETWEEN :date_from AND :date_to
      AND (CAST(:plan AS text) IS NULL OR u.plan = CAST(:plan AS text))
      AND (CAST(:user_id AS uuid) IS NULL OR j.user_id = CAST(:user_id AS uuid))
    GROUP BY 1, 2
    UNION ALL
    SELECT (t.created_at AT TIME ZONE 'UTC')::date, 'trial', count(*) FILTER (WHERE t.outcome = 'ok'), sum(t.calls),
           sum(t.cost_usd)
    FROM trial_calls t JOIN generation_jobs j ON j.id = t.job_id JOIN users u ON u.id = j.user_id
    WHERE (t.created_at AT TIME ZONE 'UTC')::date BETWEEN :date_from AND :date_to
      AND (CAST(:plan AS text) IS NULL OR u.plan = CAST(:plan AS text))
      AND (CAST(:user_id AS uuid) IS NULL OR j.user_id = CAST(:user_id AS uuid))
    GROUP BY 1
) s
GROUP BY day, line
ORDER BY day, line;

-- name: report_cost_per_approved
-- Per month, model and plan: what an approved image really cost (every attempt and failure included) and how
-- many Gemini calls it took.
SELECT to_char(date_trunc('month', j.created_at AT TIME ZONE 'UTC'), 'YYYY-MM') AS month, j.model, u.plan,
       count(*) FILTER (WHERE d.review = 'approved') AS approved,
       round(sum(d.cost_usd), 4)::float AS cost_usd,
       sum(jsonb_array_length(d.attempts))::bigint AS calls,
       round(sum(d.cost_usd) / nullif(count(*) FILTER (WHERE d.review = 'approved'), 0), 4)::float AS usd_per_approved,
       round(sum(jsonb_array_length(d.attempts))::numeric
             / nullif(count(*) FILTER (WHERE d.review = 'approved'), 0), 2)::float AS calls_per_approved
FROM differences d JOIN generation_jobs j ON j.id = d.job_id JOIN users u ON u.id = j.user_id
WHERE j.backend = 'gemini' AND d.status IN ('done', 'failed')
  AND (j.created_at AT TIME ZONE 'UTC')::date BETWEEN :date_from AND :date_to
  AND (CAST(:plan AS text) IS NULL OR u.plan = CAST(:plan AS text))
  AND (CAST(:user_id AS uuid) IS NULL OR j.user_id = CAST(:user_id AS uuid))
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;
