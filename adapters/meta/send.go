package meta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/threadline/threadline/bridge"
)

// Meta's standard messaging window, and the longer one the HUMAN_AGENT tag
// opens for replies written by people.
const (
	StandardWindow   = 24 * time.Hour
	HumanAgentWindow = 7 * 24 * time.Hour
)

// Text limits of the Send API: Messenger takes 2000 characters, Instagram
// 1000 bytes of UTF-8.
const (
	MessengerMaxText      = 2000
	InstagramMaxTextBytes = 1000
)

// defaultThrottleWait is how long a throttled call waits when Meta names
// no time: its budgets are sliding windows of an hour.
const defaultThrottleWait = 30 * time.Second

// Sender is the adapter as the bridge sees one platform of the family.
type Sender struct {
	a        *Adapter
	platform bridge.Platform
}

var _ bridge.PlatformAdapter = Sender{}

// Platforms returns one bridge adapter per platform the Meta app serves.
func (a *Adapter) Platforms() []bridge.PlatformAdapter {
	return []bridge.PlatformAdapter{Sender{a, bridge.PlatformMessenger}, Sender{a, bridge.PlatformInstagram}, Sender{a, bridge.PlatformFacebook}}
}

// For returns the bridge adapter of one platform.
func (a *Adapter) For(p bridge.Platform) Sender { return Sender{a, p} }

// Platform implements bridge.PlatformAdapter.
func (s Sender) Platform() bridge.Platform { return s.platform }

// Limits implements bridge.PlatformAdapter.
func (s Sender) Limits() bridge.Limits {
	switch s.platform {
	case bridge.PlatformInstagram:
		return bridge.Limits{MaxTextLength: InstagramMaxTextBytes}
	case bridge.PlatformFacebook:
		return bridge.Limits{MaxTextLength: 8000}
	}
	return bridge.Limits{MaxTextLength: MessengerMaxText}
}

type sendRequest struct {
	Recipient struct {
		ID string `json:"id"`
	} `json:"recipient"`
	MessagingType string `json:"messaging_type"`
	Tag           string `json:"tag,omitempty"`
	Message       struct {
		Text         string       `json:"text"`
		QuickReplies []quickReply `json:"quick_replies,omitempty"`
		Metadata     string       `json:"metadata,omitempty"`
	} `json:"message"`
}

// quickReply is a button under a message (Messenger and Instagram); a tap
// comes back as the customer's message with quick_reply.payload.
type quickReply struct {
	ContentType string `json:"content_type"`
	Title       string `json:"title"`
	Payload     string `json:"payload"`
}

// quickReplyTitle is the Send API's limit on a quick reply's title.
const quickReplyTitle = 20

// Send implements bridge.PlatformAdapter with the Send API. The messaging
// window is checked first, so a reply Meta would refuse fails visibly in the
// thread without a call; the message carries our id as metadata, so its
// echo is recognised.
func (s Sender) Send(ctx context.Context, m bridge.OutboundMessage) (bridge.SendResult, error) {
	name := string(s.platform)
	acc, ok := s.a.account(m.Account.ExternalID)
	if !ok {
		return bridge.SendResult{}, bridge.Permanent(fmt.Errorf("%s: account %s is not connected (THREADLINE_META_ACCOUNTS)", name, m.Account.ExternalID))
	}
	if strings.TrimSpace(m.Text) == "" {
		return bridge.SendResult{}, bridge.Permanent(fmt.Errorf("%s: %w: empty message (sending files is not supported)", name, bridge.ErrInvalidInput))
	}
	// Comment threads are answered in public (or privately with "dm:");
	// no messaging window applies.
	if top, ok := strings.CutPrefix(m.ThreadExternalID, commentPrefix); ok {
		return s.sendComment(ctx, acc, top, m)
	}
	if ref, ok := strings.CutPrefix(m.ThreadExternalID, mentionPrefix); ok {
		return s.sendMention(ctx, acc, ref, m)
	}
	if s.platform == bridge.PlatformFacebook {
		return bridge.SendResult{}, bridge.Permanent(fmt.Errorf("facebook: thread %q is not a comment thread", m.ThreadExternalID))
	}
	if err := s.checkText(m.Text); err != nil {
		return bridge.SendResult{}, err
	}
	var req sendRequest
	req.Recipient.ID = m.ThreadExternalID
	req.Message.Text = m.Text
	req.Message.Metadata = ourMetadata(m.MessageID)
	return s.sendDM(ctx, acc, m, req)
}

// checkText applies the platform's limit on a DM's text.
func (s Sender) checkText(text string) error {
	if s.platform == bridge.PlatformInstagram {
		if n := len(text); n > InstagramMaxTextBytes {
			return bridge.Permanent(fmt.Errorf("%s: %w: message of %d bytes is over Instagram's %d-byte limit", s.platform, bridge.ErrInvalidInput, n, InstagramMaxTextBytes))
		}
	} else if n := len([]rune(text)); n > MessengerMaxText {
		return bridge.Permanent(fmt.Errorf("%s: %w: message of %d characters is over Messenger's %d limit", s.platform, bridge.ErrInvalidInput, n, MessengerMaxText))
	}
	return nil
}

// sendDM sends a direct message inside Meta's messaging window.
func (s Sender) sendDM(ctx context.Context, acc *Account, m bridge.OutboundMessage, req sendRequest) (bridge.SendResult, error) {
	name := string(s.platform)
	req.MessagingType = "RESPONSE"
	age := s.a.opts.Clock.Now().Sub(m.LastInboundAt)
	switch {
	case m.LastInboundAt.IsZero():
		return bridge.SendResult{}, bridge.Permanent(fmt.Errorf("%s: the customer has not written in this conversation, and Meta lets a business message a person only in reply; nothing was sent", name))
	case age <= StandardWindow:
	case age <= HumanAgentWindow && s.a.opts.HumanAgentTag:
		req.MessagingType, req.Tag = "MESSAGE_TAG", "HUMAN_AGENT"
	case age <= HumanAgentWindow:
		return bridge.SendResult{}, bridge.Permanent(fmt.Errorf("%s: outside Meta's 24-hour messaging window (the customer last wrote %s ago) and the human agent tag is off (THREADLINE_META_HUMAN_AGENT_TAG); nothing was sent", name, roundAge(age)))
	default:
		return bridge.SendResult{}, bridge.Permanent(fmt.Errorf("%s: outside Meta's messaging window (the customer last wrote %s ago; replies are allowed within 24 hours, 7 days with the human agent tag); nothing was sent", name, roundAge(age)))
	}
	var res struct {
		RecipientID string `json:"recipient_id"`
		MessageID   string `json:"message_id"`
	}
	// Messenger sends as the Page; Instagram as "me", which is the Page
	// linked to the Instagram account for a Page token (Facebook Login) and
	// the account itself for an Instagram token (Instagram Login).
	endpoint := "/" + url.PathEscape(acc.ID) + "/messages"
	if s.platform == bridge.PlatformInstagram {
		endpoint = "/me/messages"
	}
	if err := s.a.call(ctx, acc, http.MethodPost, endpoint, req, &res); err != nil {
		return bridge.SendResult{}, classify(name, err)
	}
	return bridge.SendResult{PlatformMessageID: res.MessageID}, nil
}

func roundAge(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	}
	return d.Round(time.Minute).String()
}

// classify maps a failed call to what the bridge should do with it.
func classify(name string, err error) error {
	var retry *bridge.RetryAfterError
	if errors.As(err, &retry) {
		return err
	}
	var api *APIError
	if !errors.As(err, &api) {
		return err // network trouble or a timeout: the outcome is unknown, retry
	}
	switch {
	case api.RateLimited():
		after := api.RetryAfter
		if after <= 0 {
			after = defaultThrottleWait
		}
		return &bridge.RetryAfterError{After: after, Err: err}
	case api.transient():
		return err
	case api.Code == 190:
		return bridge.Permanent(fmt.Errorf("%s: Meta refused the Page access token (expired or revoked; reconnect the account): %w", name, err))
	case api.Code == 10 && api.Subcode == 2018278, api.Code == 10 && api.Subcode == 2534022:
		return bridge.Permanent(fmt.Errorf("%s: Meta says the reply is outside the messaging window: %w", name, err))
	case api.Code == 551, api.Subcode == 1545041:
		return bridge.Permanent(fmt.Errorf("%s: the customer cannot be reached (blocked the page or left Messenger): %w", name, err))
	case api.Status >= 400 && api.Status < 500:
		return bridge.Permanent(err)
	}
	return err
}

const fileTimeout = 2 * time.Minute

// DownloadFile fetches a customer's attachment by the URL Meta gave in the
// webhook (bridge.Attachment.PlatformRef). Those URLs are signed by Meta's
// CDN and need no token, so none is sent. The caller closes the body.
func (a *Adapter) DownloadFile(ctx context.Context, ref string) (string, io.ReadCloser, error) {
	u, err := url.Parse(ref)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", nil, bridge.Permanent(fmt.Errorf("meta file: %w: not an http(s) URL", bridge.ErrInvalidInput))
	}
	ctx, cancel := context.WithTimeout(ctx, fileTimeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ref, nil)
	if err != nil {
		cancel()
		return "", nil, fmt.Errorf("meta file: %w", err)
	}
	res, err := a.http.Do(req)
	if err != nil {
		cancel()
		// The URL's signature is not ours to log.
		return "", nil, fmt.Errorf("meta file from %s: %w", u.Host, errors.Unwrap(err))
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		cancel()
		err := fmt.Errorf("meta file from %s: HTTP %d", u.Host, res.StatusCode)
		if res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusForbidden || res.StatusCode == http.StatusGone {
			return "", nil, bridge.Permanent(err) // expired link
		}
		return "", nil, err
	}
	return path.Base(u.Path), &cancelOnClose{ReadCloser: res.Body, cancel: cancel}, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
