-- One chat message may show several customer messages (a flood coalesced
-- into one Slack post): a chat ref no longer names exactly one message.
-- SQLite cannot change a primary key in place: copy into a new table.
CREATE TABLE chat_message_refs_new (
    message_id bigint NOT NULL REFERENCES messages (id),
    surface    text NOT NULL,
    channel    text NOT NULL,
    ref        text NOT NULL,
    PRIMARY KEY (surface, channel, ref, message_id)
);
INSERT INTO chat_message_refs_new (message_id, surface, channel, ref) SELECT message_id, surface, channel, ref FROM chat_message_refs;
DROP TABLE chat_message_refs;
ALTER TABLE chat_message_refs_new RENAME TO chat_message_refs;
CREATE INDEX chat_message_refs_message ON chat_message_refs (message_id);
