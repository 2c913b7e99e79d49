package teams_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/chatops/teams"
	"github.com/threadline/threadline/chatops/teams/teamstest"
	"github.com/threadline/threadline/store/sqlite"
	"github.com/threadline/threadline/store/storetest/open"
)

// missSignal tells when the handler first looked for a thread the store does
// not know yet.
type missSignal struct {
	teams.Bridge
	once   sync.Once
	missed chan struct{}
}

func (m *missSignal) ConversationByChatThread(ctx context.Context, surface bridge.Surface, channel, threadRef string) (bridge.Conversation, error) {
	c, err := m.Bridge.ConversationByChatThread(ctx, surface, channel, threadRef)
	if errors.Is(err, bridge.ErrNotFound) {
		m.once.Do(func() { close(m.missed) })
	}
	return c, err
}

// TestThreadMessageBeforeThreadRecorded: Teams shows a new thread in the
// channel before it answers the call that created it, so an agent can answer
// in the thread before Threadline has recorded it. Teams does not redeliver
// an activity the bot acknowledged: the handler must wait for the record,
// not ignore the message as channel chatter.
func TestThreadMessageBeforeThreadRecorded(t *testing.T) {
	em := teamstest.New(teamstest.Options{})
	defer em.Close()
	r := newRig(t, em, open.SQLite(t, sqlite.Options{}), em.ServiceURL())
	release := em.HoldAnswers("createConversation")
	defer release()
	spy := &missSignal{Bridge: r.b, missed: make(chan struct{})}
	r.h.SetBridge(spy)

	r.customer("Where is my order?")
	root := r.root() // in the channel; its answer is held, so not recorded
	sent := make(chan error, 1)
	go func() {
		code, body, err := em.Send(r.ctx, r.botURL, em.UserMessage(root.ConversationID, annT, "It ships today.", false))
		if err == nil && code != 200 {
			err = errors.New("activity answered " + string(body))
		}
		sent <- err
	}()
	// Release the answer only once the handler has looked for the thread
	// and not found it: the race, forced.
	select {
	case <-spy.missed:
	case <-r.ctx.Done():
		t.Fatal("the handler never looked for the thread")
	}
	release()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
	defer cancel()
	got, err := r.tg.WaitSent(ctx, alice.ID, 1)
	if err != nil {
		t.Fatalf("the agent's answer never reached the customer: %v", err)
	}
	if got[0].Text != "It ships today." {
		t.Errorf("customer got %q", got[0].Text)
	}
}
