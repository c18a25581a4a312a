-- Regenerating adds an attempt to the same slot of the batch (up to 20), and an image remembers the sha256 of
-- its PNG, so an identical re-run (the deterministic offline renderer) is recognised and not charged.
ALTER TABLE differences
    DROP CONSTRAINT differences_attempt_check,
    ADD CONSTRAINT differences_attempt_check CHECK (attempt BETWEEN 1 AND 20),
    ADD COLUMN image_sha256 text CHECK (image_sha256 ~ '^[0-9a-f]{64}$');
