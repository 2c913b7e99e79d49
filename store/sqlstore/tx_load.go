package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/threadline/threadline/bridge"
)

// qualify prefixes every column of a column list with a table alias.
func qualify(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

var (
	loadCols = qualify("c", convCols) + ", " + qualify("t", threadCols) + ", " + qualify("a", accountCols) + ", " + qualify("i", identityCols)
	loadFrom = ` FROM conversations c JOIN platform_threads t ON t.id = c.platform_thread_id
		JOIN accounts a ON a.id = c.account_id JOIN identities i ON i.id = c.identity_id`
	loadConv    = `SELECT ` + loadCols + loadFrom + ` WHERE c.id = $1`
	loadConvMsg = `SELECT ` + loadCols + ", " + qualify("m", msgCols) + loadFrom + ` JOIN messages m ON m.id = $2 WHERE c.id = $1`
)

// LoadConversation is one statement where a delivery used to read five rows
// one by one. It takes no lock: the lane's lease orders a conversation's
// deliveries, and a message's seq is taken under the conversation's lock
// (NextSeq) so its delivery cannot commit ahead of an earlier one.
func (t *Tx) LoadConversation(ctx context.Context, id bridge.ConversationID, msg bridge.MessageID) (bridge.ConversationView, error) {
	var v bridge.ConversationView
	var tags, att string
	dest := convDest(&v.Conversation, &tags)
	dest = append(dest, threadDest(&v.Thread)...)
	dest = append(dest, accountDest(&v.Account)...)
	dest = append(dest, identityDest(&v.Customer)...)
	q, args := loadConv, []any{id}
	if msg != 0 {
		dest = append(dest, msgDest(&v.Message, &att)...)
		q, args = loadConvMsg, []any{id, msg}
	}
	if err := t.ex.QueryRow(ctx, q, args...).Scan(dest...); err != nil {
		return v, t.notFound(err, fmt.Sprintf("load conversation %d (message %d)", id, msg))
	}
	if err := json.Unmarshal([]byte(tags), &v.Conversation.Tags); err != nil {
		return v, fmt.Errorf("load conversation %d: tags: %w", id, err)
	}
	if msg != 0 {
		if err := json.Unmarshal([]byte(att), &v.Message.Attachments); err != nil {
			return v, fmt.Errorf("load message %d: attachments: %w", msg, err)
		}
	}
	return v, nil
}
