package telegram_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadline/threadline/adapters/telegram"
	"github.com/threadline/threadline/adapters/telegram/telegramtest"
	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/internal/testlog"
	"github.com/threadline/threadline/store/sqlite"
	"github.com/threadline/threadline/store/storetest/open"
)

var alice = telegramtest.User{ID: 11, FirstName: "Alice", Username: "alice"}

// openStore opens a migrated SQLite store in the test's temporary folder.
func openStore(t *testing.T) *sqlite.Store { return open.SQLite(t, sqlite.Options{}) }

func send(t *testing.T, emu *telegramtest.Server, text string) int64 {
	t.Helper()
	raw, _, err := emu.CustomerSends(t.Context(), alice, telegramtest.Message{Text: text})
	if err != nil {
		t.Fatal(err)
	}
	var u struct {
		UpdateID int64 `json:"update_id"`
	}
	if err := json.Unmarshal(raw, &u); err != nil {
		t.Fatal(err)
	}
	return u.UpdateID
}

func cursor(t *testing.T, store bridge.Store, a *telegram.Adapter) string {
	t.Helper()
	var v string
	if err := store.InTx(t.Context(), func(ctx context.Context, tx bridge.Tx) error {
		var err error
		v, err = tx.GetCursor(ctx, telegram.CursorName(a.BotID()))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

// startPoller runs a poller until the test ends or the returned stop is
// called; stop waits for it to return.
func startPoller(t *testing.T, a *telegram.Adapter, store bridge.Store, ing telegram.Ingester) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.RunPoller(ctx, store, ing) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("RunPoller: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("the poller did not stop")
		}
	}
	t.Cleanup(stop)
	return stop
}

func TestPollerResumesFromStoredOffset(t *testing.T) {
	emu := telegramtest.New(telegramtest.Options{})
	t.Cleanup(emu.Close)
	store := openStore(t)
	opts := telegram.Options{PollTimeout: time.Second}
	var ids []int64
	for _, text := range []string{"one", "two", "three"} {
		ids = append(ids, send(t, emu, text))
	}

	// First run: shut down right after "two" is stored, before any later
	// getUpdates confirms it to Telegram. Only the stored offset stands
	// between a restart and a repeat.
	first := newIngester()
	ctx, stop := context.WithTimeout(t.Context(), 20*time.Second)
	defer stop()
	first.after = func(ev bridge.InboundEvent) {
		if ev.Text == "two" {
			stop()
		}
	}
	a := newAdapter(t, emu, opts)
	if err := a.RunPoller(ctx, store, first); err != nil {
		t.Fatal(err)
	}
	if got := first.texts(); !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("first run ingested %q", got)
	}
	if got, want := cursor(t, store, a), strconv.FormatInt(ids[1]+1, 10); got != want {
		t.Errorf("stored offset %s, want %s", got, want)
	}
	if n := emu.Pending(); n != 3 {
		t.Fatalf("%d updates unconfirmed at Telegram, want 3: the test would not show a repeat", n)
	}

	// Restart: a new process on the same store continues after "two".
	second := newIngester()
	startPoller(t, newAdapter(t, emu, opts), store, second)
	waitFor(t, second, 1)
	send(t, emu, "four")
	waitFor(t, second, 1)
	if got := second.texts(); !slices.Equal(got, []string{"three", "four"}) {
		t.Errorf("after the restart ingested %q, want [three four]", got)
	}
}

// countingTransport counts the getUpdates calls of one adapter.
type countingTransport struct{ polls atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/getUpdates") {
		c.polls.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestPollerOnlyLeaseHolderPolls(t *testing.T) {
	emu := telegramtest.New(telegramtest.Options{})
	t.Cleanup(emu.Close)
	store := openStore(t)
	opts := telegram.Options{PollTimeout: time.Second, PollerLease: 4 * time.Second}

	ingA := newIngester()
	stopA := startPoller(t, newAdapter(t, emu, opts), store, ingA)
	send(t, emu, "one")
	waitFor(t, ingA, 1) // A holds the lease

	standby := make(chan time.Duration, 100)
	optsB := opts
	transport := &countingTransport{}
	optsB.HTTPClient = &http.Client{Transport: transport}
	optsB.Wait = func(ctx context.Context, d time.Duration) {
		select {
		case standby <- d:
		default:
		}
		pause(ctx, d)
	}
	ingB := newIngester()
	startPoller(t, newAdapter(t, emu, optsB), store, ingB)
	select {
	case d := <-standby:
		if d >= opts.PollerLease {
			t.Errorf("standby retries every %s, not within the lease", d)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("B never stood by")
	}

	send(t, emu, "two")
	waitFor(t, ingA, 1)
	if n := transport.polls.Load(); n != 0 {
		t.Errorf("the standby replica called getUpdates %d times while A held the lease", n)
	}

	// A stops and releases the lease: B takes over from A's offset.
	stopA()
	send(t, emu, "three")
	waitFor(t, ingB, 1)
	if got := ingA.texts(); !slices.Equal(got, []string{"one", "two"}) {
		t.Errorf("A ingested %q", got)
	}
	if got := ingB.texts(); !slices.Equal(got, []string{"three"}) {
		t.Errorf("B ingested %q, want [three]", got)
	}
}

func TestPollerWaitsOnErrors(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, emu *telegramtest.Server)
		recover  func(t *testing.T, emu *telegramtest.Server) // after the first wait
		wantWait time.Duration
		wantLog  string
	}{
		{name: "429 honours retry_after", wantWait: 7 * time.Second, wantLog: "Too Many Requests",
			setup: func(t *testing.T, emu *telegramtest.Server) {
				emu.Inject(telegramtest.Fault{Method: "getUpdates", Count: 1, Code: 429, RetryAfter: 7})
			}},
		{name: "500 backs off", wantWait: time.Second, wantLog: "Internal Server Error",
			setup: func(t *testing.T, emu *telegramtest.Server) {
				emu.Inject(telegramtest.Fault{Method: "getUpdates", Count: 1, Code: 500})
			}},
		{name: "409 while a webhook is set explains itself", wantWait: time.Second, wantLog: "a webhook is set for this bot",
			setup: func(t *testing.T, emu *telegramtest.Server) { setWebhook(t, emu, "https://example.invalid/hook", "s") },
			recover: func(t *testing.T, emu *telegramtest.Server) {
				res, err := http.Post(emu.URL()+"/bot"+emu.Token()+"/deleteWebhook", "application/json", strings.NewReader(`{}`))
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emu := telegramtest.New(telegramtest.Options{})
			t.Cleanup(emu.Close)
			send(t, emu, "hello") // queued before any webhook is set
			tc.setup(t, emu)
			waits := make(chan time.Duration, 100)
			logs := &testlog.Buffer{}
			a := newAdapter(t, emu, telegram.Options{PollTimeout: time.Second, Logger: logs.Logger(),
				// Report the wait asked for, then wait only briefly: the
				// test needs to see the wait, not to sit through it.
				Wait: func(ctx context.Context, d time.Duration) {
					select {
					case waits <- d:
					default:
					}
					pause(ctx, 10*time.Millisecond)
				}})
			ing := newIngester()
			startPoller(t, a, openStore(t), ing)
			select {
			case d := <-waits:
				if d != tc.wantWait {
					t.Errorf("waited %s, want %s", d, tc.wantWait)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the poller never waited")
			}
			if !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log lacks %q:\n%s", tc.wantLog, logs)
			}
			if tc.recover != nil {
				tc.recover(t, emu)
			}
			waitFor(t, ing, 1) // and then it carries on
		})
	}
}

func TestPollerDeletesWebhookOnlyWhenConfigured(t *testing.T) {
	emu := telegramtest.New(telegramtest.Options{})
	t.Cleanup(emu.Close)
	send(t, emu, "hello")
	setWebhook(t, emu, "https://example.invalid/hook", "s")
	ing := newIngester()
	startPoller(t, newAdapter(t, emu, telegram.Options{PollTimeout: time.Second, DeleteWebhook: true}), openStore(t), ing)
	waitFor(t, ing, 1)
	if hook, _ := emu.Webhook(); hook != "" || emu.Calls("deleteWebhook") != 1 {
		t.Errorf("webhook %q after %d deleteWebhook calls", hook, emu.Calls("deleteWebhook"))
	}
}

func TestPollerSkipsWhatItCannotUse(t *testing.T) {
	emu := telegramtest.New(telegramtest.Options{})
	t.Cleanup(emu.Close)
	ctx := t.Context()
	group := map[string]any{"message": map[string]any{"message_id": 1, "date": 1, "text": "hi all",
		"from": alice, "chat": map[string]any{"id": -100, "type": "supergroup"}}}
	undecodable := map[string]any{"message": map[string]any{"message_id": "not a number"}}
	for _, u := range []map[string]any{group, undecodable} {
		if _, err := emu.DeliverUpdate(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	last := send(t, emu, "hello")
	store := openStore(t)
	ing := newIngester()
	a := newAdapter(t, emu, telegram.Options{PollTimeout: time.Second})
	stop := startPoller(t, a, store, ing)
	waitFor(t, ing, 1)
	stop()
	if got := ing.texts(); !slices.Equal(got, []string{"hello"}) {
		t.Errorf("ingested %q", got)
	}
	if got, want := cursor(t, store, a), strconv.FormatInt(last+1, 10); got != want {
		t.Errorf("offset %s, want %s: skipped updates must be confirmed too", got, want)
	}
}

// pause waits for d or until ctx ends, as the poller's own wait does.
func pause(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}
