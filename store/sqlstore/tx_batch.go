package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/threadline/threadline/bridge"
)

// The batch statements take their rows as one VALUES list. Parameters that
// PostgreSQL cannot type from a target column are cast; CAST (not ::)
// because SQLite reads it too, and CTE column lists (not VALUES aliases) for
// the same reason.

// valuesList returns "(p1, p2), (p3, p4), ..." for rows of cols parameters,
// numbered from $1; wrap, when set, formats each parameter (a cast).
func valuesList(rows, cols int, wrap func(col int, p string) string) string {
	var b strings.Builder
	n := 1
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			p := "$" + strconv.Itoa(n)
			if wrap != nil {
				p = wrap(c, p)
			}
			b.WriteString(p)
			n++
		}
		b.WriteByte(')')
	}
	return b.String()
}

func castBigint(_ int, p string) string { return "CAST(" + p + " AS BIGINT)" }

func (t *Tx) MarkProcessedBatch(ctx context.Context, keys []bridge.DeliveryKey, at time.Time) ([]bool, error) {
	isNew := make([]bool, len(keys))
	first := map[bridge.DeliveryKey]int{}
	var args []any
	for i, k := range keys {
		if _, seen := first[k]; seen {
			continue
		}
		first[k] = i
		args = append(args, k.Source, k.ID, ts(at))
	}
	if len(args) == 0 {
		return isNew, nil
	}
	rows, err := t.ex.Query(ctx, `INSERT INTO processed_deliveries (source, delivery_id, processed_at) VALUES `+valuesList(len(first), 3, nil)+`
		ON CONFLICT (source, delivery_id) DO NOTHING RETURNING source, delivery_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("mark %d deliveries processed: %w", len(first), err)
	}
	defer rows.Close()
	for rows.Next() {
		var k bridge.DeliveryKey
		if err := rows.Scan(&k.Source, &k.ID); err != nil {
			return nil, fmt.Errorf("mark deliveries processed: %w", err)
		}
		if i, ok := first[k]; ok {
			isNew[i] = true
		}
	}
	return isNew, rows.Err()
}

func (t *Tx) FindIdentities(ctx context.Context, keys []bridge.IdentityKey) (map[bridge.IdentityKey]bridge.Identity, error) {
	found := make(map[bridge.IdentityKey]bridge.Identity, len(keys))
	if len(keys) == 0 {
		return found, nil
	}
	args := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		args = append(args, int64(k.AccountID), k.ExternalUserID)
	}
	rows, err := t.ex.Query(ctx, `SELECT `+identityCols+` FROM identities WHERE (account_id, external_user_id) IN (VALUES `+
		valuesList(len(keys), 2, func(c int, p string) string {
			if c == 0 {
				return castBigint(c, p)
			}
			return "CAST(" + p + " AS TEXT)"
		})+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("find %d identities: %w", len(keys), err)
	}
	defer rows.Close()
	for rows.Next() {
		var i bridge.Identity
		if err := rows.Scan(identityDest(&i)...); err != nil {
			return nil, fmt.Errorf("find identities: %w", err)
		}
		found[bridge.IdentityKey{AccountID: i.AccountID, ExternalUserID: i.ExternalUserID}] = i
	}
	return found, rows.Err()
}

type threadKey struct {
	account  bridge.AccountID
	external string
}

func (t *Tx) UpsertPlatformThreads(ctx context.Context, ps []bridge.UpsertPlatformThreadParams) ([]bridge.PlatformThread, error) {
	out := make([]bridge.PlatformThread, len(ps))
	if len(ps) == 0 {
		return out, nil
	}
	// One row per thread: ON CONFLICT DO UPDATE may touch a row once per
	// statement.
	index := map[threadKey][]int{}
	var args []any
	now := ts(time.Now())
	for i, p := range ps {
		k := threadKey{p.AccountID, p.ExternalID}
		if _, seen := index[k]; !seen {
			args = append(args, p.AccountID, p.ExternalID, p.Source, nullable(p.IdentityID), now)
		}
		index[k] = append(index[k], i)
	}
	rows, err := t.ex.Query(ctx, `INSERT INTO platform_threads (account_id, external_id, source, identity_id, created_at)
		VALUES `+valuesList(len(index), 5, nil)+`
		ON CONFLICT (account_id, external_id) DO UPDATE SET identity_id = COALESCE(platform_threads.identity_id, excluded.identity_id)
		RETURNING `+threadCols, args...)
	if err != nil {
		return nil, fmt.Errorf("upsert %d platform threads: %w", len(index), err)
	}
	defer rows.Close()
	got := 0
	for rows.Next() {
		th, err := scanThread(rows)
		if err != nil {
			return nil, fmt.Errorf("upsert platform threads: %w", err)
		}
		for _, i := range index[threadKey{th.AccountID, th.ExternalID}] {
			out[i] = th
			got++
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("upsert platform threads: %w", err)
	}
	if got != len(ps) {
		return nil, fmt.Errorf("upsert platform threads: %d of %d came back", got, len(ps))
	}
	return out, nil
}

func (t *Tx) LatestConversationsNextSeqs(ctx context.Context, reqs []bridge.SeqRequest) (map[bridge.PlatformThreadID]bridge.Conversation, error) {
	latest := make(map[bridge.PlatformThreadID]bridge.Conversation, len(reqs))
	if len(reqs) == 0 {
		return latest, nil
	}
	args := make([]any, 0, 2*len(reqs))
	for _, r := range reqs {
		args = append(args, int64(r.Thread), r.Count)
	}
	// The choice of LatestConversation; updating the row locks it as FOR
	// UPDATE would. RETURNING names no alias: SQLite allows none there.
	rows, err := t.ex.Query(ctx, `WITH wanted (thread_id, n) AS (VALUES `+valuesList(len(reqs), 2, castBigint)+`)
		UPDATE conversations AS c SET last_seq = c.last_seq + CASE WHEN c.status = 'open' THEN wanted.n ELSE 0 END FROM wanted
		WHERE c.id = (SELECT l.id FROM conversations l WHERE l.platform_thread_id = wanted.thread_id
			ORDER BY CASE WHEN l.status = 'closed' THEN 1 ELSE 0 END, l.id DESC LIMIT 1)
		RETURNING `+convCols, args...)
	if err != nil {
		return nil, fmt.Errorf("latest conversations of %d threads: %w", len(reqs), err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanConv(rows)
		if err != nil {
			return nil, fmt.Errorf("latest conversations: %w", err)
		}
		latest[c.PlatformThreadID] = c
	}
	return latest, rows.Err()
}

func (t *Tx) CreateConversations(ctx context.Context, ps []bridge.CreateConversationParams) ([]bridge.Conversation, error) {
	out := make([]bridge.Conversation, len(ps))
	if len(ps) == 0 {
		return out, nil
	}
	index := make(map[bridge.PlatformThreadID]int, len(ps))
	var values strings.Builder
	args := make([]any, 0, 8*len(ps))
	for i, p := range ps {
		if _, twice := index[p.PlatformThreadID]; twice {
			return nil, fmt.Errorf("create conversations: thread %d given twice: %w", p.PlatformThreadID, bridge.ErrInvalidInput)
		}
		index[p.PlatformThreadID] = i
		if i > 0 {
			values.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&values, "(%s, $%d, $%d, $%d, $%d, 'open', $%d, $%d, $%d, $%d, $%d)", t.d.NextConversationNumber(i),
			n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+7, n+8)
		args = append(args, p.PlatformThreadID, p.AccountID, p.Platform, p.IdentityID, p.Priority, p.Source, ts(p.CreatedAt), p.LastSeq)
	}
	failed := func(err error) error {
		if t.d.IsUniqueViolation(err) {
			return fmt.Errorf("create %d conversations: a thread already has an active one: %w", len(ps), bridge.ErrConflict)
		}
		return fmt.Errorf("create %d conversations: %w", len(ps), err)
	}
	rows, err := t.ex.Query(ctx, `INSERT INTO conversations (number, platform_thread_id, account_id, platform, identity_id, status, priority, source, created_at, updated_at, last_seq)
		VALUES `+values.String()+` RETURNING `+convCols, args...)
	if err != nil {
		return nil, failed(err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanConv(rows)
		if err != nil {
			return nil, failed(err)
		}
		out[index[c.PlatformThreadID]] = c
	}
	if err := rows.Err(); err != nil {
		return nil, failed(err)
	}
	return out, nil
}

func (t *Tx) AppendAudits(ctx context.Context, es []bridge.AuditEntry) error {
	if len(es) == 0 {
		return nil
	}
	args := make([]any, 0, 6*len(es))
	for _, e := range es {
		args = append(args, nullable(e.ActorAgentID), e.Action, nullable(e.ConversationID), e.Before, e.After, ts(e.At))
	}
	if _, err := t.ex.Exec(ctx, `INSERT INTO audit_log (actor_agent_id, action, conversation_id, before, after, at) VALUES `+valuesList(len(es), 6, nil), args...); err != nil {
		return fmt.Errorf("append %d audit entries: %w", len(es), err)
	}
	return nil
}

type messageKey struct {
	thread bridge.PlatformThreadID
	id     string
}

func (t *Tx) InsertMessages(ctx context.Context, ps []bridge.InsertMessageParams) ([]bridge.Message, error) {
	out := make([]bridge.Message, len(ps))
	if len(ps) == 0 {
		return out, nil
	}
	index := make(map[messageKey]int, len(ps))
	args := make([]any, 0, 12*len(ps))
	for i, p := range ps {
		if p.PlatformMessageID == "" {
			return nil, fmt.Errorf("insert messages: message %d has no platform id: %w", i, bridge.ErrInvalidInput)
		}
		index[messageKey{p.PlatformThreadID, p.PlatformMessageID}] = i
		args = append(args, p.ConversationID, p.PlatformThreadID, p.Seq, p.Direction, p.PlatformMessageID, nullable(p.SenderIdentityID),
			nullable(p.SenderAgentID), p.Text, jsonText(p.Attachments), ts(p.PlatformTime), ts(p.CreatedAt), p.DeliveryStatus)
	}
	rows, err := t.ex.Query(ctx, `INSERT INTO messages (conversation_id, platform_thread_id, seq, direction, platform_message_id,
		sender_identity_id, sender_agent_id, text, attachments, platform_time, created_at, delivery_status)
		VALUES `+valuesList(len(ps), 12, nil)+`
		ON CONFLICT (platform_thread_id, platform_message_id) WHERE platform_message_id IS NOT NULL DO NOTHING
		RETURNING `+msgCols, args...)
	if err != nil {
		return nil, fmt.Errorf("insert %d messages: %w", len(ps), err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMsg(rows)
		if err != nil {
			return nil, fmt.Errorf("insert messages: %w", err)
		}
		if i, ok := index[messageKey{m.PlatformThreadID, m.PlatformMessageID}]; ok {
			out[i] = m
		}
	}
	return out, rows.Err()
}

func (t *Tx) InsertDeliveries(ctx context.Context, ds []bridge.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	args := make([]any, 0, 10*len(ds))
	for _, d := range ds {
		args = append(args, d.ConversationID, d.Target, d.Kind, nullable(d.MessageID), d.Seq, d.Text, d.Status, d.Attempts, ts(d.NextAttemptAt), ts(d.CreatedAt))
	}
	_, err := t.ex.Exec(ctx, `INSERT INTO deliveries (conversation_id, target, kind, message_id, seq, text, status, attempts, next_attempt_at, created_at)
		VALUES `+valuesList(len(ds), 10, nil), args...)
	if err != nil {
		return fmt.Errorf("insert %d deliveries: %w", len(ds), err)
	}
	return nil
}

func (t *Tx) SaveSLAClocks(ctx context.Context, cs []bridge.SLAClock) error {
	if len(cs) == 0 {
		return nil
	}
	args := make([]any, 0, 14*len(cs))
	for _, c := range cs {
		args = append(args, slaClockArgs(c)...)
	}
	if _, err := t.ex.Exec(ctx, `INSERT INTO sla_clocks (`+slaClockCols+`) VALUES `+valuesList(len(cs), 14, nil)+slaClockUpsert, args...); err != nil {
		return fmt.Errorf("save %d SLA clocks: %w", len(cs), err)
	}
	return nil
}

func (t *Tx) ListSLAClocksOf(ctx context.Context, convs []bridge.ConversationID) (map[bridge.ConversationID][]bridge.SLAClock, error) {
	out := make(map[bridge.ConversationID][]bridge.SLAClock, len(convs))
	if len(convs) == 0 {
		return out, nil
	}
	args := make([]any, len(convs))
	for i, c := range convs {
		args[i] = int64(c)
	}
	rows, err := t.ex.Query(ctx, slaClockSelect+` WHERE conversation_id IN `+valuesList(1, len(convs), nil), args...)
	if err != nil {
		return nil, fmt.Errorf("list SLA clocks of %d conversations: %w", len(convs), err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanSLAClock(rows)
		if err != nil {
			return nil, fmt.Errorf("list SLA clocks: %w", err)
		}
		out[c.ConversationID] = append(out[c.ConversationID], c)
	}
	return out, rows.Err()
}
