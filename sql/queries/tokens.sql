-- name: insert_api_token
-- Store a new personal access token (its hash only).
INSERT INTO api_tokens (user_id, name, token_hash, prefix, expires_at)
VALUES (CAST(:user_id AS uuid), :name, :token_hash, :prefix, :expires_at)
RETURNING id, user_id, name, prefix, created_at, expires_at, last_used_at, revoked_at;

-- name: api_tokens_of_user
-- A user's tokens, newest first (revoked ones too: the list says so).
SELECT id, user_id, name, prefix, created_at, expires_at, last_used_at, revoked_at
FROM api_tokens WHERE user_id = CAST(:user_id AS uuid) ORDER BY created_at DESC;

-- name: revoke_api_token
-- Revoke one of the user's tokens; nothing for another user's id.
UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())
WHERE id = CAST(:token_id AS uuid) AND user_id = CAST(:user_id AS uuid)
RETURNING id;

-- name: use_api_token
-- The user of a live token (not revoked, not expired, user active), recording the time of use.
UPDATE api_tokens t SET last_used_at = now()
FROM users u
WHERE t.token_hash = :token_hash AND u.id = t.user_id AND u.is_active
  AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
RETURNING t.id AS token_id, u.email;
