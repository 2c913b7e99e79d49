package telegram

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/threadline/threadline/bridge"
)

// Ingester stores inbound events durably.
type Ingester interface {
	Ingest(ctx context.Context, ev bridge.InboundEvent) (bridge.IngestResult, error)
}

// Observer is told how each webhook request ended and how long its answer
// took, for metrics.
type Observer func(outcome string, took time.Duration)

// SecretHeader carries the secret_token given to setWebhook.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// WebhookHandler serves POST /webhooks/telegram. The secret is checked before
// the body is read; each update is stored before the 200 that stops
// Telegram's retries.
func (a *Adapter) WebhookHandler(ing Ingester, observe Observer) http.Handler {
	if observe == nil {
		observe = func(string, time.Duration) {}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		observe := func(outcome string) { observe(outcome, time.Since(start)) }
		got := r.Header.Get(SecretHeader)
		if a.opts.WebhookSecret == "" || subtle.ConstantTimeCompare([]byte(got), []byte(a.opts.WebhookSecret)) != 1 {
			a.log.Warn("telegram webhook: bad or missing secret token", "remote", r.RemoteAddr)
			observe("unauthorized")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				observe("too_large")
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			observe("bad_request")
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		u, err := DecodeUpdate(body)
		if err != nil {
			a.log.Warn("telegram webhook: malformed update", "err", err)
			observe("bad_request")
			http.Error(w, "malformed update", http.StatusBadRequest)
			return
		}
		if err := a.ingest(r.Context(), ing, u); err != nil {
			observe("error")
			http.Error(w, "could not store update", http.StatusInternalServerError)
			return
		}
		observe("stored")
		w.WriteHeader(http.StatusOK)
	})
}

func (a *Adapter) ingest(ctx context.Context, ing Ingester, u Update) error {
	events := a.Events(u)
	if len(events) == 0 {
		a.log.Debug("telegram update ignored", "update_id", u.UpdateID)
	}
	for _, ev := range events {
		if _, err := ing.Ingest(ctx, ev); err != nil {
			a.log.Error("telegram: ingest failed", "update_id", u.UpdateID, "err", err)
			return err
		}
	}
	return nil
}
