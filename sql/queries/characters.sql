-- name: insert_character
-- Create a character owned by a user.
INSERT INTO characters (id, user_id, name, features, base_key, base_width, base_height, base_source, face_box,
                        face_source, face_points, face_note)
VALUES (CAST(:id AS uuid), CAST(:user_id AS uuid), :name, CAST(:features AS jsonb), :base_key,
        :base_width, :base_height, :base_source, :face_box, :face_source, CAST(:face_points AS jsonb), :face_note)
RETURNING id, user_id, name, features, base_key, base_width, base_height, base_source, face_box, face_source,
          face_points, face_note, created_at, updated_at;

-- name: characters_of_user
-- A user's own characters, newest first.
SELECT c.id, c.user_id, c.name, c.features, c.base_key, c.base_width, c.base_height, c.base_source, c.face_box,
       c.face_source, c.face_points, c.face_note, c.created_at, c.updated_at, u.email AS owner_email
FROM characters c JOIN users u ON u.id = c.user_id
WHERE c.user_id = CAST(:user_id AS uuid)
ORDER BY c.created_at DESC, c.name;

-- name: all_characters
-- Every character of every user (admins only, asked for explicitly).
SELECT c.id, c.user_id, c.name, c.features, c.base_key, c.base_width, c.base_height, c.base_source, c.face_box,
       c.face_source, c.face_points, c.face_note, c.created_at, c.updated_at, u.email AS owner_email
FROM characters c JOIN users u ON u.id = c.user_id
ORDER BY c.created_at DESC, c.name;

-- name: character_for_user
-- One character if the user owns it (or :any_owner is true, for admins).
SELECT c.id, c.user_id, c.name, c.features, c.base_key, c.base_width, c.base_height, c.base_source, c.face_box,
       c.face_source, c.face_points, c.face_note, c.created_at, c.updated_at, u.email AS owner_email
FROM characters c JOIN users u ON u.id = c.user_id
WHERE c.id = CAST(:character_id AS uuid) AND (c.user_id = CAST(:user_id AS uuid) OR :any_owner);

-- name: rename_character
-- Rename a character the user owns.
UPDATE characters SET name = :name, updated_at = now()
WHERE id = CAST(:character_id AS uuid) AND user_id = CAST(:user_id AS uuid)
RETURNING id;

-- name: update_features
-- Replace the features of a character the user owns.
UPDATE characters SET features = CAST(:features AS jsonb), updated_at = now()
WHERE id = CAST(:character_id AS uuid) AND user_id = CAST(:user_id AS uuid)
RETURNING id;

-- name: lock_character_of_user
-- Lock a character the user owns before deleting it: a batch submitted meanwhile waits, then finds it gone.
SELECT id, user_id, name FROM characters
WHERE id = CAST(:character_id AS uuid) AND user_id = CAST(:user_id AS uuid)
FOR UPDATE;

-- name: cancel_work_of_character
-- Cancel a character's queued and running items (locking them against a worker finishing one meanwhile).
UPDATE differences SET status = 'cancelled', finished_at = now()
WHERE character_id = CAST(:character_id AS uuid) AND status IN ('queued', 'running')
RETURNING id;

-- name: open_holds_of_character
-- Items of a character whose credits are still held (neither captured nor released).
SELECT h.difference_id FROM credit_transactions h JOIN differences d ON d.id = h.difference_id
WHERE d.character_id = CAST(:character_id AS uuid) AND h.kind = 'hold'
  AND NOT EXISTS (SELECT 1 FROM credit_transactions r
                  WHERE r.difference_id = h.difference_id AND r.kind IN ('capture', 'release'))
ORDER BY h.difference_id;

-- name: delete_character
-- Delete a character the user owns (its jobs and variants go with it; their holds must be released first).
DELETE FROM characters
WHERE id = CAST(:character_id AS uuid) AND user_id = CAST(:user_id AS uuid)
RETURNING id, user_id;

-- name: set_face_box
-- Set, correct or confirm the face region of a character the user owns (a person's box: source 'user').
UPDATE characters SET face_box = :face_box, face_points = CAST(:face_points AS jsonb), face_source = 'user',
       face_note = '', updated_at = now()
WHERE id = CAST(:character_id AS uuid) AND user_id = CAST(:user_id AS uuid)
RETURNING id;

-- name: record_describe_call
-- Record one "Describe with Gemini" call and its cost (the reports add it to the spend).
INSERT INTO describe_calls (user_id, model, ok, cost_usd, usage, reason)
VALUES (CAST(:user_id AS uuid), :model, :ok, :cost_usd, CAST(:usage AS jsonb), :reason)
RETURNING id;
