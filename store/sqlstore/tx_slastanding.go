package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/threadline/threadline/bridge"
)

// CountSLAStandings walks the unresolved conversations through the status
// index and their clocks through the clocks' primary key: one row per
// conversation, then one per standing.
func (t *Tx) CountSLAStandings(ctx context.Context, now time.Time) (bridge.SLAStandings, error) {
	rows, err := t.ex.Query(ctx, `SELECT standing, count(*) FROM (
		SELECT CASE
			WHEN max(CASE WHEN k.state <> 'stopped' AND (k.breached_at IS NOT NULL OR (k.state = 'running' AND k.due_at <= $1)) THEN 1 ELSE 0 END) = 1 THEN 'breached'
			WHEN max(CASE WHEN k.state <> 'stopped' AND (k.warned_at IS NOT NULL OR (k.state = 'running' AND k.warn_at <= $1)) THEN 1 ELSE 0 END) = 1 THEN 'warning'
			ELSE 'ok' END AS standing
		FROM conversations c LEFT JOIN sla_clocks k ON k.conversation_id = c.id
		WHERE c.status IN ('open', 'pending')
		GROUP BY c.id) s
		GROUP BY standing`, ts(now))
	if err != nil {
		return bridge.SLAStandings{}, fmt.Errorf("count SLA standings: %w", err)
	}
	defer rows.Close()
	var out bridge.SLAStandings
	for rows.Next() {
		var standing string
		var n int
		if err := rows.Scan(&standing, &n); err != nil {
			return bridge.SLAStandings{}, fmt.Errorf("scan SLA standing: %w", err)
		}
		switch standing {
		case "breached":
			out.Breached = n
		case "warning":
			out.Warning = n
		default:
			out.OK = n
		}
	}
	return out, rows.Err()
}
