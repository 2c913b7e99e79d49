package bridge_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/store/queue"
	"github.com/threadline/threadline/store/sqlite"
	"github.com/threadline/threadline/store/storetest/open"
)

type workingStore interface {
	bridge.Store
	StartWorkers(ctx context.Context, r queue.Runner) error
	StopWorkers(ctx context.Context) error
}

// orderedSurface records, per conversation, the text of each message shown,
// and fails some calls to force retries.
type orderedSurface struct {
	mu    sync.Mutex
	shown map[string][]string // thread ref -> texts
	calls int
	total int
	done  chan struct{}
}

func (s *orderedSurface) Surface() bridge.Surface { return bridge.SurfaceSlack }
func (s *orderedSurface) add(ref, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls%7 == 0 { // a flaky chat API: every 7th call fails once
		return fmt.Errorf("flaky 500")
	}
	s.shown[ref] = append(s.shown[ref], text)
	s.total++
	if s.total == cap(s.done) {
		close(s.done)
	}
	return nil
}
func (s *orderedSurface) OpenThread(_ context.Context, c bridge.Card, m bridge.MessageView) (bridge.ChatThread, error) {
	ref := c.Conversation.Number.String()
	return bridge.ChatThread{Channel: "C1", ThreadRef: ref}, s.add(ref, m.Message.Text)
}
func (s *orderedSurface) PostMessage(_ context.Context, t bridge.ChatThread, m bridge.MessageView) (string, error) {
	return "x", s.add(t.ThreadRef, m.Message.Text)
}
func (s *orderedSurface) UpdateMessage(context.Context, bridge.ChatThread, string, bridge.MessageView) error {
	return nil
}
func (s *orderedSurface) UpdateCard(context.Context, bridge.ChatThread, bridge.Card) error {
	return nil
}
func (s *orderedSurface) PostNotice(context.Context, bridge.ChatThread, string) (string, error) {
	return "", nil
}
func (s *orderedSurface) MarkDelivered(context.Context, bridge.ChatThread, string) error { return nil }

// TestQueueKeepsOrderUnderConcurrency ingests messages of several customers
// concurrently while real River workers drain with a flaky surface: every
// message is shown exactly once, in sequence order per conversation.
func TestQueueKeepsOrderUnderConcurrency(t *testing.T) {
	backends := map[string]func(t *testing.T) workingStore{
		"sqlite":   func(t *testing.T) workingStore { return open.SQLite(t, sqlite.Options{}) },
		"postgres": func(t *testing.T) workingStore { return open.Postgres(t, 10) },
	}
	for name, openStore := range backends {
		t.Run(name, func(t *testing.T) {
			const customers, perCustomer = 5, 12
			s := openStore(t)
			surface := &orderedSurface{shown: map[string][]string{}, done: make(chan struct{}, customers*perCustomer)}
			b := bridge.New(s, bridge.Options{Surfaces: []bridge.Surface{bridge.SurfaceSlack}, Backoff: func(int) time.Duration { return 10 * time.Millisecond }})
			b.AddSurface(surface)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := s.StartWorkers(ctx, b); err != nil {
				t.Fatal(err)
			}
			defer func() {
				sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
				defer c()
				_ = s.StopWorkers(sctx)
			}()
			var wg sync.WaitGroup
			for c := range customers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range perCustomer {
						chat := fmt.Sprint(c)
						ev := bridge.InboundEvent{DeliveryID: fmt.Sprint(c, ":", i), Platform: bridge.PlatformTelegram,
							Account: bridge.UpsertAccountParams{ExternalID: "bot"}, Thread: chat,
							Sender: bridge.UpsertIdentityParams{ExternalUserID: chat}, PlatformMessageID: fmt.Sprint(i), Text: fmt.Sprint(i)}
						for range 2 { // every message delivered twice
							if _, err := b.Ingest(ctx, ev); err != nil {
								t.Error(err)
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			select {
			case <-surface.done:
			case <-ctx.Done():
				t.Fatalf("not all messages shown: %d of %d", surface.total, customers*perCustomer)
			}
			surface.mu.Lock()
			defer surface.mu.Unlock()
			want := make([]string, perCustomer)
			for i := range want {
				want[i] = fmt.Sprint(i)
			}
			for ref, texts := range surface.shown {
				if strings.Join(texts, ",") != strings.Join(want, ",") {
					t.Errorf("thread %s shows %v, want %v", ref, texts, want)
				}
			}
			if len(surface.shown) != customers {
				t.Errorf("%d threads, want %d", len(surface.shown), customers)
			}
		})
	}
}
