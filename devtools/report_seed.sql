-- Synthetic usage for benchmarks and report tests, generated set-based. Seeded accounts have emails
-- starting with :prefix; every statement finds them by it. Times fall in [:start, :end).

-- name: seed_random
-- Make random() repeatable for this session.
SELECT setseed(:seed);

-- name: seed_users
-- Accounts with their current plan (the trigger records it as the plan they started with).
INSERT INTO users (email, display_name, password_hash, plan, created_at)
SELECT :prefix || i || '@example.com', 'Seed ' || i, '$2b$04$seedseedseedseedseedseedseedseedseedseedseedseedseeds',
       (ARRAY['free', 'free', 'basic', 'basic', 'pro'])[1 + floor(random() * 5)::int],
       CAST(:start AS timestamptz) - random() * interval '60 days'
           + (CASE WHEN i % 5 = 0 THEN random() ELSE 0 END) * (CAST(:end AS timestamptz) - CAST(:start AS timestamptz))
FROM generate_series(1, :users) AS i;

-- name: seed_plan_changes
-- About a fifth of the accounts started on another plan and changed at some instant in the window.
WITH changed AS (
    SELECT u.id, u.plan FROM users u
    WHERE u.email LIKE :prefix || '%' AND random() < 0.2
), moved AS (
    INSERT INTO user_plan_history (user_id, plan, valid_from)
    SELECT id, plan, CAST(:start AS timestamptz) + random() * (CAST(:end AS timestamptz) - CAST(:start AS timestamptz))
    FROM changed
)
UPDATE user_plan_history h
SET plan = (ARRAY['free', 'basic', 'pro'])[1 + (array_position(ARRAY['free', 'basic', 'pro'], c.plan)
                                                 + floor(random() * 2)::int) % 3]
FROM changed c WHERE h.user_id = c.id AND h.valid_from = '-infinity';

-- name: seed_balances
-- A balance row per seeded account (synthetic: it does not sum the seeded ledger).
INSERT INTO user_credits (user_id, available) SELECT id, 1000 FROM users WHERE email LIKE :prefix || '%';

-- name: seed_characters
-- One character per seeded account.
INSERT INTO characters (user_id, name, base_key, base_width, base_height, base_source)
SELECT id, 'Seed', 'seed/base.png', 768, 1024, 'generated' FROM users WHERE email LIKE :prefix || '%';

-- name: seed_jobs
-- Jobs of skewed users (a few heavy users, a long tail), each with one backend, model and size.
WITH seeded AS (
    SELECT array_agg(id ORDER BY email) AS ids FROM users WHERE email LIKE :prefix || '%'
), combos AS (
    SELECT ARRAY['offline', 'gemini', 'gemini', 'gemini'] AS backends,
           ARRAY['offline', 'gemini-3.1-flash-lite-image', 'gemini-3.1-flash-image', 'gemini-3-pro-image'] AS models,
           ARRAY['1K', '512', '2K', '4K'] AS sizes
), picks AS (
    SELECT s.ids[1 + floor(power(random(), 2) * cardinality(s.ids))::int] AS user_id,
           1 + floor(random() * 4)::int AS combo,
           CAST(:start AS timestamptz) + random() * (CAST(:end AS timestamptz) - CAST(:start AS timestamptz)) AS at
    FROM seeded s, generate_series(1, :jobs)
)
INSERT INTO generation_jobs (user_id, character_id, status, backend, model, image_size, created_at, finished_at)
SELECT p.user_id, c.id, 'done', k.backends[p.combo], k.models[p.combo], k.sizes[p.combo], p.at, p.at
FROM picks p JOIN characters c ON c.user_id = p.user_id, combos k;

-- name: seed_variants
-- Items of the seeded jobs: mostly done, some failed (safety among them), a few cancelled.
WITH jobs AS (
    SELECT row_number() OVER (ORDER BY j.id) - 1 AS n, j.id, j.character_id, j.model, j.created_at
    FROM generation_jobs j JOIN users u ON u.id = j.user_id WHERE u.email LIKE :prefix || '%'
), total AS (
    SELECT count(*) AS c FROM jobs
), items AS (
    SELECT i, random() AS fate, random() AS speed, random() AS wait, floor(random() * 5)::int AS kind
    FROM generate_series(1, :variants) AS i
), timed AS (
    SELECT i.*, j.id AS job_id, j.character_id, j.model,
           j.created_at + i.wait * interval '90 seconds' AS started,
           (CASE j.model WHEN 'offline' THEN 300 WHEN 'gemini-3.1-flash-lite-image' THEN 4000
                         WHEN 'gemini-3.1-flash-image' THEN 8000 ELSE 20000 END)
               * (1 + 3 * power(i.speed, 3)) * interval '1 millisecond' AS took,
           j.created_at AS created
    FROM items i, total t, jobs j WHERE j.n = i.i % t.c
)
INSERT INTO differences (job_id, character_id, expression_key, status, image_key, failure_reason, failure_kind,
                         cost_usd, created_at, position, started_at, finished_at)
SELECT job_id, character_id, 'seed_' || i,
       CASE WHEN fate < 0.88 THEN 'done' WHEN fate < 0.98 THEN 'failed' ELSE 'cancelled' END,
       CASE WHEN fate < 0.88 THEN 'seed/' || i || '.png' END,
       CASE WHEN fate >= 0.88 AND fate < 0.98 THEN 'seeded failure' END,
       CASE WHEN fate >= 0.88 AND fate < 0.98
            THEN (ARRAY['safety', 'prompt_blocked', 'server_error', 'timeout', 'no_image'])[1 + kind] END,
       CASE WHEN fate < 0.88 THEN (CASE model WHEN 'offline' THEN 0 WHEN 'gemini-3.1-flash-lite-image' THEN 0.0195
                                              WHEN 'gemini-3.1-flash-image' THEN 0.067 ELSE 0.134 END)
            ELSE 0 END,
       created, i, CASE WHEN fate < 0.98 THEN started END, CASE WHEN fate < 0.98 THEN started + took END
FROM timed;

-- name: seed_item_ledger
-- A hold for every seeded item, captured when done, released when it failed or was cancelled.
WITH items AS (
    SELECT d.id, d.job_id, j.user_id, d.status, d.created_at, coalesce(d.finished_at, d.created_at) AS ended,
           CASE j.model WHEN 'offline' THEN 1 WHEN 'gemini-3.1-flash-lite-image' THEN 1
                        WHEN 'gemini-3.1-flash-image' THEN 3 ELSE 7 END AS credits
    FROM differences d JOIN generation_jobs j ON j.id = d.job_id JOIN users u ON u.id = j.user_id
    WHERE u.email LIKE :prefix || '%'
)
INSERT INTO credit_transactions (user_id, kind, amount, delta_available, delta_held, idempotency_key, job_id,
                                 difference_id, created_at)
SELECT user_id, 'hold', credits, -credits, credits, 'hold:' || id, job_id, id, created_at FROM items
UNION ALL
SELECT user_id, CASE WHEN status = 'done' THEN 'capture' ELSE 'release' END, credits,
       CASE WHEN status = 'done' THEN 0 ELSE credits END, -credits,
       CASE WHEN status = 'done' THEN 'capture:' ELSE 'release:' END || id, job_id, id, ended
FROM items;

-- name: seed_other_ledger
-- The rest of the ledger: hold/capture pairs of items whose variant rows are gone, grants, resets, adjustments.
WITH seeded AS (
    SELECT array_agg(id ORDER BY email) AS ids FROM users WHERE email LIKE :prefix || '%'
), jobs AS (
    SELECT array_agg(j.id ORDER BY j.id) AS ids FROM generation_jobs j JOIN users u ON u.id = j.user_id
    WHERE u.email LIKE :prefix || '%'
), pairs AS (
    SELECT k, j.ids[1 + floor(random() * cardinality(j.ids))::int] AS job_id, 1 + floor(random() * 7)::int AS credits,
           random() * interval '2 minutes' AS took
    FROM jobs j, generate_series(1, :pairs) AS k
), singles AS (
    SELECT k, s.ids[1 + floor(power(random(), 2) * cardinality(s.ids))::int] AS user_id,
           (ARRAY['grant', 'grant', 'monthly_reset', 'adjustment'])[1 + floor(random() * 4)::int] AS kind,
           1 + floor(random() * 300)::int AS amount,
           CAST(:start AS timestamptz) + random() * (CAST(:end AS timestamptz) - CAST(:start AS timestamptz)) AS at
    FROM seeded s, generate_series(1, :singles) AS k
)
INSERT INTO credit_transactions (user_id, kind, amount, delta_available, delta_held, idempotency_key, job_id,
                                 created_at, reason)
SELECT g.user_id, 'hold', p.credits, -p.credits, p.credits, :prefix || 'hold:' || p.k, p.job_id, g.created_at, NULL
FROM pairs p JOIN generation_jobs g ON g.id = p.job_id
UNION ALL
SELECT g.user_id, 'capture', p.credits, 0, -p.credits, :prefix || 'capture:' || p.k, p.job_id,
       g.created_at + p.took, NULL
FROM pairs p JOIN generation_jobs g ON g.id = p.job_id
UNION ALL
SELECT user_id, kind, CASE WHEN kind = 'adjustment' AND k % 2 = 0 THEN -amount ELSE amount END,
       CASE WHEN kind = 'adjustment' AND k % 2 = 0 THEN -amount ELSE amount END, 0,
       :prefix || kind || ':' || k, NULL, at, CASE WHEN kind = 'adjustment' THEN 'seeded correction' END
FROM singles;
