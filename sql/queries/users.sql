-- name: insert_user
-- Create a user; the email is stored lower-cased and must be unique.
INSERT INTO users (email, display_name, password_hash, role, plan)
VALUES (:email, :display_name, :password_hash, :role, :plan)
RETURNING id, email, display_name, role, plan, is_active, sessions_valid_after, created_at;

-- name: user_by_email
-- One user by email.
SELECT id, email, display_name, role, plan, is_active, sessions_valid_after, created_at, password_hash
FROM users WHERE email = :email;

-- name: user_by_id
-- One user by id.
SELECT id, email, display_name, role, plan, is_active, sessions_valid_after, created_at, password_hash
FROM users WHERE id = CAST(:user_id AS uuid);

-- name: list_users
-- Every user, newest first (admin view).
SELECT id, email, display_name, role, plan, is_active, sessions_valid_after, created_at
FROM users ORDER BY created_at DESC, email;

-- name: active_credentials
-- What the sign-in form checks against: active users and their bcrypt hashes.
SELECT email, display_name, role, password_hash FROM users WHERE is_active ORDER BY email;

-- name: count_admins
-- How many active admins exist (first-run seeding, last-admin protection).
SELECT count(*) FROM users WHERE role = 'admin' AND is_active;

-- name: set_password
-- Replace a password hash and void every existing session of the user.
UPDATE users SET password_hash = :password_hash, sessions_valid_after = now()
WHERE id = CAST(:user_id AS uuid) RETURNING id;

-- name: set_active
-- Enable or disable a user; disabling voids every session.
UPDATE users SET is_active = :active,
       sessions_valid_after = CASE WHEN :active THEN sessions_valid_after ELSE now() END
WHERE id = CAST(:user_id AS uuid) RETURNING id;

-- name: set_role_plan
-- Change a user's role and plan.
UPDATE users SET role = :role, plan = :plan WHERE id = CAST(:user_id AS uuid) RETURNING id;

-- name: end_sessions
-- Void every session of a user authenticated before now (logout everywhere).
UPDATE users SET sessions_valid_after = now() WHERE id = CAST(:user_id AS uuid) RETURNING sessions_valid_after;

-- name: insert_credits_row
-- Every user has one credit balance row.
INSERT INTO user_credits (user_id) VALUES (CAST(:user_id AS uuid)) ON CONFLICT (user_id) DO NOTHING;

-- name: locked_accounts
-- Accounts with at least :max_failures failed sign-ins from one source inside the lock window.
SELECT email FROM login_failures
WHERE source = :source AND failed_at > now() - make_interval(secs => :window_seconds)
GROUP BY email HAVING count(*) >= :max_failures;

-- name: insert_login_failure
-- Record one failed sign-in.
INSERT INTO login_failures (email, source) VALUES (:email, :source);

-- name: clear_login_failures
-- A successful sign-in clears the failures of that account from that source.
DELETE FROM login_failures WHERE email = :email AND source = :source;

-- name: lock_login_account
-- Take the account's throttling row (created on first use) until commit; a lock-out streak ends after a quiet spell.
INSERT INTO login_accounts AS a (email) VALUES (:email)
ON CONFLICT (email) DO UPDATE
    SET lock_level = CASE WHEN a.locked_until < now() - make_interval(secs => :max_lock_seconds)
                          THEN 0 ELSE a.lock_level END
RETURNING lock_level, locked_until, coalesce(locked_until > now(), false) AS locked;

-- name: count_source_failures
-- Failed sign-ins at one account from one address inside the window.
SELECT count(*) FROM login_failures
WHERE email = :email AND source = :source AND failed_at > now() - make_interval(secs => :window_seconds);

-- name: count_account_failures
-- Failed sign-ins at one account from any address inside the window and since the account's counter restarted.
SELECT count(*) FROM login_failures f JOIN login_accounts a ON a.email = f.email
WHERE f.email = :email AND f.failed_at > greatest(now() - make_interval(secs => :window_seconds), a.counted_from);

-- name: lock_login_account_out
-- Lock the account for :lock_seconds, one level longer next time; later failures count afresh.
UPDATE login_accounts SET locked_until = now() + make_interval(secs => :lock_seconds),
       lock_level = least(lock_level + 1, 30), counted_from = now()
WHERE email = :email RETURNING locked_until;

-- name: reset_login_account
-- A successful sign-in or an admin's unlock: no lock, the streak starts over, earlier failures stop counting.
UPDATE login_accounts SET locked_until = NULL, lock_level = 0, counted_from = now() WHERE email = :email;

-- name: clear_account_failures
-- An admin's unlock forgets every failed sign-in at the account, from every address.
DELETE FROM login_failures WHERE email = :email;

-- name: sign_in_lock
-- When the account's sign-in lock ends, if it is locked now.
SELECT locked_until FROM login_accounts WHERE email = :email AND locked_until > now();
