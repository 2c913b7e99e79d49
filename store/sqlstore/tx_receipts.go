package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/threadline/threadline/bridge"
)

func (t *Tx) FindPlatformThread(ctx context.Context, platform bridge.Platform, account, thread string) (bridge.PlatformThread, error) {
	th, err := scanThread(t.ex.QueryRow(ctx, `SELECT `+prefixCols("t.", threadCols)+` FROM platform_threads t
		JOIN accounts a ON a.id = t.account_id WHERE a.platform = $1 AND a.external_id = $2 AND t.external_id = $3`, platform, account, thread))
	return th, t.notFound(err, "find platform thread")
}

// receiptBatch bounds the messages one receipt marks: a watermark covers
// everything sent before it, and only the newest few can still be unmarked.
const receiptBatch = 50

func (t *Tx) RaiseReceipts(ctx context.Context, p bridge.RaiseReceiptsParams) ([]bridge.Message, error) {
	if p.Status != bridge.ReceiptDelivered && p.Status != bridge.ReceiptSeen {
		return nil, fmt.Errorf("raise receipts: %w: status %d", bridge.ErrInvalidInput, p.Status)
	}
	args := []any{p.Thread, int(p.Status)}
	var match []string
	if len(p.PlatformMessageIDs) > 0 {
		ph := make([]string, 0, len(p.PlatformMessageIDs))
		for _, id := range p.PlatformMessageIDs {
			args = append(args, id)
			ph = append(ph, "$"+strconv.Itoa(len(args)))
		}
		match = append(match, "m.platform_message_id IN ("+strings.Join(ph, ", ")+")")
	}
	if !p.Watermark.IsZero() {
		args = append(args, ts(p.Watermark))
		match = append(match, "m.platform_time <= $"+strconv.Itoa(len(args)))
	}
	if len(match) == 0 {
		return nil, nil
	}
	rows, err := t.ex.Query(ctx, `SELECT `+prefixCols("m.", msgCols)+` FROM messages m
		LEFT JOIN message_receipts r ON r.message_id = m.id
		WHERE m.platform_thread_id = $1 AND m.direction = 'outbound' AND m.delivery_status = 'delivered'
		AND (r.level IS NULL OR r.level < $2) AND (`+strings.Join(match, " OR ")+`)
		ORDER BY m.id DESC LIMIT `+strconv.Itoa(receiptBatch), args...)
	if err != nil {
		return nil, fmt.Errorf("raise receipts: %w", err)
	}
	var found []bridge.Message
	for rows.Next() {
		m, err := scanMsg(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("raise receipts: %w", err)
		}
		found = append(found, m)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("raise receipts: %w", err)
	}
	var raised []bridge.Message
	for i := len(found) - 1; i >= 0; i-- {
		m := found[i]
		// The WHERE keeps a concurrent receipt of the same level from
		// counting twice: only the transaction that raised it sees a row.
		n, err := t.ex.Exec(ctx, `INSERT INTO message_receipts (message_id, level, at) VALUES ($1, $2, $3)
			ON CONFLICT (message_id) DO UPDATE SET level = excluded.level, at = excluded.at WHERE message_receipts.level < excluded.level`,
			m.ID, int(p.Status), ts(p.At))
		if err != nil {
			return nil, fmt.Errorf("raise receipt of message %d: %w", m.ID, err)
		}
		if n == 1 {
			raised = append(raised, m)
		}
	}
	return raised, nil
}

func (t *Tx) GetReceipt(ctx context.Context, id bridge.MessageID) (bridge.ReceiptStatus, error) {
	var level int
	err := t.ex.QueryRow(ctx, `SELECT level FROM message_receipts WHERE message_id = $1`, id).Scan(&level)
	if err != nil && t.d.IsNoRows(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("get receipt: %w", err)
	}
	return bridge.ReceiptStatus(level), nil
}

// prefixCols qualifies a column list with a table alias.
func prefixCols(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}
