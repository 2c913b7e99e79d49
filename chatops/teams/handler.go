package teams

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
)

// Authenticator validates an inbound request's Authorization header.
type Authenticator interface {
	Validate(ctx context.Context, authorization string) (Claims, error)
}

// Learner records the connector URL a validated activity came from.
type Learner interface {
	Learn(ctx context.Context, tenantID, serviceURL string) error
}

// HandlerOptions configures the /teams/messages handler.
type HandlerOptions struct {
	Auth    Authenticator
	Learner Learner
	AppID   string
	// TenantID, when set, is the only tenant whose activities are acted on.
	TenantID string
	// Bridge runs agent actions; nil only authenticates and records.
	Bridge Bridge
	// Teller answers agents in their thread.
	Teller Teller
	// Roles gives users their roles; nil keeps the stored ones.
	Roles RoleSource
	// Reports runs the report command; nil turns it off.
	Reports ReportSource
	// ReplyMode is ReplyAuto (default) or ReplyExplicit.
	ReplyMode string
	Logger    *slog.Logger
	// Observe is told how each request ended and how long its answer took.
	Observe func(source, outcome string, took time.Duration)
}

// Handler serves the bot's messaging endpoint.
type Handler struct {
	opts HandlerOptions
	log  *slog.Logger
}

// NewHandler returns the handler.
func NewHandler(opts HandlerOptions) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Observe == nil {
		opts.Observe = func(string, string, time.Duration) {}
	}
	if opts.ReplyMode == "" {
		opts.ReplyMode = ReplyAuto
	}
	return &Handler{opts: opts, log: opts.Logger}
}

// Routes mounts POST /teams/messages.
func (h *Handler) Routes(r chi.Router) { r.Post("/teams/messages", h.ServeHTTP) }

const source = "teams_messages"

// ServeHTTP authenticates the request before reading its body, then decodes
// the activity and checks that the token was issued for its serviceUrl and
// channel.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	claims, err := h.opts.Auth.Validate(r.Context(), r.Header.Get("Authorization"))
	if err != nil {
		if errors.Is(err, ErrUnauthorized) {
			h.reject(w, r, start, err.Error())
			return
		}
		// The keys could not be fetched: our fault, so the connector retries.
		h.log.Error("teams request: cannot validate token", "remote", r.RemoteAddr, "err", err)
		h.opts.Observe(source, "error", time.Since(start))
		http.Error(w, "cannot validate token now", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "cannot read body", http.StatusBadRequest)
		}
		h.log.Warn("teams request: body", "remote", r.RemoteAddr, "err", err)
		h.opts.Observe(source, "bad_request", time.Since(start))
		return
	}
	act, err := DecodeActivity(body)
	if err != nil {
		h.log.Warn("teams request: malformed activity", "remote", r.RemoteAddr, "err", err)
		h.opts.Observe(source, "bad_request", time.Since(start))
		http.Error(w, "malformed activity", http.StatusBadRequest)
		return
	}
	if claims.ServiceURL != act.ServiceURL {
		h.reject(w, r, start, "token serviceurl claim does not match the activity's serviceUrl")
		return
	}
	if !claims.Endorses(act.ChannelID) {
		h.reject(w, r, start, "signing key is not endorsed for channel "+act.ChannelID)
		return
	}
	if act.ChannelID != "msteams" {
		// The bot's registration may also have Web Chat or Direct Line,
		// whose users name themselves: only Teams identifies agents.
		h.log.Warn("activity from a channel other than Teams ignored", "channel", act.ChannelID, "type", act.Type)
		h.opts.Observe(source, "ignored", time.Since(start))
		w.WriteHeader(http.StatusOK)
		return
	}
	tenant := act.TenantID()
	if h.opts.TenantID != "" && tenant != h.opts.TenantID {
		h.log.Warn("teams activity from another tenant ignored", "tenant", tenant, "type", act.Type)
		h.opts.Observe(source, "ignored", time.Since(start))
		w.WriteHeader(http.StatusOK)
		return
	}
	if h.opts.Learner != nil {
		if err := h.opts.Learner.Learn(r.Context(), tenant, act.ServiceURL); err != nil {
			h.log.Error("teams request: record service url", "err", err)
			h.opts.Observe(source, "error", time.Since(start))
			http.Error(w, "could not store", http.StatusInternalServerError)
			return
		}
	}
	outcome, status, resp := h.handle(r.Context(), act)
	h.opts.Observe(source, outcome, time.Since(start))
	if resp != nil {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(resp)
		return
	}
	w.WriteHeader(status)
}

func (h *Handler) reject(w http.ResponseWriter, r *http.Request, start time.Time, why string) {
	h.log.Warn("teams request rejected", "remote", r.RemoteAddr, "reason", why)
	h.opts.Observe(source, "unauthorized", time.Since(start))
	http.Error(w, "unauthorized", http.StatusUnauthorized)
}

// SetBridge connects the handler to the bridge, which is built after the
// surfaces it shows conversations on.
func (h *Handler) SetBridge(b Bridge) { h.opts.Bridge = b }
