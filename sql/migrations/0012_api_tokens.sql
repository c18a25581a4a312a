-- Personal access tokens for the REST API (/api/v1): stored as sha256 of the secret, never the secret;
-- named, revocable, with an optional expiry and the time of last use. A token dies with its user.
CREATE TABLE api_tokens (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100 AND name !~ '[[:cntrl:]]'),
    token_hash    bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    prefix        text NOT NULL CHECK (length(prefix) BETWEEN 4 AND 16),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz CHECK (expires_at IS NULL OR expires_at > created_at),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at DESC);
