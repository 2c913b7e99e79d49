package bridge

import (
	"fmt"
	"strconv"
)

// Row identifiers are typed so that a conversation id can never be passed
// where a message id is expected. Their values are database keys: meaningful
// only within one Threadline deployment, never shown to customers.
type (
	AccountID        int64
	ContactID        int64
	IdentityID       int64
	AgentID          int64
	PlatformThreadID int64
	ConversationID   int64
	MessageID        int64
	ChatThreadID     int64
	DeliveryID       int64
)

// ConversationNumber is the short human number agents type and see (#1042).
// It is unique across the deployment and, unlike ConversationID, meant to be
// read aloud.
type ConversationNumber int64

func (n ConversationNumber) String() string { return "#" + strconv.FormatInt(int64(n), 10) }

// ParseConversationNumber accepts "1042" and "#1042".
func ParseConversationNumber(s string) (ConversationNumber, error) {
	if len(s) > 0 && s[0] == '#' {
		s = s[1:]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%w: %q is not a conversation number", ErrInvalidInput, s)
	}
	return ConversationNumber(n), nil
}

// Platform names a social network Threadline bridges from.
type Platform string

const (
	PlatformTelegram  Platform = "telegram"
	PlatformMessenger Platform = "messenger"
	PlatformInstagram Platform = "instagram"
	PlatformFacebook  Platform = "facebook"
	PlatformX         Platform = "x"
	PlatformBluesky   Platform = "bluesky"
	PlatformReddit    Platform = "reddit"
	PlatformLinkedIn  Platform = "linkedin"
	PlatformYouTube   Platform = "youtube"
	PlatformGoogle    Platform = "gbp"
)

// Surface names a chat tool agents work in.
type Surface string

const (
	SurfaceSlack Surface = "slack"
	SurfaceTeams Surface = "teams"
)

// Target names one ordered delivery lane of a conversation: the origin
// platform, or one chat surface. Each conversation has at most one delivery in
// flight per target.
type Target string

// TargetPlatform is the lane towards the customer's platform.
const TargetPlatform Target = "platform"

// ChatTarget is the lane that shows a conversation on a chat surface.
func ChatTarget(s Surface) Target { return Target("chat:" + string(s)) }

// CardTarget is the lane that keeps a conversation's card (parent message) up
// to date on a chat surface. It carries no rows of its own: it coalesces to
// the latest conversation version.
func CardTarget(s Surface) Target { return Target("card:" + string(s)) }

// Surface returns the chat surface of a chat or card target.
func (t Target) Surface() (Surface, bool) {
	s := string(t)
	for _, p := range []string{"chat:", "card:"} {
		if len(s) > len(p) && s[:len(p)] == p {
			return Surface(s[len(p):]), true
		}
	}
	return "", false
}

// IsCard reports whether t is a card lane.
func (t Target) IsCard() bool { return len(t) > 5 && t[:5] == "card:" }
