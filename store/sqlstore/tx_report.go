package sqlstore

import (
	"context"
	"fmt"

	"github.com/threadline/threadline/bridge"
)

func (t *Tx) ListReportRows(ctx context.Context, f bridge.ReportFilter) ([]bridge.ReportRow, error) {
	// One pass over the period's conversations; the counts are correlated
	// subqueries on indexed keys (audit by conversation, clocks and alerts by
	// their primary keys).
	q := `SELECT c.id, c.platform, c.assignee_id, c.status, c.created_at, c.first_response_at, c.resolved_at,
		(SELECT count(*) FROM audit_log a WHERE a.conversation_id = c.id AND a.action = 'resolved' AND a.at >= $1 AND a.at < $2),
		(SELECT count(*) FROM audit_log a WHERE a.conversation_id = c.id AND a.action IN ('reopened', 'reopened_by_customer') AND a.at >= $1 AND a.at < $2),
		(SELECT coalesce(sum(s.cycle - CASE WHEN s.state <> 'stopped' AND s.breached_at IS NULL THEN 1 ELSE 0 END), 0) FROM sla_clocks s WHERE s.conversation_id = c.id),
		(SELECT count(*) FROM sla_alerts s WHERE s.conversation_id = c.id AND s.kind = 'breach'),
		(SELECT coalesce(max(s.rating), 0) FROM csat_surveys s WHERE s.conversation_id = c.id AND s.answered_at >= $1 AND s.answered_at < $2)
		FROM conversations c
		WHERE ((c.created_at >= $1 AND c.created_at < $2) OR (c.resolved_at >= $1 AND c.resolved_at < $2)
			OR (c.status NOT IN ('resolved', 'closed') AND c.created_at < $2)
			OR EXISTS (SELECT 1 FROM audit_log a WHERE a.conversation_id = c.id AND a.action IN ('resolved', 'reopened', 'reopened_by_customer') AND a.at >= $1 AND a.at < $2)
			OR EXISTS (SELECT 1 FROM csat_surveys s WHERE s.conversation_id = c.id AND s.answered_at >= $1 AND s.answered_at < $2))`
	args := []any{ts(f.From), ts(f.To)}
	if f.Platform != "" {
		args = append(args, f.Platform)
		q += fmt.Sprintf(" AND c.platform = $%d", len(args))
	}
	if f.Assignee != 0 {
		args = append(args, f.Assignee)
		q += fmt.Sprintf(" AND c.assignee_id = $%d", len(args))
	}
	rows, err := t.ex.Query(ctx, q+` ORDER BY c.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list report rows: %w", err)
	}
	defer rows.Close()
	var out []bridge.ReportRow
	for rows.Next() {
		var r bridge.ReportRow
		if err := rows.Scan(&r.ConversationID, &r.Platform, idOf(&r.AssigneeID), &r.Status, st(&r.CreatedAt),
			nullTime{&r.FirstResponseAt}, nullTime{&r.ResolvedAt}, &r.Resolves, &r.Reopens, &r.SLACycles, &r.SLABreaches, &r.CSATRating); err != nil {
			return nil, fmt.Errorf("scan report row: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
