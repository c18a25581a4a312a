-- Where a character's face box came from, and where its eyes and mouth are. An `estimated` box (the detector
-- found no face or several) must be confirmed by a person before the first batch. Boxes stored before this
-- came from a skin heuristic that held the face on about 5 of 13 real uploads: uploads ask to be confirmed.
ALTER TABLE characters
    ADD COLUMN face_source text NOT NULL DEFAULT 'estimated'
        CHECK (face_source IN ('detected', 'estimated', 'drawn', 'user')),
    ADD COLUMN face_points jsonb CHECK (face_points IS NULL OR jsonb_typeof(face_points) = 'object'),
    ADD COLUMN face_note text NOT NULL DEFAULT '' CHECK (length(face_note) <= 300);

UPDATE characters SET face_source = 'drawn' WHERE base_source = 'generated' AND face_box IS NOT NULL;

-- "Describe with Gemini" calls: what each cost, for the reports, whether or not it gave a description.
CREATE TABLE describe_calls (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    model       text NOT NULL CHECK (length(model) BETWEEN 1 AND 100),
    ok          boolean NOT NULL,
    cost_usd    numeric(10, 4) NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
    usage       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(usage) = 'object'),
    reason      text NOT NULL DEFAULT '' CHECK (length(reason) <= 500),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX describe_calls_by_day ON describe_calls (created_at);
