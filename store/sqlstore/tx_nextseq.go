package sqlstore

import (
	"context"

	"github.com/threadline/threadline/bridge"
)

// LatestConversationNextSeq locks the row by updating it, as
// LatestConversation's FOR UPDATE does, and saves ingest the NextSeq round trip.
func (t *Tx) LatestConversationNextSeq(ctx context.Context, thread bridge.PlatformThreadID) (bridge.Conversation, error) {
	c, err := scanConv(t.ex.QueryRow(ctx, `UPDATE conversations SET last_seq = last_seq + 1 WHERE id = (
		SELECT id FROM conversations WHERE platform_thread_id = $1
		ORDER BY CASE WHEN status = 'closed' THEN 1 ELSE 0 END, id DESC LIMIT 1) RETURNING `+convCols, thread))
	return c, t.notFound(err, "latest conversation")
}
