-- An agent's working hours: outside them the agent counts as unavailable
-- for escalation, as when away. One row per agent; none: always available.
CREATE TABLE agent_working_hours (
    agent_id   bigint PRIMARY KEY REFERENCES agents (id),
    schedule   text NOT NULL CHECK (schedule <> ''),
    timezone   text NOT NULL CHECK (timezone <> ''),
    set_by     bigint REFERENCES agents (id),
    updated_at timestamptz NOT NULL
);
