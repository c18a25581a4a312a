-- name: economy_items_ready
-- The economy items of a job that can go to Gemini now: queued, in no Batch API job yet, expressions and
-- variants whose expression image is done; locked so two workers never put one item in two jobs.
SELECT d.id FROM differences d LEFT JOIN differences p ON p.id = d.parent_id
WHERE d.job_id = CAST(:job_id AS uuid) AND d.tier = 'economy' AND d.status = 'queued'
  AND d.gemini_batch_id IS NULL AND d.batch_answer IS NULL AND (p.id IS NULL OR p.status = 'done')
ORDER BY d.position, d.attempt
FOR UPDATE OF d SKIP LOCKED;

-- name: economy_orphans
-- Economy variants still waiting whose expression image failed or was cancelled: they can never be made.
SELECT d.id FROM differences d JOIN differences p ON p.id = d.parent_id
WHERE d.job_id = CAST(:job_id AS uuid) AND d.tier = 'economy' AND d.status = 'queued'
  AND d.gemini_batch_id IS NULL AND p.status IN ('failed', 'cancelled');

-- name: insert_gemini_batch
-- A Batch API job about to be created for these items (in request order).
INSERT INTO gemini_batches (job_id, display_name, model, image_size, item_ids)
VALUES (CAST(:job_id AS uuid), :display_name, :model, :image_size, CAST(:item_ids AS uuid[]))
RETURNING id;

-- name: assign_gemini_batch
-- Point the items at the Batch API job that carries them.
UPDATE differences SET gemini_batch_id = CAST(:gemini_batch_id AS uuid)
WHERE id = ANY(CAST(:item_ids AS uuid[]));

-- name: gemini_batch
-- One Batch API job of the studio, with its generation job's owner and character.
SELECT b.id, b.job_id, b.name, b.display_name, b.model, b.image_size, b.state, b.item_ids, b.submitted_at,
       b.checked_at, b.polls, b.progress, b.ended_at, b.resolved_at, b.failure_reason, b.created_at,
       j.user_id, j.character_id, j.status AS job_status
FROM gemini_batches b JOIN generation_jobs j ON j.id = b.job_id
WHERE b.id = CAST(:gemini_batch_id AS uuid);

-- name: gemini_batch_submitted
-- Gemini accepted the job: its name, so any worker can poll it from now on.
UPDATE gemini_batches SET name = :name, state = :state, submitted_at = coalesce(submitted_at, now()),
       progress = CAST(:progress AS jsonb), checked_at = now()
WHERE id = CAST(:gemini_batch_id AS uuid) AND name IS NULL
RETURNING id;

-- name: gemini_batch_checked
-- What the latest poll saw.
UPDATE gemini_batches SET state = :state, progress = coalesce(CAST(:progress AS jsonb), progress),
       checked_at = now(), polls = polls + 1,
       ended_at = CASE WHEN :ended THEN coalesce(ended_at, now()) END
WHERE id = CAST(:gemini_batch_id AS uuid) AND resolved_at IS NULL;

-- name: gemini_batch_resolved
-- Every item's answer was taken over: the job needs no more polls.
UPDATE gemini_batches SET resolved_at = now(), failure_reason = :failure_reason,
       ended_at = coalesce(ended_at, now()), state = coalesce(:state, state)
WHERE id = CAST(:gemini_batch_id AS uuid) AND resolved_at IS NULL
RETURNING id;

-- name: economy_item_rows
-- The items of a Batch API job with what building their requests needs (the columns claim_difference returns).
SELECT d.id, d.job_id, d.character_id, d.expression_key, d.variant, d.parent_id, d.prompt, d.attempt, d.status,
       j.user_id, j.backend, j.model, j.image_size, j.settings,
       c.name AS character_name, c.features, c.base_key, c.base_width, c.base_height, c.base_source, c.face_box,
       c.face_points
FROM unnest(CAST(:item_ids AS uuid[])) WITH ORDINALITY AS i(id, n)
JOIN differences d ON d.id = i.id JOIN generation_jobs j ON j.id = d.job_id JOIN characters c ON c.id = d.character_id
ORDER BY i.n;

-- name: take_over_batch_answer
-- Keep one item's stored answer for post-processing; only once, and only while the item still waits.
UPDATE differences SET batch_answer = CAST(:answer AS jsonb)
WHERE id = CAST(:difference_id AS uuid) AND status = 'queued' AND batch_answer IS NULL
RETURNING id, parent_id;

-- name: batch_answer_of
-- The stored Batch API answer of an item, if it has one.
SELECT batch_answer FROM differences WHERE id = CAST(:difference_id AS uuid) AND batch_answer IS NOT NULL;

-- name: open_items_of_gemini_batch
-- The items of a Batch API job still waiting for its answer.
SELECT id FROM differences
WHERE gemini_batch_id = CAST(:gemini_batch_id AS uuid) AND status = 'queued' AND batch_answer IS NULL;

-- name: gemini_batches_to_poll
-- Open Batch API jobs with no poll queued or running (after a restart, or a poll task lost).
SELECT b.id FROM gemini_batches b
WHERE b.resolved_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs p
                  WHERE p.queueing_lock = 'economy-poll-' || b.id::text AND p.status IN ('todo', 'doing'));

-- name: economy_waiting
-- The Batch API jobs of a generation job (newest first): what the Generate page shows while it waits.
SELECT b.id, b.name, b.state, b.submitted_at, b.created_at, b.checked_at, b.progress, b.ended_at, b.resolved_at,
       b.failure_reason, cardinality(b.item_ids) AS items
FROM gemini_batches b JOIN generation_jobs j ON j.id = b.job_id
WHERE b.job_id = CAST(:job_id AS uuid) AND (j.user_id = CAST(:user_id AS uuid) OR :any_owner)
ORDER BY b.created_at DESC;

-- name: economy_items_finishing
-- Economy items of a job whose answer was taken over and is still being post-processed.
SELECT count(*) FROM differences
WHERE job_id = CAST(:job_id AS uuid) AND tier = 'economy' AND batch_answer IS NOT NULL
  AND status IN ('queued', 'running');
