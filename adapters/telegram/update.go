package telegram

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/threadline/threadline/bridge"
)

// Update is the part of a Bot API Update that Threadline reads: messages,
// edits and taps on survey buttons. Other kinds (channel posts, member
// changes) decode to an Update with none of them set.
type Update struct {
	UpdateID      int64          `json:"update_id"`
	Message       *Message       `json:"message,omitempty"`
	EditedMessage *Message       `json:"edited_message,omitempty"`
	CallbackQuery *CallbackQuery `json:"callback_query,omitempty"`
}

// CallbackQuery is a tap on an inline keyboard button of a bot's message.
type CallbackQuery struct {
	ID      string   `json:"id"`
	From    *User    `json:"from"`
	Message *Message `json:"message,omitempty"`
	Data    string   `json:"data,omitempty"`
}

// Message is a Bot API Message.
type Message struct {
	MessageID int64       `json:"message_id"`
	From      *User       `json:"from,omitempty"`
	Chat      Chat        `json:"chat"`
	Date      int64       `json:"date"`
	EditDate  int64       `json:"edit_date,omitempty"`
	Text      string      `json:"text,omitempty"`
	Caption   string      `json:"caption,omitempty"`
	Photo     []PhotoSize `json:"photo,omitempty"`
	Document  *Document   `json:"document,omitempty"`
}

// Chat is a Bot API Chat.
type Chat struct {
	ID       int64  `json:"id"`
	Type     string `json:"type"` // private, group, supergroup or channel
	Username string `json:"username,omitempty"`
}

// PhotoSize is one size of a photo.
type PhotoSize struct {
	FileID   string `json:"file_id"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	FileSize int64  `json:"file_size,omitempty"`
}

// Document is a general file.
type Document struct {
	FileID   string `json:"file_id"`
	FileName string `json:"file_name,omitempty"`
	MimeType string `json:"mime_type,omitempty"`
	FileSize int64  `json:"file_size,omitempty"`
}

// DecodeUpdate parses one Update; malformed input wraps bridge.ErrInvalidInput.
func DecodeUpdate(body []byte) (Update, error) {
	var u Update
	if err := json.Unmarshal(body, &u); err != nil {
		return Update{}, fmt.Errorf("%w: telegram update: %v", bridge.ErrInvalidInput, err)
	}
	if u.UpdateID <= 0 {
		return Update{}, fmt.Errorf("%w: telegram update without update_id", bridge.ErrInvalidInput)
	}
	return u, nil
}

// ParseUpdate turns one Update (a webhook body, or an element of the
// getUpdates result) into what the bridge ingests: one event for a customer's
// message or edit in a private chat, none for everything else. Malformed JSON
// is an error wrapping bridge.ErrInvalidInput; an update of another kind is
// not an error.
func (a *Adapter) ParseUpdate(body []byte) (events []bridge.InboundEvent, updateID int64, err error) {
	u, err := DecodeUpdate(body)
	if err != nil {
		return nil, 0, err
	}
	return a.Events(u), u.UpdateID, nil
}

// Events turns a decoded update into inbound events. Only private chats
// become conversations: the bot answers customers one to one, never in
// groups or channels.
func (a *Adapter) Events(u Update) []bridge.InboundEvent {
	if q := u.CallbackQuery; q != nil {
		return a.callbackEvents(u.UpdateID, q)
	}
	m, kind := u.Message, bridge.EventMessage
	if m == nil {
		m, kind = u.EditedMessage, bridge.EventEdit
	}
	if m == nil || m.Chat.Type != "private" || m.From == nil || m.From.IsBot || m.MessageID <= 0 {
		return nil
	}
	text := m.Text
	if text == "" {
		text = m.Caption
	}
	var atts []bridge.Attachment
	if p, ok := largest(m.Photo); ok {
		atts = append(atts, bridge.Attachment{Kind: "photo", Name: "photo.jpg", MIMEType: "image/jpeg", Size: p.FileSize, PlatformRef: p.FileID})
	}
	if d := m.Document; d != nil && d.FileID != "" {
		atts = append(atts, bridge.Attachment{Kind: "document", Name: d.FileName, MIMEType: d.MimeType, Size: d.FileSize, PlatformRef: d.FileID})
	}
	if text == "" && len(atts) == 0 {
		return nil // stickers, locations, polls: nothing an agent can answer yet
	}
	ts := m.Date
	if kind == bridge.EventEdit && m.EditDate > 0 {
		ts = m.EditDate
	}
	return []bridge.InboundEvent{{
		Kind: kind,
		// Scoped by bot: update ids are counted per bot, and the bridge
		// dedupes delivery ids per platform.
		DeliveryID: "update:" + a.botID + ":" + strconv.FormatInt(u.UpdateID, 10),
		Platform:   bridge.PlatformTelegram,
		Account:    bridge.UpsertAccountParams{ExternalID: a.botID, DisplayName: a.Username()},
		Thread:     strconv.FormatInt(m.Chat.ID, 10),
		Source:     bridge.SourceDM,
		Sender: bridge.UpsertIdentityParams{
			ExternalUserID: strconv.FormatInt(m.From.ID, 10),
			Name:           strings.TrimSpace(m.From.FirstName + " " + m.From.LastName),
			Handle:         m.From.Username,
		},
		PlatformMessageID: strconv.FormatInt(m.MessageID, 10),
		Text:              text,
		Attachments:       atts,
		Timestamp:         time.Unix(ts, 0).UTC(),
	}}
}

// largest picks the biggest size of a photo. Telegram lists sizes smallest
// first, but nothing in the API promises it.
func largest(sizes []PhotoSize) (PhotoSize, bool) {
	var best PhotoSize
	found := false
	for _, s := range sizes {
		if s.FileID == "" {
			continue
		}
		if !found || s.Width*s.Height > best.Width*best.Height ||
			(s.Width*s.Height == best.Width*best.Height && s.FileSize > best.FileSize) {
			best, found = s, true
		}
	}
	return best, found
}

// callbackEvents turns a tap on a survey button into a survey answer. The
// bridge checks that the survey belongs to this chat.
func (a *Adapter) callbackEvents(updateID int64, q *CallbackQuery) []bridge.InboundEvent {
	if q.ID == "" || q.From == nil || q.From.IsBot || q.Message == nil || q.Message.Chat.Type != "private" || !strings.HasPrefix(q.Data, "csat:") {
		return nil
	}
	return []bridge.InboundEvent{{
		Kind:              bridge.EventSurveyAnswer,
		DeliveryID:        "update:" + a.botID + ":" + strconv.FormatInt(updateID, 10),
		Platform:          bridge.PlatformTelegram,
		Account:           bridge.UpsertAccountParams{ExternalID: a.botID, DisplayName: a.Username()},
		Thread:            strconv.FormatInt(q.Message.Chat.ID, 10),
		Source:            bridge.SourceDM,
		Sender:            bridge.UpsertIdentityParams{ExternalUserID: strconv.FormatInt(q.From.ID, 10)},
		PlatformMessageID: "callback:" + q.ID,
		Survey:            &bridge.SurveyAnswer{Data: q.Data, AckToken: q.ID},
	}}
}
