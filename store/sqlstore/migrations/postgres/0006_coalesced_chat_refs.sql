-- One chat message may show several customer messages (a flood coalesced
-- into one Slack post): a chat ref no longer names exactly one message.
ALTER TABLE chat_message_refs DROP CONSTRAINT chat_message_refs_pkey;
ALTER TABLE chat_message_refs ADD PRIMARY KEY (surface, channel, ref, message_id);
