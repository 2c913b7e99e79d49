package meta

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/threadline/threadline/bridge"
)

// PrivateReplyPrefix starts an agent's reply in a comment thread that goes
// to the commenter as a private message (Meta's private reply: once per
// comment, within 7 days) instead of a public reply under the comment.
const PrivateReplyPrefix = "dm:"

// PrivateReplyWindow is how long after a comment Meta allows its private
// reply.
const PrivateReplyWindow = 7 * 24 * time.Hour

// commentMaxText bounds a public comment; Facebook allows 8000 characters,
// Instagram 2200.
func (s Sender) commentMaxText() int {
	if s.platform == bridge.PlatformInstagram {
		return 2200
	}
	return 8000
}

// sendComment answers a comment thread: publicly under the top-level
// comment, or privately with the "dm:" prefix.
func (s Sender) sendComment(ctx context.Context, acc *Account, top string, m bridge.OutboundMessage) (bridge.SendResult, error) {
	name := string(s.platform)
	text := strings.TrimSpace(m.Text)
	if rest, ok := cutPrefixFold(text, PrivateReplyPrefix); ok {
		return s.privateReply(ctx, acc, top, strings.TrimSpace(rest), m)
	}
	if n := len([]rune(text)); n > s.commentMaxText() {
		return bridge.SendResult{}, bridge.Permanent(fmt.Errorf("%s: %w: comment of %d characters is over the %d limit", name, bridge.ErrInvalidInput, n, s.commentMaxText()))
	}
	// Facebook replies are comments on the comment; Instagram has a
	// replies edge.
	edge := "/comments"
	if s.platform == bridge.PlatformInstagram {
		edge = "/replies"
	}
	var res struct {
		ID string `json:"id"`
	}
	if err := s.a.call(ctx, acc, http.MethodPost, "/"+url.PathEscape(top)+edge, map[string]string{"message": text}, &res); err != nil {
		return bridge.SendResult{}, classify(name, err)
	}
	return bridge.SendResult{PlatformMessageID: res.ID}, nil
}

// privateReply is the public -> DM handoff: one private message to the
// author of the comment. The customer's answer arrives as a DM and opens a
// conversation of its own.
func (s Sender) privateReply(ctx context.Context, acc *Account, commentID, text string, m bridge.OutboundMessage) (bridge.SendResult, error) {
	name := string(s.platform)
	if text == "" {
		return bridge.SendResult{}, bridge.Permanent(fmt.Errorf("%s: %w: empty private reply", name, bridge.ErrInvalidInput))
	}
	if m.LastInboundAt.IsZero() || s.a.opts.Clock.Now().Sub(m.LastInboundAt) > PrivateReplyWindow {
		return bridge.SendResult{}, bridge.Permanent(fmt.Errorf("%s: Meta allows a private reply only within 7 days of the comment; nothing was sent", name))
	}
	if n := len([]rune(text)); n > MessengerMaxText || (s.platform == bridge.PlatformInstagram && len(text) > InstagramMaxTextBytes) {
		return bridge.SendResult{}, bridge.Permanent(fmt.Errorf("%s: %w: private reply too long", name, bridge.ErrInvalidInput))
	}
	body := map[string]any{
		"recipient": map[string]string{"comment_id": commentID},
		"message":   map[string]string{"text": text, "metadata": ourMetadata(m.MessageID)},
	}
	endpoint := "/" + url.PathEscape(acc.ID) + "/messages"
	if s.platform == bridge.PlatformInstagram {
		endpoint = "/me/messages"
	}
	var res struct {
		MessageID string `json:"message_id"`
	}
	if err := s.a.call(ctx, acc, http.MethodPost, endpoint, body, &res); err != nil {
		return bridge.SendResult{}, classify(name, err)
	}
	return bridge.SendResult{PlatformMessageID: res.MessageID}, nil
}

// sendMention replies in the comments of media that mentioned the account.
func (s Sender) sendMention(ctx context.Context, acc *Account, ref string, m bridge.OutboundMessage) (bridge.SendResult, error) {
	media, cid, _ := strings.Cut(ref, ":")
	body := map[string]string{"media_id": media, "message": strings.TrimSpace(m.Text)}
	if cid != "" {
		body["comment_id"] = cid
	}
	var res struct {
		ID string `json:"id"`
	}
	if err := s.a.call(ctx, acc, http.MethodPost, "/"+url.PathEscape(acc.ID)+"/mentions", body, &res); err != nil {
		return bridge.SendResult{}, classify(string(s.platform), err)
	}
	return bridge.SendResult{PlatformMessageID: res.ID}, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

var _ bridge.Moderator = Sender{}

// Moderate implements bridge.Moderator on the top-level comment of a
// comment thread: Facebook hides with is_hidden, Instagram with hide; both
// delete with DELETE.
func (s Sender) Moderate(ctx context.Context, r bridge.ModerationRequest) error {
	name := string(s.platform)
	acc, ok := s.a.account(r.Account.ExternalID)
	if !ok {
		return bridge.Permanent(fmt.Errorf("%s: account %s is not connected (THREADLINE_META_ACCOUNTS)", name, r.Account.ExternalID))
	}
	top, ok := strings.CutPrefix(r.ThreadExternalID, commentPrefix)
	if !ok || top == "" {
		return bridge.Permanent(fmt.Errorf("%s: %w: thread %q is not a comment", name, bridge.ErrInvalidInput, r.ThreadExternalID))
	}
	path := "/" + url.PathEscape(top)
	field := "is_hidden"
	if s.platform == bridge.PlatformInstagram {
		field = "hide"
	}
	var err error
	switch r.Action {
	case bridge.ModerateHide, bridge.ModerateUnhide:
		err = s.a.call(ctx, acc, http.MethodPost, path, map[string]bool{field: r.Action == bridge.ModerateHide}, nil)
	case bridge.ModerateDelete:
		err = s.a.call(ctx, acc, http.MethodDelete, path, nil, nil)
	default:
		return bridge.Permanent(fmt.Errorf("%s: %w: unknown moderation action %q", name, bridge.ErrInvalidInput, r.Action))
	}
	if err != nil {
		return classify(name, err)
	}
	return nil
}

var _ bridge.PrivateReplier = Sender{}

// SendPrivateReply implements bridge.PrivateReplier for the move-to-DM
// handoff: the private reply to the author of the thread's top-level
// comment.
func (s Sender) SendPrivateReply(ctx context.Context, m bridge.OutboundMessage) (bridge.SendResult, error) {
	name := string(s.platform)
	acc, ok := s.a.account(m.Account.ExternalID)
	if !ok {
		return bridge.SendResult{}, bridge.Permanent(fmt.Errorf("%s: account %s is not connected (THREADLINE_META_ACCOUNTS)", name, m.Account.ExternalID))
	}
	top, ok := strings.CutPrefix(m.ThreadExternalID, commentPrefix)
	if !ok || top == "" {
		return bridge.SendResult{}, bridge.Permanent(fmt.Errorf("%s: %w: thread %q is not a comment: there is no commenter to write to privately", name, bridge.ErrInvalidInput, m.ThreadExternalID))
	}
	return s.privateReply(ctx, acc, top, strings.TrimSpace(m.Text), m)
}
