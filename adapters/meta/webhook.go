package meta

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/threadline/threadline/bridge"
)

// Ingester stores what a webhook delivers; *bridge.Bridge is one. Both
// calls must change nothing for a redelivered event.
type Ingester interface {
	Ingest(ctx context.Context, ev bridge.InboundEvent) (bridge.IngestResult, error)
	ObserveOutbound(ctx context.Context, ev bridge.ObservedOutbound) (bridge.IngestResult, error)
	RecordReceipt(ctx context.Context, ev bridge.ReceiptEvent) (int, error)
}

// Observer is told how each webhook request ended (verified, refused,
// unauthorized, too_large, bad_request, error, stored) and how long its
// answer took, for metrics.
type Observer func(outcome string, took time.Duration)

// SignatureHeader carries "sha256=" + hex HMAC-SHA256 of the raw body, keyed
// with the app secret.
const SignatureHeader = "X-Hub-Signature-256"

// MaxWebhookBody bounds a delivery. Meta batches events, but a batch of
// messaging events stays far below this.
const MaxWebhookBody = 1 << 20

// Sign returns the X-Hub-Signature-256 value Meta sends for body.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature checks an X-Hub-Signature-256 value against the raw body
// in constant time.
func VerifySignature(secret string, body []byte, header string) bool {
	if secret == "" {
		return false
	}
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// WebhookHandler serves the callback URL of the Meta app: GET answers the
// subscription handshake, POST takes deliveries. A delivery's signature is
// checked over the raw body before it is parsed; each event is stored
// before the 200 that stops Meta's retries, and a failure to store answers
// 500 so that Meta delivers the batch again (stored events then dedupe by
// message id). observe may be nil.
func (a *Adapter) WebhookHandler(ing Ingester, observe Observer) http.Handler {
	if observe == nil {
		observe = func(string, time.Duration) {}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		done := func(outcome string) { observe(outcome, time.Since(start)) }
		switch r.Method {
		case http.MethodGet:
			a.handshake(w, r, done)
		case http.MethodPost:
			a.delivery(w, r, ing, done)
		default:
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

// handshake answers Meta's verification request: hub.mode=subscribe with
// our verify token gets hub.challenge back, anything else 403.
func (a *Adapter) handshake(w http.ResponseWriter, r *http.Request, done func(string)) {
	q := r.URL.Query()
	token := q.Get("hub.verify_token")
	if q.Get("hub.mode") != "subscribe" || subtle.ConstantTimeCompare([]byte(token), []byte(a.opts.VerifyToken)) != 1 {
		a.log.Warn("meta webhook: handshake refused", "remote", r.RemoteAddr, "mode", q.Get("hub.mode"), "token_present", token != "")
		done("refused")
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	challenge := q.Get("hub.challenge")
	if challenge == "" || len(challenge) > 256 {
		done("bad_request")
		http.Error(w, "missing hub.challenge", http.StatusBadRequest)
		return
	}
	done("verified")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, challenge)
}

func (a *Adapter) delivery(w http.ResponseWriter, r *http.Request, ing Ingester, done func(string)) {
	sig := r.Header.Get(SignatureHeader)
	if sig == "" {
		// Refuse before reading: an unsigned caller costs nothing.
		a.log.Warn("meta webhook: refused, no signature", "remote", r.RemoteAddr)
		done("unauthorized")
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			a.log.Warn("meta webhook: body over the limit", "limit", MaxWebhookBody)
			done("too_large")
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		done("bad_request")
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	if !VerifySignature(a.opts.AppSecret, body, sig) {
		a.log.Warn("meta webhook: refused, bad signature", "remote", r.RemoteAddr)
		done("unauthorized")
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	hook, err := DecodeWebhook(body)
	if err != nil {
		a.log.Warn("meta webhook: malformed delivery", "err", err)
		done("bad_request")
		http.Error(w, "malformed delivery", http.StatusBadRequest)
		return
	}
	parsed := a.Parse(hook)
	for _, id := range parsed.Unknown {
		// Acknowledged: Meta would retry an error for hours, and the
		// account may simply have been disconnected here.
		a.log.Warn("meta webhook: ignored an entry for an account that is not connected", "object", hook.Object, "account", id)
	}
	if err := a.store(r.Context(), ing, parsed); err != nil {
		done("error")
		http.Error(w, "could not store delivery", http.StatusInternalServerError)
		return
	}
	done("stored")
	w.WriteHeader(http.StatusOK)
}

// store hands every event of a delivery to the bridge, in order.
func (a *Adapter) store(ctx context.Context, ing Ingester, p Parsed) error {
	lookups, cancel := context.WithTimeout(ctx, a.opts.ProfileBudget)
	defer cancel()
	for _, ev := range p.Events {
		var res bridge.IngestResult
		var err error
		switch {
		case ev.Inbound != nil:
			in := *ev.Inbound
			if in.Source == bridge.SourceDM {
				// Commenters are not page-scoped users: the change itself
				// names them.
				a.enrich(lookups, &in)
			}
			if ev.mention != nil {
				if err := a.fillMention(lookups, *ev.mention, &in); err != nil {
					a.log.Warn("meta: reading a mention failed; Meta will deliver it again", "err", err)
					return err
				}
			}
			res, err = ing.Ingest(ctx, in)
		case ev.Outbound != nil:
			res, err = ing.ObserveOutbound(ctx, *ev.Outbound)
		case ev.Receipt != nil:
			_, err = ing.RecordReceipt(ctx, *ev.Receipt)
		}
		if errors.Is(err, bridge.ErrInvalidInput) {
			// Meta would redeliver it forever: acknowledge and say so.
			a.log.Warn("meta: webhook event refused by the bridge, skipped", "err", err)
			continue
		}
		if err != nil {
			a.log.Error("meta: storing a webhook event failed", "err", err)
			return err
		}
		if res.Duplicate {
			a.log.Debug("meta event already stored (redelivery or our own echo)")
		}
	}
	if p.Ignored > 0 {
		a.log.Debug("meta webhook: events with nothing to show", "count", p.Ignored)
	}
	return nil
}
