-- name: insert_character
-- Create a character owned by a user.
INSERT INTO characters (id, user_id, name, features, base_key, base_width, base_height, base_source, face_box)
VALUES (CAST(:id AS uuid), CAST(:user_id AS uuid), :name, CAST(:features AS jsonb), :base_key,
        :base_width, :base_height, :base_source, :face_box)
RETURNING id, user_id, name, features, base_key, base_width, base_height, base_source, face_box, created_at,
          updated_at;

-- name: characters_of_user
-- A user's own characters, newest first.
SELECT c.id, c.user_id, c.name, c.features, c.base_key, c.base_width, c.base_height, c.base_source, c.face_box,
       c.created_at, c.updated_at, u.email AS owner_email
FROM characters c JOIN users u ON u.id = c.user_id
WHERE c.user_id = CAST(:user_id AS uuid)
ORDER BY c.created_at DESC, c.name;

-- name: all_characters
-- Every character of every user (admins only, asked for explicitly).
SELECT c.id, c.user_id, c.name, c.features, c.base_key, c.base_width, c.base_height, c.base_source, c.face_box,
       c.created_at, c.updated_at, u.email AS owner_email
FROM characters c JOIN users u ON u.id = c.user_id
ORDER BY c.created_at DESC, c.name;

-- name: character_for_user
-- One character if the user owns it (or :any_owner is true, for admins).
SELECT c.id, c.user_id, c.name, c.features, c.base_key, c.base_width, c.base_height, c.base_source, c.face_box,
       c.created_at, c.updated_at, u.email AS owner_email
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

-- name: delete_character
-- Delete a character the user owns (its jobs and variants go with it).
DELETE FROM characters
WHERE id = CAST(:character_id AS uuid) AND user_id = CAST(:user_id AS uuid)
RETURNING id, user_id;

-- name: set_face_box
-- Set or correct the face region of a character the user owns.
UPDATE characters SET face_box = :face_box, updated_at = now()
WHERE id = CAST(:character_id AS uuid) AND user_id = CAST(:user_id AS uuid)
RETURNING id;
