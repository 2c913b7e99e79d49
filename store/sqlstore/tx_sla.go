package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/threadline/threadline/bridge"
)

const slaClockCols = `conversation_id, clock, cycle, state, target_us, started_at, consumed_us, segment_at, due_at, warn_at,
	next_check_at, warned_at, breached_at, stopped_at`

const slaClockSelect = `SELECT ` + slaClockCols + ` FROM sla_clocks`

func (t *Tx) ListSLAClocks(ctx context.Context, conv bridge.ConversationID) ([]bridge.SLAClock, error) {
	rows, err := t.ex.Query(ctx, slaClockSelect+` WHERE conversation_id = $1`, conv)
	if err != nil {
		return nil, fmt.Errorf("list SLA clocks: %w", err)
	}
	defer rows.Close()
	var out []bridge.SLAClock
	for rows.Next() {
		c, err := scanSLAClock(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func scanSLAClock(r Row) (bridge.SLAClock, error) {
	var c bridge.SLAClock
	var target, consumed int64
	if err := r.Scan(&c.ConversationID, &c.Kind, &c.Cycle, &c.State, &target, st(&c.StartedAt), &consumed,
		nullTime{&c.SegmentAt}, nullTime{&c.DueAt}, nullTime{&c.WarnAt}, nullTime{&c.NextCheckAt},
		nullTime{&c.WarnedAt}, nullTime{&c.BreachedAt}, nullTime{&c.StoppedAt}); err != nil {
		return c, fmt.Errorf("scan SLA clock: %w", err)
	}
	c.Target, c.Consumed = time.Duration(target)*time.Microsecond, time.Duration(consumed)*time.Microsecond
	return c, nil
}

// slaClockUpsert replaces a clock saved before.
const slaClockUpsert = `
		ON CONFLICT (conversation_id, clock) DO UPDATE SET cycle = excluded.cycle, state = excluded.state,
			target_us = excluded.target_us, started_at = excluded.started_at, consumed_us = excluded.consumed_us,
			segment_at = excluded.segment_at, due_at = excluded.due_at, warn_at = excluded.warn_at,
			next_check_at = excluded.next_check_at, warned_at = excluded.warned_at, breached_at = excluded.breached_at,
			stopped_at = excluded.stopped_at`

// slaClockArgs are a clock's values in slaClockCols order.
func slaClockArgs(c bridge.SLAClock) []any {
	return []any{c.ConversationID, c.Kind, c.Cycle, c.State, c.Target.Microseconds(), ts(c.StartedAt), c.Consumed.Microseconds(),
		tsPtr(c.SegmentAt), tsPtr(c.DueAt), tsPtr(c.WarnAt), tsPtr(c.NextCheckAt), tsPtr(c.WarnedAt), tsPtr(c.BreachedAt), tsPtr(c.StoppedAt)}
}

func (t *Tx) SaveSLAClock(ctx context.Context, c bridge.SLAClock) error {
	_, err := t.ex.Exec(ctx, `INSERT INTO sla_clocks (`+slaClockCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`+slaClockUpsert, slaClockArgs(c)...)
	if err != nil {
		return fmt.Errorf("save SLA clock %d/%s: %w", c.ConversationID, c.Kind, err)
	}
	return nil
}

func (t *Tx) ListDueSLAConversations(ctx context.Context, now time.Time, limit int) ([]bridge.ConversationID, error) {
	rows, err := t.ex.Query(ctx, `SELECT conversation_id, min(next_check_at) AS due FROM sla_clocks
		WHERE next_check_at IS NOT NULL AND next_check_at <= $1
		GROUP BY conversation_id ORDER BY due LIMIT $2`, ts(now), limit)
	if err != nil {
		return nil, fmt.Errorf("list due SLA clocks: %w", err)
	}
	defer rows.Close()
	var out []bridge.ConversationID
	for rows.Next() {
		var id bridge.ConversationID
		var due time.Time
		if err := rows.Scan(&id, st(&due)); err != nil {
			return nil, fmt.Errorf("scan due SLA clock: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func (t *Tx) InsertSLAAlert(ctx context.Context, a bridge.SLAAlert) (bool, error) {
	n, err := t.ex.Exec(ctx, `INSERT INTO sla_alerts (conversation_id, clock, cycle, kind, due_at, at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (conversation_id, clock, cycle, kind) DO NOTHING`, a.ConversationID, a.Clock, a.Cycle, a.Kind, ts(a.DueAt), ts(a.At))
	if err != nil {
		return false, fmt.Errorf("insert SLA alert: %w", err)
	}
	return n == 1, nil
}

func (t *Tx) GetAgentChatIdentity(ctx context.Context, agent bridge.AgentID, surface bridge.Surface) (bridge.AgentChatIdentity, error) {
	var id bridge.AgentChatIdentity
	err := t.ex.QueryRow(ctx, `SELECT agent_id, surface, workspace, user_id FROM agent_chat_identities
		WHERE agent_id = $1 AND surface = $2 ORDER BY workspace, user_id LIMIT 1`, agent, surface).Scan(&id.AgentID, &id.Surface, &id.Workspace, &id.UserID)
	return id, t.notFound(err, "agent chat identity")
}

func (t *Tx) ListChatIdentitiesByRole(ctx context.Context, surface bridge.Surface, roles []bridge.Role) ([]bridge.AgentChatIdentity, error) {
	var out []bridge.AgentChatIdentity
	for _, role := range roles {
		rows, err := t.ex.Query(ctx, `SELECT c.agent_id, c.surface, c.workspace, c.user_id FROM agent_chat_identities c
			JOIN agents a ON a.id = c.agent_id WHERE c.surface = $1 AND a.role = $2 ORDER BY c.agent_id, c.user_id`, surface, role)
		if err != nil {
			return nil, fmt.Errorf("list chat identities by role: %w", err)
		}
		for rows.Next() {
			var id bridge.AgentChatIdentity
			if err := rows.Scan(&id.AgentID, &id.Surface, &id.Workspace, &id.UserID); err != nil {
				rows.Close()
				return nil, fmt.Errorf("scan chat identity: %w", err)
			}
			out = append(out, id)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
