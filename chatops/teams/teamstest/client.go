package teamstest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"strings"
	"time"
)

// User is a person in the emulated team.
type User struct {
	ID          string // 29:...
	Name        string
	AADObjectID string
}

// Activity is an activity as the Bot Connector delivers it to a bot.
type Activity map[string]any

// UserMessage records a person's message in a thread and returns the
// activity Teams delivers to the bot for it. With mentionBot the text starts
// with the bot's mention and carries its mention entity, as when an agent
// types @Threadline; mentions names further users the text mentions (their
// <at>Name</at> is appended unless the text has it).
func (s *Server) UserMessage(conversationID string, from User, text string, mentionBot bool, mentions ...User) Activity {
	s.mu.Lock()
	id := s.newID()
	s.add(&Message{ConversationID: conversationID, ID: id, FromID: from.ID, FromName: from.Name, Text: text, At: time.Now()})
	s.mu.Unlock()
	var entities []any
	htmlText := html.EscapeString(text)
	if mentionBot {
		text = "<at>Threadline</at> " + text
		htmlText = `<span itemscope="" itemtype="http://schema.skype.com/Mention" itemid="0">Threadline</span> ` + htmlText
		entities = append(entities, map[string]any{"type": "mention", "text": "<at>Threadline</at>",
			"mentioned": map[string]any{"id": s.BotID(), "name": "Threadline"}})
	}
	for _, u := range mentions {
		if tag := "<at>" + u.Name + "</at>"; !strings.Contains(text, tag) {
			text += " " + tag
		}
		entities = append(entities, map[string]any{"type": "mention", "text": "<at>" + u.Name + "</at>",
			"mentioned": map[string]any{"id": u.ID, "name": u.Name}})
	}
	entities = append(entities, map[string]any{"type": "clientInfo", "locale": "en-US", "platform": "Web"})
	a := s.baseActivity("message", id, conversationID, from)
	a["text"] = text
	a["textFormat"] = "plain"
	a["attachments"] = []any{map[string]any{"contentType": "text/html", "content": "<div><div>" + htmlText + "</div></div>"}}
	a["entities"] = entities
	return a
}

// baseActivity is what every activity in the inbox channel carries.
func (s *Server) baseActivity(typ, id, conversationID string, from User) Activity {
	fromAcc := map[string]any{"id": from.ID, "name": from.Name}
	if from.AADObjectID != "" {
		fromAcc["aadObjectId"] = from.AADObjectID
	}
	return Activity{
		"type": typ, "id": id, "timestamp": time.Now().UTC().Format(time.RFC3339Nano), "channelId": "msteams",
		"serviceUrl": s.ServiceURL(), "from": fromAcc,
		"conversation": map[string]any{"isGroup": true, "conversationType": "channel", "tenantId": s.opts.TenantID, "id": conversationID},
		"recipient":    map[string]any{"id": s.BotID(), "name": "Threadline"},
		"channelData": map[string]any{
			"teamsChannelId": s.opts.Channel, "teamsTeamId": "19:team@thread.tacv2",
			"channel": map[string]any{"id": s.opts.Channel}, "team": map[string]any{"id": "19:team@thread.tacv2"},
			"tenant": map[string]any{"id": s.opts.TenantID},
		},
		"locale": "en-US",
	}
}

// CardAction returns the invoke activity Teams sends when a person presses
// an Action.Execute button with verb and data on the card rootID shows.
func (s *Server) CardAction(conversationID, rootID string, from User, verb string, data any) Activity {
	s.mu.Lock()
	id := s.newID()
	s.mu.Unlock()
	a := s.baseActivity("invoke", id, conversationID, from)
	a["name"] = "adaptiveCard/action"
	a["replyToId"] = rootID
	a["value"] = map[string]any{"action": map[string]any{"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"}
	return a
}

// Deliver posts an activity (any JSON value, or raw bytes) to the bot's
// messaging endpoint with the given Authorization header value and returns
// the answer.
func Deliver(ctx context.Context, endpoint string, a any, authorization string) (int, []byte, error) {
	body, ok := a.([]byte)
	if !ok {
		var err error
		if body, err = json.Marshal(a); err != nil {
			return 0, nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("deliver activity: %w", err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return res.StatusCode, out, err
}

// Send delivers an activity with a valid channel token, as the Bot
// Connector does.
func (s *Server) Send(ctx context.Context, endpoint string, a any) (int, []byte, error) {
	return Deliver(ctx, endpoint, a, "Bearer "+s.ChannelToken(s.ValidSpec()))
}

// PressButton sends the invoke of an Action.Execute button on a thread's
// card, as Teams does, and, when Threadline answers with a card, shows that
// card in place of the old one, as Teams does for everyone in the channel.
func (s *Server) PressButton(ctx context.Context, endpoint, conversationID, rootID string, from User, verb string, data any) (int, []byte, error) {
	code, body, err := s.Send(ctx, endpoint, s.CardAction(conversationID, rootID, from, verb, data))
	if err != nil || code != http.StatusOK {
		return code, body, err
	}
	var res struct {
		Type  string          `json:"type"`
		Value json.RawMessage `json:"value"`
	}
	if json.Unmarshal(body, &res) == nil && res.Type == "application/vnd.microsoft.card.adaptive" {
		s.mu.Lock()
		for _, m := range s.messages {
			if m.ConversationID == conversationID && m.ID == rootID {
				m.Card, m.Updates = res.Value, m.Updates+1
			}
		}
		s.notify()
		s.mu.Unlock()
	}
	return code, body, nil
}
