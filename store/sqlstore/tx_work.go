package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/threadline/threadline/bridge"
)

// This file holds what agent commands need (bridge.WorkTx).

func (t *Tx) SetAgentRole(ctx context.Context, id bridge.AgentID, role bridge.Role) error {
	n, err := t.ex.Exec(ctx, `UPDATE agents SET role = $2 WHERE id = $1`, id, role)
	if err != nil {
		return fmt.Errorf("set agent role: %w", err)
	}
	if n != 1 {
		return fmt.Errorf("set agent role %d: %w", id, bridge.ErrNotFound)
	}
	return nil
}

func (t *Tx) SetAgentAvailable(ctx context.Context, id bridge.AgentID, available bool) error {
	n, err := t.ex.Exec(ctx, `UPDATE agents SET available = $2 WHERE id = $1`, id, available)
	if err != nil {
		return fmt.Errorf("set agent available: %w", err)
	}
	if n != 1 {
		return fmt.Errorf("set agent available %d: %w", id, bridge.ErrNotFound)
	}
	return nil
}

func (t *Tx) ListAgentLoads(ctx context.Context, role bridge.Role) ([]bridge.AgentLoad, error) {
	rows, err := t.ex.Query(ctx, `SELECT a.id, a.name, a.email, a.role, a.skills, a.capacity, a.available, a.created_at,
		(SELECT count(*) FROM conversations c WHERE c.assignee_id = a.id AND c.status IN ('open', 'pending'))
		FROM agents a WHERE a.role = $1 ORDER BY a.id`, role)
	if err != nil {
		return nil, fmt.Errorf("list agent loads: %w", err)
	}
	defer rows.Close()
	var out []bridge.AgentLoad
	for rows.Next() {
		var l bridge.AgentLoad
		var open int64
		a, err := scanAgent(rowWith{rows, &open})
		if err != nil {
			return nil, fmt.Errorf("list agent loads: %w", err)
		}
		l.Agent, l.Open = a, int(open)
		out = append(out, l)
	}
	return out, rows.Err()
}

// rowWith scans a row whose last columns follow those a scan function reads.
type rowWith struct {
	r     Row
	extra *int64
}

func (r rowWith) Scan(dest ...any) error { return r.r.Scan(append(dest, r.extra)...) }

func (t *Tx) ListAgentChatIdentities(ctx context.Context, surface bridge.Surface, workspace string) ([]bridge.AgentChatIdentity, error) {
	rows, err := t.ex.Query(ctx, `SELECT agent_id, surface, workspace, user_id FROM agent_chat_identities
		WHERE surface = $1 AND workspace = $2 ORDER BY user_id`, surface, workspace)
	if err != nil {
		return nil, fmt.Errorf("list agent chat identities: %w", err)
	}
	defer rows.Close()
	var out []bridge.AgentChatIdentity
	for rows.Next() {
		var id bridge.AgentChatIdentity
		if err := rows.Scan(&id.AgentID, &id.Surface, &id.Workspace, &id.UserID); err != nil {
			return nil, fmt.Errorf("list agent chat identities: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func (t *Tx) listConvs(ctx context.Context, what, query string, args ...any) ([]bridge.Conversation, error) {
	rows, err := t.ex.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []bridge.Conversation
	for rows.Next() {
		c, err := scanConv(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func clampLimit(n int) int {
	if n <= 0 || n > 500 {
		return 50
	}
	return n
}

func (t *Tx) ListQueue(ctx context.Context, limit int) ([]bridge.Conversation, error) {
	return t.listConvs(ctx, "list queue", `SELECT `+convCols+` FROM conversations
		WHERE assignee_id IS NULL AND status = 'open' ORDER BY priority, id LIMIT $1`, clampLimit(limit))
}

func (t *Tx) ListContactConversations(ctx context.Context, contact bridge.ContactID, limit int) ([]bridge.Conversation, error) {
	return t.listConvs(ctx, "list contact conversations", `SELECT `+convCols+` FROM conversations
		WHERE identity_id IN (SELECT id FROM identities WHERE contact_id = $1) ORDER BY id DESC LIMIT $2`, contact, clampLimit(limit))
}

func (t *Tx) ListDueSnoozes(ctx context.Context, now time.Time, limit int) ([]bridge.ConversationID, error) {
	rows, err := t.ex.Query(ctx, `SELECT id FROM conversations WHERE snoozed_until IS NOT NULL AND snoozed_until <= $1
		AND status = 'pending' ORDER BY snoozed_until, id LIMIT $2`, ts(now), clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("list due snoozes: %w", err)
	}
	defer rows.Close()
	var out []bridge.ConversationID
	for rows.Next() {
		var id bridge.ConversationID
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list due snoozes: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
