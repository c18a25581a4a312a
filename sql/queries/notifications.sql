-- name: unseen_notifications
-- A user's batch-end notices not yet shown in the app, oldest first.
SELECT n.id, n.job_id, n.outcome, n.done, n.failed, n.cancelled, n.created_at, c.name AS character_name
FROM notifications n JOIN generation_jobs j ON j.id = n.job_id JOIN characters c ON c.id = j.character_id
WHERE n.user_id = CAST(:user_id AS uuid) AND n.seen_at IS NULL ORDER BY n.id;

-- name: mark_notifications_seen
-- Mark notices as shown in the app.
UPDATE notifications SET seen_at = now() WHERE user_id = CAST(:user_id AS uuid) AND id = ANY(:ids) AND seen_at IS NULL;

-- name: recent_notifications
-- A user's newest notices with their delivery state.
SELECT n.id, n.job_id, n.outcome, n.done, n.failed, n.cancelled, n.created_at, n.seen_at, n.email_state,
       n.email_error, n.webhook_state, n.webhook_error, c.name AS character_name
FROM notifications n JOIN generation_jobs j ON j.id = n.job_id JOIN characters c ON c.id = j.character_id
WHERE n.user_id = CAST(:user_id AS uuid) ORDER BY n.id DESC LIMIT :limit;

-- name: notification_preferences
-- Whether a user gets emails, and their webhook.
SELECT notify_email, webhook_url, webhook_secret FROM users WHERE id = CAST(:user_id AS uuid);

-- name: set_notification_preferences
-- Set a user's email opt-in and webhook (secret NULL when there is no webhook).
UPDATE users SET notify_email = :notify_email, webhook_url = :webhook_url, webhook_secret = :webhook_secret
WHERE id = CAST(:user_id AS uuid) RETURNING id;

-- name: claim_due_email
-- One notice whose email is due, locked for this sender (others skip it), with what the email says.
SELECT n.id, n.job_id, n.outcome, n.done, n.failed, n.cancelled, n.email_attempts AS attempts,
       u.email, u.notify_email, u.is_active, c.name AS character_name
FROM notifications n JOIN users u ON u.id = n.user_id JOIN generation_jobs j ON j.id = n.job_id
JOIN characters c ON c.id = j.character_id
WHERE n.email_state = 'pending' AND n.email_next_at <= now()
ORDER BY n.email_next_at LIMIT 1 FOR UPDATE OF n SKIP LOCKED;

-- name: record_email
-- The outcome of one email attempt: sent, skipped, gave up, or pending again at :next_at.
UPDATE notifications SET email_state = :state, email_attempts = email_attempts + :attempted,
       email_next_at = coalesce(CAST(:next_at AS timestamptz), email_next_at), email_error = :error
WHERE id = :id;

-- name: claim_due_webhook
-- One notice whose webhook delivery is due, locked for this sender, with the user's webhook.
SELECT n.id, n.job_id, n.outcome, n.done, n.failed, n.cancelled, n.created_at, n.webhook_attempts AS attempts,
       u.webhook_url, u.webhook_secret, u.is_active, j.character_id, c.name AS character_name
FROM notifications n JOIN users u ON u.id = n.user_id JOIN generation_jobs j ON j.id = n.job_id
JOIN characters c ON c.id = j.character_id
WHERE n.webhook_state = 'pending' AND n.webhook_next_at <= now()
ORDER BY n.webhook_next_at LIMIT 1 FOR UPDATE OF n SKIP LOCKED;

-- name: record_webhook
-- The outcome of one webhook attempt.
UPDATE notifications SET webhook_state = :state, webhook_attempts = webhook_attempts + :attempted,
       webhook_next_at = coalesce(CAST(:next_at AS timestamptz), webhook_next_at), webhook_error = :error
WHERE id = :id;
