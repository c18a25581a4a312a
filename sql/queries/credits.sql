-- name: balance
-- A user's balance with their plan's quota and what they used since the period started.
SELECT uc.user_id, uc.available, uc.held, uc.period_start, u.plan, p.monthly_credits, p.max_batch_size,
       p.allowed_models, p.allowed_sizes,
       coalesce((SELECT sum(t.amount) FROM credit_transactions t
                 WHERE t.user_id = uc.user_id AND t.kind = 'capture' AND t.created_at >= uc.period_start), 0)
           AS used_this_period
FROM user_credits uc JOIN users u ON u.id = uc.user_id JOIN plans p ON p.key = u.plan
WHERE uc.user_id = CAST(:user_id AS uuid);

-- name: insert_credit_transaction
-- Append one ledger row; a repeated idempotency key inserts nothing.
INSERT INTO credit_transactions (user_id, kind, amount, delta_available, delta_held, idempotency_key, job_id,
                                 difference_id, reason, actor_id)
VALUES (CAST(:user_id AS uuid), :kind, :amount, :delta_available, :delta_held, :key, CAST(:job_id AS uuid),
        CAST(:difference_id AS uuid), :reason, CAST(:actor_id AS uuid))
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id;

-- name: apply_credit_deltas
-- Move credits; refuses (no row) when available would go negative. Postgres re-checks after waiting.
UPDATE user_credits SET available = available + :delta_available, held = held + :delta_held
WHERE user_id = CAST(:user_id AS uuid) AND available + :delta_available >= 0 AND held + :delta_held >= 0
RETURNING available, held;

-- name: lock_balance
-- Lock a user's balance row for a read-modify-write (monthly reset).
SELECT available, held, period_start FROM user_credits WHERE user_id = CAST(:user_id AS uuid) FOR UPDATE;

-- name: set_period_start
-- Remember which period the balance belongs to.
UPDATE user_credits SET period_start = :period WHERE user_id = CAST(:user_id AS uuid);

-- name: hold_of_item
-- The open or resolved hold of one item.
SELECT t.user_id, t.amount, t.job_id,
       (SELECT r.kind FROM credit_transactions r
        WHERE r.difference_id = t.difference_id AND r.kind IN ('capture', 'release')) AS resolution
FROM credit_transactions t WHERE t.difference_id = CAST(:difference_id AS uuid) AND t.kind = 'hold';

-- name: set_item_credits
-- Record what an item cost in credits.
UPDATE differences SET cost_credits = :credits WHERE id = CAST(:difference_id AS uuid);

-- name: credit_price
-- Credits per image for a model and size.
SELECT credits FROM credit_prices WHERE model = :model AND image_size = :image_size;

-- name: users_due_for_reset
-- Users whose balance belongs to an earlier period. Paying subscribers are left out: their credits
-- come with each paid invoice (billing), not from the monthly reset.
SELECT uc.user_id FROM user_credits uc
WHERE uc.period_start < :period
  AND NOT EXISTS (SELECT 1 FROM subscriptions s
                  WHERE s.user_id = uc.user_id AND s.status IN ('active', 'trialing', 'past_due'))
ORDER BY uc.user_id;

-- name: ledger_of_user
-- A user's newest ledger rows.
SELECT id, kind, amount, delta_available, delta_held, reason, job_id, difference_id, created_at
FROM credit_transactions WHERE user_id = CAST(:user_id AS uuid)
ORDER BY id DESC LIMIT :limit;

-- name: ledger_sums
-- The balance the ledger explains (for invariant checks and reconciliation).
SELECT coalesce(sum(delta_available), 0) AS available, coalesce(sum(delta_held), 0) AS held
FROM credit_transactions WHERE user_id = CAST(:user_id AS uuid);

-- name: usage_by_day
-- Credits captured per day since a date, for one user.
SELECT date_trunc('day', created_at)::date AS day, sum(amount) AS credits
FROM credit_transactions
WHERE user_id = CAST(:user_id AS uuid) AND kind = 'capture' AND created_at >= :since
GROUP BY 1 ORDER BY 1;

-- name: credit_transaction_by_key
-- The request a used idempotency key was first used for.
SELECT user_id, kind, amount, reason FROM credit_transactions WHERE idempotency_key = :key;

-- name: ledger_lines
-- A user's ledger for people: one line per batch (its holds, charges and refunds folded, with the character's
-- name), other rows one by one; newest first.
SELECT * FROM (
    SELECT min(t.created_at) AS created_at, max(t.id) AS seq, t.job_id, c.name AS character_name, 'batch' AS kind,
           NULL::text AS reason,
           count(*) FILTER (WHERE t.kind = 'hold') AS images,
           coalesce(sum(t.amount) FILTER (WHERE t.kind = 'hold'), 0) AS held,
           coalesce(sum(t.amount) FILTER (WHERE t.kind = 'capture'), 0) AS charged,
           coalesce(sum(t.amount) FILTER (WHERE t.kind = 'release'), 0) AS refunded,
           sum(t.delta_available) AS delta_available, sum(t.delta_held) AS delta_held
    FROM credit_transactions t JOIN generation_jobs j ON j.id = t.job_id JOIN characters c ON c.id = j.character_id
    WHERE t.user_id = CAST(:user_id AS uuid)
    GROUP BY t.job_id, c.name
    UNION ALL
    SELECT t.created_at, t.id, NULL, NULL, t.kind, t.reason, 0, 0, 0, 0, t.delta_available, t.delta_held
    FROM credit_transactions t
    WHERE t.user_id = CAST(:user_id AS uuid) AND t.job_id IS NULL
) lines
ORDER BY created_at DESC, seq DESC
LIMIT :limit;
