package teams

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/threadline/threadline/bridge"
)

// Token endpoints of Microsoft Entra ID. Bots registered as single-tenant
// (the default for new bots) must use their tenant's; multi-tenant bots use
// the botframework.com one.
const (
	MultiTenantTokenURL = "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
	connectorScope      = "https://api.botframework.com/.default"
)

// TenantTokenURL is the token endpoint of a single-tenant bot.
func TenantTokenURL(tenantID string) string {
	return "https://login.microsoftonline.com/" + url.PathEscape(tenantID) + "/oauth2/v2.0/token"
}

// TokenSource gets and caches the bot's client-credentials token for the
// connector. Safe for concurrent use; one request at a time refreshes it.
type TokenSource struct {
	AppID, Password, TokenURL string
	HTTPClient                *http.Client
	Clock                     bridge.Clock

	mu      sync.Mutex
	token   string
	expires time.Time
}

// tokenMargin renews a token this long before it expires, so a call never
// starts with a token that dies in flight.
const tokenMargin = 5 * time.Minute

// Token returns a valid access token.
func (s *TokenSource) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.token != "" && now.Before(s.expires.Add(-tokenMargin)) {
		return s.token, nil
	}
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {s.AppID},
		"client_secret": {s.Password}, "scope": {connectorScope},
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := s.client().Do(req)
	if err != nil {
		return "", fmt.Errorf("teams token: %w", redact(err, s.Password))
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		err := fmt.Errorf("teams token: %s %s", res.Status, e.Error)
		if res.StatusCode == http.StatusBadRequest || res.StatusCode == http.StatusUnauthorized {
			// invalid_client: wrong id or password; retrying will not help.
			return "", bridge.Permanent(err)
		}
		return "", err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		return "", errors.New("teams token: answer without access_token")
	}
	s.token, s.expires = tok.AccessToken, now.Add(time.Duration(tok.ExpiresIn)*time.Second)
	return s.token, nil
}

// Invalidate drops the cached token after the connector refused it.
func (s *TokenSource) Invalidate(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token == token {
		s.token = ""
	}
}

func (s *TokenSource) now() time.Time {
	if s.Clock == nil {
		return time.Now()
	}
	return s.Clock.Now()
}

func (s *TokenSource) client() *http.Client {
	if s.HTTPClient == nil {
		return http.DefaultClient
	}
	return s.HTTPClient
}

// redact keeps the password out of an error: url.Error quotes the request.
func redact(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), secret, "[redacted]"))
}

// Connector is a client of the Bot Framework connector REST API (v3).
type Connector struct {
	Tokens     *TokenSource
	HTTPClient *http.Client
	// RateLimited is told of every 429.
	RateLimited func(op string)
}

// ConversationParameters creates a conversation (in Teams: a new thread in a
// channel, its first activity the thread's root).
type ConversationParameters struct {
	IsGroup     bool         `json:"isGroup"`
	Bot         *IDName      `json:"bot,omitempty"`
	TenantID    string       `json:"tenantId,omitempty"`
	Activity    *Activity    `json:"activity,omitempty"`
	ChannelData *ChannelData `json:"channelData,omitempty"`
}

// ConversationResource is what creating a conversation returns.
type ConversationResource struct {
	ID         string `json:"id"`
	ActivityID string `json:"activityId"`
	ServiceURL string `json:"serviceUrl,omitempty"`
}

// ConnectorError is a failed connector call, with the connector's error code.
type ConnectorError struct {
	Op         string
	StatusCode int
	Code       string
	Message    string
}

func (e *ConnectorError) Error() string {
	s := fmt.Sprintf("teams %s: HTTP %d", e.Op, e.StatusCode)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// CreateConversation starts a conversation (a channel thread).
func (c *Connector) CreateConversation(ctx context.Context, serviceURL string, p ConversationParameters) (ConversationResource, error) {
	var res ConversationResource
	err := c.call(ctx, "createConversation", http.MethodPost, endpoint(serviceURL, "v3", "conversations"), p, &res)
	if err == nil && (res.ID == "" || res.ActivityID == "") {
		// Without both ids the thread cannot be found again: do not record it.
		err = errors.New("teams createConversation: answer without id or activityId")
	}
	return res, err
}

// ReplyToActivity posts a into the thread of activityID and returns the new
// activity's id.
func (c *Connector) ReplyToActivity(ctx context.Context, serviceURL, conversationID, activityID string, a Activity) (string, error) {
	var res struct {
		ID string `json:"id"`
	}
	err := c.call(ctx, "replyToActivity", http.MethodPost, endpoint(serviceURL, "v3", "conversations", conversationID, "activities", activityID), a, &res)
	return res.ID, err
}

// UpdateActivity replaces one of the bot's activities.
func (c *Connector) UpdateActivity(ctx context.Context, serviceURL, conversationID, activityID string, a Activity) error {
	a.ID = activityID
	return c.call(ctx, "updateActivity", http.MethodPut, endpoint(serviceURL, "v3", "conversations", conversationID, "activities", activityID), a, nil)
}

func endpoint(serviceURL string, parts ...string) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(serviceURL, "/"))
	for _, p := range parts {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(p))
	}
	return b.String()
}

func (c *Connector) call(ctx context.Context, op, method, url string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return bridge.Permanent(fmt.Errorf("teams %s: %w", op, err))
	}
	for attempt := 0; ; attempt++ {
		token, err := c.Tokens.Token(ctx)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if err != nil {
			return bridge.Permanent(fmt.Errorf("teams %s: %w", op, err))
		}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("Authorization", "Bearer "+token)
		client := c.HTTPClient
		if client == nil {
			client = http.DefaultClient
		}
		res, err := client.Do(req)
		if err != nil {
			// The outcome is unknown: the bridge retries with backoff.
			return fmt.Errorf("teams %s: %w", op, err)
		}
		resBody, readErr := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		res.Body.Close()
		if res.StatusCode == http.StatusUnauthorized && attempt == 0 {
			c.Tokens.Invalidate(token) // revoked or rotated: one fresh token, then give up
			continue
		}
		if res.StatusCode >= 200 && res.StatusCode < 300 {
			if readErr != nil {
				return fmt.Errorf("teams %s: read answer: %w", op, readErr)
			}
			if out != nil && len(bytes.TrimSpace(resBody)) > 0 {
				if err := json.Unmarshal(resBody, out); err != nil {
					return fmt.Errorf("teams %s: answer: %w", op, err)
				}
			}
			return nil
		}
		return c.classify(op, res, resBody)
	}
}

// classify maps a connector failure to what the bridge should do: 429 waits
// for Retry-After without using an attempt; 412 (a concurrent update),
// 5xx and 408 are retried with backoff; other 4xx will fail again.
func (c *Connector) classify(op string, res *http.Response, body []byte) error {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	cerr := &ConnectorError{Op: op, StatusCode: res.StatusCode, Code: e.Error.Code, Message: truncate(e.Error.Message, 200)}
	switch {
	case res.StatusCode == http.StatusTooManyRequests:
		if c.RateLimited != nil {
			c.RateLimited(op)
		}
		return &bridge.RetryAfterError{After: retryAfter(res.Header.Get("Retry-After")), Err: cerr}
	case res.StatusCode == http.StatusPreconditionFailed, res.StatusCode == http.StatusRequestTimeout, res.StatusCode >= 500:
		return cerr
	}
	return bridge.Permanent(cerr)
}

// retryAfter reads Retry-After (seconds or an HTTP date); Teams often sends
// none, and then a second is a polite first wait.
func retryAfter(v string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return max(time.Duration(n)*time.Second, 100*time.Millisecond)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 100*time.Millisecond)
	}
	return time.Second
}
