-- name: insert_job
-- A generation job for one character.
INSERT INTO generation_jobs (user_id, character_id, backend, model, image_size, settings, template_version, tier)
VALUES (CAST(:user_id AS uuid), CAST(:character_id AS uuid), :backend, :model, :image_size,
        CAST(:settings AS jsonb), :template_version, :tier)
RETURNING id, status, created_at;

-- name: insert_difference
-- One expression or variant of a job, queued.
INSERT INTO differences (job_id, character_id, expression_key, variant, parent_id, prompt, position, tier)
VALUES (CAST(:job_id AS uuid), CAST(:character_id AS uuid), :expression_key, :variant,
        CAST(:parent_id AS uuid), :prompt, :position, :tier)
RETURNING id;

-- name: claim_difference
-- Mark an item running (again, if a worker died mid-way); nothing when it already ended.
UPDATE differences d SET status = 'running', started_at = now()
FROM generation_jobs j, characters c
WHERE d.id = CAST(:difference_id AS uuid) AND j.id = d.job_id AND c.id = d.character_id
  AND d.status IN ('queued', 'running')
RETURNING d.id, d.job_id, d.character_id, d.expression_key, d.variant, d.parent_id, d.prompt, d.attempt,
          j.user_id, j.backend, j.model, j.image_size, j.settings,
          c.name AS character_name, c.features, c.base_key, c.base_width, c.base_height, c.base_source, c.face_box,
          c.face_points;

-- name: difference_state
-- The status of one item and of its parent (for variants).
SELECT d.id, d.status, d.image_key, d.failure_reason, p.status AS parent_status, p.image_key AS parent_image_key
FROM differences d LEFT JOIN differences p ON p.id = d.parent_id
WHERE d.id = CAST(:difference_id AS uuid);

-- name: finish_difference_done
-- Record a generated image; only a running item can finish.
UPDATE differences SET status = 'done', image_key = :image_key, raw_key = :raw_key, cost_usd = :cost_usd,
       image_sha256 = :image_sha256,
       attempts = CAST(:attempts AS jsonb), score = :score, score_parts = CAST(:score_parts AS jsonb),
       finished_at = now()
WHERE id = CAST(:difference_id AS uuid) AND status = 'running'
RETURNING id, job_id;

-- name: finish_difference_failed
-- Record why an item failed; only a queued or running item can fail.
UPDATE differences SET status = 'failed', failure_reason = :reason, failure_kind = :kind,
       attempts = CAST(:attempts AS jsonb), finished_at = now()
WHERE id = CAST(:difference_id AS uuid) AND status IN ('queued', 'running')
RETURNING id, job_id;

-- name: lock_job
-- Taken before refresh_job_status: item transactions ending at once then refresh one after another, each
-- counting the others' committed items (under READ COMMITTED two refreshes in flight each saw the other item
-- still open, and the job stayed 'running' with every item ended). NO KEY UPDATE, the lock the refresh's own
-- UPDATE takes: FOR UPDATE also waits for the key-share locks that rows inserted with this job_id hold, and
-- two item transactions that had both inserted such rows deadlocked.
SELECT id FROM generation_jobs WHERE id = CAST(:job_id AS uuid) FOR NO KEY UPDATE;

-- name: refresh_job_status
-- A job is running while any item is, and ends when every item has ended (done if any image was made).
UPDATE generation_jobs j SET
    status = CASE
        WHEN s.open > 0 AND s.started > 0 THEN 'running'
        WHEN s.open > 0 THEN j.status
        WHEN s.done > 0 THEN 'done'
        WHEN s.cancelled = s.total THEN 'cancelled'
        ELSE 'failed' END,
    finished_at = CASE WHEN s.open = 0 THEN coalesce(j.finished_at, now()) END
FROM (SELECT count(*) AS total,
             count(*) FILTER (WHERE status IN ('queued', 'running')) AS open,
             count(*) FILTER (WHERE status <> 'queued') AS started,
             count(*) FILTER (WHERE status = 'done') AS done,
             count(*) FILTER (WHERE status = 'cancelled') AS cancelled
      FROM differences WHERE job_id = CAST(:job_id AS uuid)) s
WHERE j.id = CAST(:job_id AS uuid) AND j.status <> 'cancelled'
RETURNING j.status;

-- name: job_differences
-- The items of a job the user owns (or :any_owner), expressions before their variants.
SELECT d.id, d.expression_key, d.variant, d.status, d.review, d.image_key, d.failure_reason, d.failure_kind,
       d.cost_usd, d.cost_credits, d.attempts, d.score, d.score_parts, d.created_at, d.finished_at, d.attempt,
       d.tier, j.backend, j.model, j.image_size, j.status AS job_status
FROM differences d JOIN generation_jobs j ON j.id = d.job_id
WHERE d.job_id = CAST(:job_id AS uuid) AND (j.user_id = CAST(:user_id AS uuid) OR :any_owner)
ORDER BY d.position, d.attempt;

-- name: character_differences
-- The latest finished variants of a character, newest first.
SELECT d.id, d.expression_key, d.variant, d.status, d.review, d.image_key, d.failure_reason, d.failure_kind,
       d.cost_usd, d.cost_credits, d.score, d.score_parts, d.finished_at, j.backend, j.model, j.image_size
FROM differences d JOIN generation_jobs j ON j.id = d.job_id
WHERE d.character_id = CAST(:character_id AS uuid) AND d.status IN ('done', 'failed')
ORDER BY d.finished_at DESC LIMIT :limit;

-- name: insert_custom_expression
-- A character's own expression.
INSERT INTO custom_expressions (character_id, key, label_en, label_ja, prompt, intensity, face)
VALUES (CAST(:character_id AS uuid), :key, :label_en, :label_ja, :prompt, :intensity, :face)
RETURNING id;

-- name: custom_expressions_of_character
-- The custom expressions of one character.
SELECT key, label_en, label_ja, prompt, intensity, face FROM custom_expressions
WHERE character_id = CAST(:character_id AS uuid) ORDER BY created_at, key;

-- name: delete_custom_expression
-- Remove one custom expression of a character.
DELETE FROM custom_expressions WHERE character_id = CAST(:character_id AS uuid) AND key = :key RETURNING id;

-- name: custom_expression_face
-- The built-in face a custom expression of a character borrows.
SELECT face FROM custom_expressions WHERE character_id = CAST(:character_id AS uuid) AND key = :key;

-- name: difference_backend
-- The backend of an item's job.
SELECT j.backend FROM differences d JOIN generation_jobs j ON j.id = d.job_id WHERE d.id = CAST(:difference_id AS uuid);

-- name: job_of_user
-- One job if the user owns it.
SELECT id, status, backend, model, image_size, character_id, created_at, finished_at, tier
FROM generation_jobs WHERE id = CAST(:job_id AS uuid) AND (user_id = CAST(:user_id AS uuid) OR :any_owner);

-- name: cancel_unstarted_differences
-- Cancel the items of a job nothing was spent on yet: queued ones, and running ones of the offline renderer
-- (a Gemini call in flight is already paid for, so it finishes); returns them so their holds can be released.
UPDATE differences d SET status = 'cancelled', finished_at = now(), failure_kind = 'cancelled',
       failure_reason = 'Cancelled before it was made; its credits were refunded.'
FROM generation_jobs j
WHERE d.job_id = CAST(:job_id AS uuid) AND j.id = d.job_id
  AND (d.status = 'queued' OR (d.status = 'running' AND j.backend = 'offline'))
RETURNING d.id;

-- name: mark_job_cancelled
-- A cancelled job keeps its finished items; running ones may still finish.
UPDATE generation_jobs SET status = 'cancelled', finished_at = now()
WHERE id = CAST(:job_id AS uuid) AND status IN ('queued', 'running')
RETURNING id;

-- name: workers_alive
-- Workers that sent a heartbeat recently.
SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat > now() - make_interval(secs => :seconds);

-- name: job_progress
-- How many items of a job are in each state.
SELECT count(*) AS total,
       count(*) FILTER (WHERE status IN ('queued', 'running')) AS open,
       count(*) FILTER (WHERE status = 'done') AS done,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled
FROM differences WHERE job_id = CAST(:job_id AS uuid);

-- name: job_difference_parents
-- Each item of a job with its parent (variants) in creation order.
SELECT id, parent_id FROM differences WHERE job_id = CAST(:job_id AS uuid) ORDER BY position;

-- name: set_review
-- Approve or reject a finished item of the user's own job.
UPDATE differences d SET review = :review
FROM generation_jobs j
WHERE d.id = CAST(:difference_id AS uuid) AND j.id = d.job_id AND j.user_id = CAST(:user_id AS uuid) AND d.status = 'done'
RETURNING d.id;

-- name: recent_jobs
-- A user's latest jobs of one character.
SELECT id, status, backend, model, image_size, created_at, finished_at, tier
FROM generation_jobs WHERE user_id = CAST(:user_id AS uuid) AND character_id = CAST(:character_id AS uuid)
  AND kind = 'generation'
ORDER BY created_at DESC LIMIT :limit;

-- name: export_differences
-- One finished image per expression and variant of a character: approved ones first, then the newest batch,
-- then (for best-of-n attempts inside a batch) the highest score; rejected images never.
SELECT DISTINCT ON (d.expression_key, d.variant)
       d.id, d.expression_key, d.variant, d.image_key, d.score, d.review, d.finished_at,
       j.backend, j.model, j.image_size, j.template_version
FROM differences d JOIN generation_jobs j ON j.id = d.job_id
WHERE d.character_id = CAST(:character_id AS uuid) AND d.status = 'done' AND d.review <> 'rejected'
ORDER BY d.expression_key, d.variant NULLS FIRST, (d.review = 'approved') DESC, j.created_at DESC,
         d.score DESC NULLS LAST, d.finished_at DESC;

-- name: retry_candidate
-- A finished item of an active account with its job's best-of-n setting and how many attempts its
-- expression/variant has had.
SELECT d.id, d.job_id, d.character_id, d.expression_key, d.variant, d.parent_id, d.prompt, d.position,
       d.score, d.score_parts, d.tier, j.user_id, j.settings, j.backend, j.model, j.image_size,
       (SELECT max(o.attempt) FROM differences o
        WHERE o.job_id = d.job_id AND o.expression_key = d.expression_key
          AND o.variant IS NOT DISTINCT FROM d.variant) AS attempts_made,
       (SELECT t.amount FROM credit_transactions t WHERE t.difference_id = d.id AND t.kind = 'hold') AS credits
FROM differences d JOIN generation_jobs j ON j.id = d.job_id JOIN users u ON u.id = j.user_id
WHERE d.id = CAST(:difference_id AS uuid) AND d.status = 'done' AND j.status <> 'cancelled' AND u.is_active
-- Shares the owner's row with a concurrent disable: either it waits and sees the account disabled, or the
-- disable waits and then cancels the attempt queued here.
FOR SHARE OF u;

-- name: insert_retry_difference
-- The next attempt of an expression/variant whose image scored below the threshold.
INSERT INTO differences (job_id, character_id, expression_key, variant, parent_id, prompt, position, attempt)
VALUES (CAST(:job_id AS uuid), CAST(:character_id AS uuid), :expression_key, :variant, CAST(:parent_id AS uuid),
        :prompt, :position, :attempt)
ON CONFLICT ON CONSTRAINT differences_one_per_job_item DO NOTHING
RETURNING id;

-- name: reopen_job
-- A job that gets another attempt is running again.
UPDATE generation_jobs SET status = 'running', finished_at = NULL WHERE id = CAST(:job_id AS uuid);

-- name: delete_difference
-- Drop an attempt that could not be paid for (it never ran).
DELETE FROM differences WHERE id = CAST(:difference_id AS uuid) AND status = 'queued';

-- name: difference_job
-- The job an item belongs to.
SELECT job_id FROM differences WHERE id = CAST(:difference_id AS uuid);

-- name: cancel_difference_of_disabled_owner
-- Cancel an unfinished item whose account is disabled, instead of starting it.
UPDATE differences d SET status = 'cancelled', finished_at = now(), failure_kind = 'account_disabled',
       failure_reason = 'The account was disabled, so this image was not made; its credits were released.'
FROM generation_jobs j JOIN users u ON u.id = j.user_id
WHERE d.id = CAST(:difference_id AS uuid) AND j.id = d.job_id AND NOT u.is_active
  AND d.status IN ('queued', 'running')
RETURNING d.id, d.job_id;

-- name: cancel_queued_work_of_user
-- Cancel every item of a user's jobs that has not started; returns them so their holds can be released.
UPDATE differences d SET status = 'cancelled', finished_at = now(), failure_kind = 'account_disabled',
       failure_reason = 'The account was disabled, so this image was not made; its credits were released.'
FROM generation_jobs j
WHERE j.id = d.job_id AND j.user_id = CAST(:user_id AS uuid) AND d.status = 'queued'
RETURNING d.id, d.job_id;

-- name: difference_of_user
-- One item of a job the user owns (or :any_owner).
SELECT d.id, d.expression_key, d.variant, d.status, d.review, d.image_key, d.failure_reason, d.failure_kind,
       d.cost_usd, d.cost_credits, d.attempts, d.score, d.score_parts, j.backend, j.model, j.image_size
FROM differences d JOIN generation_jobs j ON j.id = d.job_id
WHERE d.id = CAST(:difference_id AS uuid) AND (j.user_id = CAST(:user_id AS uuid) OR :any_owner);

-- name: raw_answers_older_than
-- Raw model answers of images that finished more than :days days ago, locked for this sweep.
SELECT id, raw_key FROM differences
WHERE raw_key IS NOT NULL AND finished_at < now() - make_interval(days => :days)
ORDER BY finished_at LIMIT :limit FOR UPDATE SKIP LOCKED;

-- name: forget_raw_answers
-- The raw answers are gone from storage.
UPDATE differences SET raw_key = NULL WHERE id = ANY(:ids);

-- name: identical_earlier_image
-- Whether another finished image of the same character, expression and variant has exactly these bytes.
SELECT EXISTS (SELECT 1 FROM differences
               WHERE character_id = CAST(:character_id AS uuid) AND expression_key = :expression_key
                 AND variant IS NOT DISTINCT FROM :variant AND image_sha256 = :image_sha256
                 AND status = 'done' AND id <> CAST(:difference_id AS uuid));

-- name: attempt_slot
-- A finished or failed item of the user's own job with what another attempt of its slot needs: the
-- attempts made so far and the expression attempt a variant should edit (the approved one, else its parent).
SELECT d.id, d.job_id, d.character_id, d.expression_key, d.variant, d.parent_id, d.prompt, d.position,
       j.backend, j.model, j.image_size,
       (SELECT max(o.attempt) FROM differences o
        WHERE o.job_id = d.job_id AND o.expression_key = d.expression_key
          AND o.variant IS NOT DISTINCT FROM d.variant) AS attempts_made,
       coalesce((SELECT p.id FROM differences p
                 WHERE d.variant IS NOT NULL AND p.job_id = d.job_id AND p.expression_key = d.expression_key
                   AND p.variant IS NULL AND p.status = 'done' AND p.review = 'approved'
                 ORDER BY p.attempt DESC LIMIT 1), d.parent_id) AS edit_parent_id
FROM differences d JOIN generation_jobs j ON j.id = d.job_id
WHERE d.id = CAST(:difference_id AS uuid) AND j.user_id = CAST(:user_id AS uuid)
  AND d.status IN ('done', 'failed');

-- name: approved_sibling_attempts
-- The other approved attempts of an item's slot (picking one attempt un-approves them); locked for the update.
SELECT o.id FROM differences d JOIN differences o
  ON o.job_id = d.job_id AND o.expression_key = d.expression_key AND o.variant IS NOT DISTINCT FROM d.variant
WHERE d.id = CAST(:difference_id AS uuid) AND o.id <> d.id AND o.review = 'approved'
FOR UPDATE OF o;

-- name: review_of
-- The review of an item of the user's own job.
SELECT d.review FROM differences d JOIN generation_jobs j ON j.id = d.job_id
WHERE d.id = CAST(:difference_id AS uuid) AND j.user_id = CAST(:user_id AS uuid);

-- name: character_batches
-- A character's batches, newest first, with who made them, what they asked for and what they cost.
SELECT j.id, j.created_at, j.finished_at, j.status, j.backend, j.model, j.image_size, j.settings,
       u.email AS made_by,
       count(d.id) AS items,
       count(d.id) FILTER (WHERE d.status = 'done') AS done,
       count(d.id) FILTER (WHERE d.status = 'failed') AS failed,
       count(d.id) FILTER (WHERE d.status = 'cancelled') AS cancelled,
       count(d.id) FILTER (WHERE d.status IN ('queued', 'running')) AS open,
       count(d.id) FILTER (WHERE d.review = 'approved') AS approved,
       coalesce(sum(d.cost_credits), 0) AS credits
FROM generation_jobs j JOIN users u ON u.id = j.user_id LEFT JOIN differences d ON d.job_id = j.id
WHERE j.character_id = CAST(:character_id AS uuid) AND (j.user_id = CAST(:user_id AS uuid) OR :any_owner)
  AND j.kind = 'generation'
GROUP BY j.id, u.email
ORDER BY j.created_at DESC
LIMIT :limit;

-- name: insert_trial_job
-- A notebook prompt trial's job: who ran it, on which character, with which template; it has no items.
INSERT INTO generation_jobs (user_id, character_id, backend, model, image_size, settings, kind, status, finished_at)
VALUES (CAST(:user_id AS uuid), CAST(:character_id AS uuid), :backend, :model, :image_size,
        CAST(:settings AS jsonb), 'trial', 'done', now())
RETURNING id;

-- name: insert_trial_call
-- One trial image's Gemini calls and their cost.
INSERT INTO trial_calls (job_id, expression_key, outcome, calls, cost_usd)
VALUES (CAST(:job_id AS uuid), :expression_key, :outcome, :calls, :cost_usd);
