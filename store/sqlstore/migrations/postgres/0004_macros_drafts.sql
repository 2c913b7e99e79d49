-- Canned replies and open reply forms get tables of their own; they were
-- kept as named cursors ("macro:<name>", JSON) and named leases
-- ("draft:<conversation>:<surface>:<workspace>:<user>").
CREATE TABLE macros (
    name       text PRIMARY KEY,
    body       text NOT NULL,
    language   text NOT NULL DEFAULT '',
    -- intents is a comma-separated list; empty answers any intent.
    intents    text NOT NULL DEFAULT '',
    updated_by text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL
);

-- One open reply form per agent and conversation.
CREATE TABLE reply_drafts (
    conversation_id bigint NOT NULL REFERENCES conversations (id),
    surface         text NOT NULL,
    workspace       text NOT NULL,
    user_id         text NOT NULL,
    view_ref        text NOT NULL DEFAULT '',
    seen_seq        bigint NOT NULL,
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (conversation_id, surface, workspace, user_id)
);

-- Macros kept as cursors move over; an empty value was a deleted macro.
INSERT INTO macros (name, body, language, intents, updated_by, updated_at)
SELECT substr(name, 7), value::jsonb ->> 'text', COALESCE(value::jsonb ->> 'lang', ''),
       COALESCE(array_to_string(ARRAY(SELECT jsonb_array_elements_text(COALESCE(value::jsonb -> 'intents', '[]'::jsonb))), ','), ''),
       COALESCE(value::jsonb ->> 'updated_by', ''), (value::jsonb ->> 'updated_at')::timestamptz
FROM cursors WHERE name LIKE 'macro:%' AND value <> '';
DELETE FROM cursors WHERE name LIKE 'macro:%';

-- Draft leases are not moved: they expire 15 minutes after a form opens and
-- only warn of a colleague's open form, so losing them at the upgrade costs
-- at most one such warning.
DELETE FROM leases WHERE name LIKE 'draft:%';
