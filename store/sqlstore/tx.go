package sqlstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/threadline/threadline/bridge"
)

func (t *Tx) MarkProcessed(ctx context.Context, source, deliveryID string, at time.Time) (bool, error) {
	n, err := t.ex.Exec(ctx, `INSERT INTO processed_deliveries (source, delivery_id, processed_at) VALUES ($1, $2, $3)
		ON CONFLICT (source, delivery_id) DO NOTHING`, source, deliveryID, ts(at))
	if err != nil {
		return false, fmt.Errorf("mark processed %s/%s: %w", source, deliveryID, err)
	}
	return n == 1, nil
}

const accountCols = `id, platform, external_id, display_name, created_at`

func scanAccount(r Row) (bridge.Account, error) {
	var a bridge.Account
	err := r.Scan(accountDest(&a)...)
	return a, err
}

func accountDest(a *bridge.Account) []any {
	return []any{&a.ID, &a.Platform, &a.ExternalID, &a.DisplayName, st(&a.CreatedAt)}
}

func (t *Tx) UpsertAccount(ctx context.Context, p bridge.UpsertAccountParams) (bridge.Account, error) {
	// Ingest calls this for every message: read first, and write only when
	// something is new, so concurrent ingests do not queue on the account row.
	a, err := scanAccount(t.ex.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE platform = $1 AND external_id = $2`, p.Platform, p.ExternalID))
	switch {
	case err == nil && (p.DisplayName == "" || p.DisplayName == a.DisplayName):
		return a, nil
	case err == nil:
		a, err = scanAccount(t.ex.QueryRow(ctx, `UPDATE accounts SET display_name = $2 WHERE id = $1 RETURNING `+accountCols, a.ID, p.DisplayName))
		return a, t.notFound(err, "update account")
	case !t.d.IsNoRows(err):
		return a, fmt.Errorf("get account: %w", err)
	}
	a, err = scanAccount(t.ex.QueryRow(ctx, `INSERT INTO accounts (platform, external_id, display_name, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (platform, external_id) DO NOTHING RETURNING `+accountCols, p.Platform, p.ExternalID, p.DisplayName, ts(time.Now())))
	if err == nil || !t.d.IsNoRows(err) {
		return a, t.notFound(err, "insert account")
	}
	// A concurrent transaction inserted it first.
	a, err = scanAccount(t.ex.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE platform = $1 AND external_id = $2`, p.Platform, p.ExternalID))
	return a, t.notFound(err, "get account")
}

func (t *Tx) GetAccount(ctx context.Context, id bridge.AccountID) (bridge.Account, error) {
	a, err := scanAccount(t.ex.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1`, id))
	return a, t.notFound(err, "get account")
}

const identityCols = `id, contact_id, account_id, platform, external_user_id, name, handle, avatar_url`

func scanIdentity(r Row) (bridge.Identity, error) {
	var i bridge.Identity
	err := r.Scan(identityDest(&i)...)
	return i, err
}

func identityDest(i *bridge.Identity) []any {
	return []any{&i.ID, &i.ContactID, &i.AccountID, &i.Platform, &i.ExternalUserID, &i.Name, &i.Handle, &i.AvatarURL}
}

func (t *Tx) UpsertIdentity(ctx context.Context, p bridge.UpsertIdentityParams) (bridge.Identity, error) {
	i, err := scanIdentity(t.ex.QueryRow(ctx, `SELECT `+identityCols+` FROM identities WHERE account_id = $1 AND external_user_id = $2`, p.AccountID, p.ExternalUserID))
	if err == nil {
		if i.HasProfile(p) {
			return i, nil
		}
		i, err = scanIdentity(t.ex.QueryRow(ctx, `UPDATE identities SET
			name = CASE WHEN $2 = '' THEN name ELSE $2 END,
			handle = CASE WHEN $3 = '' THEN handle ELSE $3 END,
			avatar_url = CASE WHEN $4 = '' THEN avatar_url ELSE $4 END
			WHERE id = $1 RETURNING `+identityCols, i.ID, p.Name, p.Handle, p.AvatarURL))
		return i, t.notFound(err, "update identity")
	}
	if !t.d.IsNoRows(err) {
		return i, fmt.Errorf("get identity: %w", err)
	}
	now := ts(time.Now())
	var contact bridge.ContactID
	if err := t.ex.QueryRow(ctx, `INSERT INTO contacts (display_name, created_at) VALUES ($1, $2) RETURNING id`, p.Name, now).Scan(&contact); err != nil {
		return i, fmt.Errorf("insert contact: %w", err)
	}
	i, err = scanIdentity(t.ex.QueryRow(ctx, `INSERT INTO identities (contact_id, account_id, platform, external_user_id, name, handle, avatar_url, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (account_id, external_user_id) DO NOTHING RETURNING `+identityCols,
		contact, p.AccountID, p.Platform, p.ExternalUserID, p.Name, p.Handle, p.AvatarURL, now))
	if err == nil || !t.d.IsNoRows(err) {
		return i, t.notFound(err, "insert identity")
	}
	// A concurrent transaction created the identity first: drop our contact.
	if _, err := t.ex.Exec(ctx, `DELETE FROM contacts WHERE id = $1`, contact); err != nil {
		return i, fmt.Errorf("drop unused contact: %w", err)
	}
	i, err = scanIdentity(t.ex.QueryRow(ctx, `SELECT `+identityCols+` FROM identities WHERE account_id = $1 AND external_user_id = $2`, p.AccountID, p.ExternalUserID))
	return i, t.notFound(err, "get identity")
}

func (t *Tx) GetIdentity(ctx context.Context, id bridge.IdentityID) (bridge.Identity, error) {
	i, err := scanIdentity(t.ex.QueryRow(ctx, `SELECT `+identityCols+` FROM identities WHERE id = $1`, id))
	return i, t.notFound(err, "get identity")
}

const threadCols = `id, account_id, external_id, source, identity_id, created_at`

func scanThread(r Row) (bridge.PlatformThread, error) {
	var p bridge.PlatformThread
	err := r.Scan(threadDest(&p)...)
	return p, err
}

func threadDest(p *bridge.PlatformThread) []any {
	return []any{&p.ID, &p.AccountID, &p.ExternalID, &p.Source, idOf(&p.IdentityID), st(&p.CreatedAt)}
}

func (t *Tx) UpsertPlatformThread(ctx context.Context, p bridge.UpsertPlatformThreadParams) (bridge.PlatformThread, error) {
	// DO UPDATE (not DO NOTHING) so the row is returned and locked in both
	// the insert and the conflict case.
	th, err := scanThread(t.ex.QueryRow(ctx, `INSERT INTO platform_threads (account_id, external_id, source, identity_id, created_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (account_id, external_id) DO UPDATE SET identity_id = COALESCE(platform_threads.identity_id, excluded.identity_id)
		RETURNING `+threadCols, p.AccountID, p.ExternalID, p.Source, nullable(p.IdentityID), ts(time.Now())))
	return th, t.notFound(err, "upsert platform thread")
}

func (t *Tx) GetPlatformThread(ctx context.Context, id bridge.PlatformThreadID) (bridge.PlatformThread, error) {
	th, err := scanThread(t.ex.QueryRow(ctx, `SELECT `+threadCols+` FROM platform_threads WHERE id = $1`, id))
	return th, t.notFound(err, "get platform thread")
}

const agentCols = `id, name, email, role, skills, capacity, available, created_at`

func scanAgent(r Row) (bridge.Agent, error) {
	var a bridge.Agent
	var skills string
	if err := r.Scan(&a.ID, &a.Name, &a.Email, &a.Role, &skills, &a.Capacity, &a.Available, st(&a.CreatedAt)); err != nil {
		return a, err
	}
	return a, json.Unmarshal([]byte(skills), &a.Skills)
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		return "[]"
	}
	return string(b)
}

func (t *Tx) CreateAgent(ctx context.Context, p bridge.CreateAgentParams) (bridge.Agent, error) {
	a, err := scanAgent(t.ex.QueryRow(ctx, `INSERT INTO agents (name, email, role, skills, capacity, available, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+agentCols,
		p.Name, p.Email, p.Role, jsonText(p.Skills), p.Capacity, p.Available, ts(time.Now())))
	if err != nil && t.d.IsUniqueViolation(err) {
		return a, fmt.Errorf("create agent %s: %w", p.Email, bridge.ErrConflict)
	}
	return a, t.notFound(err, "create agent")
}

func (t *Tx) GetAgent(ctx context.Context, id bridge.AgentID) (bridge.Agent, error) {
	a, err := scanAgent(t.ex.QueryRow(ctx, `SELECT `+agentCols+` FROM agents WHERE id = $1`, id))
	return a, t.notFound(err, "get agent")
}

func (t *Tx) FindAgentByChatIdentity(ctx context.Context, surface bridge.Surface, workspace, userID string) (bridge.Agent, error) {
	a, err := scanAgent(t.ex.QueryRow(ctx, `SELECT a.id, a.name, a.email, a.role, a.skills, a.capacity, a.available, a.created_at
		FROM agents a JOIN agent_chat_identities c ON c.agent_id = a.id
		WHERE c.surface = $1 AND c.workspace = $2 AND c.user_id = $3`, surface, workspace, userID))
	return a, t.notFound(err, "find agent by chat identity")
}

func (t *Tx) LinkAgentChatIdentity(ctx context.Context, id bridge.AgentChatIdentity) error {
	_, err := t.ex.Exec(ctx, `INSERT INTO agent_chat_identities (agent_id, surface, workspace, user_id) VALUES ($1, $2, $3, $4)
		ON CONFLICT (surface, workspace, user_id) DO UPDATE SET agent_id = excluded.agent_id`, id.AgentID, id.Surface, id.Workspace, id.UserID)
	if err != nil {
		return fmt.Errorf("link agent chat identity: %w", err)
	}
	return nil
}

const convCols = `id, number, platform_thread_id, account_id, platform, identity_id, status, priority, source, assignee_id,
	tags, last_seq, version, created_at, updated_at, first_response_at, resolved_at, closed_at, team, escalation, snoozed_until`

func scanConv(r Row) (bridge.Conversation, error) {
	var c bridge.Conversation
	var tags string
	if err := r.Scan(convDest(&c, &tags)...); err != nil {
		return c, err
	}
	return c, json.Unmarshal([]byte(tags), &c.Tags)
}

// convDest lists where a convCols row goes; tags is decoded afterwards.
func convDest(c *bridge.Conversation, tags *string) []any {
	return []any{&c.ID, &c.Number, &c.PlatformThreadID, &c.AccountID, &c.Platform, &c.IdentityID, &c.Status, &c.Priority,
		&c.Source, idOf(&c.AssigneeID), tags, &c.LastSeq, &c.Version, st(&c.CreatedAt), st(&c.UpdatedAt),
		nullTime{&c.FirstResponseAt}, nullTime{&c.ResolvedAt}, nullTime{&c.ClosedAt}, &c.Team, &c.Escalation, nullTime{&c.SnoozedUntil}}
}

func (t *Tx) CreateConversation(ctx context.Context, p bridge.CreateConversationParams) (bridge.Conversation, error) {
	c, err := scanConv(t.ex.QueryRow(ctx, `INSERT INTO conversations (number, platform_thread_id, account_id, platform, identity_id, status, priority, source, created_at, updated_at, last_seq)
		VALUES (`+t.d.NextConversationNumber(0)+`, $1, $2, $3, $4, 'open', $5, $6, $7, $7, $8) RETURNING `+convCols,
		p.PlatformThreadID, p.AccountID, p.Platform, p.IdentityID, p.Priority, p.Source, ts(p.CreatedAt), p.LastSeq))
	if err != nil && t.d.IsUniqueViolation(err) {
		return c, fmt.Errorf("create conversation: thread %d already has an active one: %w", p.PlatformThreadID, bridge.ErrConflict)
	}
	return c, t.notFound(err, "create conversation")
}

func (t *Tx) GetConversation(ctx context.Context, id bridge.ConversationID) (bridge.Conversation, error) {
	c, err := scanConv(t.ex.QueryRow(ctx, `SELECT `+convCols+` FROM conversations WHERE id = $1`+t.d.ForUpdate, id))
	return c, t.notFound(err, "get conversation")
}

func (t *Tx) GetConversationByNumber(ctx context.Context, n bridge.ConversationNumber) (bridge.Conversation, error) {
	c, err := scanConv(t.ex.QueryRow(ctx, `SELECT `+convCols+` FROM conversations WHERE number = $1`+t.d.ForUpdate, n))
	return c, t.notFound(err, "get conversation "+n.String())
}

func (t *Tx) LatestConversation(ctx context.Context, thread bridge.PlatformThreadID) (bridge.Conversation, error) {
	c, err := scanConv(t.ex.QueryRow(ctx, `SELECT `+convCols+` FROM conversations WHERE platform_thread_id = $1
		ORDER BY CASE WHEN status = 'closed' THEN 1 ELSE 0 END, id DESC LIMIT 1`+t.d.ForUpdate, thread))
	return c, t.notFound(err, "latest conversation")
}

func (t *Tx) UpdateConversation(ctx context.Context, c bridge.Conversation) error {
	n, err := t.ex.Exec(ctx, `UPDATE conversations SET status = $2, priority = $3, assignee_id = $4, tags = $5, version = $6,
		updated_at = $7, first_response_at = $8, resolved_at = $9, closed_at = $10, team = $11, escalation = $12, snoozed_until = $13 WHERE id = $1`,
		c.ID, c.Status, c.Priority, nullable(c.AssigneeID), jsonText(c.Tags), c.Version, ts(c.UpdatedAt),
		tsPtr(c.FirstResponseAt), tsPtr(c.ResolvedAt), tsPtr(c.ClosedAt), c.Team, c.Escalation, tsPtr(c.SnoozedUntil))
	if err != nil {
		if t.d.IsUniqueViolation(err) {
			return fmt.Errorf("update conversation %s: %w", c.Number, bridge.ErrConflict)
		}
		return fmt.Errorf("update conversation %s: %w", c.Number, err)
	}
	if n != 1 {
		return fmt.Errorf("update conversation %d: %w", c.ID, bridge.ErrNotFound)
	}
	return nil
}

func (t *Tx) NextSeq(ctx context.Context, id bridge.ConversationID) (int64, error) {
	var seq int64
	err := t.ex.QueryRow(ctx, `UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq`, id).Scan(&seq)
	return seq, t.notFound(err, "next seq")
}

func encodeCursor(id bridge.ConversationID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(int64(id), 10)))
}

func decodeCursor(s string) (bridge.ConversationID, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, fmt.Errorf("%w: bad cursor", bridge.ErrInvalidInput)
	}
	id, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: bad cursor", bridge.ErrInvalidInput)
	}
	return bridge.ConversationID(id), nil
}

func (t *Tx) ListConversations(ctx context.Context, f bridge.ConversationFilter) (bridge.ConversationPage, error) {
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(f.Statuses) > 0 {
		ph := make([]string, len(f.Statuses))
		for i, s := range f.Statuses {
			ph[i] = arg(s)
		}
		where = append(where, "status IN ("+strings.Join(ph, ", ")+")")
	}
	if f.Platform != "" {
		where = append(where, "platform = "+arg(f.Platform))
	}
	if f.Assignee != 0 {
		where = append(where, "assignee_id = "+arg(f.Assignee))
	}
	if f.Account != 0 {
		where = append(where, "account_id = "+arg(f.Account))
	}
	if f.Priority != 0 {
		where = append(where, "priority = "+arg(f.Priority))
	}
	if f.After != "" {
		after, err := decodeCursor(f.After)
		if err != nil {
			return bridge.ConversationPage{}, err
		}
		where = append(where, "id < "+arg(after))
	}
	q := `SELECT ` + convCols + ` FROM conversations`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT " + arg(limit+1)
	rows, err := t.ex.Query(ctx, q, args...)
	if err != nil {
		return bridge.ConversationPage{}, fmt.Errorf("list conversations: %w", err)
	}
	defer rows.Close()
	var page bridge.ConversationPage
	for rows.Next() {
		c, err := scanConv(rows)
		if err != nil {
			return bridge.ConversationPage{}, fmt.Errorf("list conversations: %w", err)
		}
		page.Conversations = append(page.Conversations, c)
	}
	if err := rows.Err(); err != nil {
		return bridge.ConversationPage{}, fmt.Errorf("list conversations: %w", err)
	}
	if len(page.Conversations) > limit {
		page.Conversations = page.Conversations[:limit]
		page.Next = encodeCursor(page.Conversations[limit-1].ID)
	}
	return page, nil
}

const msgCols = `id, conversation_id, platform_thread_id, seq, direction, platform_message_id, sender_identity_id, sender_agent_id,
	text, attachments, platform_time, created_at, edited_at, delivery_status, delivery_error`

type nullString struct{ dst *string }

func (n nullString) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n.dst = ""
	case string:
		*n.dst = v
	case []byte:
		*n.dst = string(v)
	default:
		return fmt.Errorf("scan string: unsupported type %T", src)
	}
	return nil
}

func scanMsg(r Row) (bridge.Message, error) {
	var m bridge.Message
	var att string
	if err := r.Scan(msgDest(&m, &att)...); err != nil {
		return m, err
	}
	return m, json.Unmarshal([]byte(att), &m.Attachments)
}

// msgDest lists where a msgCols row goes; att is decoded afterwards.
func msgDest(m *bridge.Message, att *string) []any {
	return []any{&m.ID, &m.ConversationID, &m.PlatformThreadID, &m.Seq, &m.Direction, nullString{&m.PlatformMessageID},
		idOf(&m.SenderIdentityID), idOf(&m.SenderAgentID), &m.Text, att, st(&m.PlatformTime), st(&m.CreatedAt),
		nullTime{&m.EditedAt}, &m.DeliveryStatus, &m.DeliveryError}
}

func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (t *Tx) InsertMessage(ctx context.Context, p bridge.InsertMessageParams) (bridge.Message, bool, error) {
	m, err := scanMsg(t.ex.QueryRow(ctx, `INSERT INTO messages (conversation_id, platform_thread_id, seq, direction, platform_message_id,
		sender_identity_id, sender_agent_id, text, attachments, platform_time, created_at, delivery_status)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (platform_thread_id, platform_message_id) WHERE platform_message_id IS NOT NULL DO NOTHING
		RETURNING `+msgCols,
		p.ConversationID, p.PlatformThreadID, p.Seq, p.Direction, nullText(p.PlatformMessageID), nullable(p.SenderIdentityID),
		nullable(p.SenderAgentID), p.Text, jsonText(p.Attachments), ts(p.PlatformTime), ts(p.CreatedAt), p.DeliveryStatus))
	if err != nil && t.d.IsNoRows(err) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("insert message: %w", err)
	}
	return m, true, nil
}

func (t *Tx) GetMessage(ctx context.Context, id bridge.MessageID) (bridge.Message, error) {
	m, err := scanMsg(t.ex.QueryRow(ctx, `SELECT `+msgCols+` FROM messages WHERE id = $1`, id))
	return m, t.notFound(err, "get message")
}

func (t *Tx) FindMessageByPlatformID(ctx context.Context, thread bridge.PlatformThreadID, pmid string) (bridge.Message, error) {
	m, err := scanMsg(t.ex.QueryRow(ctx, `SELECT `+msgCols+` FROM messages WHERE platform_thread_id = $1 AND platform_message_id = $2`, thread, pmid))
	return m, t.notFound(err, "find message by platform id")
}

func (t *Tx) UpdateMessageText(ctx context.Context, id bridge.MessageID, text string, editedAt time.Time) error {
	n, err := t.ex.Exec(ctx, `UPDATE messages SET text = $2, edited_at = $3 WHERE id = $1`, id, text, ts(editedAt))
	if err != nil {
		return fmt.Errorf("update message text: %w", err)
	}
	if n != 1 {
		return fmt.Errorf("update message %d: %w", id, bridge.ErrNotFound)
	}
	return nil
}

func (t *Tx) SetMessageDelivery(ctx context.Context, p bridge.SetMessageDeliveryParams) error {
	n, err := t.ex.Exec(ctx, `UPDATE messages SET delivery_status = $2, delivery_error = $3,
		platform_message_id = COALESCE($4, platform_message_id) WHERE id = $1`, p.ID, p.Status, p.Error, nullText(p.PlatformMessageID))
	if err != nil {
		return fmt.Errorf("set message delivery: %w", err)
	}
	if n != 1 {
		return fmt.Errorf("set message delivery %d: %w", p.ID, bridge.ErrNotFound)
	}
	return nil
}

func (t *Tx) ListMessages(ctx context.Context, conv bridge.ConversationID) ([]bridge.Message, error) {
	rows, err := t.ex.Query(ctx, `SELECT `+msgCols+` FROM messages WHERE conversation_id = $1 ORDER BY seq`, conv)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	defer rows.Close()
	var out []bridge.Message
	for rows.Next() {
		m, err := scanMsg(rows)
		if err != nil {
			return nil, fmt.Errorf("list messages: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func (t *Tx) FirstInboundMessage(ctx context.Context, conv bridge.ConversationID) (bridge.Message, error) {
	m, err := scanMsg(t.ex.QueryRow(ctx, `SELECT `+msgCols+` FROM messages WHERE conversation_id = $1 AND direction = 'inbound' ORDER BY seq LIMIT 1`, conv))
	return m, t.notFound(err, "first inbound message")
}

const chatThreadCols = `id, conversation_id, surface, workspace, channel, thread_ref, created_at`

func scanChatThread(r Row) (bridge.ChatThread, error) {
	var c bridge.ChatThread
	err := r.Scan(&c.ID, &c.ConversationID, &c.Surface, &c.Workspace, &c.Channel, &c.ThreadRef, st(&c.CreatedAt))
	return c, err
}

func (t *Tx) UpsertChatThread(ctx context.Context, c bridge.ChatThread) (bridge.ChatThread, error) {
	out, err := scanChatThread(t.ex.QueryRow(ctx, `INSERT INTO chat_threads (conversation_id, surface, workspace, channel, thread_ref, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (conversation_id, surface) DO UPDATE SET workspace = excluded.workspace, channel = excluded.channel, thread_ref = excluded.thread_ref
		RETURNING `+chatThreadCols, c.ConversationID, c.Surface, c.Workspace, c.Channel, c.ThreadRef, ts(c.CreatedAt)))
	return out, t.notFound(err, "upsert chat thread")
}

func (t *Tx) GetChatThread(ctx context.Context, conv bridge.ConversationID, surface bridge.Surface) (bridge.ChatThread, error) {
	c, err := scanChatThread(t.ex.QueryRow(ctx, `SELECT `+chatThreadCols+` FROM chat_threads WHERE conversation_id = $1 AND surface = $2`, conv, surface))
	return c, t.notFound(err, "get chat thread")
}

func (t *Tx) FindChatThread(ctx context.Context, surface bridge.Surface, channel, threadRef string) (bridge.ChatThread, error) {
	c, err := scanChatThread(t.ex.QueryRow(ctx, `SELECT `+chatThreadCols+` FROM chat_threads WHERE surface = $1 AND channel = $2 AND thread_ref = $3`, surface, channel, threadRef))
	return c, t.notFound(err, "find chat thread")
}

func (t *Tx) AddChatMessageRef(ctx context.Context, r bridge.ChatMessageRef) error {
	_, err := t.ex.Exec(ctx, `INSERT INTO chat_message_refs (message_id, surface, channel, ref) VALUES ($1, $2, $3, $4)
		ON CONFLICT (surface, channel, ref, message_id) DO NOTHING`, r.MessageID, r.Surface, r.Channel, r.Ref)
	if err != nil {
		return fmt.Errorf("add chat message ref: %w", err)
	}
	return nil
}

func (t *Tx) ListChatMessageRefs(ctx context.Context, id bridge.MessageID) ([]bridge.ChatMessageRef, error) {
	rows, err := t.ex.Query(ctx, `SELECT message_id, surface, channel, ref FROM chat_message_refs WHERE message_id = $1 ORDER BY surface, ref`, id)
	if err != nil {
		return nil, fmt.Errorf("list chat message refs: %w", err)
	}
	defer rows.Close()
	var out []bridge.ChatMessageRef
	for rows.Next() {
		var r bridge.ChatMessageRef
		if err := rows.Scan(&r.MessageID, &r.Surface, &r.Channel, &r.Ref); err != nil {
			return nil, fmt.Errorf("list chat message refs: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (t *Tx) FindMessageByChatRef(ctx context.Context, surface bridge.Surface, channel, ref string) (bridge.Message, error) {
	m, err := scanMsg(t.ex.QueryRow(ctx, `SELECT `+msgCols+` FROM messages WHERE id = (
		SELECT min(message_id) FROM chat_message_refs WHERE surface = $1 AND channel = $2 AND ref = $3)`, surface, channel, ref))
	return m, t.notFound(err, "find message by chat ref")
}

const deliveryCols = `id, conversation_id, target, kind, message_id, seq, text, status, attempts, next_attempt_at, last_error, external_ref, created_at`

func scanDelivery(r Row) (bridge.Delivery, error) {
	var d bridge.Delivery
	err := r.Scan(&d.ID, &d.ConversationID, &d.Target, &d.Kind, idOf(&d.MessageID), &d.Seq, &d.Text, &d.Status, &d.Attempts,
		st(&d.NextAttemptAt), &d.LastError, &d.ExternalRef, st(&d.CreatedAt))
	return d, err
}

func (t *Tx) InsertDelivery(ctx context.Context, d bridge.Delivery) (bridge.Delivery, error) {
	out, err := scanDelivery(t.ex.QueryRow(ctx, `INSERT INTO deliveries (conversation_id, target, kind, message_id, seq, text, status, attempts, next_attempt_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING `+deliveryCols,
		d.ConversationID, d.Target, d.Kind, nullable(d.MessageID), d.Seq, d.Text, d.Status, d.Attempts, ts(d.NextAttemptAt), ts(d.CreatedAt)))
	return out, t.notFound(err, "insert delivery")
}

func (t *Tx) NextDelivery(ctx context.Context, conv bridge.ConversationID, target bridge.Target) (bridge.Delivery, error) {
	d, err := scanDelivery(t.ex.QueryRow(ctx, `SELECT `+deliveryCols+` FROM deliveries
		WHERE conversation_id = $1 AND target = $2 AND status IN ('pending', 'sending') ORDER BY seq, id LIMIT 1`, conv, target))
	return d, t.notFound(err, "next delivery")
}

func (t *Tx) UpdateDelivery(ctx context.Context, d bridge.Delivery) error {
	n, err := t.ex.Exec(ctx, `UPDATE deliveries SET status = $2, attempts = $3, next_attempt_at = $4, last_error = $5, external_ref = $6 WHERE id = $1`,
		d.ID, d.Status, d.Attempts, ts(d.NextAttemptAt), d.LastError, d.ExternalRef)
	if err != nil {
		return fmt.Errorf("update delivery: %w", err)
	}
	if n != 1 {
		return fmt.Errorf("update delivery %d: %w", d.ID, bridge.ErrNotFound)
	}
	return nil
}

func (t *Tx) CountDeliveries(ctx context.Context, f bridge.DeliveryFilter) (int, error) {
	var n int
	err := t.ex.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE ($1 = 0 OR conversation_id = $1) AND ($2 = '' OR target = $2) AND ($3 = '' OR status = $3)`,
		int64(f.ConversationID), string(f.Target), string(f.Status)).Scan(&n)
	return n, t.notFound(err, "count deliveries")
}

func (t *Tx) DeliveryBacklog(ctx context.Context) ([]bridge.Backlog, error) {
	rows, err := t.ex.Query(ctx, `SELECT target, count(*), count(DISTINCT conversation_id), min(created_at) FROM deliveries
		WHERE status IN ('pending', 'sending') GROUP BY target ORDER BY target`)
	if err != nil {
		return nil, fmt.Errorf("delivery backlog: %w", err)
	}
	defer rows.Close()
	var out []bridge.Backlog
	for rows.Next() {
		var b bridge.Backlog
		if err := rows.Scan(&b.Target, &b.Count, &b.Conversations, st(&b.Oldest)); err != nil {
			return nil, fmt.Errorf("delivery backlog: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

func (t *Tx) ListStalledLanes(ctx context.Context, dueBefore, now time.Time, limit int) ([]bridge.Job, error) {
	// The conversation's priority goes with the job: a rescued job must not
	// jump the queue's priority order.
	rows, err := t.ex.Query(ctx, `SELECT DISTINCT d.conversation_id, d.target, c.priority FROM deliveries d
		JOIN conversations c ON c.id = d.conversation_id
		LEFT JOIN lanes l ON l.conversation_id = d.conversation_id AND l.target = d.target
		WHERE d.status IN ('pending', 'sending') AND d.next_attempt_at < $1
		AND (l.conversation_id IS NULL OR l.lease_owner = '' OR l.lease_until < $2)
		ORDER BY d.conversation_id LIMIT $3`, ts(dueBefore), ts(now), limit)
	if err != nil {
		return nil, fmt.Errorf("list stalled lanes: %w", err)
	}
	defer rows.Close()
	var out []bridge.Job
	for rows.Next() {
		var j bridge.Job
		if err := rows.Scan(&j.ConversationID, &j.Target, &j.Priority); err != nil {
			return nil, fmt.Errorf("list stalled lanes: %w", err)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

func (t *Tx) ClaimLane(ctx context.Context, p bridge.ClaimLaneParams) (bool, error) {
	n, err := t.ex.Exec(ctx, `INSERT INTO lanes (conversation_id, target, lease_owner, lease_until) VALUES ($1, $2, $3, $4)
		ON CONFLICT (conversation_id, target) DO UPDATE SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
		WHERE lanes.lease_owner = '' OR lanes.lease_owner = excluded.lease_owner OR lanes.lease_until < $5`,
		p.ConversationID, p.Target, p.Owner, ts(p.Until), ts(p.Now))
	if err != nil {
		return false, fmt.Errorf("claim lane: %w", err)
	}
	return n == 1, nil
}

func (t *Tx) ReleaseLane(ctx context.Context, conv bridge.ConversationID, target bridge.Target, owner string) error {
	_, err := t.ex.Exec(ctx, `UPDATE lanes SET lease_owner = '' WHERE conversation_id = $1 AND target = $2 AND lease_owner = $3`, conv, target, owner)
	if err != nil {
		return fmt.Errorf("release lane: %w", err)
	}
	return nil
}

func (t *Tx) ReleaseLaneIfEmpty(ctx context.Context, conv bridge.ConversationID, target bridge.Target, owner string) (bool, error) {
	n, err := t.ex.Exec(ctx, `UPDATE lanes SET lease_owner = '' WHERE conversation_id = $1 AND target = $2 AND lease_owner = $3
		AND NOT EXISTS (SELECT 1 FROM deliveries WHERE conversation_id = $1 AND target = $2 AND status IN ('pending', 'sending'))`, conv, target, owner)
	if err != nil {
		return false, fmt.Errorf("release lane if empty: %w", err)
	}
	return n == 1, nil
}

func (t *Tx) LaneCardVersion(ctx context.Context, conv bridge.ConversationID, target bridge.Target) (int64, error) {
	var v int64
	err := t.ex.QueryRow(ctx, `SELECT card_version FROM lanes WHERE conversation_id = $1 AND target = $2`, conv, target).Scan(&v)
	if err != nil && t.d.IsNoRows(err) {
		return 0, nil
	}
	return v, t.notFound(err, "lane card version")
}

func (t *Tx) SetLaneCardVersion(ctx context.Context, conv bridge.ConversationID, target bridge.Target, version int64) error {
	_, err := t.ex.Exec(ctx, `INSERT INTO lanes (conversation_id, target, lease_until, card_version) VALUES ($1, $2, $3, $4)
		ON CONFLICT (conversation_id, target) DO UPDATE SET card_version = excluded.card_version WHERE lanes.card_version < excluded.card_version`,
		conv, target, ts(time.Time{}), version)
	if err != nil {
		return fmt.Errorf("set lane card version: %w", err)
	}
	return nil
}

func (t *Tx) AppendAudit(ctx context.Context, e bridge.AuditEntry) error {
	_, err := t.ex.Exec(ctx, `INSERT INTO audit_log (actor_agent_id, action, conversation_id, before, after, at) VALUES ($1, $2, $3, $4, $5, $6)`,
		nullable(e.ActorAgentID), e.Action, nullable(e.ConversationID), e.Before, e.After, ts(e.At))
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

func (t *Tx) ListAudit(ctx context.Context, conv bridge.ConversationID) ([]bridge.AuditEntry, error) {
	rows, err := t.ex.Query(ctx, `SELECT id, actor_agent_id, action, conversation_id, before, after, at FROM audit_log WHERE conversation_id = $1 ORDER BY id`, conv)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	var out []bridge.AuditEntry
	for rows.Next() {
		var e bridge.AuditEntry
		if err := rows.Scan(&e.ID, idOf(&e.ActorAgentID), &e.Action, idOf(&e.ConversationID), &e.Before, &e.After, st(&e.At)); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (t *Tx) GetCursor(ctx context.Context, name string) (string, error) {
	var v string
	err := t.ex.QueryRow(ctx, `SELECT value FROM cursors WHERE name = $1`, name).Scan(&v)
	return v, t.notFound(err, "get cursor "+name)
}

func (t *Tx) SetCursor(ctx context.Context, name, value string) error {
	_, err := t.ex.Exec(ctx, `INSERT INTO cursors (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
	if err != nil {
		return fmt.Errorf("set cursor %s: %w", name, err)
	}
	return nil
}

func (t *Tx) ClaimLease(ctx context.Context, name, owner string, now, until time.Time) (bool, error) {
	n, err := t.ex.Exec(ctx, `INSERT INTO leases (name, owner, lease_until) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
		WHERE leases.owner = '' OR leases.owner = excluded.owner OR leases.lease_until < $4`, name, owner, ts(until), ts(now))
	if err != nil {
		return false, fmt.Errorf("claim lease %s: %w", name, err)
	}
	return n == 1, nil
}

func (t *Tx) ReleaseLease(ctx context.Context, name, owner string) error {
	if _, err := t.ex.Exec(ctx, `UPDATE leases SET owner = '' WHERE name = $1 AND owner = $2`, name, owner); err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}
