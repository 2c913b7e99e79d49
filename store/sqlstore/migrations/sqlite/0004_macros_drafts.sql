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
    updated_at text NOT NULL
);

-- One open reply form per agent and conversation.
CREATE TABLE reply_drafts (
    conversation_id bigint NOT NULL REFERENCES conversations (id),
    surface         text NOT NULL,
    workspace       text NOT NULL,
    user_id         text NOT NULL,
    view_ref        text NOT NULL DEFAULT '',
    seen_seq        bigint NOT NULL,
    expires_at      text NOT NULL,
    PRIMARY KEY (conversation_id, surface, workspace, user_id)
);

-- Macros kept as cursors move over; an empty value was a deleted macro.
-- Times are rewritten in the store's fixed-width layout (microseconds, Z)
-- so that they sort; SQLite keeps milliseconds of the JSON's time.
INSERT INTO macros (name, body, language, intents, updated_by, updated_at)
SELECT substr(name, 7), json_extract(value, '$.text'), COALESCE(json_extract(value, '$.lang'), ''),
       COALESCE((SELECT group_concat(j.value, ',') FROM json_each(cursors.value, '$.intents') AS j), ''),
       COALESCE(json_extract(value, '$.updated_by'), ''),
       strftime('%Y-%m-%dT%H:%M:%f', json_extract(value, '$.updated_at')) || '000Z'
FROM cursors WHERE name LIKE 'macro:%' AND value <> '';
DELETE FROM cursors WHERE name LIKE 'macro:%';

-- Draft leases are not moved: they expire 15 minutes after a form opens and
-- only warn of a colleague's open form, so losing them at the upgrade costs
-- at most one such warning.
DELETE FROM leases WHERE name LIKE 'draft:%';
