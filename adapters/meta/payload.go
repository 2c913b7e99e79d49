package meta

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/threadline/threadline/bridge"
)

// Webhook is one delivery: entries of one object type ("page" for
// Messenger and Page feeds, "instagram"), each with messaging events or
// field changes. Meta batches several entries, and several events per
// entry, into one request.
type Webhook struct {
	Object string  `json:"object"`
	Entry  []Entry `json:"entry"`
}

// Entry is what happened to one Page or Instagram account.
type Entry struct {
	ID        flexString  `json:"id"`
	Time      int64       `json:"time"`
	Messaging []Messaging `json:"messaging"`
	// Standby carries the messages of threads another app (such as the
	// Page inbox) owns under the handover protocol: still the customer's.
	Standby []Messaging `json:"standby"`
	Changes []Change    `json:"changes"`
}

// Party is a sender or recipient.
type Party struct {
	ID flexString `json:"id"`
}

// Messaging is one messaging event.
type Messaging struct {
	Sender      Party        `json:"sender"`
	Recipient   Party        `json:"recipient"`
	Timestamp   int64        `json:"timestamp"`
	Message     *Message     `json:"message,omitempty"`
	Postback    *Postback    `json:"postback,omitempty"`
	MessageEdit *MessageEdit `json:"message_edit,omitempty"`
	Delivery    *Delivery    `json:"delivery,omitempty"`
	Read        *Read        `json:"read,omitempty"`
}

// Message is a message from the customer or, with IsEcho, from the page.
type Message struct {
	MID           string       `json:"mid"`
	Text          string       `json:"text,omitempty"`
	IsEcho        bool         `json:"is_echo,omitempty"`
	AppID         flexString   `json:"app_id,omitempty"`
	Metadata      string       `json:"metadata,omitempty"`
	QuickReply    *QuickReply  `json:"quick_reply,omitempty"`
	Attachments   []Attachment `json:"attachments,omitempty"`
	ReplyTo       *ReplyTo     `json:"reply_to,omitempty"`
	IsDeleted     bool         `json:"is_deleted,omitempty"`
	IsUnsupported bool         `json:"is_unsupported,omitempty"`
}

// QuickReply is the button a customer tapped; the message text is its title.
type QuickReply struct {
	Payload string `json:"payload"`
}

// Attachment is a file, sticker or shared item.
type Attachment struct {
	Type    string            `json:"type"` // image, video, audio, file, fallback, template, share, story_mention, ig_reel, reel
	Title   string            `json:"title,omitempty"`
	URL     string            `json:"url,omitempty"` // fallback attachments carry it here
	Payload AttachmentPayload `json:"payload"`
}

// AttachmentPayload is an attachment's content. Meta sends a JSON object,
// or null for some fallbacks; both decode.
type AttachmentPayload struct {
	URL       string     `json:"url,omitempty"`
	Title     string     `json:"title,omitempty"`
	StickerID flexString `json:"sticker_id,omitempty"`
}

// ReplyTo says what a message answers: another message, or (Instagram) a
// story.
type ReplyTo struct {
	MID   string `json:"mid,omitempty"`
	Story *struct {
		URL string     `json:"url"`
		ID  flexString `json:"id"`
	} `json:"story,omitempty"`
}

// Postback is a tapped button (Get Started, a persistent menu item).
type Postback struct {
	MID     string `json:"mid,omitempty"`
	Title   string `json:"title,omitempty"`
	Payload string `json:"payload,omitempty"`
}

// MessageEdit is a customer's edit of an earlier message.
type MessageEdit struct {
	MID     string `json:"mid"`
	Text    string `json:"text"`
	NumEdit int    `json:"num_edit"`
}

// Delivery says messages reached the customer's device.
type Delivery struct {
	MIDs      []string `json:"mids,omitempty"`
	Watermark int64    `json:"watermark"`
}

// Read says the customer read messages: Messenger's message_reads name
// everything sent up to the watermark, Instagram's messaging_seen the last
// message read.
type Read struct {
	Watermark int64  `json:"watermark,omitempty"`
	MID       string `json:"mid,omitempty"`
}

// Change is a field change (feed, comments, mentions).
type Change struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
}

// flexString decodes a JSON string or number (Meta sends ids as either).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("id must be a string or a number")
		}
		*f = flexString(n.String())
	}
	return nil
}

func (p *AttachmentPayload) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		*p = AttachmentPayload{}
		return nil
	}
	type plain AttachmentPayload
	var v plain
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = AttachmentPayload(v)
	return nil
}

// DecodeWebhook parses a delivery; malformed input wraps
// bridge.ErrInvalidInput.
func DecodeWebhook(body []byte) (Webhook, error) {
	var w Webhook
	if err := json.Unmarshal(body, &w); err != nil {
		return Webhook{}, fmt.Errorf("%w: meta webhook: %v", bridge.ErrInvalidInput, err)
	}
	if w.Object == "" {
		return Webhook{}, fmt.Errorf("%w: meta webhook without object", bridge.ErrInvalidInput)
	}
	return w, nil
}

// Event is what one messaging event asks of the bridge: a customer message
// (or edit) to ingest, or a message the account sent to record.
type Event struct {
	Inbound  *bridge.InboundEvent
	Outbound *bridge.ObservedOutbound
	// Receipt reports that the account's messages were delivered or seen.
	Receipt *bridge.ReceiptEvent
	// mention names the Instagram mention an Inbound event is, whose
	// content is read from the Graph API before storing.
	mention *mentionRef
}

// Parsed is a delivery turned into bridge events.
type Parsed struct {
	Events []Event
	// Unknown lists entry ids of accounts that are not connected.
	Unknown []string
	// Ignored counts events with nothing to show (deleted messages,
	// unsupported kinds).
	Ignored int
}

// metadataPrefix tags the metadata of our sends: "threadline:msg:<id>".
const metadataPrefix = "threadline:msg:"

func ourMetadata(id bridge.MessageID) string {
	return metadataPrefix + strconv.FormatInt(int64(id), 10)
}

// ourMessageID reads our metadata back from an echo; 0 when it is not ours.
func ourMessageID(metadata string) bridge.MessageID {
	rest, ok := strings.CutPrefix(metadata, metadataPrefix)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return bridge.MessageID(n)
}

func platformOf(object string) (bridge.Platform, bool) {
	switch object {
	case "page":
		return bridge.PlatformMessenger, true
	case "instagram":
		return bridge.PlatformInstagram, true
	}
	return "", false
}

// Parse turns a decoded delivery into bridge events, in delivery order.
func (a *Adapter) Parse(w Webhook) Parsed {
	var out Parsed
	platform, ok := platformOf(w.Object)
	if !ok {
		// Subscriptions to other objects (user, permissions) carry nothing
		// for agents.
		for _, e := range w.Entry {
			out.Ignored += len(e.Messaging) + len(e.Standby) + len(e.Changes)
		}
		return out
	}
	for _, e := range w.Entry {
		id := string(e.ID)
		if _, ok := a.account(id); !ok {
			out.Unknown = append(out.Unknown, id)
			continue
		}
		for _, list := range [][]Messaging{e.Messaging, e.Standby} {
			for _, m := range list {
				if ev, ok := a.messagingEvent(platform, id, m); ok {
					out.Events = append(out.Events, ev)
				} else {
					out.Ignored++
				}
			}
		}
		for _, c := range e.Changes {
			if ev, ok := a.changeEvent(w.Object, id, c); ok {
				out.Events = append(out.Events, ev)
			} else {
				out.Ignored++
			}
		}
	}
	return out
}

func (a *Adapter) messagingEvent(platform bridge.Platform, accountID string, m Messaging) (Event, bool) {
	account := bridge.UpsertAccountParams{ExternalID: accountID, DisplayName: a.displayName(accountID)}
	ts := time.UnixMilli(m.Timestamp).UTC()
	if m.Timestamp <= 0 {
		ts = time.Time{}
	}
	sender, recipient := string(m.Sender.ID), string(m.Recipient.ID)
	switch {
	case m.Message != nil && (m.Message.IsEcho || sender == accountID):
		msg := m.Message
		if msg.MID == "" || recipient == "" || recipient == accountID || msg.IsDeleted || msg.Metadata == surveyMetadata {
			// The survey's echo: its answer is shown in the thread, the
			// question is not.
			return Event{}, false
		}
		text, atts := content(msg)
		return Event{Outbound: &bridge.ObservedOutbound{
			Platform: platform, Account: account, Thread: recipient, Source: bridge.SourceDM,
			Customer:          bridge.UpsertIdentityParams{ExternalUserID: recipient},
			PlatformMessageID: msg.MID, OurMessageID: ourMessageID(msg.Metadata),
			Text: text, Attachments: atts, Timestamp: ts,
		}}, true
	case sender == "" || sender == accountID:
		return Event{}, false
	case m.Message != nil:
		msg := m.Message
		if msg.MID == "" || msg.IsDeleted {
			return Event{}, false
		}
		text, atts := content(msg)
		if text == "" && len(atts) == 0 {
			return Event{}, false
		}
		in := bridge.InboundEvent{
			Kind: bridge.EventMessage, Platform: platform, Account: account, Thread: sender, Source: bridge.SourceDM,
			Sender: bridge.UpsertIdentityParams{ExternalUserID: sender}, PlatformMessageID: msg.MID,
			Text: text, Attachments: atts, Timestamp: ts,
		}
		if msg.QuickReply != nil && strings.HasPrefix(msg.QuickReply.Payload, surveyPayload) {
			in = surveyAnswer(in, msg.QuickReply.Payload)
		}
		return Event{Inbound: &in}, true
	case m.Postback != nil:
		p := m.Postback
		text := p.Title
		if text == "" {
			text = p.Payload
		}
		if text == "" {
			return Event{}, false
		}
		mid := p.MID
		if mid == "" {
			// Older versions give postbacks no mid: the customer cannot tap
			// twice in the same millisecond, so this dedupes redeliveries.
			mid = "postback:" + sender + ":" + strconv.FormatInt(m.Timestamp, 10)
		}
		return Event{Inbound: &bridge.InboundEvent{
			Kind: bridge.EventMessage, Platform: platform, Account: account, Thread: sender, Source: bridge.SourceDM,
			Sender: bridge.UpsertIdentityParams{ExternalUserID: sender}, PlatformMessageID: mid,
			Text: "[tapped] " + text, Timestamp: ts,
		}}, true
	case m.Delivery != nil || m.Read != nil:
		return receiptEvent(platform, accountID, sender, m)
	case m.MessageEdit != nil && m.MessageEdit.MID != "":
		return Event{Inbound: &bridge.InboundEvent{
			Kind: bridge.EventEdit, Platform: platform, Account: account, Thread: sender, Source: bridge.SourceDM,
			Sender: bridge.UpsertIdentityParams{ExternalUserID: sender}, PlatformMessageID: m.MessageEdit.MID,
			Text: m.MessageEdit.Text, Timestamp: ts,
		}}, true
	}
	return Event{}, false
}

// receiptEvent reads a delivery or read: the customer (the sender) got or
// read the account's messages named by id or sent up to the watermark.
func receiptEvent(platform bridge.Platform, accountID, customer string, m Messaging) (Event, bool) {
	r := bridge.ReceiptEvent{Platform: platform, Account: accountID, Thread: customer}
	switch {
	case m.Read != nil:
		r.Status = bridge.ReceiptSeen
		if m.Read.MID != "" {
			r.PlatformMessageIDs = []string{m.Read.MID}
		}
		switch {
		case m.Read.Watermark > 0:
			r.Watermark = time.UnixMilli(m.Read.Watermark).UTC()
		case m.Read.MID != "" && m.Timestamp > 0:
			// Instagram names the last message read, which may be one
			// whose send is not recorded yet; what was sent before the
			// customer looked was seen too, so a later read marks it.
			r.Watermark = time.UnixMilli(m.Timestamp).UTC()
		}
	default:
		r.Status = bridge.ReceiptDelivered
		for _, id := range m.Delivery.MIDs {
			if id != "" && len(r.PlatformMessageIDs) < maxReceiptIDs {
				r.PlatformMessageIDs = append(r.PlatformMessageIDs, id)
			}
		}
		if m.Delivery.Watermark > 0 {
			r.Watermark = time.UnixMilli(m.Delivery.Watermark).UTC()
		}
	}
	if len(r.PlatformMessageIDs) == 0 && r.Watermark.IsZero() {
		return Event{}, false
	}
	return Event{Receipt: &r}, true
}

// maxReceiptIDs bounds the ids one delivery names: Meta lists the few
// delivered since the last one, and a forged long list must not become a
// query as long.
const maxReceiptIDs = 100

// content renders a message's text and attachments. Files become
// attachments fetched later by URL; shared posts, reels and links become
// lines of text, since there is nothing to copy.
func content(m *Message) (string, []bridge.Attachment) {
	var lines []string
	if m.ReplyTo != nil && m.ReplyTo.Story != nil {
		lines = append(lines, "[replied to your story] "+m.ReplyTo.Story.URL)
	}
	if m.Text != "" {
		lines = append(lines, m.Text)
	}
	if m.IsUnsupported {
		lines = append(lines, "[a kind of message Meta does not pass on to apps; see it in Meta's inbox]")
	}
	var atts []bridge.Attachment
	for _, at := range m.Attachments {
		u := at.Payload.URL
		switch at.Type {
		case "image", "video", "audio", "file", "animated_image":
			kind := map[string]string{"image": "photo", "video": "video", "audio": "audio", "file": "document", "animated_image": "photo"}[at.Type]
			if at.Type == "image" && at.Payload.StickerID != "" {
				kind = "sticker"
			}
			if u == "" {
				lines = append(lines, "["+kind+" without a link]")
				continue
			}
			atts = append(atts, bridge.Attachment{Kind: kind, Name: fileName(u, kind), PlatformRef: u})
		case "story_mention":
			// The story lasts a day: its media is copied into chat like a
			// file, and the link kept for as long as it works.
			lines = append(lines, "[mentioned you in their story] "+u)
			if u != "" {
				atts = append(atts, bridge.Attachment{Kind: "story", Name: fileName(u, "story"), PlatformRef: u})
			}
		default: // share, fallback, template, reel, ig_reel, ig_post, location
			if u == "" {
				u = at.URL
			}
			title := strings.TrimSpace(at.Title + " " + at.Payload.Title)
			line := strings.TrimSpace("[shared " + at.Type + "] " + strings.TrimSpace(title+" "+u))
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n"), atts
}

var defaultNames = map[string]string{"story": "story.jpg", "photo": "image.jpg", "sticker": "sticker.png", "video": "video.mp4", "audio": "audio.mp4", "document": "file"}

// fileName takes the name from the URL's path when it has one.
func fileName(u, kind string) string {
	p := u
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	base := path.Base(p)
	if base != "" && base != "." && base != "/" && strings.Contains(base, ".") && len(base) <= 100 {
		return base
	}
	return defaultNames[kind]
}
