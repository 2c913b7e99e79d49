package bridge

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// Group commit: under load, webhooks arrive faster than one transaction per
// message can be committed, and each transaction's statements and commit
// cost the same whether it stores one message or fifty. So concurrent new
// messages are stored together: a batch shares one transaction and a
// fixed number of multi-row statements for the common case, a customer
// writing into their open conversation, and falls back to the one-message
// code path, in the same transaction, for everything else (a new
// conversation, a reopened one). Nothing is acknowledged before its batch
// committed.

// DefaultIngestBatch and DefaultIngestConcurrency size group commit: at
// most 64 messages per transaction, at most 2 such transactions at once,
// leaving the rest of the connection pool to delivery workers.
const (
	DefaultIngestBatch       = 64
	DefaultIngestConcurrency = 2
)

// BatchIngestTx is what a batch of messages needs from a transaction: the
// one-message statements of ingest, for many rows at once.
type BatchIngestTx interface {
	// MarkProcessedBatch is MarkProcessed for several delivery ids, in
	// keys' order; a key given twice is new at most once.
	MarkProcessedBatch(ctx context.Context, keys []DeliveryKey, at time.Time) (isNew []bool, err error)
	// FindIdentities returns those of the identities that exist.
	FindIdentities(ctx context.Context, keys []IdentityKey) (map[IdentityKey]Identity, error)
	// UpsertPlatformThreads is UpsertPlatformThread for several threads
	// (one may be given more than once), locking them in the order given;
	// the results are in that order.
	UpsertPlatformThreads(ctx context.Context, ps []UpsertPlatformThreadParams) ([]PlatformThread, error)
	// LatestConversationsNextSeqs returns, by thread, the conversation
	// LatestConversation picks, locked, with Count sequence numbers taken
	// (LastSeq the last) when it is open. Threads without one are absent.
	LatestConversationsNextSeqs(ctx context.Context, reqs []SeqRequest) (map[PlatformThreadID]Conversation, error)
	// CreateConversations is CreateConversation for several threads, each
	// once; the results are in ps' order.
	CreateConversations(ctx context.Context, ps []CreateConversationParams) ([]Conversation, error)
	// AppendAudits is AppendAudit for several entries.
	AppendAudits(ctx context.Context, es []AuditEntry) error
	// SaveSLAClocks is SaveSLAClock for several clocks, each once.
	SaveSLAClocks(ctx context.Context, cs []SLAClock) error
	// InsertMessages is InsertMessage for several messages, each with a
	// platform message id; a message whose copy was stored before comes
	// back as the zero Message.
	InsertMessages(ctx context.Context, ps []InsertMessageParams) ([]Message, error)
	// InsertDeliveries is InsertDelivery for several items.
	InsertDeliveries(ctx context.Context, ds []Delivery) error
	// ListSLAClocksOf is ListSLAClocks for several conversations.
	ListSLAClocksOf(ctx context.Context, convs []ConversationID) (map[ConversationID][]SLAClock, error)
}

// IdentityKey names a customer of an account.
type IdentityKey struct {
	AccountID      AccountID
	ExternalUserID string
}

// SeqRequest asks for Count sequence numbers in a thread's open conversation.
type SeqRequest struct {
	Thread PlatformThreadID
	Count  int64
}

// IngestOutcome is what became of one event of a batch.
type IngestOutcome struct {
	Result IngestResult
	Err    error
}

// IngestBatch stores several events as Ingest would, in as few
// transactions as it can; the outcomes are in evs' order.
func (b *Bridge) IngestBatch(ctx context.Context, evs []InboundEvent) []IngestOutcome {
	calls := make([]*ingestCall, len(evs))
	for i, ev := range evs {
		calls[i] = &ingestCall{ctx: ctx, ev: ev}
	}
	b.ingestCalls(ctx, calls)
	out := make([]IngestOutcome, len(calls))
	for i, c := range calls {
		out[i] = c.out
	}
	return out
}

// ingestCall is one event waiting for its batch; ctx is its request's,
// whose ids go into the jobs it enqueues.
type ingestCall struct {
	ctx  context.Context
	ev   InboundEvent
	out  IngestOutcome
	done chan struct{}
}

// errBatchSingly abandons a batch whose events must be stored one by one:
// one of them turned out to be a repeat after the batch had written for it.
var errBatchSingly = errors.New("a message of the batch was stored before")

// ingestCalls stores the calls' events: new messages in one batch
// transaction, the others (edits, survey answers, invalid events) and,
// should the batch fail, every event on its own.
func (b *Bridge) ingestCalls(ctx context.Context, calls []*ingestCall) {
	var batch []*ingestCall
	for _, c := range calls {
		c.out = IngestOutcome{}
		if err := validInbound(c.ev); err != nil {
			c.out.Err = err
			continue
		}
		if c.ev.Kind == EventMessage {
			batch = append(batch, c)
		}
	}
	batchStored := false
	if len(batch) > 1 {
		err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error { return b.ingestBatchTx(ctx, tx, batch) })
		batchStored = err == nil
		switch {
		case errors.Is(err, errBatchSingly):
			b.log.Debug("ingest batch rolled back, storing its messages one by one", "messages", len(batch), "reason", err)
		case err != nil:
			b.log.Warn("ingest batch failed, storing its messages one by one", "messages", len(batch), "err", err)
		}
		if m, ok := b.opts.Metrics.(IngestMetrics); ok {
			m.IngestBatch(len(batch), batchStored)
		}
	}
	for _, c := range calls {
		if c.out.Err != nil || (batchStored && c.ev.Kind == EventMessage) {
			continue
		}
		c.out.Result, c.out.Err = b.ingestOne(c.ctx, c.ev)
	}
}

// requestOf is ctx, the batch's, carrying the request id and trace of
// call's own request for the jobs enqueued on its behalf.
func requestOf(ctx context.Context, c *ingestCall) context.Context {
	return WithTraceParent(WithRequestID(ctx, RequestIDFrom(c.ctx)), TraceParentFrom(c.ctx))
}

// batchItem is an event of a batch on its way through the statements.
type batchItem struct {
	call     *ingestCall
	account  Account
	identity Identity
	thread   PlatformThread
	priority Priority
	// starts: the item's message starts its conversation.
	starts bool
}

// ingestBatchTx stores new messages in tx. It may run again after a
// deadlock, so it sets every outcome afresh.
func (b *Bridge) ingestBatchTx(ctx context.Context, tx Tx, calls []*ingestCall) error {
	now := b.opts.Clock.Now()
	items := make([]*batchItem, 0, len(calls))
	var keys []DeliveryKey
	var keyed []*batchItem
	for _, c := range calls {
		c.out = IngestOutcome{}
		it := &batchItem{call: c, priority: P3}
		if b.opts.Classify != nil {
			it.priority = b.opts.Classify(c.ev.Text)
		}
		items = append(items, it)
		if c.ev.DeliveryID != "" {
			keys = append(keys, DeliveryKey{Source: string(c.ev.Platform), ID: c.ev.DeliveryID})
			keyed = append(keyed, it)
		}
	}
	if len(keys) > 0 {
		isNew, err := tx.MarkProcessedBatch(ctx, keys, now)
		if err != nil {
			return err
		}
		for i, it := range keyed {
			if !isNew[i] {
				it.call.out.Result.Duplicate = true
			}
		}
		items = slices.DeleteFunc(items, func(it *batchItem) bool { return it.call.out.Result.Duplicate })
	}
	if len(items) == 0 {
		return nil
	}
	if err := b.batchThreads(ctx, tx, items); err != nil {
		return err
	}

	// A thread's conversation is carried on when open, started when there
	// is none or it was closed, all in a few statements; pending or
	// resolved, the one-message path decides (reopen, or close and start
	// anew).
	count := map[PlatformThreadID]int64{}
	for _, it := range items {
		count[it.thread.ID]++
	}
	reqs := make([]SeqRequest, 0, len(count))
	for th, n := range count {
		reqs = append(reqs, SeqRequest{Thread: th, Count: n})
	}
	slices.SortFunc(reqs, func(a, b SeqRequest) int { return cmp.Compare(a.Thread, b.Thread) })
	latest, err := tx.LatestConversationsNextSeqs(ctx, reqs)
	if err != nil {
		return err
	}
	open := map[PlatformThreadID]Conversation{}
	var joined, starting []*batchItem
	startsThread := map[PlatformThreadID]bool{}
	for _, it := range items {
		conv, found := latest[it.thread.ID]
		switch {
		case found && conv.Status == StatusOpen:
			open[it.thread.ID] = conv
		case !found || conv.Status == StatusClosed:
			if !startsThread[it.thread.ID] {
				startsThread[it.thread.ID] = true
				it.starts = true
				starting = append(starting, it)
			}
		default:
			res, err := b.ingestInThread(requestOf(ctx, it.call), tx, it.call.ev, it.account, it.identity, it.thread, now)
			if errors.Is(err, ErrDuplicateEvent) {
				return errBatchSingly
			}
			if err != nil {
				return err
			}
			it.call.out.Result = res
			continue
		}
		joined = append(joined, it)
	}
	if err := b.startConversations(ctx, tx, starting, count, open, now); err != nil {
		return err
	}
	if len(joined) == 0 {
		return nil
	}
	return b.joinOpenConversations(ctx, tx, joined, open, startsThread, now)
}

// startConversations opens a conversation for each item's thread, as
// conversationFor does for a first message, with the numbers of the
// thread's messages in the batch taken, and adds it to open.
func (b *Bridge) startConversations(ctx context.Context, tx Tx, starting []*batchItem, count map[PlatformThreadID]int64, open map[PlatformThreadID]Conversation, now time.Time) error {
	if len(starting) == 0 {
		return nil
	}
	params := make([]CreateConversationParams, len(starting))
	for i, it := range starting {
		params[i] = CreateConversationParams{
			PlatformThreadID: it.thread.ID, AccountID: it.account.ID, Platform: it.account.Platform,
			IdentityID: it.identity.ID, Priority: it.priority, Source: it.thread.Source, CreatedAt: now,
			LastSeq: count[it.thread.ID],
		}
	}
	convs, err := tx.CreateConversations(ctx, params)
	if err != nil {
		return err
	}
	audits := make([]AuditEntry, len(convs))
	var clocks []SLAClock
	for i, conv := range convs {
		open[conv.PlatformThreadID] = conv
		audits[i] = AuditEntry{Action: "created", ConversationID: conv.ID, After: string(conv.Status), At: now}
		if b.opts.SLA != nil {
			cs := b.clocksOf(conv, nil, now)
			cs.customerWrote(true)
			clocks = append(clocks, cs.changed()...)
		}
	}
	if err := tx.AppendAudits(ctx, audits); err != nil {
		return err
	}
	return tx.SaveSLAClocks(ctx, clocks)
}

// batchThreads finds or creates the items' accounts, identities and
// threads, locking the threads in one order (by account and id) so that
// concurrent batches do not deadlock on them.
func (b *Bridge) batchThreads(ctx context.Context, tx Tx, items []*batchItem) error {
	accounts := map[UpsertAccountParams]Account{}
	var idKeys []IdentityKey
	for _, it := range items {
		p := it.call.ev.Account
		p.Platform = it.call.ev.Platform
		a, ok := accounts[p]
		if !ok {
			var err error
			if a, err = tx.UpsertAccount(ctx, p); err != nil {
				return err
			}
			accounts[p] = a
		}
		it.account = a
		idKeys = append(idKeys, IdentityKey{AccountID: a.ID, ExternalUserID: it.call.ev.Sender.ExternalUserID})
	}
	identities, err := tx.FindIdentities(ctx, idKeys)
	if err != nil {
		return err
	}
	for i, it := range items {
		p := it.call.ev.Sender
		p.AccountID, p.Platform = it.account.ID, it.call.ev.Platform
		id, ok := identities[idKeys[i]]
		if !ok || !id.HasProfile(p) {
			if id, err = tx.UpsertIdentity(ctx, p); err != nil {
				return err
			}
			identities[idKeys[i]] = id
		}
		it.identity = id
	}
	order := slices.Clone(items)
	slices.SortStableFunc(order, func(x, y *batchItem) int {
		return cmp.Or(cmp.Compare(x.account.ID, y.account.ID), cmp.Compare(x.call.ev.Thread, y.call.ev.Thread))
	})
	params := make([]UpsertPlatformThreadParams, len(order))
	for i, it := range order {
		source := it.call.ev.Source
		if source == "" {
			source = SourceDM
		}
		params[i] = UpsertPlatformThreadParams{AccountID: it.account.ID, ExternalID: it.call.ev.Thread, Source: source, IdentityID: it.identity.ID}
	}
	threads, err := tx.UpsertPlatformThreads(ctx, params)
	if err != nil {
		return err
	}
	for i, it := range order {
		it.thread = threads[i]
	}
	return nil
}

// joinOpenConversations adds items to the open conversations of their
// threads, numbered in arrival order, with their deliveries, one job per
// lane and the customer's SLA clocks, as conversationFor and
// ingestInThread do for one message.
func (b *Bridge) joinOpenConversations(ctx context.Context, tx Tx, items []*batchItem, open map[PlatformThreadID]Conversation, started map[PlatformThreadID]bool, now time.Time) error {
	next := map[PlatformThreadID]int64{}
	for th, conv := range open {
		next[th] = conv.LastSeq
	}
	for i := len(items) - 1; i >= 0; i-- {
		next[items[i].thread.ID]--
	}
	params := make([]InsertMessageParams, len(items))
	for i, it := range items {
		conv := open[it.thread.ID]
		if it.priority < conv.Priority {
			before := conv
			conv.Priority = it.priority
			if err := b.saveChange(requestOf(ctx, it.call), tx, 0, "priority_raised", before, conv, now); err != nil {
				return err
			}
			conv.Version++
			conv.UpdatedAt = now
			open[it.thread.ID] = conv
		}
		next[it.thread.ID]++
		ev := it.call.ev
		platformTime := ev.Timestamp
		if platformTime.IsZero() {
			platformTime = now
		}
		params[i] = InsertMessageParams{
			ConversationID: conv.ID, PlatformThreadID: it.thread.ID, Seq: next[it.thread.ID], Direction: Inbound,
			PlatformMessageID: ev.PlatformMessageID, SenderIdentityID: it.identity.ID,
			Text: ev.Text, Attachments: ev.Attachments, PlatformTime: platformTime, CreatedAt: now,
			DeliveryStatus: DeliveryDelivered,
		}
	}
	msgs, err := tx.InsertMessages(ctx, params)
	if err != nil {
		return err
	}
	var deliveries []Delivery
	shownOn := map[ConversationID][]Surface{}
	for i, it := range items {
		m := msgs[i]
		if m.ID == 0 {
			return errBatchSingly
		}
		conv := open[it.thread.ID]
		surfaces, ok := shownOn[conv.ID]
		if !ok {
			if surfaces, err = b.surfacesOf(ctx, tx, conv); err != nil {
				return err
			}
			shownOn[conv.ID] = surfaces
		}
		for _, s := range surfaces {
			deliveries = append(deliveries, Delivery{
				ConversationID: conv.ID, Target: ChatTarget(s), Kind: KindMessage, MessageID: m.ID, Seq: m.Seq,
				Status: DeliveryPending, CreatedAt: now, NextAttemptAt: now,
			})
			if err := tx.Enqueue(ctx, Job{ConversationID: conv.ID, Target: ChatTarget(s), Priority: conv.Priority,
				RequestID: RequestIDFrom(it.call.ctx), TraceParent: TraceParentFrom(it.call.ctx)}); err != nil {
				return err
			}
		}
		it.call.out.Result = IngestResult{ConversationID: conv.ID, Number: conv.Number, MessageID: m.ID, NewConversation: it.starts}
	}
	if err := tx.InsertDeliveries(ctx, deliveries); err != nil {
		return err
	}
	return b.batchClocks(ctx, tx, open, started, now)
}

// batchClocks starts the clocks a customer's message starts in a
// conversation carried on, once per conversation: a second message of the
// same batch would change nothing. Those started in the batch had theirs
// started with them.
func (b *Bridge) batchClocks(ctx context.Context, tx Tx, open map[PlatformThreadID]Conversation, started map[PlatformThreadID]bool, now time.Time) error {
	if b.opts.SLA == nil {
		return nil
	}
	var ids []ConversationID
	for th, conv := range open {
		if !started[th] {
			ids = append(ids, conv.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	clocks, err := tx.ListSLAClocksOf(ctx, ids)
	if err != nil {
		return err
	}
	var changed []SLAClock
	for th, conv := range open {
		if !started[th] {
			cs := b.clocksOf(conv, clocks[conv.ID], now)
			cs.customerWrote(false)
			changed = append(changed, cs.changed()...)
		}
	}
	return tx.SaveSLAClocks(ctx, changed)
}

// ingestGroup forms batches of the messages that arrive while earlier
// batches are being stored: at most maxRunning transactions at once, each
// taking up to maxBatch of the messages waiting. A message that finds a
// transaction free is stored at once, alone, so group commit adds no wait
// when there is no load.
type ingestGroup struct {
	b          *Bridge
	maxBatch   int
	maxRunning int

	mu      sync.Mutex
	waiting []*ingestCall
	running int
}

// batchTimeout bounds a batch's transaction, which outlives any one
// caller's context: its callers may give up, the batch still commits.
const batchTimeout = 30 * time.Second

func (g *ingestGroup) submit(ctx context.Context, ev InboundEvent) (IngestResult, error) {
	c := &ingestCall{ctx: ctx, ev: ev, done: make(chan struct{})}
	g.mu.Lock()
	g.waiting = append(g.waiting, c)
	if g.running < g.maxRunning {
		g.running++
		go g.run()
	}
	g.mu.Unlock()
	select {
	case <-c.done:
		return c.out.Result, c.out.Err
	case <-ctx.Done():
		// The message may still be stored; the platform's retry finds it.
		return IngestResult{}, ctx.Err()
	}
}

func (g *ingestGroup) run() {
	for {
		g.mu.Lock()
		n := min(len(g.waiting), g.maxBatch)
		if n == 0 {
			g.running--
			g.mu.Unlock()
			return
		}
		batch := slices.Clone(g.waiting[:n])
		g.waiting = slices.Delete(g.waiting, 0, n)
		g.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), batchTimeout)
		if len(batch) == 1 {
			c := batch[0]
			c.out.Result, c.out.Err = g.b.ingestOne(c.ctx, c.ev)
			if m, ok := g.b.opts.Metrics.(IngestMetrics); ok {
				m.IngestBatch(1, c.out.Err == nil)
			}
		} else {
			g.b.ingestCalls(ctx, batch)
		}
		cancel()
		for _, c := range batch {
			close(c.done)
		}
	}
}
