package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/threadline/threadline/bridge"
)

// Bridge is what the handlers need from the core: every action goes
// through Dispatch.
type Bridge interface {
	Dispatch(ctx context.Context, key bridge.DeliveryKey, actor bridge.Actor, cmd bridge.Command) (bridge.CommandResult, error)
	ReplyContextFor(ctx context.Context, surface bridge.Surface, ref bridge.ConversationRef, n int) (bridge.ReplyContext, error)
	OpenDraft(ctx context.Context, actor bridge.Actor, conv bridge.ConversationID, viewRef string, seenSeq int64) ([]bridge.Draft, error)
	CloseDraft(ctx context.Context, actor bridge.Actor, conv bridge.ConversationID) error
	Drafts(ctx context.Context, conv bridge.ConversationID) ([]bridge.Draft, error)
	SuggestMacros(ctx context.Context, rc bridge.ReplyContext, agentName string) ([]bridge.SuggestedMacro, bridge.Intent, string, error)
	ConversationByChatThread(ctx context.Context, surface bridge.Surface, channel, threadRef string) (bridge.Conversation, error)
}

// RoleSource says which role a Slack user has (RoleDirectory).
type RoleSource interface {
	RoleOf(ctx context.Context, userID string) bridge.Role
}

// Linker builds links to Slack messages (Surface.Permalink).
type Linker interface {
	Permalink(channel, ts string) string
}

// Notifier tells one user something only they see.
type Notifier interface {
	Ephemeral(ctx context.Context, channel, threadTS, user, text string) error
}

// Reply modes.
const (
	// ReplyAuto sends thread messages to the customer unless they start with
	// "note:" or mention a teammate.
	ReplyAuto = "auto"
	// ReplyExplicit keeps every thread message internal unless it starts
	// with "reply:".
	ReplyExplicit = "explicit"
)

// HandlerOptions configures the request handlers.
type HandlerOptions struct {
	Bridge    Bridge
	Notifier  Notifier
	Verifier  Verifier
	BotUserID string
	// InboxChannel is where Threadline opens threads; ThreadChannels are
	// further channels it opens some in (per-account channels).
	InboxChannel   string
	ThreadChannels []string
	ReplyMode      string
	Clock          bridge.Clock
	// Names finds agents' display names; nil uses the user id.
	Names interface {
		UserName(ctx context.Context, userID string) string
	}
	// Roles says who is a supervisor, manager or admin; nil keeps the
	// roles stored for agents.
	Roles RoleSource
	// Links builds links in lists; nil shows numbers only.
	Links Linker
	// Views opens the reply, note, transfer and escalate forms; nil points
	// at the slash commands instead.
	Views  Views
	Logger *slog.Logger
	// Observe is told how each request ended and how long its answer took.
	Observe func(source, outcome string, took time.Duration)
	// Reports answers /threadline report; nil turns it off.
	Reports *Reports
}

// Handler turns Slack requests into bridge commands. Verification and
// decoding are per transport (HTTP here, Socket Mode elsewhere); the Handle*
// methods below them are shared.
type Handler struct {
	opts HandlerOptions
	log  *slog.Logger
}

// NewHandler returns the handlers.
func NewHandler(opts HandlerOptions) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ReplyMode == "" {
		opts.ReplyMode = ReplyAuto
	}
	if opts.Observe == nil {
		opts.Observe = func(string, string, time.Duration) {}
	}
	return &Handler{opts: opts, log: opts.Logger}
}

// Routes mounts the HTTP endpoints.
func (h *Handler) Routes(r chi.Router) {
	r.Post("/slack/events", h.serveEvents)
	r.Post("/slack/interactions", h.serveInteractions)
	r.Post("/slack/commands", h.serveCommands)
}

// readVerified reads the body and checks its signature before anything
// parses it.
func (h *Handler) readVerified(w http.ResponseWriter, r *http.Request, source string) ([]byte, bool) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "cannot read body", http.StatusBadRequest)
		}
		h.opts.Observe(source, "bad_request", 0)
		return nil, false
	}
	if err := h.opts.Verifier.Verify(r.Header.Get("X-Slack-Request-Timestamp"), r.Header.Get("X-Slack-Signature"), body); err != nil {
		h.log.Warn("slack request rejected", "endpoint", source, "remote", r.RemoteAddr, "err", err)
		h.opts.Observe(source, "unauthorized", 0)
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return nil, false
	}
	return body, true
}

// EventEnvelope is the Events API wrapper.
type EventEnvelope struct {
	Type      string          `json:"type"`
	Challenge string          `json:"challenge"`
	TeamID    string          `json:"team_id"`
	EventID   string          `json:"event_id"`
	Event     json.RawMessage `json:"event"`
}

// MessageEvent is a message event as far as Threadline reads it.
type MessageEvent struct {
	Type     string `json:"type"`
	Subtype  string `json:"subtype"`
	Channel  string `json:"channel"`
	User     string `json:"user"`
	BotID    string `json:"bot_id"`
	Text     string `json:"text"`
	TS       string `json:"ts"`
	ThreadTS string `json:"thread_ts"`
	Team     string `json:"team"`
	Tab      string `json:"tab"` // app_home_opened: home or messages
}

// DecodeEvent parses an Events API body.
func DecodeEvent(body []byte) (EventEnvelope, MessageEvent, error) {
	var env EventEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return env, MessageEvent{}, fmt.Errorf("%w: slack event: %v", bridge.ErrInvalidInput, err)
	}
	var msg MessageEvent
	if env.Type == "event_callback" {
		if env.EventID == "" || len(env.Event) == 0 {
			return env, msg, fmt.Errorf("%w: slack event_callback without event_id or event", bridge.ErrInvalidInput)
		}
		if err := json.Unmarshal(env.Event, &msg); err != nil {
			return env, msg, fmt.Errorf("%w: slack event body: %v", bridge.ErrInvalidInput, err)
		}
	}
	return env, msg, nil
}

func (h *Handler) serveEvents(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	body, ok := h.readVerified(w, r, "slack_events")
	if !ok {
		return
	}
	env, msg, err := DecodeEvent(body)
	if err != nil {
		h.log.Warn("slack event: malformed", "err", err)
		h.opts.Observe("slack_events", "bad_request", time.Since(start))
		http.Error(w, "malformed event", http.StatusBadRequest)
		return
	}
	if env.Type == "url_verification" {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, env.Challenge)
		return
	}
	outcome, err := h.HandleEvent(r.Context(), env, msg)
	if errors.Is(err, ErrThreadNotReady) {
		h.opts.Observe("slack_events", "retry_later", time.Since(start))
		http.Error(w, "thread not recorded yet, retry", http.StatusServiceUnavailable)
		return
	}
	if err != nil {
		h.opts.Observe("slack_events", "error", time.Since(start))
		http.Error(w, "could not store event", http.StatusInternalServerError)
		return
	}
	h.opts.Observe("slack_events", outcome, time.Since(start))
	w.WriteHeader(http.StatusOK)
}

var mention = regexp.MustCompile(`<@([UW][A-Z0-9]+)(?:\|[^>]*)?>`)

// Intent is what an agent's thread message means.
type Intent int

const (
	IntentReply Intent = iota
	IntentNote
)

// ClassifyMessage decides whether an agent's thread message goes to the
// customer, and strips the reply:/note: prefix. A leak to a customer is the
// worst failure of this product, so anything addressed to a teammate stays
// internal.
func ClassifyMessage(text, botUserID, mode string) (Intent, string) {
	t := strings.TrimSpace(text)
	lower := strings.ToLower(t)
	switch {
	case strings.HasPrefix(lower, "reply:"):
		return IntentReply, strings.TrimSpace(t[len("reply:"):])
	case strings.HasPrefix(lower, "note:"):
		return IntentNote, strings.TrimSpace(t[len("note:"):])
	case mode == ReplyExplicit:
		return IntentNote, t
	}
	for _, m := range mention.FindAllStringSubmatch(t, -1) {
		if m[1] != botUserID {
			return IntentNote, t
		}
	}
	return IntentReply, t
}

var link = regexp.MustCompile(`<((?:https?|mailto):[^|>]+)(?:\|([^>]+))?>`)

// PlainText turns Slack's message markup into what a customer should read.
func PlainText(s string) string {
	s = link.ReplaceAllStringFunc(s, func(m string) string {
		p := link.FindStringSubmatch(m)
		if p[2] == "" || p[2] == p[1] {
			return strings.TrimPrefix(p[1], "mailto:")
		}
		return p[2] + " (" + p[1] + ")"
	})
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

// HandleEvent acts on a verified, decoded event and reports what it did.
func (h *Handler) HandleEvent(ctx context.Context, env EventEnvelope, msg MessageEvent) (string, error) {
	if env.Type == "event_callback" && msg.Type == "app_home_opened" {
		return h.homeOpened(ctx, env.TeamID, msg)
	}
	if env.Type != "event_callback" || msg.Type != "message" {
		return "ignored", nil
	}
	switch msg.Subtype {
	case "", "file_share", "thread_broadcast":
	default:
		return "ignored", nil // joins, edits, deletions, bot messages
	}
	if msg.BotID != "" || msg.User == "" || msg.User == h.opts.BotUserID {
		return "ignored", nil // never relay a bot, least of all ourselves
	}
	if msg.ThreadTS == "" || msg.ThreadTS == msg.TS {
		return "ignored", nil // channel chatter, not a conversation thread
	}
	conv, err := h.opts.Bridge.ConversationByChatThread(ctx, bridge.SurfaceSlack, msg.Channel, msg.ThreadTS)
	if errors.Is(err, bridge.ErrNotFound) {
		// The thread's parent is recorded just after Slack accepts it, so a
		// very quick reply can arrive first: ask Slack to deliver it again.
		if (msg.Channel == h.opts.InboxChannel || slices.Contains(h.opts.ThreadChannels, msg.Channel)) && tsAge(msg.ThreadTS, h.now()) < threadRecordGrace {
			return "", ErrThreadNotReady
		}
		return "ignored", nil
	}
	if err != nil {
		return "", err
	}
	team := msg.Team
	if team == "" {
		team = env.TeamID
	}
	intent, text := ClassifyMessage(msg.Text, h.opts.BotUserID, h.opts.ReplyMode)
	cmd := bridge.Command{Verb: bridge.VerbNote, Conversation: bridge.ConversationRef{ID: conv.ID}, Text: text,
		ChatRef: &bridge.ChatMessageRef{Surface: bridge.SurfaceSlack, Channel: msg.Channel, Ref: msg.TS}}
	if intent == IntentReply {
		// A bystander's message stays internal rather than reaching the
		// customer over the assignee's head.
		cmd.Verb, cmd.Text, cmd.NoteIfForbidden = bridge.VerbReply, PlainText(text), true
	}
	res, err := h.opts.Bridge.Dispatch(ctx, bridge.DeliveryKey{Source: "slack", ID: env.EventID}, h.actor(ctx, team, msg.User, ""), cmd)
	if userFault(err) {
		h.tell(msg.Channel, msg.ThreadTS, msg.User, explain(err))
		return "refused", nil
	}
	if err != nil {
		h.log.Error("slack event: bridge", "event_id", env.EventID, "err", err)
		return "", err
	}
	if res.Demoted {
		h.tell(msg.Channel, msg.ThreadTS, msg.User, escape(res.Text))
		return "note", nil
	}
	if intent == IntentNote {
		return "note", nil
	}
	return "reply", nil
}

// ErrThreadNotReady says a reply arrived for a thread whose parent is not
// recorded yet; Slack retries the event.
var ErrThreadNotReady = errors.New("slack: thread not recorded yet")

const threadRecordGrace = 2 * time.Minute

func (h *Handler) now() time.Time {
	if h.opts.Clock != nil {
		return h.opts.Clock.Now()
	}
	return time.Now()
}

// tsAge is how old a Slack message timestamp ("1700000000.000100") is.
func tsAge(ts string, now time.Time) time.Duration {
	secs, _, _ := strings.Cut(ts, ".")
	n, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return time.Duration(1<<63 - 1)
	}
	return now.Sub(time.Unix(n, 0))
}

func (h *Handler) name(ctx context.Context, userID string) string {
	if h.opts.Names == nil {
		return ""
	}
	// The lookup happens inside Slack's 3-second answer window: bound it.
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return h.opts.Names.UserName(ctx, userID)
}

func userFault(err error) bool {
	return errors.Is(err, bridge.ErrIllegalState) || errors.Is(err, bridge.ErrInvalidInput) ||
		errors.Is(err, bridge.ErrConflict) || errors.Is(err, bridge.ErrForbidden) || errors.Is(err, bridge.ErrNotFound)
}

// explain turns a refusal into what the user reads (Slack mrkdwn).
func explain(err error) string {
	var claimed *bridge.ClaimedError
	if errors.As(err, &claimed) {
		return fmt.Sprintf("Not done: %s is already claimed by %s.", claimed.Number, escape(claimed.Owner.Name))
	}
	var perr *bridge.ParseError
	if errors.As(err, &perr) {
		return escape(perr.Error()) + "."
	}
	msg := err.Error()
	for _, sentinel := range []error{bridge.ErrIllegalState, bridge.ErrInvalidInput, bridge.ErrConflict, bridge.ErrForbidden, bridge.ErrNotFound} {
		if _, after, ok := strings.Cut(msg, sentinel.Error()+": "); ok && errors.Is(err, sentinel) {
			msg = after
			break
		}
	}
	if errors.Is(err, bridge.ErrNotFound) && !strings.Contains(msg, "conversation") {
		msg = "no such conversation"
	}
	return "Not done: " + escape(upperFirst(msg)) + "."
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// actor identifies a Slack user to the bridge, with the role the settings
// give them.
func (h *Handler) actor(ctx context.Context, team, user, name string) bridge.Actor {
	if name == "" {
		name = h.name(ctx, user)
	}
	a := bridge.Actor{Surface: bridge.SurfaceSlack, Workspace: team, UserID: user, Name: name}
	if h.opts.Roles != nil {
		a.Role = h.opts.Roles.RoleOf(ctx, user)
	}
	return a
}

// tell sends an ephemeral note in the background: Slack's 3-second answer
// window must not wait for it.
func (h *Handler) tell(channel, threadTS, user, text string) {
	if h.opts.Notifier == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.opts.Notifier.Ephemeral(ctx, channel, threadTS, user, text); err != nil {
			h.log.Warn("slack ephemeral", "err", err)
		}
	}()
}
