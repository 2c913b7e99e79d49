-- What the customer's platform reports about an outbound message after it
-- was sent (1 delivered to the device, 2 seen). The level only rises, so a
-- redelivered or late receipt marks nothing twice.
CREATE TABLE message_receipts (
    message_id bigint PRIMARY KEY REFERENCES messages (id),
    level      integer NOT NULL CHECK (level BETWEEN 1 AND 2),
    at         text NOT NULL
);
