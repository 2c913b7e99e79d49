package slack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	tlslack "github.com/threadline/threadline/chatops/slack"
	"github.com/threadline/threadline/chatops/slack/slacktest"
)

// noLimit lets every call go: pacing is tested on its own.
type noLimit struct{}

func (noLimit) Reserve(context.Context, string, time.Duration) (time.Duration, error) { return 0, nil }

type movingClock struct{ now time.Time }

func (c *movingClock) Now() time.Time          { return c.now }
func (c *movingClock) advance(d time.Duration) { c.now = c.now.Add(d) }

// TestBacklogDigestShowsUpdatesAndClears: a flood makes one digest message
// appear, it is updated in place (not reposted) as the figures change, says
// "caught up" once the backlog is gone, and the next flood gets a new one.
func TestBacklogDigestShowsUpdatesAndClears(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sl := slacktest.New(slacktest.Options{})
	defer sl.Close()
	surface, err := tlslack.New(ctx, tlslack.Options{Token: sl.Token(), APIURL: sl.URL(), Channel: channel,
		Limiter: noLimit{}})
	if err != nil {
		t.Fatal(err)
	}
	clock := &movingClock{now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	waiting, oldest := 0, clock.Now()
	var state tlslack.DigestState
	leader := true
	o := tlslack.DigestOptions{Surface: surface, Threshold: 10, Every: time.Second, Clock: clock,
		Backlog: func(context.Context) (int, time.Time, error) { return waiting, oldest, nil },
		Leader:  func(context.Context) (bool, error) { return leader, nil },
		Load:    func(context.Context) (tlslack.DigestState, error) { return state, nil },
		Save:    func(_ context.Context, st tlslack.DigestState) error { state = st; return nil },
	}
	step := func(n int, advance time.Duration) {
		t.Helper()
		waiting = n
		clock.advance(advance)
		if err := tlslack.DigestStep(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	digests := func() []slacktest.Message {
		var out []slacktest.Message
		for _, m := range sl.Messages(channel) {
			if strings.Contains(m.Text, "Backlog") || strings.Contains(m.Text, "Caught up") {
				out = append(out, m)
			}
		}
		return out
	}
	step(5, 0)
	if d := digests(); len(d) != 0 {
		t.Fatalf("digest below the threshold: %+v", d)
	}
	step(12, 30*time.Second)
	d := digests()
	if len(d) != 1 || !strings.Contains(d[0].Text, "12 conversations are waiting") || !strings.Contains(d[0].Text, "30 s") {
		t.Fatalf("digest after the flood: %+v", d)
	}
	leader = false
	step(40, time.Minute) // another replica keeps the digest meanwhile
	if d := digests(); !strings.Contains(d[0].Text, "12 conversations") {
		t.Errorf("a replica that is not the leader changed the digest: %q", d[0].Text)
	}
	leader = true
	step(30, 0)
	step(0, 2*time.Minute)
	d = digests()
	if len(d) != 1 || !d[0].Edited || !strings.Contains(d[0].Text, "Caught up") || !strings.Contains(d[0].Text, "at most 30") || !strings.Contains(d[0].Text, "3 min") {
		t.Fatalf("digest after the backlog cleared: %+v", d)
	}
	step(0, time.Minute)
	step(15, time.Minute)
	if d := digests(); len(d) != 2 || !strings.Contains(d[1].Text, "15 conversations") || !strings.Contains(d[0].Text, "Caught up") {
		t.Fatalf("second flood: %+v", d)
	}
}
