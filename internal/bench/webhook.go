package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/threadline/threadline/adapters/telegram"
)

// telegramPoster delivers signed Telegram updates to Threadline's webhook the
// way Telegram does: an answer other than 200 (a 5xx while the store is busy
// or down, a 429) or no answer at all is delivered again after a pause, so a
// slow moment costs latency, not the run. A 4xx other than 429 is a refusal
// of a well-formed update, which only a bug explains, so it ends the run.
type telegramPoster struct {
	url    string
	client *http.Client
	// until bounds the redeliveries of one update; zero means until the
	// context ends.
	until time.Time
	pause time.Duration
	// redelivered counts the answers that were not 200, and the requests
	// that got no answer, each of which was delivered again.
	redelivered atomic.Int64
}

func newTelegramPoster(base string, client *http.Client) *telegramPoster {
	return &telegramPoster{url: base + "/webhooks/telegram", client: client, pause: 50 * time.Millisecond}
}

var errRefused = errors.New("webhook refused the update")

// post delivers body until it is acknowledged and returns how long the
// acknowledged attempt took.
func (p *telegramPoster) post(ctx context.Context, body []byte) (time.Duration, error) {
	var last error
	for {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("webhook not acknowledged (%v): %w", last, err)
		}
		if !p.until.IsZero() && time.Now().After(p.until) {
			return 0, fmt.Errorf("webhook never acknowledged: %v", last)
		}
		took, code, err := p.once(ctx, body)
		switch {
		case err == nil && code == http.StatusOK:
			return took, nil
		case err == nil && code >= 400 && code < 500 && code != http.StatusTooManyRequests:
			return 0, fmt.Errorf("%w: answered %d", errRefused, code)
		case err == nil:
			last = fmt.Errorf("answered %d", code)
		default:
			last = err
		}
		p.redelivered.Add(1)
		select {
		case <-ctx.Done():
		case <-time.After(p.pause):
		}
	}
}

func (p *telegramPoster) once(ctx context.Context, body []byte) (time.Duration, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(telegram.SecretHeader, tgSecret)
	t0 := time.Now()
	res, err := p.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return time.Since(t0), res.StatusCode, nil
}
