-- name: active_template
-- The prompt template every new batch uses.
SELECT version, body, notes, is_active, created_at FROM prompt_templates WHERE is_active;

-- name: list_templates
-- Every template version, newest first.
SELECT version, body, notes, is_active, created_at FROM prompt_templates ORDER BY version DESC;

-- name: template_by_version
-- One template version.
SELECT version, body, notes, is_active, created_at FROM prompt_templates WHERE version = :version;

-- name: insert_template
-- Save the next template version (inactive).
INSERT INTO prompt_templates (version, body, notes, created_by)
SELECT coalesce(max(version), 0) + 1, :body, :notes, CAST(:created_by AS uuid) FROM prompt_templates
RETURNING version;

-- name: deactivate_templates
-- Clear the active flag before activating another version (same transaction).
UPDATE prompt_templates SET is_active = false WHERE is_active;

-- name: activate_template
-- Make one version active.
UPDATE prompt_templates SET is_active = true WHERE version = :version;
