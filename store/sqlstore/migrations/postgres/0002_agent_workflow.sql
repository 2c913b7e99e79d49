-- Agent workflow (commands, roles, escalation): a conversation's team,
-- escalation level and snooze end.
ALTER TABLE conversations ADD COLUMN team text NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN escalation text NOT NULL DEFAULT '' CHECK (escalation IN ('', 'supervisor', 'manager', 'critical'));
ALTER TABLE conversations ADD COLUMN snoozed_until timestamptz;
CREATE INDEX conversations_snoozed ON conversations (snoozed_until) WHERE snoozed_until IS NOT NULL;
CREATE INDEX conversations_queue ON conversations (priority, id) WHERE assignee_id IS NULL AND status = 'open';
CREATE INDEX agents_role ON agents (role) WHERE role <> 'agent';
