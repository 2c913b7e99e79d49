// Package meta connects Facebook Pages and Instagram professional accounts
// to the bridge through Meta's Graph API: one webhook (GET handshake, POST
// deliveries signed with the app secret) for Messenger and Instagram
// messaging, and the Send API for replies.
//
// It speaks the Graph API over net/http rather than through an SDK: the
// few calls Threadline makes are a JSON body each, there is no maintained Go
// SDK for the Messenger Platform, and owning the HTTP layer keeps page
// access tokens out of URLs, errors and logs (they travel in the
// Authorization header only).
package meta

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
	"sync"
	"time"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/store/ratelimit"
)

// DefaultAPIURL is the Graph API.
const DefaultAPIURL = "https://graph.facebook.com"

// DefaultGraphVersion is the Graph API version called when none is set.
const DefaultGraphVersion = "v21.0"

// Account is one connected Facebook Page or Instagram professional account.
type Account struct {
	// ID is the Page id or the Instagram account id: entry[].id of the
	// webhook and the {id} of /{id}/messages.
	ID string
	// Token is the Page access token. A credential: never printed.
	Token string
	// Name is the display name: as configured, else learned from the
	// Graph API at Connect.
	Name string
}

// Options configures an Adapter.
type Options struct {
	// AppSecret verifies X-Hub-Signature-256 on every webhook delivery.
	AppSecret string
	// VerifyToken is the token typed into the app's webhook settings; the
	// GET handshake must present it.
	VerifyToken string
	Accounts    []Account
	// APIURL is the Graph API base, default DefaultAPIURL.
	APIURL string
	// GraphVersion such as v21.0, default DefaultGraphVersion.
	GraphVersion string
	// HumanAgentTag allows replies between 24 hours and 7 days after the
	// customer's last message with the HUMAN_AGENT tag (the app needs
	// Meta's Human Agent permission). Off, such replies are refused.
	HumanAgentTag bool
	HTTPClient    *http.Client
	Logger        *slog.Logger
	Clock         bridge.Clock
	// ProfileTTL is how long a looked-up customer name and picture are
	// reused. Default 24h.
	ProfileTTL time.Duration
	// Throttle keeps the waits Meta asks for (Retry-After, the usage
	// headers) per account; shared through Redis, one replica's throttle
	// holds the others back. Nil keeps them in this process.
	Throttle Throttle
	// ProfileBudget bounds the profile lookups of one webhook request, so
	// that a batch of new customers while the Graph API is slow is still
	// acknowledged in time; those left over are named on their next
	// message. Default 5s.
	ProfileBudget time.Duration
}

// Throttle remembers until when calls for a key may not go;
// store/ratelimit and store/redis implement it.
type Throttle interface {
	Block(ctx context.Context, key string, d time.Duration) error
	Blocked(ctx context.Context, key string) (time.Duration, error)
}

// Adapter is one Meta app with its connected accounts. It is safe for
// concurrent use.
type Adapter struct {
	opts     Options
	api      string
	log      *slog.Logger
	http     *http.Client
	accounts map[string]*Account
	tokens   []string // for scrubbing

	mu       sync.Mutex
	profiles map[string]cachedProfile
}

const (
	callTimeout = 20 * time.Second
	maxAnswer   = 1 << 20
	// profileTimeout bounds the lookup made while a webhook waits.
	profileTimeout = 3 * time.Second
)

// New returns an adapter. It makes no call; Connect checks the tokens.
func New(opts Options) (*Adapter, error) {
	if opts.AppSecret == "" {
		return nil, errors.New("meta: the app secret is required (it verifies every webhook)")
	}
	if opts.VerifyToken == "" {
		return nil, errors.New("meta: the verify token is required (it answers the webhook handshake)")
	}
	if len(opts.Accounts) == 0 {
		return nil, errors.New("meta: no account connected")
	}
	if opts.APIURL == "" {
		opts.APIURL = DefaultAPIURL
	}
	if opts.GraphVersion == "" {
		opts.GraphVersion = DefaultGraphVersion
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = bridge.SystemClock{}
	}
	if opts.Throttle == nil {
		opts.Throttle = ratelimit.NewLocalBlocks(opts.Clock)
	}
	if opts.ProfileTTL == 0 {
		opts.ProfileTTL = 24 * time.Hour
	}
	if opts.ProfileBudget == 0 {
		opts.ProfileBudget = 5 * time.Second
	}
	a := &Adapter{
		opts: opts, api: strings.TrimRight(opts.APIURL, "/") + "/" + strings.Trim(opts.GraphVersion, "/"),
		log: opts.Logger, http: opts.HTTPClient, accounts: map[string]*Account{},
		profiles: map[string]cachedProfile{},
	}
	for _, acc := range opts.Accounts {
		if acc.ID == "" || acc.Token == "" {
			return nil, errors.New("meta: every account needs an id and a token")
		}
		acc := acc
		a.accounts[acc.ID] = &acc
		a.tokens = append(a.tokens, acc.Token)
	}
	return a, nil
}

// Accounts lists the connected account ids.
func (a *Adapter) Accounts() []string {
	out := make([]string, 0, len(a.accounts))
	for _, acc := range a.opts.Accounts {
		out = append(out, acc.ID)
	}
	return out
}

func (a *Adapter) account(id string) (*Account, bool) {
	acc, ok := a.accounts[id]
	return acc, ok
}

func (a *Adapter) displayName(id string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if acc, ok := a.accounts[id]; ok {
		return acc.Name
	}
	return ""
}

// Connect checks each account's token by reading the account's name, which
// inbound events then carry. A token Meta refuses is an error; an
// unreachable Graph API only a warning, so a Meta outage does not stop
// Telegram and Slack from starting.
func (a *Adapter) Connect(ctx context.Context) error {
	for _, acc := range a.opts.Accounts {
		var who struct {
			ID       string `json:"id"`
			Name     string `json:"name"`
			Username string `json:"username"`
		}
		err := a.call(ctx, a.accounts[acc.ID], http.MethodGet, "/"+url.PathEscape(acc.ID)+"?fields=id,name,username", nil, &who)
		var api *APIError
		switch {
		case errors.As(err, &api) && !api.transient():
			return fmt.Errorf("meta account %s: %w", acc.ID, err)
		case err != nil:
			a.log.Warn("meta: could not check an account's token at start", "account", acc.ID, "err", err)
			continue
		}
		name := who.Name
		if name == "" && who.Username != "" {
			name = "@" + who.Username
		}
		a.mu.Lock()
		if a.accounts[acc.ID].Name == "" {
			a.accounts[acc.ID].Name = name
		}
		name = a.accounts[acc.ID].Name
		a.mu.Unlock()
		a.log.Info("meta account connected", "account", acc.ID, "name", name)
	}
	return nil
}

// APIError is an error answer of the Graph API.
type APIError struct {
	Status    int // HTTP status
	Code      int
	Subcode   int
	Type      string
	Message   string
	Transient bool
	// RetryAfter is what the answer's headers asked for (Retry-After, or
	// the usage headers' estimated time to regain access).
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("meta graph: HTTP %d, code %d", e.Status, e.Code)
	if e.Subcode != 0 {
		s += fmt.Sprintf("/%d", e.Subcode)
	}
	return s + ": " + e.Message
}

// Meta's throttling codes: 4 app, 17 user, 32 page, 613 custom rate, and
// the Messenger-specific 80006 / Instagram 80002.
var rateLimitCodes = map[int]bool{4: true, 17: true, 32: true, 613: true, 80002: true, 80006: true}

// RateLimited reports whether Meta throttled the call.
func (e *APIError) RateLimited() bool {
	return e.Status == http.StatusTooManyRequests || rateLimitCodes[e.Code]
}

// transient: Meta's own flag, the "unknown" and "service unavailable" codes,
// and server errors may succeed when tried again.
func (e *APIError) transient() bool {
	return e.Transient || e.Code == 1 || e.Code == 2 || e.Status >= 500 || e.RateLimited()
}

type graphError struct {
	Error *struct {
		Message     string `json:"message"`
		Type        string `json:"type"`
		Code        int    `json:"code"`
		Subcode     int    `json:"error_subcode"`
		IsTransient bool   `json:"is_transient"`
	} `json:"error"`
}

// scrub removes every token from a text.
func (a *Adapter) scrub(s string) string {
	for _, t := range a.tokens {
		s = strings.ReplaceAll(s, t, "<token>")
		s = strings.ReplaceAll(s, url.QueryEscape(t), "<token>")
	}
	return s
}

// redact keeps an error's chain unless its text quotes a token.
func (a *Adapter) redact(err error) error {
	if err == nil {
		return nil
	}
	if msg := err.Error(); msg != a.scrub(msg) {
		return errors.New(a.scrub(msg))
	}
	return err
}

// call makes one Graph API call for an account, with the account's token
// in the Authorization header, and decodes the answer into result. Calls
// for an account Meta throttled wait (as *bridge.RetryAfterError) until
// the time Meta named.
func (a *Adapter) call(ctx context.Context, acc *Account, method, path string, body, result any) error {
	if wait := a.blockedFor(ctx, acc.ID); wait > 0 {
		return &bridge.RetryAfterError{After: wait, Err: errors.New("meta graph: throttled by Meta, waiting as its usage headers asked")}
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("meta graph: encode: %w", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.api+path, rd)
	if err != nil {
		return fmt.Errorf("meta graph: %w", a.redact(err))
	}
	req.Header.Set("Authorization", "Bearer "+acc.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("meta graph: %w", a.redact(err))
	}
	defer res.Body.Close()
	wait := usageWait(res.Header)
	if wait > 0 {
		a.block(ctx, acc.ID, wait)
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("meta graph: read answer: %w", a.redact(err))
	}
	if res.StatusCode/100 != 2 {
		e := &APIError{Status: res.StatusCode, Message: http.StatusText(res.StatusCode), RetryAfter: max(retryAfterHeader(res.Header), wait)}
		var ge graphError
		if json.Unmarshal(raw, &ge) == nil && ge.Error != nil {
			e.Code, e.Subcode, e.Type, e.Transient = ge.Error.Code, ge.Error.Subcode, ge.Error.Type, ge.Error.IsTransient
			e.Message = a.scrub(ge.Error.Message)
		}
		if e.RateLimited() && e.RetryAfter > 0 {
			a.block(ctx, acc.ID, e.RetryAfter)
		}
		return e
	}
	if result != nil {
		if err := json.Unmarshal(raw, result); err != nil {
			return fmt.Errorf("meta graph: decode answer: %w", err)
		}
	}
	return nil
}

// throttleKey names an account's throttle among the keys replicas share.
func throttleKey(id string) string { return "meta:throttle:" + id }

// blockedFor is how long calls for an account must wait. The throttle's
// own errors (Redis down) are its fallback's business: the local copy
// answers.
func (a *Adapter) blockedFor(ctx context.Context, id string) time.Duration {
	wait, err := a.opts.Throttle.Blocked(ctx, throttleKey(id))
	if err != nil {
		a.log.Debug("meta: throttle lookup failed", "account", id, "err", err)
	}
	return wait
}

func (a *Adapter) block(ctx context.Context, id string, d time.Duration) {
	if err := a.opts.Throttle.Block(ctx, throttleKey(id), d); err != nil {
		a.log.Debug("meta: recording a throttle failed", "account", id, "err", err)
	}
}

func retryAfterHeader(h http.Header) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After")))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// usageWait reads Meta's usage headers. X-App-Usage gives percentages of the
// app's hourly budget; at 100 the app is throttled. X-Business-Use-Case-Usage
// gives them per business object and type, with
// estimated_time_to_regain_access in minutes once throttled.
func usageWait(h http.Header) time.Duration {
	var wait time.Duration
	if v := h.Get("X-App-Usage"); v != "" {
		var u struct {
			CallCount    float64 `json:"call_count"`
			TotalTime    float64 `json:"total_time"`
			TotalCPUTime float64 `json:"total_cputime"`
		}
		if json.Unmarshal([]byte(v), &u) == nil && max(u.CallCount, u.TotalTime, u.TotalCPUTime) >= 100 {
			// The app budget is a sliding hour; Meta names no time.
			wait = max(wait, time.Minute)
		}
	}
	if v := h.Get("X-Business-Use-Case-Usage"); v != "" {
		var u map[string][]struct {
			Type         string  `json:"type"`
			CallCount    float64 `json:"call_count"`
			TotalTime    float64 `json:"total_time"`
			TotalCPUTime float64 `json:"total_cputime"`
			RegainMin    float64 `json:"estimated_time_to_regain_access"`
		}
		if json.Unmarshal([]byte(v), &u) == nil {
			for _, uses := range u {
				for _, use := range uses {
					switch {
					case use.RegainMin > 0:
						wait = max(wait, time.Duration(use.RegainMin*float64(time.Minute)))
					case max(use.CallCount, use.TotalTime, use.TotalCPUTime) >= 100:
						wait = max(wait, time.Minute)
					}
				}
			}
		}
	}
	return wait
}
