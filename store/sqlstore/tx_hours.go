package sqlstore

import (
	"context"
	"fmt"

	"github.com/threadline/threadline/bridge"
)

// This file holds agents' working hours (bridge.WorkingHoursTx).

func (t *Tx) GetAgentHours(ctx context.Context, id bridge.AgentID) (bridge.AgentHours, error) {
	var h bridge.AgentHours
	var setBy *int64
	err := t.ex.QueryRow(ctx, `SELECT agent_id, schedule, timezone, set_by, updated_at FROM agent_working_hours WHERE agent_id = $1`, id).
		Scan(&h.AgentID, &h.Schedule, &h.Zone, &setBy, st(&h.UpdatedAt))
	if err != nil {
		return h, t.notFound(err, fmt.Sprintf("get working hours of agent %d", id))
	}
	if setBy != nil {
		h.SetBy = bridge.AgentID(*setBy)
	}
	return h, nil
}

func (t *Tx) SetAgentHours(ctx context.Context, h bridge.AgentHours) error {
	if h.Schedule == "" || h.Zone == "" {
		return fmt.Errorf("set working hours: %w: schedule and time zone are required", bridge.ErrInvalidInput)
	}
	_, err := t.ex.Exec(ctx, `INSERT INTO agent_working_hours (agent_id, schedule, timezone, set_by, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (agent_id) DO UPDATE SET schedule = excluded.schedule, timezone = excluded.timezone,
			set_by = excluded.set_by, updated_at = excluded.updated_at`,
		h.AgentID, h.Schedule, h.Zone, nullable(h.SetBy), ts(h.UpdatedAt))
	if err != nil {
		return fmt.Errorf("set working hours of agent %d: %w", h.AgentID, err)
	}
	return nil
}

func (t *Tx) DeleteAgentHours(ctx context.Context, id bridge.AgentID) (bool, error) {
	n, err := t.ex.Exec(ctx, `DELETE FROM agent_working_hours WHERE agent_id = $1`, id)
	if err != nil {
		return false, fmt.Errorf("delete working hours: %w", err)
	}
	return n > 0, nil
}
