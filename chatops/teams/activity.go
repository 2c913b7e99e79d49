// Package teams is Threadline's Microsoft Teams surface: it shows
// conversations as threads with an Adaptive Card in an inbox channel, through
// the Bot Framework connector, and turns what agents do there into bridge
// commands. Every inbound request's token is validated before its body is
// read.
//
// The wire types, the token validator and the connector client are our own.
// github.com/infracloudio/msbotbuilder-go (v0.2.5, unmaintained) was weighed
// and not used: its schema marshals zero structs and times (an outbound
// activity would carry "timestamp":"0001-01-01T00:00:00Z" and empty
// from/recipient/relatesTo objects), types an activity's value as a map (an
// Action.Submit value may be any JSON) and has no mentioned id in its mention
// entity; its client discards the connector's response bodies (so no
// activity ids), has no create-conversation call, no tenant-specific token
// URL and no 429 handling; its validator fetches a fixed metadata URL on
// every request with a key cache that is not safe under concurrency, and it
// pins a golang-jwt release with a published vulnerability.
package teams

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/threadline/threadline/bridge"
)

// Activity types Threadline reads or writes.
const (
	TypeMessage            = "message"
	TypeInvoke             = "invoke"
	TypeInvokeResponse     = "invokeResponse"
	TypeConversationUpdate = "conversationUpdate"
	TypeInstallationUpdate = "installationUpdate"
	TypeMessageUpdate      = "messageUpdate"
)

// Activity is a Bot Framework activity, with the fields Threadline uses.
type Activity struct {
	Type         string               `json:"type"`
	ID           string               `json:"id,omitempty"`
	Timestamp    string               `json:"timestamp,omitempty"`
	ServiceURL   string               `json:"serviceUrl,omitempty"`
	ChannelID    string               `json:"channelId,omitempty"`
	From         *ChannelAccount      `json:"from,omitempty"`
	Conversation *ConversationAccount `json:"conversation,omitempty"`
	Recipient    *ChannelAccount      `json:"recipient,omitempty"`
	TextFormat   string               `json:"textFormat,omitempty"`
	Text         string               `json:"text,omitempty"`
	Summary      string               `json:"summary,omitempty"`
	Attachments  []Attachment         `json:"attachments,omitempty"`
	Entities     []Entity             `json:"entities,omitempty"`
	ChannelData  *ChannelData         `json:"channelData,omitempty"`
	ReplyToID    string               `json:"replyToId,omitempty"`
	// Name names an invoke ("adaptiveCard/action").
	Name string `json:"name,omitempty"`
	// Value carries an invoke's or an Action.Submit's payload.
	Value json.RawMessage `json:"value,omitempty"`
}

// ChannelAccount is a user or bot.
type ChannelAccount struct {
	ID          string `json:"id"`
	Name        string `json:"name,omitempty"`
	AADObjectID string `json:"aadObjectId,omitempty"`
	Role        string `json:"role,omitempty"`
}

// ConversationAccount is the conversation an activity belongs to. In a
// channel, the id of a thread is the channel id with ";messageid=" and the
// thread's root activity id appended.
type ConversationAccount struct {
	ID               string `json:"id"`
	Name             string `json:"name,omitempty"`
	ConversationType string `json:"conversationType,omitempty"`
	IsGroup          bool   `json:"isGroup,omitempty"`
	TenantID         string `json:"tenantId,omitempty"`
}

// Attachment is a card or file on an activity.
type Attachment struct {
	ContentType string          `json:"contentType"`
	ContentURL  string          `json:"contentUrl,omitempty"`
	Content     json.RawMessage `json:"content,omitempty"`
	Name        string          `json:"name,omitempty"`
}

// ContentTypeAdaptiveCard is the attachment content type of Adaptive Cards.
const ContentTypeAdaptiveCard = "application/vnd.microsoft.card.adaptive"

// Entity is an entity of an activity; Threadline reads mentions, whose
// mentioned id says who was addressed.
type Entity struct {
	Type      string          `json:"type"`
	Mentioned *ChannelAccount `json:"mentioned,omitempty"`
	Text      string          `json:"text,omitempty"`
}

// ChannelData is the Teams-specific part of an activity.
type ChannelData struct {
	TeamsChannelID string  `json:"teamsChannelId,omitempty"`
	TeamsTeamID    string  `json:"teamsTeamId,omitempty"`
	Channel        *IDName `json:"channel,omitempty"`
	Team           *IDName `json:"team,omitempty"`
	Tenant         *IDName `json:"tenant,omitempty"`
}

// IDName is Teams' {"id": ..., "name": ...}.
type IDName struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// TenantID returns the tenant of the activity, from the conversation or the
// channel data.
func (a Activity) TenantID() string {
	if a.Conversation != nil && a.Conversation.TenantID != "" {
		return a.Conversation.TenantID
	}
	if a.ChannelData != nil && a.ChannelData.Tenant != nil {
		return a.ChannelData.Tenant.ID
	}
	return ""
}

// ThreadRoot splits a channel thread's conversation id into the channel id
// and the thread's root activity id; ok is false outside a channel thread.
func ThreadRoot(conversationID string) (channel, root string, ok bool) {
	channel, root, ok = strings.Cut(conversationID, ";messageid=")
	if !ok || channel == "" || root == "" {
		return "", "", false
	}
	return channel, root, true
}

// maxIDLength bounds ids and URLs: Teams' are well under 300 bytes.
const maxIDLength = 1024

// DecodeActivity parses an activity body (after its token was validated)
// and checks what every activity Threadline acts on must carry.
func DecodeActivity(body []byte) (Activity, error) {
	var a Activity
	if err := json.Unmarshal(body, &a); err != nil {
		return Activity{}, fmt.Errorf("%w: teams activity: %v", bridge.ErrInvalidInput, err)
	}
	if a.Type == "" {
		return Activity{}, fmt.Errorf("%w: teams activity without type", bridge.ErrInvalidInput)
	}
	if err := checkServiceURL(a.ServiceURL); err != nil {
		return Activity{}, err
	}
	if a.Conversation == nil || a.Conversation.ID == "" {
		return Activity{}, fmt.Errorf("%w: teams activity without conversation", bridge.ErrInvalidInput)
	}
	for _, s := range []string{a.ID, a.ChannelID, a.Conversation.ID, a.ReplyToID, a.Name} {
		if len(s) > maxIDLength {
			return Activity{}, fmt.Errorf("%w: teams activity id over %d bytes", bridge.ErrInvalidInput, maxIDLength)
		}
	}
	if (a.Type == TypeMessage || a.Type == TypeInvoke) && (a.From == nil || a.From.ID == "") {
		return Activity{}, fmt.Errorf("%w: teams %s without sender", bridge.ErrInvalidInput, a.Type)
	}
	return a, nil
}

func checkServiceURL(s string) error {
	if s == "" || len(s) > maxIDLength {
		return fmt.Errorf("%w: teams activity without a usable serviceUrl", bridge.ErrInvalidInput)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return fmt.Errorf("%w: teams activity serviceUrl is not an http(s) URL", bridge.ErrInvalidInput)
	}
	return nil
}
