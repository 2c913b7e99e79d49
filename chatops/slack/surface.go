// Package slack is Threadline's Slack surface: it shows conversations as
// threads in an inbox channel, and turns what agents do there (thread
// replies, buttons, /threadline) into bridge commands.
package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/store/ratelimit"
)

// FileSource fetches a customer's attachment from its platform.
type FileSource interface {
	DownloadFile(ctx context.Context, ref string) (name string, body io.ReadCloser, err error)
}

// Options configures the surface.
type Options struct {
	Token      string
	APIURL     string // default https://slack.com/api/
	Channel    string // inbox channel id
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Files fetches attachments per platform so they reach Slack as files.
	Files map[bridge.Platform]FileSource
	// MaxFileBytes bounds an attachment copied into Slack.
	MaxFileBytes int64
	// RateLimited is told of every 429 Slack answers.
	RateLimited func(method string)
	// Limiter paces calls across replicas; nil paces this process only.
	Limiter Limiter
	// PostInterval spaces chat.postMessage per channel (Slack allows about
	// one message per second per channel); UpdateInterval spaces chat.update
	// per workspace (about 50 a minute).
	PostInterval, UpdateInterval time.Duration
	// AlertChannel, when set, receives SLA breach alerts.
	AlertChannel string
	// Clock orders the channel's post queue; nil is the wall clock.
	Clock bridge.Clock
	// EscalationChannel is where critical escalations raise an alert;
	// empty keeps alerts in the conversation's thread.
	EscalationChannel string
}

// Limiter spaces calls per key; see store/ratelimit.
type Limiter interface {
	Reserve(ctx context.Context, key string, interval time.Duration) (time.Duration, error)
}

// Surface is the Slack chat surface.
type Surface struct {
	names     sync.Map // user id -> display name
	posts     *postQueue
	api       *slack.Client
	opts      Options
	log       *slog.Logger
	botUserID string
	teamID    string
	teamURL   string // https://example.slack.com/, for links to threads
}

var _ bridge.ChatSurface = (*Surface)(nil)

// New connects to Slack's Web API and learns who the bot is (auth.test).
func New(ctx context.Context, opts Options) (*Surface, error) {
	if opts.APIURL == "" {
		opts.APIURL = "https://slack.com/api/"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.MaxFileBytes == 0 {
		opts.MaxFileBytes = 20 << 20
	}
	if opts.RateLimited == nil {
		opts.RateLimited = func(string) {}
	}
	if opts.Limiter == nil {
		opts.Limiter = ratelimit.NewLocal(nil)
	}
	if opts.PostInterval == 0 {
		opts.PostInterval = time.Second
	}
	if opts.UpdateInterval == 0 {
		opts.UpdateInterval = 1200 * time.Millisecond
	}
	if opts.Clock == nil {
		opts.Clock = bridge.SystemClock{}
	}
	s := &Surface{
		posts: newPostQueue(opts.Clock, 2, max(3*time.Second, 3*opts.PostInterval)),
		api:   slack.New(opts.Token, slack.OptionAPIURL(opts.APIURL), slack.OptionHTTPClient(opts.HTTPClient)),
		opts:  opts,
		log:   opts.Logger,
	}
	auth, err := s.api.AuthTestContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("slack auth.test: %w", err)
	}
	s.botUserID, s.teamID, s.teamURL = auth.UserID, auth.TeamID, auth.URL
	return s, nil
}

// Surface implements bridge.ChatSurface.
func (s *Surface) Surface() bridge.Surface { return bridge.SurfaceSlack }

// BotUserID is the bot's own user id; its messages are never relayed.
func (s *Surface) BotUserID() string { return s.botUserID }

// TeamID is the workspace id.
func (s *Surface) TeamID() string { return s.teamID }

// Channel is the inbox channel id.
func (s *Surface) Channel() string { return s.opts.Channel }

// classify maps a Slack failure to what the bridge should do with it.
func (s *Surface) classify(method string, err error) error {
	if err == nil {
		return nil
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		s.opts.RateLimited(method)
		return &bridge.RetryAfterError{After: rl.RetryAfter, Err: fmt.Errorf("slack %s: %w", method, err)}
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		switch se.Err {
		case "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout":
			return fmt.Errorf("slack %s: %w", method, err)
		}
		return bridge.Permanent(fmt.Errorf("slack %s: %w", method, err))
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) && sc.Code >= 400 && sc.Code < 500 && sc.Code != http.StatusTooManyRequests {
		return bridge.Permanent(fmt.Errorf("slack %s: %w", method, err))
	}
	return fmt.Errorf("slack %s: %w", method, err)
}

// pace asks the limiter before a call and turns a wait into a retry-after
// for the job queue: an early call would only earn a 429.
func (s *Surface) pace(ctx context.Context, key string, interval time.Duration) error {
	wait, err := s.opts.Limiter.Reserve(ctx, key, interval)
	if err != nil {
		return err
	}
	if wait > 0 {
		return &bridge.RetryAfterError{After: wait, Err: fmt.Errorf("pacing %s", key)}
	}
	return nil
}

// maxQueuedWait bounds how long a job queued behind other conversations
// steps aside before it asks again for a fresh estimate of its turn.
const maxQueuedWait = 30 * time.Second

// pacePost spaces posts to a channel. A post made for a conversation (the
// bridge says so in ctx) queues behind more urgent and longer waiting ones
// when the channel is backed up; see postQueue.
func (s *Surface) pacePost(ctx context.Context, channel string) error {
	key := "slack:post:" + channel
	w, ok := bridge.WorkFrom(ctx)
	if !ok {
		return s.pace(ctx, key, s.opts.PostInterval)
	}
	prio := w.Priority
	if prio == 0 {
		prio = bridge.P3
	}
	ahead, contend := s.posts.place(channel, w.ConversationID, prio)
	if !contend {
		wait := s.queuedWait(ahead)
		s.posts.hold(channel, w.ConversationID, prio, wait)
		return &bridge.RetryAfterError{After: wait, Queued: true, Err: fmt.Errorf("%d conversations ahead in channel %s", ahead, channel)}
	}
	wait, err := s.opts.Limiter.Reserve(ctx, key, s.opts.PostInterval)
	if err != nil {
		return err
	}
	if wait > 0 {
		s.posts.hold(channel, w.ConversationID, prio, wait)
		return &bridge.RetryAfterError{After: wait, Err: fmt.Errorf("pacing %s", key)}
	}
	s.posts.done(channel, w.ConversationID)
	return nil
}

var _ bridge.Admitter = (*Surface)(nil)

// Admit implements bridge.Admitter: a conversation already queued for a
// channel learns, before its job touches the store, whether its turn has
// come; others go ahead to pacePost, which decides.
func (s *Surface) Admit(_ context.Context, w bridge.Work) time.Duration {
	prio := w.Priority
	if prio == 0 {
		prio = bridge.P3
	}
	channel, ahead, contend, queued := s.posts.peek(w.ConversationID, prio)
	if !queued || contend {
		return 0
	}
	wait := s.queuedWait(ahead)
	s.posts.hold(channel, w.ConversationID, prio, wait)
	return wait
}

func (s *Surface) queuedWait(ahead int) time.Duration {
	wait := min(time.Duration(ahead-s.posts.contenders+1)*s.opts.PostInterval, maxQueuedWait)
	return max(wait, s.opts.PostInterval)
}

// PostsWaiting reports how many conversations wait for a post slot in
// channel in this process.
func (s *Surface) PostsWaiting(channel string) int { return s.posts.waiting(channel) }

// Coalescing bounds: Slack shows up to 40,000 characters of text, but a
// post of a few thousand stays readable.
const (
	coalesceMessages = 20
	coalesceChars    = 3500
)

var _ bridge.Coalescer = (*Surface)(nil)

// CoalesceLimit implements bridge.Coalescer.
func (s *Surface) CoalesceLimit() (int, int) { return coalesceMessages, coalesceChars }

func (s *Surface) paceUpdate(ctx context.Context) error {
	return s.pace(ctx, "slack:update:"+s.teamID, s.opts.UpdateInterval)
}

// metadata tags our posts with the Threadline message id, so a post repeated
// after a crash can be told apart from a new one.
// A coalesced post also lists every message it shows.
func metadata(m bridge.Message, conv bridge.Conversation, more ...bridge.Message) slack.MsgOption {
	payload := map[string]any{"message_id": strconv.FormatInt(int64(m.ID), 10), "conversation": strconv.FormatInt(int64(conv.Number), 10)}
	if len(more) > 0 {
		ids := []string{strconv.FormatInt(int64(m.ID), 10)}
		for _, x := range more {
			ids = append(ids, strconv.FormatInt(int64(x.ID), 10))
		}
		payload["message_ids"] = strings.Join(ids, ",")
	}
	return slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "threadline_message", EventPayload: payload})
}

// OpenThread implements bridge.ChatSurface.
func (s *Surface) OpenThread(ctx context.Context, card bridge.Card, first bridge.MessageView) (bridge.ChatThread, error) {
	channel := s.opts.Channel
	if card.Channel != "" {
		channel = card.Channel
	}
	if err := s.pacePost(ctx, channel); err != nil {
		return bridge.ChatThread{}, err
	}
	ch, ts, err := s.api.PostMessageContext(ctx, channel,
		slack.MsgOptionText(CardText(card), false), slack.MsgOptionBlocks(RenderCard(card)...), metadata(first.Message, card.Conversation))
	if err != nil {
		return bridge.ChatThread{}, s.classify("chat.postMessage", err)
	}
	t := bridge.ChatThread{Workspace: s.teamID, Channel: ch, ThreadRef: ts}
	if err := s.uploadAttachments(ctx, t, first); err != nil {
		return t, err
	}
	return t, nil
}

// PostMessage implements bridge.ChatSurface.
func (s *Surface) PostMessage(ctx context.Context, t bridge.ChatThread, m bridge.MessageView) (string, error) {
	if err := s.pacePost(ctx, t.Channel); err != nil {
		return "", err
	}
	_, ts, err := s.api.PostMessageContext(ctx, t.Channel, slack.MsgOptionTS(t.ThreadRef),
		slack.MsgOptionText(MessageText(m), false), metadata(m.Message, bridge.Conversation{}, m.More...))
	if err != nil {
		return "", s.classify("chat.postMessage", err)
	}
	return ts, s.uploadAttachments(ctx, t, m)
}

// uploadAttachments copies the customer's files into the thread: Telegram's
// file URLs carry the bot token and must never be shown.
func (s *Surface) uploadAttachments(ctx context.Context, t bridge.ChatThread, m bridge.MessageView) error {
	for _, a := range m.Message.Attachments {
		src, ok := s.opts.Files[m.Platform]
		if !ok || a.PlatformRef == "" {
			continue
		}
		name, body, err := src.DownloadFile(ctx, a.PlatformRef)
		if err != nil {
			return fmt.Errorf("fetch attachment: %w", err)
		}
		data, err := io.ReadAll(io.LimitReader(body, s.opts.MaxFileBytes+1))
		body.Close()
		if err != nil {
			return fmt.Errorf("fetch attachment: %w", err)
		}
		if int64(len(data)) > s.opts.MaxFileBytes {
			return bridge.Permanent(fmt.Errorf("attachment %s is over %d bytes", a.Name, s.opts.MaxFileBytes))
		}
		filename := a.Name
		if filename == "" {
			filename = path.Base(name)
		}
		if _, err := s.api.UploadFileContext(ctx, slack.UploadFileParameters{
			Reader: bytes.NewReader(data), FileSize: len(data), Filename: filename, Title: filename,
			Channel: t.Channel, ThreadTimestamp: t.ThreadRef,
		}); err != nil {
			return s.classify("files.upload", err)
		}
	}
	return nil
}

// UpdateMessage implements bridge.ChatSurface.
func (s *Surface) UpdateMessage(ctx context.Context, t bridge.ChatThread, ref string, m bridge.MessageView) error {
	if ref == t.ThreadRef {
		return nil // the parent shows the first message through the card, refreshed on its own lane
	}
	if err := s.paceUpdate(ctx); err != nil {
		return err
	}
	_, _, _, err := s.api.UpdateMessageContext(ctx, t.Channel, ref, slack.MsgOptionText(MessageText(m), false))
	return s.classify("chat.update", err)
}

// UpdateCard implements bridge.ChatSurface.
func (s *Surface) UpdateCard(ctx context.Context, t bridge.ChatThread, card bridge.Card) error {
	if err := s.paceUpdate(ctx); err != nil {
		return err
	}
	_, _, _, err := s.api.UpdateMessageContext(ctx, t.Channel, t.ThreadRef,
		slack.MsgOptionText(CardText(card), false), slack.MsgOptionBlocks(RenderCard(card)...))
	return s.classify("chat.update", err)
}

// PostNotice implements bridge.ChatSurface.
func (s *Surface) PostNotice(ctx context.Context, t bridge.ChatThread, text string) (string, error) {
	if err := s.pacePost(ctx, t.Channel); err != nil {
		return "", err
	}
	_, ts, err := s.api.PostMessageContext(ctx, t.Channel, slack.MsgOptionTS(t.ThreadRef),
		slack.MsgOptionText(":warning: "+escape(text), false))
	return ts, s.classify("chat.postMessage", err)
}

// MarkDelivered implements bridge.ChatSurface.
func (s *Surface) MarkDelivered(ctx context.Context, t bridge.ChatThread, ref string) error {
	err := s.api.AddReactionContext(ctx, "white_check_mark", slack.NewRefToMessage(t.Channel, ref))
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && se.Err == "already_reacted" {
		return nil
	}
	return s.classify("reactions.add", err)
}

// receiptReactions are the marks of the customer's platform's receipts,
// next to the check mark of a send the platform accepted.
var receiptReactions = map[bridge.ReceiptStatus]string{bridge.ReceiptDelivered: "incoming_envelope", bridge.ReceiptSeen: "eyes"}

var _ bridge.ReceiptMarker = (*Surface)(nil)

// MarkReceipt implements bridge.ReceiptMarker: a reaction on the agent's
// message, :incoming_envelope: once it reached the customer's device and
// :eyes: once they read it.
func (s *Surface) MarkReceipt(ctx context.Context, t bridge.ChatThread, ref string, status bridge.ReceiptStatus) error {
	name, ok := receiptReactions[status]
	if !ok {
		return bridge.Permanent(fmt.Errorf("slack: no mark for receipt %s", status))
	}
	err := s.api.AddReactionContext(ctx, name, slack.NewRefToMessage(t.Channel, ref))
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && se.Err == "already_reacted" {
		return nil
	}
	return s.classify("reactions.add", err)
}

// Ephemeral tells one user something in the channel (and thread).
func (s *Surface) Ephemeral(ctx context.Context, channel, threadTS, user, text string) error {
	opts := []slack.MsgOption{slack.MsgOptionText(text, false)}
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	_, err := s.api.PostEphemeralContext(ctx, channel, user, opts...)
	return s.classify("chat.postEphemeral", err)
}

// UserName returns a user's display name (users.info, cached), or the id
// when Slack does not say.
func (s *Surface) UserName(ctx context.Context, userID string) string {
	if v, ok := s.names.Load(userID); ok {
		return v.(string)
	}
	u, err := s.api.GetUserInfoContext(ctx, userID)
	if err != nil {
		s.log.Debug("slack users.info", "user", userID, "err", err)
		return userID
	}
	name := u.Profile.DisplayName
	if name == "" {
		name = u.RealName
	}
	if name == "" {
		name = u.Name
	}
	if name == "" {
		return userID
	}
	s.names.Store(userID, name)
	return name
}

var _ bridge.Reconciler = (*Surface)(nil)

// FindPosted implements bridge.Reconciler: it looks for our message id in
// the metadata of the thread's replies (or of the channel's latest parents).
// Slack rate-limits these reads hard for new apps, so the bridge asks only
// when a post's outcome is unknown.
func (s *Surface) FindPosted(ctx context.Context, channel, threadRef string, id bridge.MessageID) (string, bool, error) {
	var msgs []slack.Message
	var err error
	if threadRef == "" {
		var res *slack.GetConversationHistoryResponse
		res, err = s.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: channel, Limit: 50, IncludeAllMetadata: true})
		if res != nil {
			msgs = res.Messages
		}
	} else {
		msgs, _, _, err = s.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: channel, Timestamp: threadRef, Limit: 200, IncludeAllMetadata: true})
	}
	if err != nil {
		return "", false, s.classify("conversations.read", err)
	}
	want := strconv.FormatInt(int64(id), 10)
	for _, m := range msgs {
		if m.Metadata.EventType != "threadline_message" {
			continue
		}
		if fmt.Sprint(m.Metadata.EventPayload["message_id"]) == want {
			return m.Timestamp, true, nil
		}
		if ids, ok := m.Metadata.EventPayload["message_ids"].(string); ok && slices.Contains(strings.Split(ids, ","), want) {
			return m.Timestamp, true, nil
		}
	}
	return "", false, nil
}

var _ bridge.EscalationPoster = (*Surface)(nil)

// PostEscalation implements bridge.EscalationPoster: a message in the
// escalation channel linking the thread, or, without one, a notice in the
// thread itself.
func (s *Surface) PostEscalation(ctx context.Context, t bridge.ChatThread, text string) (string, error) {
	if s.opts.EscalationChannel == "" {
		return s.PostNotice(ctx, t, text)
	}
	if err := s.pacePost(ctx, s.opts.EscalationChannel); err != nil {
		return "", err
	}
	msg := ":rotating_light: " + escape(text)
	if link := s.Permalink(t.Channel, t.ThreadRef); link != "" {
		msg += " <" + link + "|Open the thread>"
	}
	_, ts, err := s.api.PostMessageContext(ctx, s.opts.EscalationChannel, slack.MsgOptionText(msg, false))
	return ts, s.classify("chat.postMessage", err)
}

// GroupMembers implements GroupMembers (usergroups.users.list).
func (s *Surface) GroupMembers(ctx context.Context, group string) ([]string, error) {
	ids, err := s.api.GetUserGroupMembersContext(ctx, group)
	if err != nil {
		return nil, s.classify("usergroups.users.list", err)
	}
	return ids, nil
}

// OpenView opens a modal for the user behind a trigger (views.open) and
// returns its view id. Triggers expire after 3 seconds: call it while
// answering the request that carried the trigger.
func (s *Surface) OpenView(ctx context.Context, triggerID string, view slack.ModalViewRequest) (string, error) {
	res, err := s.api.OpenViewContext(ctx, triggerID, view)
	if err != nil {
		return "", s.classify("views.open", err)
	}
	return res.ID, nil
}

// UpdateView replaces an open modal (views.update); inputs keeping their
// block and action ids keep what the user typed.
func (s *Surface) UpdateView(ctx context.Context, viewID string, view slack.ModalViewRequest) error {
	_, err := s.api.UpdateViewContext(ctx, view, "", "", viewID)
	return s.classify("views.update", err)
}

// ChannelName is a channel's name (conversations.info), or its id when
// Slack does not say.
func (s *Surface) ChannelName(ctx context.Context, channelID string) string {
	ch, err := s.api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: channelID})
	if err != nil || ch.Name == "" {
		return channelID
	}
	return ch.Name
}
