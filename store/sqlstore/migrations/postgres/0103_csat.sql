-- One satisfaction survey per conversation, sent on its first resolve.
CREATE TABLE csat_surveys (
    conversation_id bigint PRIMARY KEY REFERENCES conversations (id),
    sent_at         timestamptz NOT NULL,
    rating          smallint CHECK (rating BETWEEN 1 AND 5),
    answered_at     timestamptz
);
CREATE INDEX csat_surveys_answered ON csat_surveys (answered_at) WHERE answered_at IS NOT NULL;
