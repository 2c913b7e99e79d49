package bridge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"time"
)

// ErrLaneBusy says another worker holds the lane; the job should come back
// soon, since that worker may have read the lane before this job's row
// committed.
var ErrLaneBusy = errors.New("delivery lane busy")

// ErrQueued says the chat surface queues the lane's next call behind other
// conversations (a flood into a paced channel).
var ErrQueued = errors.New("queued behind other conversations")

// LaneBusyRetry is how soon a job that found its lane busy tries again.
const LaneBusyRetry = 500 * time.Millisecond

// Pacing waits up to shortWait are slept in the worker, up to
// shortWaitBudget per delivery; longer ones snooze the job.
const (
	shortWait       = 2 * time.Second
	shortWaitBudget = 20 * time.Second
)

// maxRunTime bounds one job run, well inside the queue's one-minute timeout.
const maxRunTime = 30 * time.Second

// maxPerRun bounds the deliveries one job run makes, so a long lane yields
// to other conversations and stays inside the job timeout.
const maxPerRun = 32

// RunJob drains one lane of a conversation: it takes the lane's lease and
// delivers its items in sequence order, one at a time. It returns
// *RetryAfterError when the lane must wait (rate limit, backoff, busy lane)
// and nil when the lane is empty.
func (b *Bridge) RunJob(ctx context.Context, j Job) error {
	// Every log line of the run names the request that caused it and the
	// conversation (see internal/logctx).
	ctx = WithWork(WithRequestID(ctx, j.RequestID), Work{ConversationID: j.ConversationID, Priority: j.Priority})
	if surface, ok := j.Target.Surface(); ok && !j.Target.IsCard() {
		if a, ok := b.surfaces[surface].(Admitter); ok {
			if wait := a.Admit(ctx, Work{ConversationID: j.ConversationID, Priority: j.Priority}); wait > 0 {
				// One small write keeps the waiting lane from looking
				// stalled to RescueStalledLanes.
				err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
					return tx.PostponeLane(ctx, j.ConversationID, j.Target, b.opts.Clock.Now().Add(wait))
				})
				if err != nil {
					return fmt.Errorf("postpone lane %d/%s: %w", j.ConversationID, j.Target, err)
				}
				return &RetryAfterError{After: wait, Queued: true, Err: ErrQueued}
			}
		}
	}
	owner := newOwner()
	if j.Target.IsCard() {
		return b.withLane(ctx, j, owner, func() error { return b.refreshCard(ctx, j) })
	}
	held, released := false, false
	defer func() {
		if held && !released {
			b.releaseLane(ctx, j, owner)
		}
	}()
	start := time.Now()
	for i := range maxPerRun {
		if i > 0 && time.Since(start) > maxRunTime {
			break // yield well inside the queue's job timeout
		}
		res, err := b.deliverNext(ctx, j, owner, i == 0)
		held = held || res != laneBusy
		switch {
		case res == laneBusy:
			return &RetryAfterError{After: LaneBusyRetry, Err: ErrLaneBusy}
		case res == laneEmpty:
			released = true // released in the same transaction that found it empty
			return err
		case err != nil:
			return err
		}
	}
	return &RetryAfterError{After: 0, Err: errors.New("lane has more; yielding")}
}

// withLane runs fn holding the lane's lease.
func (b *Bridge) withLane(ctx context.Context, j Job, owner string, fn func() error) error {
	claimed := false
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		claimed, err = b.claim(ctx, tx, j, owner)
		return err
	})
	if err != nil {
		return fmt.Errorf("claim lane %d/%s: %w", j.ConversationID, j.Target, err)
	}
	if !claimed {
		return &RetryAfterError{After: LaneBusyRetry, Err: ErrLaneBusy}
	}
	defer b.releaseLane(ctx, j, owner)
	return fn()
}

func (b *Bridge) claim(ctx context.Context, tx Tx, j Job, owner string) (bool, error) {
	now := b.opts.Clock.Now()
	return tx.ClaimLane(ctx, ClaimLaneParams{ConversationID: j.ConversationID, Target: j.Target, Owner: owner, Now: now, Until: now.Add(b.opts.LeaseDuration)})
}

// releaseLane gives the lease back even when ctx was cancelled by shutdown:
// an abandoned lease would hold the lane until it expires.
func (b *Bridge) releaseLane(ctx context.Context, j Job, owner string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := b.store.InTx(rctx, func(ctx context.Context, tx Tx) error {
		return tx.ReleaseLane(ctx, j.ConversationID, j.Target, owner)
	}); err != nil {
		b.log.WarnContext(ctx, "release lane", "conversation_id", j.ConversationID, "target", j.Target, "err", err)
	}
}

func newOwner() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type laneState int

const (
	laneWorked laneState = iota
	laneBusy
	laneEmpty
)

// deliverNext delivers the head of the lane. One transaction claims (on the
// first call) or renews the lease, takes the head item, marks it sending and
// loads what the send needs; the lane is released in the same transaction
// that finds it empty. So a delivery costs two transactions around its
// outside call.
func (b *Bridge) deliverNext(ctx context.Context, j Job, owner string, first bool) (laneState, error) {
	var d Delivery
	var wait time.Duration
	var l loaded
	var extra []Delivery // coalesced behind d into the same chat message
	// uncertain: the last worker started this send and died before
	// recording its outcome, so the other side may already have it.
	uncertain := false
	state := laneWorked
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		now := b.opts.Clock.Now()
		claimed, err := b.claim(ctx, tx, j, owner)
		if err != nil {
			return err
		}
		if !claimed {
			if first {
				state = laneBusy
				return nil
			}
			return fmt.Errorf("lost the lease of lane %d/%s", j.ConversationID, j.Target)
		}
		// The head of the lane and, in the same read, the items that may
		// ride along with it in one chat message.
		lane, err := tx.ListLaneDeliveries(ctx, j.ConversationID, j.Target, b.laneLookahead(j.Target))
		if err != nil {
			return err
		}
		if len(lane) == 0 {
			state = laneEmpty
			return tx.ReleaseLane(ctx, j.ConversationID, j.Target, owner)
		}
		d = lane[0]
		if d.NextAttemptAt.After(now) {
			wait = d.NextAttemptAt.Sub(now)
			return nil
		}
		uncertain = d.Status == DeliverySending
		d.Status = DeliverySending
		d.Attempts++
		if err := tx.UpdateDelivery(ctx, d); err != nil {
			return err
		}
		surface, _ := j.Target.Surface()
		if l, err = b.loadTx(ctx, tx, d, surface); err != nil {
			return err
		}
		if !uncertain {
			extra, err = b.coalesceTx(ctx, tx, d, lane[1:], &l, now)
		}
		return err
	})
	if err != nil {
		return laneWorked, fmt.Errorf("next delivery %d/%s: %w", j.ConversationID, j.Target, err)
	}
	if state != laneWorked {
		return state, nil
	}
	if wait > 0 {
		return laneWorked, &RetryAfterError{After: wait, Err: errors.New("waiting for retry backoff")}
	}

	// The outside calls carry the work they do, so a paced surface can let
	// urgent conversations go first.
	sctx := WithWork(ctx, Work{ConversationID: l.conv.ID, Number: l.conv.Number, Priority: l.conv.Priority})
	if uncertain {
		if ext, record, ok := b.reconcile(sctx, d, l); ok {
			b.opts.Metrics.DeliveryRepeatSuspected(j.Target, "reconciled")
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			return b.recordOutcome(rctx, d, nil, destination(d.Target, l), ext, record, nil, owner)
		}
		b.opts.Metrics.DeliveryRepeatSuspected(j.Target, "repeated")
		b.log.WarnContext(ctx, "repeating a send whose outcome is unknown", "conversation_id", d.ConversationID, "target", d.Target, "delivery_id", d.ID, "attempts", d.Attempts)
	}
	stopRenewing := b.keepLease(ctx, j, owner)
	ext, record, sendErr := b.deliver(sctx, d, l)
	// A short pacing wait (a Slack channel's second, a Telegram bot's
	// thirtieth) is slept here: snoozing the job would add the queue's
	// pickup delay to every send of a flood.
	for slept := time.Duration(0); slept < shortWaitBudget; {
		var retry *RetryAfterError
		if !errors.As(sendErr, &retry) || retry.After > shortWait || retry.Queued {
			break
		}
		pause := retry.After + time.Duration(mrand.Int64N(int64(retry.After/5)+1)) // jitter spreads a herd of waiters
		if !sleep(ctx, pause) {
			break
		}
		slept += pause
		ext, record, sendErr = b.deliver(sctx, d, l)
	}
	stopRenewing()
	if sendErr != nil && ctx.Err() != nil {
		// Shut down mid-send: the outcome is unknown, so the row stays
		// "sending" and the next worker counts a possible repeat.
		return laneWorked, sendErr
	}
	// Record the outcome even when shutdown has begun: the send happened,
	// and not recording it is what makes a send repeat.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return b.recordOutcome(rctx, d, extra, destination(d.Target, l), ext, record, sendErr, owner)
}

// recordFunc writes what a successful delivery leaves behind (chat refs,
// message ids) in the same transaction that marks it delivered.
type recordFunc func(ctx context.Context, tx Tx, now time.Time) error

// recordOutcome records the outcome of d's send, and the same outcome for
// the deliveries coalesced behind it (extra), which rode in the same call.
// When that leaves the lane empty, the same transaction gives owner's lease
// back (laneEmpty): a lane's last delivery then costs no transaction of its
// own just to find the lane empty.
func (b *Bridge) recordOutcome(ctx context.Context, d Delivery, extra []Delivery, dest string, ext string, record recordFunc, sendErr error, owner string) (laneState, error) {
	var retry *RetryAfterError
	var outcome string
	state := laneWorked
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		now := b.opts.Clock.Now()
		retry, state = nil, laneWorked
		switch {
		case sendErr == nil:
			outcome = "delivered"
			d.Status, d.ExternalRef, d.LastError = DeliveryDelivered, ext, ""
			if record != nil {
				if err := record(ctx, tx, now); err != nil {
					return err
				}
			}
		case errors.As(sendErr, &retry):
			// Rate limits are not the delivery's fault: they do not use up
			// an attempt.
			outcome = "rate_limited"
			d.Status, d.LastError = DeliveryPending, sendErr.Error()
			d.Attempts--
			d.NextAttemptAt = now.Add(retry.After)
		case IsPermanent(sendErr) || d.Attempts >= b.opts.MaxAttempts:
			outcome = "failed"
			d.Status, d.LastError = DeliveryFailed, sendErr.Error()
			if err := b.deliveryFailed(ctx, tx, d, now); err != nil {
				return err
			}
		default:
			// A timeout or a 5xx may have been applied: the row stays
			// "sending", so the retry first asks whether it landed.
			outcome = "retry"
			wait := b.opts.Backoff(d.Attempts)
			d.Status, d.LastError, d.NextAttemptAt = DeliverySending, sendErr.Error(), now.Add(wait)
			retry = &RetryAfterError{After: wait, Err: sendErr}
		}
		if err := tx.UpdateDelivery(ctx, d); err != nil {
			return err
		}
		for _, e := range extra {
			if outcome == "rate_limited" {
				e.Attempts--
			}
			e.Status, e.LastError, e.NextAttemptAt, e.ExternalRef = d.Status, d.LastError, d.NextAttemptAt, d.ExternalRef
			if err := tx.UpdateDelivery(ctx, e); err != nil {
				return err
			}
		}
		if retry != nil {
			return nil // d itself is still due
		}
		// Usually d was the lane's last item: one statement finds the lane
		// empty and gives it back.
		released, err := tx.ReleaseLaneIfEmpty(ctx, d.ConversationID, d.Target, owner)
		if err != nil {
			return err
		}
		if released {
			state = laneEmpty
			return nil
		}
		// More to deliver, or the lease is no longer owner's.
		_, err = tx.NextDelivery(ctx, d.ConversationID, d.Target)
		switch {
		case errors.Is(err, ErrNotFound):
			state = laneEmpty
			return nil
		case err != nil:
			return err
		}
		return nil
	})
	if err != nil {
		return laneWorked, fmt.Errorf("record delivery %d: %w", d.ID, err)
	}
	dm, byDest := b.opts.Metrics.(DestinationMetrics)
	for _, e := range append([]Delivery{d}, extra...) {
		b.opts.Metrics.DeliveryDone(e.Target, outcome)
		if byDest {
			dm.DeliveryTo(dest, outcome)
		}
		if outcome == "delivered" {
			b.opts.Metrics.DeliveryLatency(e.Target, b.opts.Clock.Now().Sub(e.CreatedAt))
		}
	}
	if sendErr != nil {
		b.log.WarnContext(ctx, "delivery attempt failed", "conversation_id", d.ConversationID, "target", d.Target, "delivery_id", d.ID, "attempt", d.Attempts, "outcome", outcome, "err", sendErr)
	}
	if retry != nil {
		return laneWorked, retry
	}
	return state, nil
}

// deliveryFailed makes a final failure visible: the message is marked failed
// and, for replies to the customer, every chat thread gets a notice.
func (b *Bridge) deliveryFailed(ctx context.Context, tx Tx, d Delivery, now time.Time) error {
	if d.Target == TargetPlatform && d.Kind == KindModerate {
		return b.moderationFailed(ctx, tx, d)
	}
	if d.Target != TargetPlatform || d.MessageID == 0 {
		return nil
	}
	if err := tx.SetMessageDelivery(ctx, SetMessageDeliveryParams{ID: d.MessageID, Status: DeliveryFailed, Error: d.LastError}); err != nil {
		return err
	}
	conv, err := tx.GetConversation(ctx, d.ConversationID)
	if err != nil {
		return err
	}
	seq, err := tx.NextSeq(ctx, conv.ID)
	if err != nil {
		return err
	}
	text := fmt.Sprintf("Could not deliver this reply to the customer after %d attempts: %s", d.Attempts, d.LastError)
	return b.enqueueChat(ctx, tx, conv, KindNotice, Message{ID: d.MessageID, Seq: seq}, text, "")
}

// deliver performs the outside call for one delivery.
func (b *Bridge) deliver(ctx context.Context, d Delivery, l loaded) (string, recordFunc, error) {
	if d.Target == TargetPlatform {
		if d.Kind == KindSurvey {
			return b.sendSurvey(ctx, d, l)
		}
		if d.Kind == KindModerate {
			return b.moderateOnPlatform(ctx, d, l)
		}
		return b.sendToPlatform(ctx, l, d.Kind == KindPrivateReply)
	}
	surface, ok := d.Target.Surface()
	if !ok {
		return "", nil, Permanent(fmt.Errorf("unknown target %q", d.Target))
	}
	s, ok := b.surfaces[surface]
	if !ok {
		return "", nil, Permanent(fmt.Errorf("chat surface %q is not connected", surface))
	}
	return b.showInChat(ctx, s, d, l)
}

// loaded is what a delivery needs to know about its conversation.
type loaded struct {
	conv     Conversation
	msg      Message
	thread   PlatformThread
	account  Account
	customer Identity
	chat     *ChatThread
	card     *Card // set when the chat thread is still to be opened
	sender   string
	more     []Message // coalesced behind msg into the same chat message
	// lastInbound is when the customer last wrote in the platform thread
	// (loaded for platform deliveries only).
	lastInbound time.Time
}

func (b *Bridge) load(ctx context.Context, d Delivery, surface Surface) (loaded, error) {
	var l loaded
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		l, err = b.loadTx(ctx, tx, d, surface)
		return err
	})
	return l, err
}

// loadTx reads what delivering d needs; with a surface, also its chat
// thread, and the card when the thread is still to be opened.
func (b *Bridge) loadTx(ctx context.Context, tx Tx, d Delivery, surface Surface) (loaded, error) {
	var l loaded
	v, err := tx.LoadConversation(ctx, d.ConversationID, d.MessageID, surface)
	if err != nil {
		return l, err
	}
	l.conv, l.msg, l.thread, l.account, l.customer = v.Conversation, v.Message, v.Thread, v.Account, v.Customer
	l.sender = l.customer.Name
	if l.msg.Direction == Outbound && l.msg.SenderAgentID == 0 {
		l.sender = OutsideSenderName(l.account)
	}
	if l.msg.SenderAgentID != 0 {
		agent, err := tx.GetAgent(ctx, l.msg.SenderAgentID)
		if err != nil {
			return l, err
		}
		l.sender = agent.Name
	}
	if surface == "" {
		if d.Target == TargetPlatform {
			l.lastInbound, err = tx.LastInboundTime(ctx, l.thread.ID)
			if errors.Is(err, ErrNotFound) {
				err = nil
			}
		}
		return l, err
	}
	l.chat = v.Chat
	if l.chat == nil && d.Kind == KindMessage {
		card, err := b.card(ctx, tx, l)
		if err != nil {
			return l, err
		}
		card.Channel = b.routedChannel(l, surface)
		l.card = &card
	}
	return l, nil
}

// sendToPlatform sends an agent's message: in the platform thread, or, when
// private, to the author of the comment the thread is about.
func (b *Bridge) sendToPlatform(ctx context.Context, l loaded, private bool) (string, recordFunc, error) {
	p, ok := b.platforms[l.conv.Platform]
	if !ok {
		return "", nil, Permanent(fmt.Errorf("platform %q is not connected", l.conv.Platform))
	}
	send := p.Send
	if private {
		pr, ok := p.(PrivateReplier)
		if !ok {
			return "", nil, Permanent(fmt.Errorf("platform %q cannot write privately to a commenter", l.conv.Platform))
		}
		send = pr.SendPrivateReply
	}
	res, err := send(ctx, OutboundMessage{
		Account: l.account, ThreadExternalID: l.thread.ExternalID, Recipient: l.customer,
		MessageID: l.msg.ID, Text: l.msg.Text, Attachments: l.msg.Attachments, LastInboundAt: l.lastInbound,
	})
	if err != nil {
		return "", nil, err
	}
	return res.PlatformMessageID, func(ctx context.Context, tx Tx, now time.Time) error {
		pmid := res.PlatformMessageID
		if pmid != "" {
			// A platform id already taken in this thread must not make the
			// record fail: a failed record is what repeats a send.
			other, err := tx.FindMessageByPlatformID(ctx, l.msg.PlatformThreadID, pmid)
			switch {
			case err == nil && other.ID != l.msg.ID:
				b.log.WarnContext(ctx, "platform reused a message id; stored without it", "conversation_id", l.conv.ID, "platform_message_id", pmid)
				pmid = ""
			case err != nil && !errors.Is(err, ErrNotFound):
				return err
			}
		}
		if err := tx.SetMessageDelivery(ctx, SetMessageDeliveryParams{ID: l.msg.ID, Status: DeliveryDelivered, PlatformMessageID: pmid}); err != nil {
			return err
		}
		refs, err := tx.ListChatMessageRefs(ctx, l.msg.ID)
		if err != nil {
			return err
		}
		seq, err := tx.NextSeq(ctx, l.conv.ID)
		if err != nil {
			return err
		}
		// Mark delivery on the surfaces that show the agent's message.
		for _, ref := range refs {
			if err := b.enqueueDelivery(ctx, tx, l.conv.Priority, Delivery{
				ConversationID: l.conv.ID, Target: ChatTarget(ref.Surface), Kind: KindDelivered, MessageID: l.msg.ID, Seq: seq,
			}); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// routedChannel is the channel RouteChannel picks for a conversation's
// thread on a surface, empty for the surface's own.
func (b *Bridge) routedChannel(l loaded, s Surface) string {
	if b.opts.RouteChannel == nil {
		return ""
	}
	return b.opts.RouteChannel(l.conv, l.account, s)
}

// card renders the neutral card of a loaded conversation.
func (b *Bridge) card(ctx context.Context, tx Tx, l loaded) (Card, error) {
	c := Card{Conversation: l.conv, Customer: l.customer, AccountName: l.account.DisplayName}
	var err error
	if l.conv.AssigneeID != 0 {
		a, err := tx.GetAgent(ctx, l.conv.AssigneeID)
		if err != nil {
			return Card{}, err
		}
		c.Assignee = &a
	}
	if c.SLA, err = b.cardClocks(ctx, tx, l.conv); err != nil {
		return Card{}, err
	}
	if c.MoveToDM, err = b.offersMoveToDM(ctx, tx, l.conv); err != nil {
		return Card{}, err
	}
	first, err := tx.FirstInboundMessage(ctx, l.conv.ID)
	switch {
	case err == nil:
		c.FirstMessage = first.Text
	case !errors.Is(err, ErrNotFound):
		return Card{}, err
	}
	return c, nil
}

func (b *Bridge) showInChat(ctx context.Context, s ChatSurface, d Delivery, l loaded) (string, recordFunc, error) {
	if isAlertKind(d.Kind) {
		return b.showAlert(ctx, s, d, l)
	}
	view := MessageView{Message: l.msg, SenderName: l.sender, Platform: l.conv.Platform, More: l.more}
	if l.chat == nil {
		if d.Kind != KindMessage {
			return "", nil, Permanent(fmt.Errorf("no %s thread for conversation %s", s.Surface(), l.conv.Number))
		}
		if l.card == nil {
			return "", nil, fmt.Errorf("card of %s not loaded", l.conv.Number)
		}
		t, err := s.OpenThread(ctx, *l.card, view)
		if err != nil {
			return "", nil, err
		}
		return t.ThreadRef, b.recordOpened(s.Surface(), l, t), nil
	}
	t := *l.chat
	switch d.Kind {
	case KindMessage:
		ref, err := s.PostMessage(ctx, t, view)
		if err != nil {
			return "", nil, err
		}
		return ref, func(ctx context.Context, tx Tx, now time.Time) error {
			// Every coalesced message points at the one post, so an edit
			// or a restart finds it.
			for _, m := range append([]Message{l.msg}, l.more...) {
				if err := tx.AddChatMessageRef(ctx, ChatMessageRef{MessageID: m.ID, Surface: s.Surface(), Channel: t.Channel, Ref: ref}); err != nil {
					return err
				}
			}
			return nil
		}, nil
	case KindEdit, KindDelivered:
		ref, err := b.chatRef(ctx, l.msg.ID, s.Surface())
		if err != nil {
			return "", nil, err
		}
		if d.Kind == KindEdit {
			if view, err = b.coalescedView(ctx, s, t, ref, view); err != nil {
				return "", nil, err
			}
			return ref, nil, s.UpdateMessage(ctx, t, ref, view)
		}
		return ref, nil, s.MarkDelivered(ctx, t, ref)
	case KindNotice:
		ref, err := s.PostNotice(ctx, t, d.Text)
		return ref, nil, err
	case KindReceipt:
		return b.showReceipt(ctx, s, t, d)
	case KindEscalation:
		if a, ok := s.(EscalationPoster); ok {
			ref, err := a.PostEscalation(ctx, t, d.Text)
			return ref, nil, err
		}
		ref, err := s.PostNotice(ctx, t, d.Text)
		return ref, nil, err
	}
	return "", nil, Permanent(fmt.Errorf("unknown delivery kind %q", d.Kind))
}

func (b *Bridge) chatRef(ctx context.Context, id MessageID, surface Surface) (string, error) {
	var ref string
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		refs, err := tx.ListChatMessageRefs(ctx, id)
		if err != nil {
			return err
		}
		for _, r := range refs {
			if r.Surface == surface {
				ref = r.Ref
				return nil
			}
		}
		return Permanent(fmt.Errorf("message %d is not shown on %s", id, surface))
	})
	return ref, err
}

// refreshCard re-renders a conversation's card when it changed since it was
// last shown. Many changes in a row collapse into one update.
func (b *Bridge) refreshCard(ctx context.Context, j Job) error {
	surface, _ := j.Target.Surface()
	s, ok := b.surfaces[surface]
	if !ok {
		return nil
	}
	l, err := b.load(ctx, Delivery{ConversationID: j.ConversationID}, surface)
	if err != nil {
		return err
	}
	if l.chat == nil {
		return nil // OpenThread renders the latest card
	}
	var shown int64
	var card Card
	err = b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		if shown, err = tx.LaneCardVersion(ctx, j.ConversationID, j.Target); err != nil {
			return err
		}
		card, err = b.card(ctx, tx, l)
		return err
	})
	if err != nil || shown >= l.conv.Version {
		return err
	}
	if err := s.UpdateCard(ctx, *l.chat, card); err != nil {
		var retry *RetryAfterError
		if errors.As(err, &retry) {
			b.opts.Metrics.DeliveryDone(j.Target, "rate_limited")
		}
		return err
	}
	b.opts.Metrics.DeliveryDone(j.Target, "delivered")
	return b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		return tx.SetLaneCardVersion(ctx, j.ConversationID, j.Target, l.conv.Version)
	})
}

// RescueStalledLanes enqueues a drain job for every lane that has had due
// items for longer than grace without a worker holding it. Jobs are inserted
// with their rows, so this only matters after the queue gave a job up.
func (b *Bridge) RescueStalledLanes(ctx context.Context, grace time.Duration) (int, error) {
	var n int
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		now := b.opts.Clock.Now()
		jobs, err := tx.ListStalledLanes(ctx, now.Add(-grace), now, 500)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if err := tx.Enqueue(ctx, j); err != nil {
				return err
			}
		}
		n = len(jobs)
		return nil
	})
	if n > 0 {
		b.log.Info("re-enqueued delivery lanes without a live worker", "lanes", n)
	}
	return n, err
}

// Backlog reports undelivered work per target, for queue metrics.
func (b *Bridge) Backlog(ctx context.Context) ([]Backlog, error) {
	var out []Backlog
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		out, err = tx.DeliveryBacklog(ctx)
		return err
	})
	return out, err
}

// reconcile asks a surface that can tell whether an uncertain post of a
// message landed; when it did, the delivery is recorded with the post found
// instead of being sent again.
func (b *Bridge) reconcile(ctx context.Context, d Delivery, l loaded) (string, recordFunc, bool) {
	surface, ok := d.Target.Surface()
	if !ok || d.Kind != KindMessage || d.MessageID == 0 {
		return "", nil, false
	}
	r, ok := b.surfaces[surface].(Reconciler)
	if !ok {
		return "", nil, false
	}
	if l.chat == nil {
		// The post was the thread's parent.
		channel := b.routedChannel(l, surface)
		if c, ok := b.surfaces[surface].(interface{ Channel() string }); ok && channel == "" {
			channel = c.Channel()
		}
		ref, found, err := r.FindPosted(ctx, channel, "", d.MessageID)
		if err != nil || !found {
			return "", nil, false
		}
		t := ChatThread{Channel: channel, ThreadRef: ref}
		return ref, b.recordOpened(surface, l, t), true
	}
	ref, found, err := r.FindPosted(ctx, l.chat.Channel, l.chat.ThreadRef, d.MessageID)
	if err != nil || !found {
		return "", nil, false
	}
	t := *l.chat
	return ref, func(ctx context.Context, tx Tx, now time.Time) error {
		return tx.AddChatMessageRef(ctx, ChatMessageRef{MessageID: l.msg.ID, Surface: surface, Channel: t.Channel, Ref: ref})
	}, true
}

// recordOpened stores a new chat thread and the parent that shows the
// conversation's first message.
func (b *Bridge) recordOpened(surface Surface, l loaded, t ChatThread) recordFunc {
	return func(ctx context.Context, tx Tx, now time.Time) error {
		// The conversation row first, as commands lock it first.
		current, err := tx.GetConversation(ctx, l.conv.ID)
		if err != nil {
			return err
		}
		t.ConversationID, t.Surface, t.CreatedAt = l.conv.ID, surface, now
		if _, err := tx.UpsertChatThread(ctx, t); err != nil {
			return err
		}
		if err := tx.SetLaneCardVersion(ctx, l.conv.ID, CardTarget(surface), l.conv.Version); err != nil {
			return err
		}
		// A change made while the thread was being opened found no thread
		// to update; the card posted shows the version loaded before it.
		if current.Version > l.conv.Version {
			if err := tx.Enqueue(ctx, Job{ConversationID: l.conv.ID, Target: CardTarget(surface), Priority: current.Priority, TraceParent: TraceParentFrom(ctx)}); err != nil {
				return err
			}
		}
		return tx.AddChatMessageRef(ctx, ChatMessageRef{MessageID: l.msg.ID, Surface: surface, Channel: t.Channel, Ref: t.ThreadRef})
	}
}

// keepLease renews the lane's lease while a send is in flight, so the lease
// can be short: a dead worker blocks its lane only briefly, and a slow send
// is never taken over by a second worker.
func (b *Bridge) keepLease(ctx context.Context, j Job, owner string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(b.opts.LeaseDuration / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
					held, err := b.claim(ctx, tx, j, owner)
					if err == nil && !held {
						err = errors.New("lease taken over")
					}
					return err
				})
				if err != nil && ctx.Err() == nil {
					b.log.WarnContext(ctx, "renew lane lease", "conversation_id", j.ConversationID, "target", j.Target, "err", err)
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// sleep waits d or until ctx ends, and reports whether it waited.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// destination names where a delivery goes: the customer's platform
// (telegram, messenger, ...) or the chat surface (slack, teams).
func destination(t Target, l loaded) string {
	if s, ok := t.Surface(); ok {
		return string(s)
	}
	return string(l.conv.Platform)
}
