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

// Ingester stores inbound events durably; *bridge.Bridge is one. A
// redelivered event must change nothing.
type Ingester interface {
	Ingest(ctx context.Context, ev bridge.InboundEvent) (bridge.IngestResult, error)
}

// Observer is told how each webhook request ended (unauthorized,
// too_large, bad_request, error, stored) and how long its answer took, for
// metrics.
type Observer func(outcome string, took time.Duration)

// SecretHeader carries the secret_token given to setWebhook.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// MaxWebhookBody bounds a webhook request. One update is a few kilobytes;
// captions and entities stay far below this.
const MaxWebhookBody = 1 << 20

// WebhookHandler serves the URL given to setWebhook. The secret is checked
// before the body is read, so an unauthenticated caller costs nothing; each
// update is stored before the 200 that stops Telegram's retries, and a
// failure to store answers 500 so that Telegram delivers it again. observe
// may be nil.
func (a *Adapter) WebhookHandler(ing Ingester, observe Observer) http.Handler {
	if observe == nil {
		observe = func(string, time.Duration) {}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		done := func(outcome string) { observe(outcome, time.Since(start)) }
		if !a.authentic(r) {
			done("unauthorized")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				a.log.Warn("telegram webhook: body over the limit", "limit", MaxWebhookBody)
				done("too_large")
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			done("bad_request")
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		events, updateID, err := a.ParseUpdate(body)
		if err != nil {
			a.log.Warn("telegram webhook: malformed update", "err", err)
			done("bad_request")
			http.Error(w, "malformed update", http.StatusBadRequest)
			return
		}
		if err := a.ingest(r.Context(), ing, updateID, events); err != nil {
			done("error")
			http.Error(w, "could not store update", http.StatusInternalServerError)
			return
		}
		done("stored")
		w.WriteHeader(http.StatusOK)
	})
}

// authentic compares the secret header in constant time, so its answer
// time says nothing about how much of a guess was right.
func (a *Adapter) authentic(r *http.Request) bool {
	if a.opts.WebhookSecret == "" {
		a.log.Warn("telegram webhook: refused, no webhook secret is configured", "remote", r.RemoteAddr)
		return false
	}
	got := r.Header.Get(SecretHeader)
	if subtle.ConstantTimeCompare([]byte(got), []byte(a.opts.WebhookSecret)) != 1 {
		a.log.Warn("telegram webhook: refused, bad or missing secret token", "remote", r.RemoteAddr, "header_present", got != "")
		return false
	}
	return true
}

// ingest stores the events of one update, in order.
func (a *Adapter) ingest(ctx context.Context, ing Ingester, updateID int64, events []bridge.InboundEvent) error {
	if len(events) == 0 {
		a.log.Debug("telegram update ignored: not a customer message in a private chat", "update_id", updateID)
	}
	for _, ev := range events {
		res, err := ing.Ingest(ctx, ev)
		if err != nil {
			a.log.Error("telegram: ingest failed", "update_id", updateID, "err", err)
			return err
		}
		if res.Duplicate {
			a.log.Debug("telegram update redelivered", "update_id", updateID)
		}
		if ev.Survey != nil && ev.Survey.AckToken != "" {
			a.ackSurvey(ctx, ev.Survey.AckToken, res.Ignored)
		}
	}
	return nil
}

// ackSurvey answers the callback query once the tap is stored. It is a
// courtesy (Telegram stops showing a spinner), so a failure is only logged:
// the answer is already kept.
func (a *Adapter) ackSurvey(ctx context.Context, id string, ignored bool) {
	text := "Thank you for your feedback!"
	if ignored {
		text = "This survey is no longer open."
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := a.AnswerCallback(actx, id, text); err != nil {
		a.log.Warn("telegram: answerCallbackQuery", "err", err)
	}
}
