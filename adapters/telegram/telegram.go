// Package telegram connects a Telegram bot to the bridge: it verifies and
// normalizes updates (webhook or getUpdates polling) and sends agent replies
// with sendMessage.
//
// It speaks the Bot API over net/http rather than through a client library:
// the handful of methods Threadline needs (getMe, getUpdates, deleteWebhook,
// sendMessage, getFile) are a few lines each, and owning the HTTP layer lets
// us keep the bot token, which Telegram puts in every URL, out of every error
// and log line.
package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/store/ratelimit"
)

// MaxTextLength is the longest message text sendMessage accepts.
const MaxTextLength = 4096

// Options configures an Adapter. Only Token is required.
type Options struct {
	// Token is the bot token from @BotFather ("123456:ABC..."). It is a
	// credential and part of every request URL.
	Token string
	// APIURL is the Bot API base; requests go to {APIURL}/bot{token}/{method}.
	// Default https://api.telegram.org.
	APIURL string
	// WebhookSecret is the secret_token given to setWebhook; Telegram sends it
	// back in the X-Telegram-Bot-Api-Secret-Token header. Without it every
	// webhook request is refused.
	WebhookSecret string
	// HTTPClient makes the calls. Its Timeout, if any, must exceed
	// PollTimeout; the adapter bounds each call with its own deadline.
	HTTPClient *http.Client
	Logger     *slog.Logger
	Clock      bridge.Clock
	// MinChatInterval paces sends to one chat: Telegram allows about one
	// message per second per chat. Default 1s.
	MinChatInterval time.Duration
	// BotInterval paces all sends of the bot: Telegram allows about 30
	// messages a second per bot. Default 1/30 s.
	BotInterval time.Duration
	// Limiter keeps the pace across replicas; nil paces this process only.
	Limiter Limiter
	// PollTimeout is the getUpdates long-poll timeout, in whole seconds (at
	// least one: a zero timeout would turn the poller into a busy loop).
	// Default 25s.
	PollTimeout time.Duration
	// PollerLease is how long the poller's lease lasts without renewal; a
	// standby replica takes over at most this long after the poller died.
	// It is renewed before every getUpdates, so it must exceed PollTimeout.
	// Default PollTimeout + 30s.
	PollerLease time.Duration
	// DeleteWebhook makes the poller remove a webhook set for the bot before
	// polling: Telegram refuses getUpdates (409) while one is set. Off by
	// default, since the webhook may belong to a deployment still using it.
	DeleteWebhook bool
	// Wait pauses the poller (standby, backoff, retry_after) for d or until
	// ctx ends. Nil waits on a timer; tests inject one to see the waits.
	Wait func(ctx context.Context, d time.Duration)
}

// Limiter spaces calls per key. Reserve counts a call and returns 0 when it
// may go now, or returns how long to wait without counting it.
// store/ratelimit and store/redis implement it.
type Limiter interface {
	Reserve(ctx context.Context, key string, interval time.Duration) (time.Duration, error)
}

// Adapter is one Telegram bot. It is safe for concurrent use.
type Adapter struct {
	opts     Options
	token    string
	botID    string
	username atomic.Pointer[string]
	log      *slog.Logger
	http     *http.Client
	limiter  Limiter
}

var _ bridge.PlatformAdapter = (*Adapter)(nil)

const (
	// callTimeout bounds one Bot API call other than the long poll.
	callTimeout = 30 * time.Second
	// fileTimeout bounds a file download; bots may fetch files up to 20 MB.
	fileTimeout = 2 * time.Minute
	// maxAnswer bounds a Bot API answer; 100 updates fit with room to spare.
	maxAnswer = 8 << 20
)

// New returns an adapter for the bot whose token is given. It makes no call;
// use GetMe to check the token and learn the bot's username.
func New(opts Options) (*Adapter, error) {
	id, secret, _ := strings.Cut(opts.Token, ":")
	if _, err := strconv.ParseUint(id, 10, 64); err != nil || secret == "" {
		// Never quote the token: this error ends up in logs.
		return nil, errors.New("telegram: the bot token must look like 123456:ABC-DEF")
	}
	if opts.APIURL == "" {
		opts.APIURL = "https://api.telegram.org"
	}
	opts.APIURL = strings.TrimRight(opts.APIURL, "/")
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = bridge.SystemClock{}
	}
	if opts.MinChatInterval == 0 {
		opts.MinChatInterval = time.Second
	}
	if opts.BotInterval == 0 {
		opts.BotInterval = time.Second / 30
	}
	if opts.PollTimeout == 0 {
		opts.PollTimeout = 25 * time.Second
	}
	opts.PollTimeout = max(opts.PollTimeout.Round(time.Second), time.Second)
	if opts.PollerLease == 0 {
		opts.PollerLease = opts.PollTimeout + 30*time.Second
	}
	if opts.PollerLease <= opts.PollTimeout {
		return nil, fmt.Errorf("telegram: PollerLease %s must exceed PollTimeout %s, or the lease lapses during a poll", opts.PollerLease, opts.PollTimeout)
	}
	if opts.Wait == nil {
		opts.Wait = sleep
	}
	a := &Adapter{opts: opts, token: opts.Token, botID: id, log: opts.Logger, http: opts.HTTPClient, limiter: opts.Limiter}
	if a.limiter == nil {
		a.limiter = ratelimit.NewLocal(opts.Clock)
	}
	return a, nil
}

// Platform implements bridge.PlatformAdapter.
func (a *Adapter) Platform() bridge.Platform { return bridge.PlatformTelegram }

// Limits implements bridge.PlatformAdapter.
func (a *Adapter) Limits() bridge.Limits { return bridge.Limits{MaxTextLength: MaxTextLength} }

// BotID is the numeric id of the bot (the part of the token before the
// colon): the account's external id.
func (a *Adapter) BotID() string { return a.botID }

// Username is the bot's username once GetMe has run, else "".
func (a *Adapter) Username() string {
	if u := a.username.Load(); u != nil {
		return *u
	}
	return ""
}

// APIError is an error answer of the Bot API.
type APIError struct {
	Method      string
	Code        int // error_code, or the HTTP status when the body had none
	Description string
	// RetryAfter is the wait Telegram asks for with 429 (parameters.retry_after).
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	return fmt.Sprintf("telegram %s: %d %s", e.Method, e.Code, e.Description)
}

// apiResponse is the envelope of every Bot API answer.
type apiResponse struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  *struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

// scrub removes the token from a text.
func (a *Adapter) scrub(s string) string {
	s = strings.ReplaceAll(s, a.token, "<token>")
	return strings.ReplaceAll(s, url.PathEscape(a.token), "<token>")
}

// redact returns err without the token in its text. net/http quotes the
// request URL, token included, in every *url.Error; its URL is redacted in
// place so the chain (timeouts, cancellation, net errors) stays testable with
// errors.Is and errors.As.
func (a *Adapter) redact(err error) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = a.scrub(ue.URL)
	}
	if msg := err.Error(); msg != a.scrub(msg) {
		// Something deeper quotes the token too: give up the chain rather
		// than let errors.As reach it.
		return errors.New(a.scrub(msg))
	}
	return err
}

func (a *Adapter) methodURL(method string) string {
	return a.opts.APIURL + "/bot" + a.token + "/" + method
}

// call invokes a Bot API method with a JSON body and decodes its result.
// Failures are *APIError for Telegram's answers and plain (redacted) errors
// for transport trouble.
func (a *Adapter) call(ctx context.Context, method string, params, result any) error {
	timeout := callTimeout
	if method == "getUpdates" {
		timeout += a.opts.PollTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("telegram %s: encode: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.methodURL(method), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("telegram %s: %w", method, a.redact(err))
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("telegram %s: %w", method, a.redact(err))
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("telegram %s: read answer: %w", method, a.redact(err))
	}
	var r apiResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		if res.StatusCode/100 != 2 {
			// A proxy's page rather than Telegram's JSON: the status says enough.
			return &APIError{Method: method, Code: res.StatusCode, Description: http.StatusText(res.StatusCode), RetryAfter: retryAfterHeader(res.Header)}
		}
		return fmt.Errorf("telegram %s: HTTP %d with an undecodable body: %w", method, res.StatusCode, err)
	}
	if !r.OK {
		e := &APIError{Method: method, Code: r.ErrorCode, Description: a.scrub(r.Description)}
		if e.Code == 0 {
			e.Code = res.StatusCode
		}
		if r.Parameters != nil && r.Parameters.RetryAfter > 0 {
			e.RetryAfter = time.Duration(r.Parameters.RetryAfter) * time.Second
		} else {
			e.RetryAfter = retryAfterHeader(res.Header)
		}
		return e
	}
	if result != nil {
		if err := json.Unmarshal(r.Result, result); err != nil {
			return fmt.Errorf("telegram %s: decode result: %w", method, err)
		}
	}
	return nil
}

func retryAfterHeader(h http.Header) time.Duration {
	n, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// classify maps a failed call to what the bridge should do with it.
func classify(err error) error {
	var api *APIError
	if !errors.As(err, &api) {
		return err // network trouble or a timeout: retry
	}
	switch {
	case api.Code == http.StatusTooManyRequests:
		after := api.RetryAfter
		if after <= 0 {
			after = time.Second
		}
		return &bridge.RetryAfterError{After: after, Err: err}
	case api.Code >= 400 && api.Code < 500 && api.Code != http.StatusRequestTimeout:
		// Chat not found, bot blocked by the user, message too long, token
		// revoked: a retry would fail the same way.
		return bridge.Permanent(err)
	}
	return err
}

// User is a Telegram user or bot.
type User struct {
	ID        int64  `json:"id"`
	IsBot     bool   `json:"is_bot,omitempty"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name,omitempty"`
	Username  string `json:"username,omitempty"`
}

// GetMe checks the token and learns the bot's username, which inbound events
// then carry as the account's display name. Call it at start.
func (a *Adapter) GetMe(ctx context.Context) (User, error) {
	var u User
	if err := a.call(ctx, "getMe", struct{}{}, &u); err != nil {
		return User{}, err
	}
	if strconv.FormatInt(u.ID, 10) != a.botID {
		return User{}, fmt.Errorf("telegram getMe: answered for bot %d, not the token's bot %s", u.ID, a.botID)
	}
	a.username.Store(&u.Username)
	return u, nil
}

type sendMessageParams struct {
	ChatID      int64                 `json:"chat_id"`
	Text        string                `json:"text"`
	ReplyMarkup *inlineKeyboardMarkup `json:"reply_markup,omitempty"`
}

// inlineKeyboardMarkup is the Bot API's InlineKeyboardMarkup: rows of
// buttons whose callback_data (1-64 bytes) comes back in a callback query.
type inlineKeyboardMarkup struct {
	InlineKeyboard [][]inlineKeyboardButton `json:"inline_keyboard"`
}

type inlineKeyboardButton struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data"`
}

// Send implements bridge.PlatformAdapter. A send sooner than the pace allows
// returns *bridge.RetryAfterError with the rest of the wait rather than
// sleeping: the bridge's queue waits without holding a worker.
func (a *Adapter) Send(ctx context.Context, m bridge.OutboundMessage) (bridge.SendResult, error) {
	return a.send(ctx, m, nil)
}

var _ bridge.Surveyor = (*Adapter)(nil)

// SendSurvey implements bridge.Surveyor: the question with one inline
// keyboard button per option; a tap comes back as a callback query.
func (a *Adapter) SendSurvey(ctx context.Context, s bridge.OutboundSurvey) (bridge.SendResult, error) {
	row := make([]inlineKeyboardButton, 0, len(s.Options))
	for _, o := range s.Options {
		if len(o.Data) == 0 || len(o.Data) > 64 {
			return bridge.SendResult{}, bridge.Permanent(fmt.Errorf("telegram: %w: callback data must be 1-64 bytes", bridge.ErrInvalidInput))
		}
		row = append(row, inlineKeyboardButton{Text: o.Label, CallbackData: o.Data})
	}
	return a.send(ctx, s.OutboundMessage, &inlineKeyboardMarkup{InlineKeyboard: [][]inlineKeyboardButton{row}})
}

// AnswerCallback acknowledges a button tap (answerCallbackQuery), which
// stops the spinner on the customer's button and shows text as a notice.
func (a *Adapter) AnswerCallback(ctx context.Context, id, text string) error {
	var ok bool
	return classify(a.call(ctx, "answerCallbackQuery", map[string]any{"callback_query_id": id, "text": text}, &ok))
}

func (a *Adapter) send(ctx context.Context, m bridge.OutboundMessage, markup *inlineKeyboardMarkup) (bridge.SendResult, error) {
	chatID, err := strconv.ParseInt(m.ThreadExternalID, 10, 64)
	if err != nil {
		return bridge.SendResult{}, bridge.Permanent(fmt.Errorf("telegram: %w: thread %q is not a chat id", bridge.ErrInvalidInput, m.ThreadExternalID))
	}
	if strings.TrimSpace(m.Text) == "" {
		return bridge.SendResult{}, bridge.Permanent(fmt.Errorf("telegram: %w: empty message (sending files is not supported)", bridge.ErrInvalidInput))
	}
	if n := len([]rune(m.Text)); n > MaxTextLength {
		return bridge.SendResult{}, bridge.Permanent(fmt.Errorf("telegram: %w: message of %d characters is over the %d limit", bridge.ErrInvalidInput, n, MaxTextLength))
	}
	// The bot-wide budget first: when the chat then says wait, the slot
	// taken is a thirtieth of a second of the bot's; the other way round a
	// refused send would waste a whole second of the chat's.
	for _, pace := range []struct {
		key      string
		interval time.Duration
		what     string
	}{
		{"telegram:bot:" + a.botID, a.opts.BotInterval, "pacing the bot's sends"},
		{"telegram:chat:" + a.botID + ":" + m.ThreadExternalID, a.opts.MinChatInterval, "pacing sends to one chat"},
	} {
		wait, err := a.limiter.Reserve(ctx, pace.key, pace.interval)
		if err != nil {
			return bridge.SendResult{}, fmt.Errorf("telegram: %s: %w", pace.what, err)
		}
		if wait > 0 {
			return bridge.SendResult{}, &bridge.RetryAfterError{After: wait, Err: errors.New("telegram: " + pace.what)}
		}
	}
	var msg struct {
		MessageID int64 `json:"message_id"`
	}
	if err := a.call(ctx, "sendMessage", sendMessageParams{ChatID: chatID, Text: m.Text, ReplyMarkup: markup}, &msg); err != nil {
		return bridge.SendResult{}, classify(err)
	}
	return bridge.SendResult{PlatformMessageID: strconv.FormatInt(msg.MessageID, 10)}, nil
}

// DeleteWebhook removes the bot's webhook, keeping pending updates, so that
// getUpdates works.
func (a *Adapter) DeleteWebhook(ctx context.Context) error {
	return a.call(ctx, "deleteWebhook", map[string]bool{"drop_pending_updates": false}, nil)
}

// DownloadFile fetches a file a customer sent, by the file_id an attachment
// carries (bridge.Attachment.PlatformRef), and returns its path on Telegram's
// side (its base name is a fallback file name) and its contents, which the
// caller closes. Telegram's file URL holds the token, so it never leaves
// this package. The file's real name and MIME type are in the attachment:
// getFile does not keep them.
func (a *Adapter) DownloadFile(ctx context.Context, fileID string) (path string, body io.ReadCloser, err error) {
	if fileID == "" {
		return "", nil, bridge.Permanent(fmt.Errorf("telegram getFile: %w: empty file_id", bridge.ErrInvalidInput))
	}
	var f struct {
		FilePath string `json:"file_path"`
	}
	if err := a.call(ctx, "getFile", map[string]string{"file_id": fileID}, &f); err != nil {
		return "", nil, classify(err)
	}
	if f.FilePath == "" {
		// Telegram gives no path for files over the 20 MB bots may fetch.
		return "", nil, bridge.Permanent(errors.New("telegram getFile: no file_path (file too big for bots?)"))
	}
	ctx, cancel := context.WithTimeout(ctx, fileTimeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.opts.APIURL+"/file/bot"+a.token+"/"+f.FilePath, nil)
	if err != nil {
		cancel()
		return "", nil, fmt.Errorf("telegram file: %w", a.redact(err))
	}
	res, err := a.http.Do(req)
	if err != nil {
		cancel()
		return "", nil, fmt.Errorf("telegram file: %w", a.redact(err))
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		cancel()
		err := fmt.Errorf("telegram file: HTTP %d", res.StatusCode)
		if res.StatusCode == http.StatusNotFound {
			return "", nil, bridge.Permanent(err)
		}
		return "", nil, err
	}
	return f.FilePath, &cancelOnClose{ReadCloser: res.Body, cancel: cancel}, nil
}

// cancelOnClose ends a download's deadline when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
