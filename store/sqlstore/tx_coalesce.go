package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/threadline/threadline/bridge"
)

func (t *Tx) ListLaneDeliveries(ctx context.Context, conv bridge.ConversationID, target bridge.Target, limit int) ([]bridge.Delivery, error) {
	rows, err := t.ex.Query(ctx, `SELECT `+deliveryCols+` FROM deliveries
		WHERE conversation_id = $1 AND target = $2 AND status IN ('pending', 'sending') ORDER BY seq, id LIMIT $3`, conv, target, limit)
	if err != nil {
		return nil, fmt.Errorf("list lane deliveries: %w", err)
	}
	defer rows.Close()
	var out []bridge.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("list lane deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func (t *Tx) ListMessagesByChatRef(ctx context.Context, surface bridge.Surface, channel, ref string) ([]bridge.Message, error) {
	rows, err := t.ex.Query(ctx, `SELECT `+msgCols+` FROM messages WHERE id IN (
		SELECT message_id FROM chat_message_refs WHERE surface = $1 AND channel = $2 AND ref = $3) ORDER BY seq, id`, surface, channel, ref)
	if err != nil {
		return nil, fmt.Errorf("list messages by chat ref: %w", err)
	}
	defer rows.Close()
	var out []bridge.Message
	for rows.Next() {
		m, err := scanMsg(rows)
		if err != nil {
			return nil, fmt.Errorf("list messages by chat ref: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func (t *Tx) PostponeLane(ctx context.Context, conv bridge.ConversationID, target bridge.Target, until time.Time) error {
	_, err := t.ex.Exec(ctx, `UPDATE deliveries SET next_attempt_at = $3
		WHERE conversation_id = $1 AND target = $2 AND status IN ('pending', 'sending') AND next_attempt_at < $3`, conv, target, ts(until))
	if err != nil {
		return fmt.Errorf("postpone lane: %w", err)
	}
	return nil
}
