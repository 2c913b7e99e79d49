// Package telegram connects a Telegram bot to the bridge: it verifies and
// normalizes updates (webhook or getUpdates polling) and sends agent replies
// with sendMessage.
//
// It speaks the Bot API over net/http. The handful of methods Threadline
// needs (getMe, getUpdates, sendMessage, getFile, deleteWebhook) do not
// justify a client library, and owning the HTTP layer lets us scrub the bot
// token, which Telegram puts in every URL, from every error.
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
	"strconv"
	"strings"
	"time"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/store/ratelimit"
)

// Options configures an Adapter.
type Options struct {
	Token         string
	APIURL        string // default https://api.telegram.org
	WebhookSecret string
	HTTPClient    *http.Client
	Logger        *slog.Logger
	Clock         bridge.Clock
	// MinChatInterval paces sends to one chat; Telegram allows about one
	// message per second per chat.
	MinChatInterval time.Duration
	// BotInterval paces all sends of the bot; Telegram allows about 30
	// messages a second per bot.
	BotInterval time.Duration
	// Limiter paces sends across replicas; nil uses an in-process one.
	Limiter Limiter
	// PollTimeout is the getUpdates long-poll timeout.
	PollTimeout time.Duration
}

// Limiter spaces calls per key. Reserve counts a call and returns 0 when it
// may go now, or returns how long to wait without counting it.
type Limiter interface {
	Reserve(ctx context.Context, key string, interval time.Duration) (time.Duration, error)
}

// Adapter is one Telegram bot.
type Adapter struct {
	opts     Options
	botID    string
	username string
	log      *slog.Logger
	http     *http.Client
	limiter  Limiter
}

var _ bridge.PlatformAdapter = (*Adapter)(nil)

// New returns an adapter for the bot whose token is given.
func New(opts Options) (*Adapter, error) {
	id, _, ok := strings.Cut(opts.Token, ":")
	if !ok || id == "" {
		return nil, errors.New("telegram: the bot token must look like 123456:ABC")
	}
	if opts.APIURL == "" {
		opts.APIURL = "https://api.telegram.org"
	}
	opts.APIURL = strings.TrimRight(opts.APIURL, "/")
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 60 * time.Second}
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
	if opts.PollTimeout == 0 {
		opts.PollTimeout = 25 * time.Second
	}
	if opts.BotInterval == 0 {
		opts.BotInterval = time.Second / 30
	}
	a := &Adapter{opts: opts, botID: id, log: opts.Logger, http: opts.HTTPClient, limiter: opts.Limiter}
	if a.limiter == nil {
		a.limiter = ratelimit.NewLocal(opts.Clock)
	}
	return a, nil
}

// Platform implements bridge.PlatformAdapter.
func (a *Adapter) Platform() bridge.Platform { return bridge.PlatformTelegram }

// Limits implements bridge.PlatformAdapter.
func (a *Adapter) Limits() bridge.Limits { return bridge.Limits{MaxTextLength: 4096} }

// BotID is the numeric id of the bot, the account's external id.
func (a *Adapter) BotID() string { return a.botID }

// APIError is an error answer of the Bot API.
type APIError struct {
	Method      string
	Code        int
	Description string
	RetryAfter  time.Duration
}

func (e *APIError) Error() string {
	return fmt.Sprintf("telegram %s: %d %s", e.Method, e.Code, e.Description)
}

type apiResponse struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  *struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

// scrub removes the token from a message: net/http errors quote the URL.
func (a *Adapter) scrub(s string) string {
	return strings.ReplaceAll(s, a.opts.Token, "<token>")
}

// call invokes a Bot API method with a JSON body and decodes its result.
func (a *Adapter) call(ctx context.Context, method string, params, result any) error {
	body, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("telegram %s: encode: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.opts.APIURL+"/bot"+a.opts.Token+"/"+method, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("telegram %s: %s", method, a.scrub(err.Error()))
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := a.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("telegram %s: %w", method, ctx.Err())
		}
		return fmt.Errorf("telegram %s: %s", method, a.scrub(err.Error()))
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("telegram %s: read answer: %s", method, a.scrub(err.Error()))
	}
	var r apiResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("telegram %s: HTTP %d with an undecodable body", method, res.StatusCode)
	}
	if !r.OK {
		e := &APIError{Method: method, Code: r.ErrorCode, Description: a.scrub(r.Description)}
		if e.Code == 0 {
			e.Code = res.StatusCode
		}
		if r.Parameters != nil && r.Parameters.RetryAfter > 0 {
			e.RetryAfter = time.Duration(r.Parameters.RetryAfter) * time.Second
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

// classify maps a Bot API failure to what the bridge should do with it.
func classify(err error) error {
	var api *APIError
	if !errors.As(err, &api) {
		return err // network trouble: retry
	}
	switch {
	case api.Code == http.StatusTooManyRequests:
		after := api.RetryAfter
		if after <= 0 {
			after = time.Second
		}
		return &bridge.RetryAfterError{After: after, Err: err}
	case api.Code >= 500:
		return err
	case api.Code >= 400:
		// Chat not found, bot blocked by the user, message too long: a
		// retry would fail the same way.
		return bridge.Permanent(err)
	}
	return err
}

// User is a Telegram user.
type User struct {
	ID        int64  `json:"id"`
	IsBot     bool   `json:"is_bot,omitempty"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name,omitempty"`
	Username  string `json:"username,omitempty"`
}

// GetMe learns the bot's username, used as the account's display name.
func (a *Adapter) GetMe(ctx context.Context) (User, error) {
	var u User
	if err := a.call(ctx, "getMe", struct{}{}, &u); err != nil {
		return u, err
	}
	a.username = u.Username
	return u, nil
}

type sendMessageParams struct {
	ChatID string `json:"chat_id"`
	Text   string `json:"text"`
}

// Send implements bridge.PlatformAdapter.
func (a *Adapter) Send(ctx context.Context, m bridge.OutboundMessage) (bridge.SendResult, error) {
	if strings.TrimSpace(m.Text) == "" {
		return bridge.SendResult{}, bridge.Permanent(errors.New("telegram: empty message"))
	}
	if len([]rune(m.Text)) > 4096 {
		return bridge.SendResult{}, bridge.Permanent(fmt.Errorf("telegram: message of %d characters is over the 4096 limit", len([]rune(m.Text))))
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
		{"telegram:chat:" + m.ThreadExternalID, a.opts.MinChatInterval, "pacing sends to one chat"},
	} {
		wait, err := a.limiter.Reserve(ctx, pace.key, pace.interval)
		if err != nil {
			return bridge.SendResult{}, err
		}
		if wait > 0 {
			return bridge.SendResult{}, &bridge.RetryAfterError{After: wait, Err: errors.New("telegram: " + pace.what)}
		}
	}
	var msg struct {
		MessageID int64 `json:"message_id"`
	}
	if err := a.call(ctx, "sendMessage", sendMessageParams{ChatID: m.ThreadExternalID, Text: m.Text}, &msg); err != nil {
		return bridge.SendResult{}, classify(err)
	}
	return bridge.SendResult{PlatformMessageID: strconv.FormatInt(msg.MessageID, 10)}, nil
}

// DownloadFile fetches a file the customer sent. Telegram's file URL holds
// the token, so it never leaves this package: callers get the bytes.
func (a *Adapter) DownloadFile(ctx context.Context, fileID string) (path string, body io.ReadCloser, err error) {
	var f struct {
		FilePath string `json:"file_path"`
	}
	if err := a.call(ctx, "getFile", map[string]string{"file_id": fileID}, &f); err != nil {
		return "", nil, classify(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.opts.APIURL+"/file/bot"+a.opts.Token+"/"+f.FilePath, nil)
	if err != nil {
		return "", nil, errors.New(a.scrub(err.Error()))
	}
	res, err := a.http.Do(req)
	if err != nil {
		return "", nil, fmt.Errorf("telegram file: %s", a.scrub(err.Error()))
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return "", nil, fmt.Errorf("telegram file: HTTP %d", res.StatusCode)
	}
	return f.FilePath, res.Body, nil
}
