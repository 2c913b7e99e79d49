package telegram

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/threadline/threadline/bridge"
)

const (
	minBackoff = time.Second
	maxBackoff = time.Minute
	// storeTimeout bounds the store writes that must finish even while
	// shutting down (the offset, the lease release).
	storeTimeout = 5 * time.Second
)

// LeaseName is the store lease that elects the one replica polling a bot.
func LeaseName(botID string) string { return "telegram:poller:" + botID }

// CursorName is the store cursor that keeps a bot's getUpdates offset.
func CursorName(botID string) string { return "telegram:offset:" + botID }

// RunPoller long-polls getUpdates and ingests every update until ctx ends.
//
// Among replicas sharing a store only the holder of a lease polls, since
// Telegram answers concurrent pollers with 409; the others stand by and take
// over when the lease lapses. The offset lives in the store and is written
// after each update is ingested, so a restart or a takeover neither loses nor
// repeats an update: a crash between the two redelivers one update, which
// Ingest recognises by its delivery id. Errors are logged and retried with
// backoff (honouring Telegram's retry_after); RunPoller returns only when ctx
// ends, releasing the lease.
func (a *Adapter) RunPoller(ctx context.Context, store bridge.Store, ing Ingester) error {
	p := &poller{
		a: a, store: store, ing: ing,
		owner:  "telegram-poller-" + rand.Text(),
		lease:  LeaseName(a.botID),
		cursor: CursorName(a.botID),
	}
	defer p.release(ctx)
	p.run(ctx)
	return nil
}

type poller struct {
	a             *Adapter
	store         bridge.Store
	ing           Ingester
	owner         string
	lease, cursor string
}

func (p *poller) run(ctx context.Context) {
	a := p.a
	log := a.log.With("bot", a.botID, "owner", p.owner)
	backoff := minBackoff
	// retry logs err and waits before the next round: retry_after when
	// Telegram gave one, else a doubling backoff.
	retry := func(msg string, err error) {
		d := backoff
		var api *APIError
		if errors.As(err, &api) && api.RetryAfter > 0 {
			d = api.RetryAfter
		}
		if errors.As(err, &api) && api.Code == http.StatusConflict {
			log.Error("telegram poller: Telegram refuses getUpdates: "+conflictHint(api), "err", err, "retry_in", d)
		} else {
			log.Warn(msg, "err", err, "retry_in", d)
		}
		a.opts.Wait(ctx, d)
		backoff = min(backoff*2, maxBackoff)
	}
	webhookChecked := !a.opts.DeleteWebhook
	standby := false
	for ctx.Err() == nil {
		held, offset, err := p.claim(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			retry("telegram poller: store", err)
			continue
		case !held:
			if !standby {
				log.Info("telegram poller: another replica polls; standing by")
				standby = true
			}
			a.opts.Wait(ctx, a.opts.PollerLease/3)
			continue
		case standby:
			log.Info("telegram poller: took over polling", "offset", offset)
			standby = false
		}
		if !webhookChecked {
			if err := a.DeleteWebhook(ctx); err != nil {
				if ctx.Err() == nil {
					retry("telegram poller: deleteWebhook", err)
				}
				continue
			}
			log.Info("telegram poller: webhook deleted, polling")
			webhookChecked = true
		}
		if err := p.poll(ctx, offset); err != nil {
			if ctx.Err() == nil {
				retry("telegram poller", err)
			}
			continue
		}
		backoff = minBackoff
	}
}

// claim takes or renews the lease and, when held, reads the offset.
func (p *poller) claim(ctx context.Context) (held bool, offset int64, err error) {
	err = p.store.InTx(ctx, func(ctx context.Context, tx bridge.Tx) error {
		held, offset = false, 0
		now := p.a.opts.Clock.Now()
		ok, err := tx.ClaimLease(ctx, p.lease, p.owner, now, now.Add(p.a.opts.PollerLease))
		if err != nil || !ok {
			return err
		}
		held = true
		v, err := tx.GetCursor(ctx, p.cursor)
		switch {
		case errors.Is(err, bridge.ErrNotFound):
			return nil // never polled: start with the oldest unconfirmed update
		case err != nil:
			return err
		}
		if offset, err = strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Errorf("cursor %s holds %q: %w", p.cursor, v, err)
		}
		return nil
	})
	return held, offset, err
}

// poll makes one getUpdates call and ingests what it returns, storing the
// offset after each update.
func (p *poller) poll(ctx context.Context, offset int64) error {
	a := p.a
	var updates []json.RawMessage
	params := map[string]any{
		"offset":          offset,
		"timeout":         int(a.opts.PollTimeout / time.Second),
		"allowed_updates": []string{"message", "edited_message", "callback_query"},
	}
	if err := a.call(ctx, "getUpdates", params, &updates); err != nil {
		return err
	}
	for _, raw := range updates {
		if ctx.Err() != nil {
			// Shutting down: what is left comes again on the next start.
			return ctx.Err()
		}
		events, updateID, err := a.ParseUpdate(raw)
		if err != nil {
			// One bad update must not block the bot forever: skip it.
			if updateID = lenientUpdateID(raw); updateID <= 0 {
				return fmt.Errorf("update without update_id in the getUpdates result: %w", err)
			}
			a.log.Warn("telegram poller: skipping malformed update", "update_id", updateID, "err", err)
		} else if err := a.ingest(ctx, p.ing, updateID, events); err != nil {
			return fmt.Errorf("update %d: %w", updateID, err)
		}
		// Store the offset even when shutdown has begun: the update is in,
		// and a graceful stop should not cause a redelivery.
		next := strconv.FormatInt(updateID+1, 10)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		err = p.store.InTx(sctx, func(ctx context.Context, tx bridge.Tx) error { return tx.SetCursor(ctx, p.cursor, next) })
		cancel()
		if err != nil {
			return fmt.Errorf("store offset %s: %w", next, err)
		}
	}
	if len(updates) > 0 {
		a.log.Debug("telegram poller: ingested updates", "count", len(updates))
	}
	return nil
}

// release gives the lease back so a standby replica takes over at once
// rather than after the lease lapses.
func (p *poller) release(ctx context.Context) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if err := p.store.InTx(rctx, func(ctx context.Context, tx bridge.Tx) error {
		return tx.ReleaseLease(ctx, p.lease, p.owner)
	}); err != nil {
		p.a.log.Warn("telegram poller: release lease", "err", err)
	}
}

// conflictHint explains Telegram's 409 to whoever reads the log.
func conflictHint(api *APIError) string {
	if strings.Contains(api.Description, "webhook") {
		return "a webhook is set for this bot; delete it (deleteWebhook, or enable DeleteWebhook) or run in webhook mode"
	}
	return "another process polls with this bot token outside this deployment's store (a second deployment or a developer's machine); stop it"
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
