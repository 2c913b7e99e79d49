package telegram

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/threadline/threadline/bridge"
)

// Update is the part of a Bot API Update that Threadline reads.
type Update struct {
	UpdateID      int64    `json:"update_id"`
	Message       *Message `json:"message,omitempty"`
	EditedMessage *Message `json:"edited_message,omitempty"`
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
	Type     string `json:"type"`
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

// Events turns an update into what the bridge ingests. Only private chats
// become conversations; other kinds of update yield nothing.
func (a *Adapter) Events(u Update) []bridge.InboundEvent {
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
	if n := len(m.Photo); n > 0 {
		largest := m.Photo[n-1] // sizes come smallest first
		atts = append(atts, bridge.Attachment{Kind: "photo", Name: "photo.jpg", MIMEType: "image/jpeg", Size: largest.FileSize, PlatformRef: largest.FileID})
	}
	if d := m.Document; d != nil && d.FileID != "" {
		atts = append(atts, bridge.Attachment{Kind: "document", Name: d.FileName, MIMEType: d.MimeType, Size: d.FileSize, PlatformRef: d.FileID})
	}
	if text == "" && len(atts) == 0 {
		return nil // stickers, locations, ...: nothing an agent can answer yet
	}
	ts := m.Date
	if kind == bridge.EventEdit && m.EditDate > 0 {
		ts = m.EditDate
	}
	return []bridge.InboundEvent{{
		Kind:       kind,
		DeliveryID: "update:" + a.botID + ":" + strconv.FormatInt(u.UpdateID, 10),
		Platform:   bridge.PlatformTelegram,
		Account:    bridge.UpsertAccountParams{ExternalID: a.botID, DisplayName: a.username},
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
