package sqlstore

import (
	"context"
	"time"

	"github.com/threadline/threadline/bridge"
)

func (t *Tx) LastInboundTime(ctx context.Context, thread bridge.PlatformThreadID) (time.Time, error) {
	// The newest stored inbound message, not the greatest platform time: a
	// platform's clock says when it was sent, our ids say what came last.
	var at time.Time
	err := t.ex.QueryRow(ctx, `SELECT platform_time FROM messages WHERE platform_thread_id = $1 AND direction = 'inbound'
		ORDER BY id DESC LIMIT 1`, thread).Scan(st(&at))
	return at, t.notFound(err, "last inbound time")
}
