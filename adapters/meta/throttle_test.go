package meta_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/threadline/threadline/adapters/meta"
	"github.com/threadline/threadline/adapters/meta/metatest"
	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/internal/testenv"
	"github.com/threadline/threadline/store/ratelimit"
	tlredis "github.com/threadline/threadline/store/redis"
)

// TestThrottleSharedAcrossReplicas: when Meta throttles a Page on one
// replica, the others wait too instead of calling; with Redis down each
// replica still honours what it was told itself.
func TestThrottleSharedAcrossReplicas(t *testing.T) {
	c, err := tlredis.Open(t.Context(), testenv.RedisURL())
	testenv.RequireRedis(t, func() error { return err })
	defer c.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "threadline:test:" + hex.EncodeToString(b[:]) + ":"
	defer c.Del(t.Context(), prefix+"meta:throttle:"+pageID)
	down, err := tlredis.Connect("redis://127.0.0.1:1/0")
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()

	tests := []struct {
		name string
		// throttles of the first and the second replica
		first, second meta.Throttle
		// shared: the second replica waits without calling
		shared bool
	}{
		{"through Redis", ratelimit.NewFallbackBlocks(tlredis.NewBlocker(c, prefix), nil, nil), ratelimit.NewFallbackBlocks(tlredis.NewBlocker(c, prefix), nil, nil), true},
		{"Redis down", ratelimit.NewFallbackBlocks(tlredis.NewBlocker(down, prefix), nil, nil), ratelimit.NewFallbackBlocks(tlredis.NewBlocker(down, prefix), nil, nil), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newSendRig(t, func(o *meta.Options) { o.Throttle = tc.first })
			other := newAdapter(t, r.emu.URL(), func(o *meta.Options) {
				o.Accounts = []meta.Account{{ID: pageID, Token: token}}
				o.Throttle = tc.second
			})
			r.emu.Inject(metatest.Fault{Kind: "messages", Count: 1, Status: 429, Code: 4, RetryAfter: 30})
			var retry *bridge.RetryAfterError
			if _, err := r.send(t.Context(), "hi", t0); !errors.As(err, &retry) {
				t.Fatalf("throttled send: %v", err)
			}
			calls := r.emu.Calls("messages")
			if _, err := r.send(t.Context(), "again", t0); !errors.As(err, &retry) || r.emu.Calls("messages") != calls {
				t.Errorf("the throttled replica called again (%v)", err)
			}
			_, err := other.For(bridge.PlatformMessenger).Send(t.Context(), bridge.OutboundMessage{
				Account: bridge.Account{ExternalID: pageID, Platform: bridge.PlatformMessenger}, ThreadExternalID: "c1",
				MessageID: 78, Text: "from the other replica", LastInboundAt: t0,
			})
			switch {
			case tc.shared && (!errors.As(err, &retry) || retry.After < 25*time.Second || r.emu.Calls("messages") != calls):
				t.Errorf("other replica: %v after %d calls (was %d), want a wait of about 30s without a call", err, r.emu.Calls("messages"), calls)
			case !tc.shared && err != nil:
				t.Errorf("other replica without Redis: %v, want a send", err)
			}
		})
	}
}
