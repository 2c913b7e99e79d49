-- SLA clocks are stored deadlines: one row per conversation and clock, with
-- the next instant the checker must look at it (a warning or a breach)
-- indexed, so checking reads only what is due.
CREATE TABLE sla_clocks (
    conversation_id bigint NOT NULL REFERENCES conversations (id),
    clock           text NOT NULL CHECK (clock IN ('first_response', 'next_response', 'resolution')),
    cycle           integer NOT NULL CHECK (cycle > 0),
    state           text NOT NULL CHECK (state IN ('running', 'paused', 'stopped')),
    target_us       bigint NOT NULL,
    started_at      timestamptz NOT NULL,
    consumed_us     bigint NOT NULL DEFAULT 0,
    segment_at      timestamptz,
    due_at          timestamptz,
    warn_at         timestamptz,
    next_check_at   timestamptz,
    warned_at       timestamptz,
    breached_at     timestamptz,
    stopped_at      timestamptz,
    PRIMARY KEY (conversation_id, clock)
);
CREATE INDEX sla_clocks_next_check ON sla_clocks (next_check_at) WHERE next_check_at IS NOT NULL;

-- One row per alert raised: the key makes an alert happen once however many
-- checkers run.
CREATE TABLE sla_alerts (
    conversation_id bigint NOT NULL REFERENCES conversations (id),
    clock           text NOT NULL,
    cycle           integer NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('warning', 'breach')),
    due_at          timestamptz NOT NULL,
    at              timestamptz NOT NULL,
    PRIMARY KEY (conversation_id, clock, cycle, kind)
);
CREATE INDEX sla_alerts_at ON sla_alerts (at);
