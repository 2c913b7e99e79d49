-- One satisfaction survey per conversation, sent on its first resolve.
CREATE TABLE csat_surveys (
    conversation_id bigint PRIMARY KEY REFERENCES conversations (id),
    sent_at         text NOT NULL,
    rating          integer CHECK (rating BETWEEN 1 AND 5),
    answered_at     text
);
CREATE INDEX csat_surveys_answered ON csat_surveys (answered_at) WHERE answered_at IS NOT NULL;
