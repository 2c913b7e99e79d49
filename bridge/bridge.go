// Package bridge is the platform-neutral core of Threadline: it stores
// inbound customer messages exactly once, turns agent commands into state
// changes, and drains each conversation's ordered outbox towards the customer's
// platform and the chat surfaces. It knows no platform and no chat tool; those
// plug in through PlatformAdapter and ChatSurface.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Options configures a Bridge. Zero values get sensible defaults.
type Options struct {
	Clock  Clock
	Logger *slog.Logger
	// ReopenWindow is how long after resolve a customer message reopens the
	// same conversation instead of starting a new one.
	ReopenWindow time.Duration
	// Surfaces lists the connected chat surfaces. A conversation is shown
	// on one of them: the one its thread is on, else for a new conversation
	// the one RouteSurface picks.
	Surfaces []Surface
	// RouteSurface picks the surface of a conversation not shown anywhere
	// yet, when several are connected; nil, or an answer not in Surfaces,
	// picks the first of Surfaces.
	RouteSurface func(c Conversation, a Account) Surface
	// RouteChannel names the channel of a surface where a new
	// conversation's thread opens (Card.Channel); nil, or an empty answer,
	// leaves it to the surface (its inbox channel).
	RouteChannel func(c Conversation, a Account, s Surface) string
	// MaxAttempts is how often a delivery is tried before it is marked failed.
	MaxAttempts int
	// LeaseDuration bounds how long a lane stays blocked when the worker
	// holding it dies; a live worker renews it while a send is in flight.
	LeaseDuration time.Duration
	// Backoff returns the wait before retry number attempt (1-based).
	Backoff func(attempt int) time.Duration
	// Metrics receives counts; nil discards them.
	Metrics Metrics
	// Classify sets the priority of an inbound message at ingest; nil keeps P3.
	Classify func(text string) Priority
	// SLA sets response and resolution targets; nil keeps no clocks.
	SLA *SLAPolicy
	// KeepUnassignedOnReply stops an agent's reply to an unassigned
	// conversation from assigning it to them.
	KeepUnassignedOnReply bool
	// CSAT sends a satisfaction survey on resolve; nil sends none.
	CSAT *CSATOptions
	// DMHandoff words the dm command's public reply and default private
	// message; empty fields take DefaultDMHandoff's.
	DMHandoff DMHandoff
	// IngestBatch bounds how many new messages waiting at once are stored
	// in one transaction (default DefaultIngestBatch; 1 stores each alone).
	IngestBatch int
	// IngestConcurrency is how many ingest transactions run at once
	// (default DefaultIngestConcurrency); messages arriving meanwhile wait
	// and form the next batch.
	IngestConcurrency int
}

// Metrics is what the bridge reports about its work.
type Metrics interface {
	// DeliveryDone counts a delivery outcome: delivered, failed, retry, rate_limited.
	DeliveryDone(target Target, outcome string)
	// DeliveryRepeatSuspected counts a send whose earlier attempt may have
	// been applied: a worker died between starting it and recording it.
	// Outcome "reconciled" says the surface showed the earlier attempt had
	// landed, so nothing was sent again; "repeated" that it was sent again.
	DeliveryRepeatSuspected(target Target, outcome string)
	// DeliveryLatency is how long a delivered item waited since it was stored.
	DeliveryLatency(target Target, d time.Duration)
}

// DestinationMetrics is an optional ability of Metrics: counting delivery
// outcomes by where they went, the customer's platform or the chat surface.
type DestinationMetrics interface {
	DeliveryTo(destination, outcome string)
}

// IngestMetrics is an optional ability of Metrics: the size of each ingest
// transaction (group commit), and whether it stored its messages or was
// rolled back for them to be stored one by one.
type IngestMetrics interface {
	IngestBatch(messages int, stored bool)
}

type nopMetrics struct{}

func (nopMetrics) DeliveryDone(Target, string)            {}
func (nopMetrics) DeliveryRepeatSuspected(Target, string) {}
func (nopMetrics) DeliveryLatency(Target, time.Duration)  {}

// Bridge is the core service. Create it with New, then register platforms and
// surfaces before starting job workers.
type Bridge struct {
	store     Store
	opts      Options
	log       *slog.Logger
	platforms map[Platform]PlatformAdapter
	surfaces  map[Surface]ChatSurface
	group     *ingestGroup
}

// New returns a bridge over store.
func New(store Store, opts Options) *Bridge {
	if opts.Clock == nil {
		opts.Clock = SystemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ReopenWindow == 0 {
		opts.ReopenWindow = 7 * 24 * time.Hour
	}
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = 8
	}
	if opts.LeaseDuration == 0 {
		opts.LeaseDuration = 15 * time.Second
	}
	if opts.Backoff == nil {
		opts.Backoff = ExponentialBackoff(time.Second, 5*time.Minute)
	}
	if opts.Metrics == nil {
		opts.Metrics = nopMetrics{}
	}
	if opts.IngestBatch <= 0 {
		opts.IngestBatch = DefaultIngestBatch
	}
	if opts.IngestConcurrency <= 0 {
		opts.IngestConcurrency = DefaultIngestConcurrency
	}
	b := &Bridge{
		store:     store,
		opts:      opts,
		log:       opts.Logger,
		platforms: map[Platform]PlatformAdapter{},
		surfaces:  map[Surface]ChatSurface{},
	}
	b.group = &ingestGroup{b: b, maxBatch: opts.IngestBatch, maxRunning: opts.IngestConcurrency}
	return b
}

// ExponentialBackoff doubles from base up to max.
func ExponentialBackoff(base, max time.Duration) func(int) time.Duration {
	return func(attempt int) time.Duration {
		d := base
		for i := 1; i < attempt && d < max; i++ {
			d *= 2
		}
		return min(d, max)
	}
}

// AddPlatform registers the adapter that sends replies to its platform.
func (b *Bridge) AddPlatform(p PlatformAdapter) { b.platforms[p.Platform()] = p }

// AddSurface registers a chat surface.
func (b *Bridge) AddSurface(s ChatSurface) { b.surfaces[s.Surface()] = s }

// Store returns the store the bridge writes to, for read-only views.
func (b *Bridge) Store() Store { return b.store }

// InboundEventKind distinguishes new messages from edits.
type InboundEventKind int

const (
	EventMessage InboundEventKind = iota
	EventEdit
)

// InboundEvent is a customer message as an adapter normalized it.
type InboundEvent struct {
	Kind InboundEventKind
	// DeliveryID identifies the platform's delivery (a Telegram update_id);
	// redeliveries carry the same id. Optional: the message id dedupes too.
	DeliveryID string
	Platform   Platform
	Account    UpsertAccountParams
	Thread     string // platform thread id (Telegram chat id)
	Source     Source
	Sender     UpsertIdentityParams // AccountID and Platform are filled in by Ingest
	// PlatformMessageID is unique within the thread.
	PlatformMessageID string
	Text              string
	Attachments       []Attachment
	Timestamp         time.Time
	// Survey is set for EventSurveyAnswer.
	Survey *SurveyAnswer
}

// IngestResult says what Ingest did.
type IngestResult struct {
	ConversationID  ConversationID
	Number          ConversationNumber
	MessageID       MessageID
	Duplicate       bool
	NewConversation bool
	// Ignored says the event was refused for good (logged): a platform must
	// not deliver it again.
	Ignored bool
}

// Ingest stores an inbound event exactly once, in one transaction with the
// jobs that show it in chat. A redelivered event changes nothing.
// Concurrent new messages are stored together, a batch in one transaction
// (see IngestBatch), each acknowledged once its batch committed.
func (b *Bridge) Ingest(ctx context.Context, ev InboundEvent) (IngestResult, error) {
	if err := validInbound(ev); err != nil {
		return IngestResult{}, err
	}
	if ev.Kind == EventMessage {
		return b.group.submit(ctx, ev)
	}
	return b.ingestOne(ctx, ev)
}

func validInbound(ev InboundEvent) error {
	if ev.Platform == "" || ev.Account.ExternalID == "" || ev.Thread == "" || ev.Sender.ExternalUserID == "" || ev.PlatformMessageID == "" {
		return fmt.Errorf("%w: inbound event lacks platform, account, thread, sender or message id", ErrInvalidInput)
	}
	return nil
}

// ingestOne stores one valid event in a transaction of its own.
func (b *Bridge) ingestOne(ctx context.Context, ev InboundEvent) (IngestResult, error) {
	var res IngestResult
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		res = IngestResult{}
		var err error
		res, err = b.ingestTx(ctx, tx, ev)
		return err
	})
	if errors.Is(err, ErrDuplicateEvent) {
		return IngestResult{Duplicate: true}, nil
	}
	if ev.Kind == EventSurveyAnswer && (errors.Is(err, ErrInvalidInput) || errors.Is(err, ErrForbidden)) {
		// A stale or forged tap: nothing to store, and nothing a
		// redelivery could fix.
		b.log.Warn("survey answer refused", "platform", ev.Platform, "thread", ev.Thread, "err", err)
		return IngestResult{Ignored: true}, nil
	}
	if err != nil {
		return IngestResult{}, fmt.Errorf("ingest %s message %s: %w", ev.Platform, ev.PlatformMessageID, err)
	}
	return res, nil
}

func (b *Bridge) ingestTx(ctx context.Context, tx Tx, ev InboundEvent) (IngestResult, error) {
	now := b.opts.Clock.Now()
	if err := markDelivery(ctx, tx, ev.Platform, ev.DeliveryID, now); err != nil {
		return IngestResult{}, err
	}
	return b.ingestMarked(ctx, tx, ev, now)
}

// ingestMarked stores an event whose delivery id is already recorded in tx.
func (b *Bridge) ingestMarked(ctx context.Context, tx Tx, ev InboundEvent, now time.Time) (IngestResult, error) {
	if ev.Kind == EventSurveyAnswer {
		return b.answerSurvey(ctx, tx, ev, now)
	}
	account, identity, thread, err := upsertThread(ctx, tx, threadParams{
		Platform: ev.Platform, Account: ev.Account, Customer: ev.Sender, Thread: ev.Thread, Source: ev.Source,
	})
	if err != nil {
		return IngestResult{}, err
	}
	return b.ingestInThread(ctx, tx, ev, account, identity, thread, now)
}

// ingestInThread stores a message or edit of a customer's thread, found or
// created (and locked) in tx.
func (b *Bridge) ingestInThread(ctx context.Context, tx Tx, ev InboundEvent, account Account, identity Identity, thread PlatformThread, now time.Time) (IngestResult, error) {
	// A new message is not looked up first: its insert below finds a copy
	// stored before (the unique platform id), and ErrDuplicateEvent then
	// rolls back whatever this transaction did. One round trip fewer for
	// every message; a repeat costs a little more, and is rare.
	if ev.Kind == EventEdit {
		existing, err := tx.FindMessageByPlatformID(ctx, thread.ID, ev.PlatformMessageID)
		switch {
		case err == nil:
			return b.applyEdit(ctx, tx, existing, ev, now)
		case !errors.Is(err, ErrNotFound):
			return IngestResult{}, err
		}
		// An edit of a message we never saw is stored as the message it now is.
	}

	conv, isNew, err := b.conversationFor(ctx, tx, thread, account, identity, ev, now)
	if err != nil {
		return IngestResult{}, err
	}
	// A conversation carried on was read with this message's seq taken.
	seq := conv.LastSeq
	if isNew {
		if seq, err = tx.NextSeq(ctx, conv.ID); err != nil {
			return IngestResult{}, err
		}
	}
	ts := ev.Timestamp
	if ts.IsZero() {
		ts = now
	}
	msg, created, err := tx.InsertMessage(ctx, InsertMessageParams{
		ConversationID: conv.ID, PlatformThreadID: thread.ID, Seq: seq, Direction: Inbound,
		PlatformMessageID: ev.PlatformMessageID, SenderIdentityID: identity.ID,
		Text: ev.Text, Attachments: ev.Attachments, PlatformTime: ts, CreatedAt: now,
		DeliveryStatus: DeliveryDelivered,
	})
	if err != nil {
		return IngestResult{}, err
	}
	if !created {
		// A concurrent delivery of the same message won: roll back everything.
		return IngestResult{}, ErrDuplicateEvent
	}
	if err := b.enqueueChat(ctx, tx, conv, KindMessage, msg, "", ""); err != nil {
		return IngestResult{}, err
	}
	if err := b.slaCustomerMessage(ctx, tx, conv, isNew, now); err != nil {
		return IngestResult{}, err
	}
	return IngestResult{ConversationID: conv.ID, Number: conv.Number, MessageID: msg.ID, NewConversation: isNew}, nil
}

// conversationFor returns the open conversation of a thread, reopening a
// recently resolved one or starting a new one as the reopen window says.
// One carried on comes with the next seq taken (its LastSeq).
func (b *Bridge) conversationFor(ctx context.Context, tx Tx, thread PlatformThread, account Account, identity Identity, ev InboundEvent, now time.Time) (Conversation, bool, error) {
	priority := P3
	if b.opts.Classify != nil {
		priority = b.opts.Classify(ev.Text)
	}
	conv, err := tx.LatestConversationNextSeq(ctx, thread.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Conversation{}, false, err
	}
	if err == nil {
		before := conv
		switch conv.Status {
		case StatusOpen:
			if priority < conv.Priority {
				conv.Priority = priority
				return conv, false, b.saveChange(ctx, tx, 0, "priority_raised", before, conv, now)
			}
			return conv, false, nil
		case StatusPending:
			conv.Status, conv.SnoozedUntil = StatusOpen, nil
			conv.Priority = min(conv.Priority, priority)
			return conv, false, b.saveChange(ctx, tx, 0, "customer_replied", before, conv, now)
		case StatusResolved:
			if conv.ResolvedAt != nil && now.Sub(*conv.ResolvedAt) <= b.opts.ReopenWindow {
				conv.Status, conv.ResolvedAt = StatusOpen, nil
				conv.Priority = min(conv.Priority, priority)
				return conv, false, b.saveChange(ctx, tx, 0, "reopened_by_customer", before, conv, now)
			}
			conv.Status, conv.ClosedAt = StatusClosed, &now
			if err := b.saveChange(ctx, tx, 0, "closed_after_reopen_window", before, conv, now); err != nil {
				return Conversation{}, false, err
			}
		}
	}
	conv, err = tx.CreateConversation(ctx, CreateConversationParams{
		PlatformThreadID: thread.ID, AccountID: account.ID, Platform: account.Platform,
		IdentityID: identity.ID, Priority: priority, Source: thread.Source, CreatedAt: now,
	})
	if err != nil {
		return Conversation{}, false, err
	}
	return conv, true, tx.AppendAudit(ctx, AuditEntry{Action: "created", ConversationID: conv.ID, After: string(conv.Status), At: now})
}

func (b *Bridge) applyEdit(ctx context.Context, tx Tx, m Message, ev InboundEvent, now time.Time) (IngestResult, error) {
	if m.Text == ev.Text {
		return IngestResult{}, ErrDuplicateEvent
	}
	if err := tx.UpdateMessageText(ctx, m.ID, ev.Text, now); err != nil {
		return IngestResult{}, err
	}
	conv, err := tx.GetConversation(ctx, m.ConversationID)
	if err != nil {
		return IngestResult{}, err
	}
	seq, err := tx.NextSeq(ctx, conv.ID)
	if err != nil {
		return IngestResult{}, err
	}
	m.Seq = seq
	if err := b.enqueueChat(ctx, tx, conv, KindEdit, m, "", ""); err != nil {
		return IngestResult{}, err
	}
	// The card quotes the first message: refresh it too.
	if err := b.saveChange(ctx, tx, 0, "customer_edited", conv, conv, now); err != nil {
		return IngestResult{}, err
	}
	return IngestResult{ConversationID: conv.ID, Number: conv.Number, MessageID: m.ID}, nil
}

// saveChange writes a state change: the row, its audit entry and a card
// refresh on every surface.
func (b *Bridge) saveChange(ctx context.Context, tx Tx, actor AgentID, action string, before, after Conversation, now time.Time) error {
	after.Version++
	after.UpdatedAt = now
	if err := tx.UpdateConversation(ctx, after); err != nil {
		return err
	}
	if err := tx.AppendAudit(ctx, AuditEntry{
		ActorAgentID: actor, Action: action, ConversationID: after.ID,
		Before: describe(before), After: describe(after), At: now,
	}); err != nil {
		return err
	}
	if err := b.afterChange(ctx, tx, before, after, now); err != nil {
		return err
	}
	surfaces, err := b.surfacesOf(ctx, tx, after)
	if err != nil {
		return err
	}
	for _, s := range surfaces {
		if err := tx.Enqueue(ctx, Job{ConversationID: after.ID, Target: CardTarget(s), Priority: after.Priority, RequestID: RequestIDFrom(ctx), TraceParent: TraceParentFrom(ctx)}); err != nil {
			return err
		}
	}
	return nil
}

func describe(c Conversation) string {
	s := fmt.Sprintf("status=%s priority=%s assignee=%d", c.Status, c.Priority, c.AssigneeID)
	if len(c.Tags) > 0 {
		s += " tags=" + strings.Join(c.Tags, ",")
	}
	if c.Team != "" {
		s += " team=" + c.Team
	}
	if c.Escalation != "" {
		s += " escalation=" + string(c.Escalation)
	}
	if c.SnoozedUntil != nil {
		s += " snoozed_until=" + c.SnoozedUntil.UTC().Format(time.RFC3339)
	}
	return s
}

// enqueueChat appends a delivery to every chat surface lane except skip (the
// surface an agent's message came from already shows it).
func (b *Bridge) enqueueChat(ctx context.Context, tx Tx, conv Conversation, kind DeliveryKind, m Message, text string, skip Surface) error {
	surfaces, err := b.surfacesOf(ctx, tx, conv)
	if err != nil {
		return err
	}
	for _, s := range surfaces {
		if s == skip {
			continue
		}
		if err := b.enqueueDelivery(ctx, tx, conv.Priority, Delivery{
			ConversationID: conv.ID, Target: ChatTarget(s), Kind: kind, MessageID: m.ID, Seq: m.Seq, Text: text,
		}); err != nil {
			return err
		}
	}
	return nil
}

// surfacesOf returns the surfaces a conversation is shown on: those with
// its thread, else (a new conversation, or one whose thread is still being
// opened) the routed one. The routing is looked up again until the thread
// exists, so it must be stable for a conversation.
func (b *Bridge) surfacesOf(ctx context.Context, tx Tx, conv Conversation) ([]Surface, error) {
	if len(b.opts.Surfaces) <= 1 {
		return b.opts.Surfaces, nil
	}
	var shown []Surface
	for _, s := range b.opts.Surfaces {
		_, err := tx.GetChatThread(ctx, conv.ID, s)
		switch {
		case err == nil:
			shown = append(shown, s)
		case !errors.Is(err, ErrNotFound):
			return nil, err
		}
	}
	if len(shown) > 0 {
		return shown, nil
	}
	if b.opts.RouteSurface != nil {
		account, err := tx.GetAccount(ctx, conv.AccountID)
		if err != nil {
			return nil, err
		}
		if s := b.opts.RouteSurface(conv, account); slices.Contains(b.opts.Surfaces, s) {
			return []Surface{s}, nil
		}
	}
	return b.opts.Surfaces[:1], nil
}

func (b *Bridge) enqueueDelivery(ctx context.Context, tx Tx, p Priority, d Delivery) error {
	now := b.opts.Clock.Now()
	d.Status, d.CreatedAt, d.NextAttemptAt = DeliveryPending, now, now
	if _, err := tx.InsertDelivery(ctx, d); err != nil {
		return err
	}
	return tx.Enqueue(ctx, Job{ConversationID: d.ConversationID, Target: d.Target, Priority: p, RequestID: RequestIDFrom(ctx), TraceParent: TraceParentFrom(ctx)})
}

// markDelivery records a platform delivery id (a Telegram update_id, a Meta
// message id) and returns ErrDuplicateEvent when it was seen before.
func markDelivery(ctx context.Context, tx Tx, platform Platform, deliveryID string, now time.Time) error {
	if deliveryID == "" {
		return nil
	}
	isNew, err := tx.MarkProcessed(ctx, string(platform), deliveryID, now)
	if err != nil {
		return err
	}
	if !isNew {
		return ErrDuplicateEvent
	}
	return nil
}

// threadParams names a customer's platform thread as an adapter saw it.
type threadParams struct {
	Platform Platform
	Account  UpsertAccountParams
	Customer UpsertIdentityParams
	Thread   string
	Source   Source // empty: a DM
}

// upsertThread finds or creates the account, the customer's identity and
// their platform thread, locking the thread for the rest of the transaction.
func upsertThread(ctx context.Context, tx Tx, p threadParams) (Account, Identity, PlatformThread, error) {
	p.Account.Platform = p.Platform
	account, err := tx.UpsertAccount(ctx, p.Account)
	if err != nil {
		return Account{}, Identity{}, PlatformThread{}, err
	}
	p.Customer.AccountID, p.Customer.Platform = account.ID, p.Platform
	identity, err := tx.UpsertIdentity(ctx, p.Customer)
	if err != nil {
		return Account{}, Identity{}, PlatformThread{}, err
	}
	if p.Source == "" {
		p.Source = SourceDM
	}
	thread, err := tx.UpsertPlatformThread(ctx, UpsertPlatformThreadParams{
		AccountID: account.ID, ExternalID: p.Thread, Source: p.Source, IdentityID: identity.ID,
	})
	if err != nil {
		return Account{}, Identity{}, PlatformThread{}, err
	}
	return account, identity, thread, nil
}
