-- Versioned prompt templates (exactly one active), custom expressions per character, face regions,
-- and what each generated variant needs to be audited: its prompt, backend attempts and parent item.

CREATE TABLE prompt_templates (
    version     integer PRIMARY KEY CHECK (version > 0),
    body        text NOT NULL CHECK (body LIKE '%$keep%' AND body LIKE '%$change%'),
    notes       text NOT NULL DEFAULT '',
    is_active   boolean NOT NULL DEFAULT false,
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX prompt_templates_one_active ON prompt_templates (is_active) WHERE is_active;

INSERT INTO prompt_templates (version, body, notes, is_active) VALUES (1,
'Edit this illustration of the anime character $name. Keep everything that is not the facial expression exactly as it is: $keep. Keep the same pose, framing, camera distance, canvas size, line art style, colours, lighting and background.$notes
Change only the facial expression: $change.
Return the whole illustration, not a crop.',
'Baseline plus delta: restate what must not change, then the one change.', true);

CREATE TABLE custom_expressions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    character_id  uuid NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    key           text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]{0,39}$'),
    label_en      text NOT NULL CHECK (length(label_en) BETWEEN 1 AND 40),
    label_ja      text NOT NULL CHECK (length(label_ja) BETWEEN 1 AND 40),
    prompt        text NOT NULL CHECK (length(prompt) BETWEEN 1 AND 300),
    intensity     integer NOT NULL CHECK (intensity BETWEEN 1 AND 5),
    face          text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT custom_expressions_key_per_character UNIQUE (character_id, key)
);

-- (x, y, w, h) of the region that may change between expressions; NULL = not known yet.
ALTER TABLE characters ADD COLUMN face_box integer[]
    CHECK (face_box IS NULL OR (array_length(face_box, 1) = 4 AND face_box[3] > 0 AND face_box[4] > 0));

ALTER TABLE generation_jobs ADD COLUMN template_version integer REFERENCES prompt_templates (version);

ALTER TABLE differences ADD COLUMN parent_id uuid REFERENCES differences (id) ON DELETE CASCADE;
ALTER TABLE differences ADD COLUMN prompt text;
ALTER TABLE differences ADD COLUMN failure_kind text;
ALTER TABLE differences ADD COLUMN attempts jsonb NOT NULL DEFAULT '[]';
ALTER TABLE differences ADD COLUMN started_at timestamptz;
ALTER TABLE differences ADD COLUMN position integer NOT NULL DEFAULT 0;
ALTER TABLE differences ADD COLUMN attempt integer NOT NULL DEFAULT 1 CHECK (attempt BETWEEN 1 AND 5);
ALTER TABLE differences ADD CONSTRAINT differences_one_per_job_item
    UNIQUE NULLS NOT DISTINCT (job_id, expression_key, variant, attempt);
ALTER TABLE differences ADD CONSTRAINT differences_variant_has_parent
    CHECK ((variant IS NULL) = (parent_id IS NULL));
