package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/slack-go/slack"

	"github.com/threadline/threadline/bridge"
)

// The backlog digest: while a flood waits for the inbox channel, one message
// there says how many conversations wait and for how long, updated in
// place, so the team sees the queue instead of silence; when the backlog is
// cleared it says so once and the next flood gets a new one.

// DigestState is what the digest keeps between checks and across restarts.
type DigestState struct {
	Ref   string    `json:"ref,omitempty"` // ts of the digest message; empty while none is shown
	Peak  int       `json:"peak,omitempty"`
	Since time.Time `json:"since,omitzero"`
	Text  string    `json:"text,omitempty"` // last text shown, so unchanged figures cost no call
}

// DigestOptions wires the digest to the rest of the process.
type DigestOptions struct {
	Surface *Surface
	// Threshold is how many waiting conversations make the digest appear.
	Threshold int
	Every     time.Duration
	Clock     bridge.Clock
	Logger    *slog.Logger
	// Backlog reports the conversations with items waiting for the surface
	// and the oldest item's time.
	Backlog func(ctx context.Context) (conversations int, oldest time.Time, err error)
	// Leader reports whether this replica keeps the digest (one does).
	Leader func(ctx context.Context) (bool, error)
	Load   func(ctx context.Context) (DigestState, error)
	Save   func(ctx context.Context, st DigestState) error
}

// BacklogText is the digest while conversations wait.
func BacklogText(conversations int, oldest time.Duration) string {
	what := "conversations are"
	if conversations == 1 {
		what = "conversation is"
	}
	return fmt.Sprintf(":hourglass_flowing_sand: *Backlog: %d %s waiting to be shown here*, the oldest for %s. "+
		"Urgent (P1) conversations go first; every message will appear, several to a post.", conversations, what, roughly(oldest))
}

// CaughtUpText is the digest once the backlog is cleared.
func CaughtUpText(peak int, took time.Duration) string {
	return fmt.Sprintf(":white_check_mark: *Caught up*: the backlog (at most %d conversations) is shown; it took %s.", peak, roughly(took))
}

func roughly(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return fmt.Sprintf("%.1f h", d.Hours())
}

// ShowDigest posts the digest (ref empty) or updates it, returning its ts.
// The post queues like a P2 conversation: after urgent ones, before the flood.
func (s *Surface) ShowDigest(ctx context.Context, ref, text string) (string, error) {
	if ref == "" {
		if err := s.pacePost(bridge.WithWork(ctx, bridge.Work{Priority: bridge.P2}), s.opts.Channel); err != nil {
			return "", err
		}
		_, ts, err := s.api.PostMessageContext(ctx, s.opts.Channel, slack.MsgOptionText(text, false),
			slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "threadline_backlog", EventPayload: map[string]any{}}))
		return ts, s.classify("chat.postMessage", err)
	}
	if err := s.paceUpdate(ctx); err != nil {
		return ref, err
	}
	_, _, _, err := s.api.UpdateMessageContext(ctx, s.opts.Channel, ref, slack.MsgOptionText(text, false))
	return ref, s.classify("chat.update", err)
}

// RunDigest keeps the digest until ctx ends.
func RunDigest(ctx context.Context, o DigestOptions) error {
	if o.Clock == nil {
		o.Clock = bridge.SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	for {
		wait := o.Every
		if err := DigestStep(ctx, o); err != nil && ctx.Err() == nil {
			var retry *bridge.RetryAfterError
			if errors.As(err, &retry) {
				wait = min(max(retry.After, 10*time.Millisecond), o.Every)
			} else {
				o.Logger.Warn("backlog digest", "err", err)
			}
		}
		if !sleepCtx(ctx, wait) {
			return nil
		}
	}
}

// DigestStep checks the backlog once and shows, updates or closes the digest.
func DigestStep(ctx context.Context, o DigestOptions) error {
	if lead, err := o.Leader(ctx); err != nil || !lead {
		return err
	}
	st, err := o.Load(ctx)
	if err != nil {
		return err
	}
	n, oldest, err := o.Backlog(ctx)
	if err != nil {
		return err
	}
	now := o.Clock.Now()
	var text string
	switch {
	case st.Ref == "" && (n == 0 || n < o.Threshold):
		return nil
	case st.Ref == "":
		st = DigestState{Since: now}
		text = BacklogText(n, now.Sub(oldest))
	case n == 0:
		text = CaughtUpText(st.Peak, now.Sub(st.Since))
	default:
		text = BacklogText(n, now.Sub(oldest))
	}
	st.Peak = max(st.Peak, n)
	if text != st.Text {
		ref, err := o.Surface.ShowDigest(ctx, st.Ref, text)
		if err != nil {
			return err
		}
		st.Ref, st.Text = ref, text
	}
	if n == 0 {
		st = DigestState{} // the next flood gets a new digest
	}
	return o.Save(ctx, st)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
