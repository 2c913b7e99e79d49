package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/internal/testclock"
	"github.com/threadline/threadline/store/sqlite"
	"github.com/threadline/threadline/store/storetest/open"
)

// fakePlatform records sends and fails them as told.
type fakePlatform struct {
	mu    sync.Mutex
	sent  []bridge.OutboundMessage
	fails []error // consumed one per send
}

func (p *fakePlatform) Platform() bridge.Platform { return bridge.PlatformTelegram }
func (p *fakePlatform) Limits() bridge.Limits     { return bridge.Limits{MaxTextLength: 4096} }
func (p *fakePlatform) Send(_ context.Context, m bridge.OutboundMessage) (bridge.SendResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.fails) > 0 {
		err := p.fails[0]
		p.fails = p.fails[1:]
		if err != nil {
			return bridge.SendResult{}, err
		}
	}
	p.sent = append(p.sent, m)
	return bridge.SendResult{PlatformMessageID: fmt.Sprint("sent-", len(p.sent))}, nil
}

func (p *fakePlatform) texts() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, m := range p.sent {
		out = append(out, m.Text)
	}
	return out
}

// fakeSurface records what a chat surface was asked to show.
type fakeSurface struct {
	mu      sync.Mutex
	log     []string
	cards   []bridge.Card
	threads int
	fails   []error
}

func (s *fakeSurface) Surface() bridge.Surface { return bridge.SurfaceSlack }

func (s *fakeSurface) record(entry string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.fails) > 0 {
		err := s.fails[0]
		s.fails = s.fails[1:]
		if err != nil {
			return "", err
		}
	}
	s.log = append(s.log, entry)
	return fmt.Sprintf("ts%d", len(s.log)), nil
}

func (s *fakeSurface) OpenThread(_ context.Context, c bridge.Card, m bridge.MessageView) (bridge.ChatThread, error) {
	ref, err := s.record("open " + c.Conversation.Number.String() + " " + m.Message.Text)
	if err != nil {
		return bridge.ChatThread{}, err
	}
	s.mu.Lock()
	s.threads++
	s.cards = append(s.cards, c)
	s.mu.Unlock()
	return bridge.ChatThread{Channel: "C1", ThreadRef: ref}, nil
}
func (s *fakeSurface) PostMessage(_ context.Context, _ bridge.ChatThread, m bridge.MessageView) (string, error) {
	return s.record("post " + m.SenderName + ": " + m.Message.Text)
}
func (s *fakeSurface) UpdateMessage(_ context.Context, _ bridge.ChatThread, ref string, m bridge.MessageView) error {
	_, err := s.record("edit " + ref + " " + m.Message.Text)
	return err
}
func (s *fakeSurface) UpdateCard(_ context.Context, _ bridge.ChatThread, c bridge.Card) error {
	assignee := "-"
	if c.Assignee != nil {
		assignee = c.Assignee.Name
	}
	_, err := s.record(fmt.Sprintf("card %s %s %s", c.Conversation.Status, c.Conversation.Priority, assignee))
	if err == nil {
		s.mu.Lock()
		s.cards = append(s.cards, c)
		s.mu.Unlock()
	}
	return err
}
func (s *fakeSurface) PostNotice(_ context.Context, _ bridge.ChatThread, text string) (string, error) {
	return s.record("notice " + text)
}
func (s *fakeSurface) MarkDelivered(_ context.Context, _ bridge.ChatThread, ref string) error {
	_, err := s.record("delivered " + ref)
	return err
}

func (s *fakeSurface) entries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

type harness struct {
	t        *testing.T
	ctx      context.Context
	store    bridge.Store
	b        *bridge.Bridge
	clock    *testclock.Clock
	platform *fakePlatform
	surface  *fakeSurface
}

func newHarness(t *testing.T, opts bridge.Options) *harness {
	t.Helper()
	return newHarnessOn(t, opts, open.SQLite(t, sqlite.Options{}))
}

func newHarnessOn(t *testing.T, opts bridge.Options, s bridge.Store) *harness {
	t.Helper()
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	opts.Clock = clock
	opts.Surfaces = []bridge.Surface{bridge.SurfaceSlack}
	h := &harness{t: t, ctx: ctx, store: s, clock: clock, platform: &fakePlatform{}, surface: &fakeSurface{}}
	h.b = bridge.New(s, opts)
	h.b.AddPlatform(h.platform)
	h.b.AddSurface(h.surface)
	return h
}

func (h *harness) customer(chat, msgID, text string) bridge.InboundEvent {
	return bridge.InboundEvent{
		DeliveryID: "update:" + chat + ":" + msgID, Platform: bridge.PlatformTelegram,
		Account: bridge.UpsertAccountParams{ExternalID: "bot1", DisplayName: "Acme"},
		Thread:  chat, Sender: bridge.UpsertIdentityParams{ExternalUserID: "user-" + chat, Name: "Ada " + chat},
		PlatformMessageID: msgID, Text: text,
	}
}

func (h *harness) ingest(ev bridge.InboundEvent) bridge.IngestResult {
	h.t.Helper()
	res, err := h.b.Ingest(h.ctx, ev)
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

// drain runs jobs for every lane of a conversation until they are empty, as
// the job queue would, ignoring retry waits (the test moves the clock).
func (h *harness) drain(conv bridge.ConversationID) {
	h.t.Helper()
	for _, target := range []bridge.Target{bridge.ChatTarget(bridge.SurfaceSlack), bridge.TargetPlatform, bridge.CardTarget(bridge.SurfaceSlack), bridge.ChatTarget(bridge.SurfaceSlack)} {
		for range 20 {
			err := h.b.RunJob(h.ctx, bridge.Job{ConversationID: conv, Target: target})
			var retry *bridge.RetryAfterError
			if errors.As(err, &retry) && retry.After == 0 {
				continue
			}
			if err != nil && !errors.As(err, &retry) {
				h.t.Fatalf("drain %s: %v", target, err)
			}
			break
		}
	}
}

func (h *harness) conv(id bridge.ConversationID) bridge.Conversation {
	h.t.Helper()
	var c bridge.Conversation
	if err := h.store.InTx(h.ctx, func(ctx context.Context, tx bridge.Tx) error {
		var err error
		c, err = tx.GetConversation(ctx, id)
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return c
}

var (
	ann = bridge.Actor{Surface: bridge.SurfaceSlack, Workspace: "T1", UserID: "UANN", Name: "Ann"}
	bob = bridge.Actor{Surface: bridge.SurfaceSlack, Workspace: "T1", UserID: "UBOB", Name: "Bob"}
)

func TestIngestStoresOnceAndShowsInOrder(t *testing.T) {
	h := newHarness(t, bridge.Options{})
	first := h.ingest(h.customer("100", "1", "my order is late"))
	if !first.NewConversation || first.Number < 1001 {
		t.Fatalf("first message: %+v", first)
	}
	// The same update redelivered, and the same message via another path
	// (webhook + poll: other delivery id), change nothing.
	if res := h.ingest(h.customer("100", "1", "my order is late")); !res.Duplicate {
		t.Errorf("redelivery not recognised: %+v", res)
	}
	again := h.customer("100", "1", "my order is late")
	again.DeliveryID = "poll:xyz"
	if res := h.ingest(again); !res.Duplicate {
		t.Errorf("same message via another delivery not recognised: %+v", res)
	}
	second := h.ingest(h.customer("100", "2", "hello?"))
	if second.ConversationID != first.ConversationID || second.NewConversation {
		t.Errorf("second message started another conversation: %+v", second)
	}
	h.drain(first.ConversationID)
	want := []string{"open " + first.Number.String() + " my order is late", "post Ada 100: hello?"}
	if got := h.surface.entries(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("chat shows %q, want %q", got, want)
	}
	var msgs []bridge.Message
	_ = h.store.InTx(h.ctx, func(ctx context.Context, tx bridge.Tx) error {
		var err error
		msgs, err = tx.ListMessages(ctx, first.ConversationID)
		return err
	})
	if len(msgs) != 2 || msgs[0].Seq != 1 || msgs[1].Seq != 2 {
		t.Errorf("stored messages: %+v", msgs)
	}
}

func TestIngestRejectsIncompleteEvents(t *testing.T) {
	h := newHarness(t, bridge.Options{})
	ev := h.customer("1", "1", "x")
	ev.PlatformMessageID = ""
	if _, err := h.b.Ingest(h.ctx, ev); !errors.Is(err, bridge.ErrInvalidInput) {
		t.Errorf("err = %v, want ErrInvalidInput", err)
	}
}

func TestEditUpdatesStoredAndShownMessage(t *testing.T) {
	h := newHarness(t, bridge.Options{})
	res := h.ingest(h.customer("100", "1", "helo"))
	h.drain(res.ConversationID)
	edit := h.customer("100", "1", "hello")
	edit.Kind, edit.DeliveryID = bridge.EventEdit, "update:edit1"
	h.ingest(edit)
	h.drain(res.ConversationID)
	got := h.surface.entries()
	if len(got) != 3 || got[1] != "edit ts1 hello" || got[2] != "card open P3 -" {
		t.Errorf("chat log %q, want the message edited and the card refreshed", got)
	}
	if c := h.surface.cards[len(h.surface.cards)-1]; c.FirstMessage != "hello" {
		t.Errorf("card quotes %q, want the edited text", c.FirstMessage)
	}
}

func TestStateTransitions(t *testing.T) {
	type step struct {
		name    string
		do      func(h *harness, ref bridge.ConversationRef) error
		wantErr error
		status  bridge.Status
	}
	claim := func(a bridge.Actor) func(*harness, bridge.ConversationRef) error {
		return func(h *harness, ref bridge.ConversationRef) error {
			_, err := h.b.Claim(h.ctx, bridge.DeliveryKey{}, a, ref)
			return err
		}
	}
	resolve := func(h *harness, ref bridge.ConversationRef) error {
		_, err := h.b.Resolve(h.ctx, bridge.DeliveryKey{}, ann, ref)
		return err
	}
	reopen := func(h *harness, ref bridge.ConversationRef) error {
		_, err := h.b.Reopen(h.ctx, bridge.DeliveryKey{}, ann, ref)
		return err
	}
	reply := func(h *harness, ref bridge.ConversationRef) error {
		_, err := h.b.Reply(h.ctx, bridge.ReplyParams{Actor: ann, Ref: ref, Text: "on it"})
		return err
	}
	note := func(h *harness, ref bridge.ConversationRef) error {
		_, err := h.b.AddNote(h.ctx, bridge.ReplyParams{Actor: bob, Ref: ref, Text: "vip"})
		return err
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"claim then resolve then reopen", []step{
			{"claim", claim(ann), nil, bridge.StatusOpen},
			{"claim again by owner is a no-op", claim(ann), nil, bridge.StatusOpen},
			{"claim by another agent", claim(bob), bridge.ErrConflict, bridge.StatusOpen},
			{"resolve", resolve, nil, bridge.StatusResolved},
			{"resolve twice", resolve, bridge.ErrIllegalState, bridge.StatusResolved},
			{"claim resolved", claim(bob), bridge.ErrIllegalState, bridge.StatusResolved},
			{"reply to resolved", reply, bridge.ErrIllegalState, bridge.StatusResolved},
			{"note on resolved is allowed", note, nil, bridge.StatusResolved},
			{"reopen", reopen, nil, bridge.StatusOpen},
			{"reopen open", reopen, bridge.ErrIllegalState, bridge.StatusOpen},
		}},
		{"reply makes pending and resolve works from pending", []step{
			{"reply", reply, nil, bridge.StatusPending},
			{"claim by another after reply assigned it", claim(bob), bridge.ErrConflict, bridge.StatusPending},
			{"resolve from pending", resolve, nil, bridge.StatusResolved},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, bridge.Options{})
			res := h.ingest(h.customer("100", "1", "help"))
			ref := bridge.ConversationRef{Number: res.Number}
			for _, s := range tc.steps {
				err := s.do(h, ref)
				if (s.wantErr == nil) != (err == nil) || (s.wantErr != nil && !errors.Is(err, s.wantErr)) {
					t.Fatalf("%s: err = %v, want %v", s.name, err, s.wantErr)
				}
				if got := h.conv(res.ConversationID).Status; got != s.status {
					t.Fatalf("%s: status %s, want %s", s.name, got, s.status)
				}
			}
		})
	}
}

func TestClaimedErrorNamesOwner(t *testing.T) {
	h := newHarness(t, bridge.Options{})
	res := h.ingest(h.customer("100", "1", "help"))
	ref := bridge.ConversationRef{ID: res.ConversationID}
	if _, err := h.b.Claim(h.ctx, bridge.DeliveryKey{}, ann, ref); err != nil {
		t.Fatal(err)
	}
	_, err := h.b.Claim(h.ctx, bridge.DeliveryKey{}, bob, ref)
	var claimed *bridge.ClaimedError
	if !errors.As(err, &claimed) || claimed.Owner.Name != "Ann" {
		t.Fatalf("err = %v, want ClaimedError naming Ann", err)
	}
}

func TestConcurrentClaimsHaveOneWinner(t *testing.T) {
	h := newHarness(t, bridge.Options{})
	res := h.ingest(h.customer("100", "1", "help"))
	const n = 6
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			actor := bridge.Actor{Surface: bridge.SurfaceSlack, Workspace: "T1", UserID: fmt.Sprint("U", i), Name: fmt.Sprint("agent", i)}
			_, err := h.b.Claim(h.ctx, bridge.DeliveryKey{}, actor, bridge.ConversationRef{ID: res.ConversationID})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	wins := 0
	for err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, bridge.ErrConflict):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d claims won, want 1", wins)
	}
}

func TestDuplicateCommandIsIgnored(t *testing.T) {
	h := newHarness(t, bridge.Options{})
	res := h.ingest(h.customer("100", "1", "help"))
	p := bridge.ReplyParams{Key: bridge.DeliveryKey{Source: "slack", ID: "Ev1"}, Actor: ann, Ref: bridge.ConversationRef{ID: res.ConversationID}, Text: "hi"}
	for i := range 3 {
		r, err := h.b.Reply(h.ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if r.Duplicate != (i > 0) {
			t.Errorf("call %d: duplicate=%v", i, r.Duplicate)
		}
	}
	h.drain(res.ConversationID)
	if got := h.platform.texts(); len(got) != 1 {
		t.Errorf("sent %q, want one reply", got)
	}
}

func TestReopenWindow(t *testing.T) {
	h := newHarness(t, bridge.Options{ReopenWindow: 24 * time.Hour})
	first := h.ingest(h.customer("100", "1", "help"))
	if _, err := h.b.Resolve(h.ctx, bridge.DeliveryKey{}, ann, bridge.ConversationRef{ID: first.ConversationID}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(23 * time.Hour)
	within := h.ingest(h.customer("100", "2", "again"))
	if within.ConversationID != first.ConversationID || h.conv(first.ConversationID).Status != bridge.StatusOpen {
		t.Fatalf("message within the window did not reopen: %+v", within)
	}
	if _, err := h.b.Resolve(h.ctx, bridge.DeliveryKey{}, ann, bridge.ConversationRef{ID: first.ConversationID}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(25 * time.Hour)
	after := h.ingest(h.customer("100", "3", "new problem"))
	if after.ConversationID == first.ConversationID || !after.NewConversation {
		t.Fatalf("message after the window reused the conversation: %+v", after)
	}
	if got := h.conv(first.ConversationID).Status; got != bridge.StatusClosed {
		t.Errorf("old conversation %s, want closed", got)
	}
	// A closed conversation cannot be reopened while a newer one is active.
	_, err := h.b.Reopen(h.ctx, bridge.DeliveryKey{}, ann, bridge.ConversationRef{ID: first.ConversationID})
	if !errors.Is(err, bridge.ErrIllegalState) {
		t.Errorf("reopen closed with newer active: err = %v", err)
	}
	h.drain(after.ConversationID)
	if h.surface.threads != 1 {
		t.Errorf("new conversation opened %d chat threads, want 1", h.surface.threads)
	}
}

func TestReplyDeliveredInOrderWithReactionAndCard(t *testing.T) {
	h := newHarness(t, bridge.Options{})
	res := h.ingest(h.customer("100", "1", "help"))
	h.drain(res.ConversationID)
	for i, text := range []string{"one", "two", "three"} {
		if _, err := h.b.Reply(h.ctx, bridge.ReplyParams{Actor: ann, Ref: bridge.ConversationRef{ID: res.ConversationID}, Text: text,
			ChatRef: &bridge.ChatMessageRef{Surface: bridge.SurfaceSlack, Channel: "C1", Ref: fmt.Sprint("agent", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.b.AddNote(h.ctx, bridge.ReplyParams{Actor: ann, Ref: bridge.ConversationRef{ID: res.ConversationID}, Text: "internal",
		ChatRef: &bridge.ChatMessageRef{Surface: bridge.SurfaceSlack, Channel: "C1", Ref: "note1"}}); err != nil {
		t.Fatal(err)
	}
	h.drain(res.ConversationID)
	if got := strings.Join(h.platform.texts(), ","); got != "one,two,three" {
		t.Errorf("platform got %q, want one,two,three in order and no note", got)
	}
	log := strings.Join(h.surface.entries(), "|")
	for _, want := range []string{"delivered agent0", "delivered agent2", "card pending P3 Ann"} {
		if !strings.Contains(log, want) {
			t.Errorf("chat log %q lacks %q", log, want)
		}
	}
	// Agent messages typed in Slack are not posted back into Slack.
	if strings.Contains(log, "post Ann") {
		t.Errorf("agent message echoed into its own surface: %q", log)
	}
	c := h.conv(res.ConversationID)
	if c.FirstResponseAt == nil || c.AssigneeID == 0 {
		t.Errorf("reply did not set first response and assignee: %+v", c)
	}
}

func TestTransientFailuresRetryThenSucceed(t *testing.T) {
	h := newHarness(t, bridge.Options{Backoff: func(int) time.Duration { return time.Minute }})
	res := h.ingest(h.customer("100", "1", "help"))
	h.drain(res.ConversationID)
	h.platform.fails = []error{errors.New("502"), &bridge.RetryAfterError{After: 30 * time.Second}}
	ref := bridge.ConversationRef{ID: res.ConversationID}
	for _, text := range []string{"a", "b"} {
		if _, err := h.b.Reply(h.ctx, bridge.ReplyParams{Actor: ann, Ref: ref, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	job := bridge.Job{ConversationID: res.ConversationID, Target: bridge.TargetPlatform}
	var retry *bridge.RetryAfterError
	if err := h.b.RunJob(h.ctx, job); !errors.As(err, &retry) || retry.After != time.Minute {
		t.Fatalf("after a 502: err = %v, want retry after backoff", err)
	}
	// Waiting: "b" must not overtake "a".
	if err := h.b.RunJob(h.ctx, job); !errors.As(err, &retry) || len(h.platform.texts()) != 0 {
		t.Fatalf("before backoff: err = %v, sent %q", err, h.platform.texts())
	}
	h.clock.Advance(time.Minute)
	if err := h.b.RunJob(h.ctx, job); !errors.As(err, &retry) || retry.After != 30*time.Second {
		t.Fatalf("rate limited: err = %v, want retry after 30s", err)
	}
	h.clock.Advance(30 * time.Second)
	if err := h.b.RunJob(h.ctx, job); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(h.platform.texts(), ","); got != "a,b" {
		t.Errorf("sent %q, want a,b", got)
	}
}

type countingMetrics struct {
	mu       sync.Mutex
	outcomes map[string]int
	repeats  int
}

func (m *countingMetrics) DeliveryDone(t bridge.Target, outcome string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.outcomes == nil {
		m.outcomes = map[string]int{}
	}
	m.outcomes[string(t)+":"+outcome]++
}

func (m *countingMetrics) DeliveryLatency(bridge.Target, time.Duration) {}

func (m *countingMetrics) DeliveryRepeatSuspected(_ bridge.Target, outcome string) {
	m.mu.Lock()
	m.repeats++
	m.outcomesLocked("repeat:" + outcome)
	m.mu.Unlock()
}

func (m *countingMetrics) outcomesLocked(key string) {
	if m.outcomes == nil {
		m.outcomes = map[string]int{}
	}
	m.outcomes[key]++
}

func TestPermanentFailureIsVisibleInThread(t *testing.T) {
	metrics := &countingMetrics{}
	h := newHarness(t, bridge.Options{MaxAttempts: 2, Backoff: func(int) time.Duration { return time.Second }, Metrics: metrics})
	res := h.ingest(h.customer("100", "1", "help"))
	h.drain(res.ConversationID)
	h.platform.fails = []error{bridge.Permanent(errors.New("bot was blocked by the user")), errors.New("503"), errors.New("503")}
	ref := bridge.ConversationRef{ID: res.ConversationID}
	r1, err := h.b.Reply(h.ctx, bridge.ReplyParams{Actor: ann, Ref: ref, Text: "first"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.b.Reply(h.ctx, bridge.ReplyParams{Actor: ann, Ref: ref, Text: "second"}); err != nil {
		t.Fatal(err)
	}
	h.drain(res.ConversationID)
	h.clock.Advance(time.Second)
	h.drain(res.ConversationID)
	log := strings.Join(h.surface.entries(), "|")
	if strings.Count(log, "notice Could not deliver") != 2 || !strings.Contains(log, "blocked by the user") {
		t.Errorf("chat log %q, want two failure notices with reasons", log)
	}
	var m bridge.Message
	_ = h.store.InTx(h.ctx, func(ctx context.Context, tx bridge.Tx) error {
		m, err = tx.GetMessage(ctx, r1.MessageID)
		return err
	})
	if m.DeliveryStatus != bridge.DeliveryFailed || !strings.Contains(m.DeliveryError, "blocked") {
		t.Errorf("message after permanent failure: %+v", m)
	}
	if metrics.outcomes["platform:failed"] != 2 || metrics.outcomes["platform:retry"] != 1 {
		t.Errorf("metrics %v", metrics.outcomes)
	}
}

func TestCrashMidSendIsRepeatedAndCounted(t *testing.T) {
	metrics := &countingMetrics{}
	h := newHarness(t, bridge.Options{Metrics: metrics, LeaseDuration: time.Minute})
	res := h.ingest(h.customer("100", "1", "help"))
	h.drain(res.ConversationID)
	if _, err := h.b.Reply(h.ctx, bridge.ReplyParams{Actor: ann, Ref: bridge.ConversationRef{ID: res.ConversationID}, Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	// A worker that died mid-send: it left the lane leased and the row "sending".
	if err := h.store.InTx(h.ctx, func(ctx context.Context, tx bridge.Tx) error {
		now := h.clock.Now()
		if _, err := tx.ClaimLane(ctx, bridge.ClaimLaneParams{ConversationID: res.ConversationID, Target: bridge.TargetPlatform, Owner: "dead", Now: now, Until: now.Add(time.Minute)}); err != nil {
			return err
		}
		d, err := tx.NextDelivery(ctx, res.ConversationID, bridge.TargetPlatform)
		if err != nil {
			return err
		}
		d.Status, d.Attempts = bridge.DeliverySending, 1
		return tx.UpdateDelivery(ctx, d)
	}); err != nil {
		t.Fatal(err)
	}
	job := bridge.Job{ConversationID: res.ConversationID, Target: bridge.TargetPlatform}
	if err := h.b.RunJob(h.ctx, job); !errors.Is(err, bridge.ErrLaneBusy) {
		t.Fatalf("lane leased by the dead worker: err = %v, want busy", err)
	}
	h.clock.Advance(2 * time.Minute)
	if err := h.b.RunJob(h.ctx, job); err != nil {
		t.Fatal(err)
	}
	if len(h.platform.texts()) != 1 || metrics.repeats != 1 {
		t.Errorf("sent %q with %d suspected repeats; want the send made once more and counted", h.platform.texts(), metrics.repeats)
	}
}

func TestCardUpdatesCoalesce(t *testing.T) {
	h := newHarness(t, bridge.Options{})
	res := h.ingest(h.customer("100", "1", "help"))
	h.drain(res.ConversationID)
	ref := bridge.ConversationRef{ID: res.ConversationID}
	if _, err := h.b.Claim(h.ctx, bridge.DeliveryKey{}, ann, ref); err != nil {
		t.Fatal(err)
	}
	if _, err := h.b.Resolve(h.ctx, bridge.DeliveryKey{}, ann, ref); err != nil {
		t.Fatal(err)
	}
	if _, err := h.b.Reopen(h.ctx, bridge.DeliveryKey{}, ann, ref); err != nil {
		t.Fatal(err)
	}
	card := bridge.Job{ConversationID: res.ConversationID, Target: bridge.CardTarget(bridge.SurfaceSlack)}
	for range 3 { // one job per change, as enqueued
		if err := h.b.RunJob(h.ctx, card); err != nil {
			t.Fatal(err)
		}
	}
	var cards []string
	for _, e := range h.surface.entries() {
		if strings.HasPrefix(e, "card ") {
			cards = append(cards, e)
		}
	}
	if len(cards) != 1 || cards[0] != "card open P3 Ann" {
		t.Errorf("card updates %q, want one showing the latest state", cards)
	}
}

func TestPriorityClassifier(t *testing.T) {
	h := newHarness(t, bridge.Options{Classify: func(text string) bridge.Priority {
		if strings.Contains(text, "hacked") {
			return bridge.P1
		}
		return bridge.P3
	}})
	res := h.ingest(h.customer("100", "1", "hello"))
	h.ingest(h.customer("100", "2", "I think I was hacked"))
	if got := h.conv(res.ConversationID).Priority; got != bridge.P1 {
		t.Errorf("priority %s, want P1 after an urgent message", got)
	}
}

func TestRescueStalledLanes(t *testing.T) {
	h := newHarness(t, bridge.Options{LeaseDuration: time.Minute})
	res := h.ingest(h.customer("100", "1", "help"))
	if n, err := h.b.RescueStalledLanes(h.ctx, time.Minute); err != nil || n != 0 {
		t.Fatalf("fresh delivery rescued: n=%d err=%v", n, err)
	}
	h.clock.Advance(2 * time.Minute)
	if n, err := h.b.RescueStalledLanes(h.ctx, time.Minute); err != nil || n != 1 {
		t.Fatalf("stalled lane: n=%d err=%v, want 1", n, err)
	}
	h.drain(res.ConversationID)
	if n, err := h.b.RescueStalledLanes(h.ctx, time.Minute); err != nil || n != 0 {
		t.Fatalf("drained lane rescued: n=%d err=%v", n, err)
	}
}

// TestReusedPlatformIDDoesNotRepeatTheSend: a platform that answers with a
// message id the thread already has must not make recording fail (and the
// send repeat).
func TestReusedPlatformIDDoesNotRepeatTheSend(t *testing.T) {
	h := newHarness(t, bridge.Options{})
	res := h.ingest(h.customer("100", "sent-1", "help")) // the id the fake platform gives its first send
	h.drain(res.ConversationID)
	if _, err := h.b.Reply(h.ctx, bridge.ReplyParams{Actor: ann, Ref: bridge.ConversationRef{ID: res.ConversationID}, Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	h.drain(res.ConversationID)
	h.drain(res.ConversationID)
	if got := h.platform.texts(); len(got) != 1 {
		t.Errorf("sent %q, want the reply once", got)
	}
}

// TestShortPacingWaitIsSleptNotSnoozed: a pacing wait of a fraction of a
// second is waited out in the same run, so a flood is not slowed by the
// queue's pickup delay on every send.
func TestShortPacingWaitIsSleptNotSnoozed(t *testing.T) {
	h := newHarness(t, bridge.Options{})
	res := h.ingest(h.customer("100", "1", "help"))
	h.drain(res.ConversationID)
	h.platform.fails = []error{&bridge.RetryAfterError{After: 20 * time.Millisecond}, &bridge.RetryAfterError{After: 20 * time.Millisecond}}
	if _, err := h.b.Reply(h.ctx, bridge.ReplyParams{Actor: ann, Ref: bridge.ConversationRef{ID: res.ConversationID}, Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if err := h.b.RunJob(h.ctx, bridge.Job{ConversationID: res.ConversationID, Target: bridge.TargetPlatform}); err != nil {
		t.Fatalf("run: %v, want the send made after two short waits", err)
	}
	if got := h.platform.texts(); len(got) != 1 {
		t.Errorf("sent %q", got)
	}
}
