package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

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
)

// loadQuery is LoadConversation's statement, with the message and the
// chat thread (left joined: it may not exist yet) when asked for.
func loadQuery(msg bool, surface bool) string {
	cols, from, where := loadCols, loadFrom, ` WHERE c.id = $1`
	if msg {
		cols += ", " + qualify("m", msgCols)
		from += ` JOIN messages m ON m.id = $2`
	}
	if surface {
		param := "$2"
		if msg {
			param = "$3"
		}
		cols += ", " + qualify("ch", chatThreadCols)
		from += ` LEFT JOIN chat_threads ch ON ch.conversation_id = c.id AND ch.surface = ` + param
	}
	return `SELECT ` + cols + from + where
}

var loadQueries = [2][2]string{{loadQuery(false, false), loadQuery(false, true)}, {loadQuery(true, false), loadQuery(true, true)}}

// LoadConversation is one statement where a delivery used to read five rows
// one by one. It takes no lock: the lane's lease orders a conversation's
// deliveries, and a message's seq is taken under the conversation's lock
// (NextSeq) so its delivery cannot commit ahead of an earlier one.
func (t *Tx) LoadConversation(ctx context.Context, id bridge.ConversationID, msg bridge.MessageID, surface bridge.Surface) (bridge.ConversationView, error) {
	var v bridge.ConversationView
	var tags, att string
	dest := convDest(&v.Conversation, &tags)
	dest = append(dest, threadDest(&v.Thread)...)
	dest = append(dest, accountDest(&v.Account)...)
	dest = append(dest, identityDest(&v.Customer)...)
	withMsg, withChat := 0, 0
	args := []any{id}
	if msg != 0 {
		withMsg = 1
		args = append(args, msg)
		dest = append(dest, msgDest(&v.Message, &att)...)
	}
	var chat bridge.ChatThread
	var chatSurface string
	var chatCreated *time.Time
	if surface != "" {
		withChat = 1
		args = append(args, surface)
		dest = append(dest, idOf(&chat.ID), idOf(&chat.ConversationID), nullString{&chatSurface}, nullString{&chat.Workspace},
			nullString{&chat.Channel}, nullString{&chat.ThreadRef}, nullTime{&chatCreated})
	}
	if err := t.ex.QueryRow(ctx, loadQueries[withMsg][withChat], args...).Scan(dest...); err != nil {
		return v, t.notFound(err, fmt.Sprintf("load conversation %d (message %d)", id, msg))
	}
	if chat.ID != 0 {
		chat.Surface, chat.CreatedAt = bridge.Surface(chatSurface), *chatCreated
		v.Chat = &chat
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
