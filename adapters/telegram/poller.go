package telegram

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/threadline/threadline/bridge"
)

// RunPoller long-polls getUpdates until ctx ends. Among replicas sharing a
// store only the holder of a lease polls (Telegram answers a second poller
// with 409). The offset is stored after each update is ingested, so a restart
// neither loses nor repeats one: a crash in between redelivers an update the
// bridge recognises.
func (a *Adapter) RunPoller(ctx context.Context, store bridge.Store, ing Ingester) error {
	var b [8]byte
	_, _ = rand.Read(b[:])
	owner := hex.EncodeToString(b[:])
	leaseName := "telegram:poller:" + a.botID
	cursorName := "telegram:offset:" + a.botID
	lease := a.opts.PollTimeout + 30*time.Second
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = store.InTx(rctx, func(ctx context.Context, tx bridge.Tx) error { return tx.ReleaseLease(ctx, leaseName, owner) })
	}()
	backoff := time.Second
	for ctx.Err() == nil {
		var held bool
		var offset int64
		err := store.InTx(ctx, func(ctx context.Context, tx bridge.Tx) error {
			now := a.opts.Clock.Now()
			var err error
			if held, err = tx.ClaimLease(ctx, leaseName, owner, now, now.Add(lease)); err != nil || !held {
				return err
			}
			v, err := tx.GetCursor(ctx, cursorName)
			switch {
			case errors.Is(err, bridge.ErrNotFound):
				return nil
			case err != nil:
				return err
			}
			offset, err = strconv.ParseInt(v, 10, 64)
			return err
		})
		if err != nil {
			a.log.Warn("telegram poller: store", "err", err)
			wait(ctx, backoff)
			continue
		}
		if !held {
			wait(ctx, lease/2) // another replica polls
			continue
		}
		n, err := a.pollOnce(ctx, store, ing, offset, cursorName)
		if err != nil && ctx.Err() == nil {
			d := backoff
			var api *APIError
			if errors.As(err, &api) && api.RetryAfter > 0 {
				d = api.RetryAfter
			}
			if errors.As(err, &api) && api.Code == 409 {
				a.log.Error("telegram poller: Telegram reports a webhook or another poller for this bot; remove the webhook or use THREADLINE_TELEGRAM_MODE=webhook", "err", err)
			} else {
				a.log.Warn("telegram poller", "err", err, "retry_in", d)
			}
			wait(ctx, d)
			backoff = min(backoff*2, time.Minute)
			continue
		}
		backoff = time.Second
		if n > 0 {
			a.log.Debug("telegram poller: ingested updates", "count", n)
		}
	}
	return nil
}

func (a *Adapter) pollOnce(ctx context.Context, store bridge.Store, ing Ingester, offset int64, cursorName string) (int, error) {
	var updates []rawJSON
	params := map[string]any{
		"offset":          offset,
		"timeout":         int(a.opts.PollTimeout / time.Second),
		"allowed_updates": []string{"message", "edited_message"},
	}
	if err := a.call(ctx, "getUpdates", params, &updates); err != nil {
		return 0, err
	}
	for _, raw := range updates {
		u, err := DecodeUpdate(raw)
		if err != nil {
			a.log.Warn("telegram poller: skipping malformed update", "err", err)
			if u.UpdateID = lenientUpdateID(raw); u.UpdateID == 0 {
				continue
			}
		} else if err := a.ingest(ctx, ing, u); err != nil {
			return 0, err
		}
		next := strconv.FormatInt(u.UpdateID+1, 10)
		// Store the offset even when shutdown has begun: the update is in,
		// and a graceful stop should not cause a redelivery.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err = store.InTx(sctx, func(ctx context.Context, tx bridge.Tx) error { return tx.SetCursor(ctx, cursorName, next) })
		cancel()
		if err != nil {
			return 0, fmt.Errorf("store offset: %w", err)
		}
	}
	return len(updates), nil
}

// rawJSON keeps each update raw so one malformed update is skipped rather
// than failing the batch.
type rawJSON []byte

func (r *rawJSON) UnmarshalJSON(b []byte) error {
	*r = append((*r)[:0], b...)
	return nil
}

func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// lenientUpdateID finds the update_id of an update that does not decode, so
// the offset can move past it.
func lenientUpdateID(raw []byte) int64 {
	var u struct {
		UpdateID int64 `json:"update_id"`
	}
	_ = json.Unmarshal(raw, &u)
	return u.UpdateID
}
