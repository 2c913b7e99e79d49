package demo

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/threadline/threadline/chatops/teams/teamstest"
	"github.com/threadline/threadline/internal/config"
	"github.com/threadline/threadline/internal/httpserver"
)

// teamsDemo shows a Teams channel instead of Slack: the identity and
// connector emulators, with every agent action sent to /teams/messages as
// the Bot Connector sends it, under locally signed tokens.
type teamsDemo struct {
	em       *teamstest.Server
	endpoint string // Threadline's /teams/messages
}

// teamsAgents are the demo's Teams users, by the ids the bot sees.
var teamsAgents = map[string]string{"29:ann": "Ann", "29:bob": "Bob"}

// newTeamsDemo starts the emulators and points the configuration at them,
// with Slack off so the Teams channel gets every conversation.
func newTeamsDemo(cfg *config.Config) *teamsDemo {
	em := teamstest.New(teamstest.Options{})
	cfg.Slack = config.Slack{}
	cfg.DefaultSurface = "teams"
	// The demo's Teams users by role, like Slack's supervisor Sue.
	cfg.Roles.Supervisors = append(cfg.Roles.Supervisors, "29:sue")
	cfg.Teams = config.Teams{
		AppID: em.AppID(), AppPassword: config.Secret(em.AppPassword()), TenantID: em.TenantID(), Channel: em.Channel(),
		ServiceURL: em.ServiceURL(), OpenIDMetadataURL: em.MetadataURL(), TokenURL: em.TokenURL(), ReplyMode: "auto",
	}
	return &teamsDemo{em: em}
}

func (d *Demo) surface() string {
	if d.teams != nil {
		return "teams"
	}
	return "slack"
}

type teamsThread struct {
	Root    teamstest.Message   `json:"root"`
	Replies []teamstest.Message `json:"replies"`
}

func (d *Demo) teamsState() any {
	if d.teams == nil {
		return nil
	}
	threads := []*teamsThread{}
	byConv := map[string]*teamsThread{}
	for _, m := range d.teams.em.Messages("") {
		if m.IsRoot() {
			t := &teamsThread{Root: m, Replies: []teamstest.Message{}}
			byConv[m.ConversationID] = t
			threads = append(threads, t)
		} else if t, ok := byConv[m.ConversationID]; ok {
			t.Replies = append(t.Replies, m)
		}
	}
	for i, j := 0, len(threads)-1; i < j; i, j = i+1, j-1 {
		threads[i], threads[j] = threads[j], threads[i] // newest first
	}
	return map[string]any{"channel": "Support inbox", "threads": threads}
}

func (d *Demo) teamsRoutes(r chi.Router) {
	r.Post("/demo/api/teams/click", d.teamsClick)
	r.Post("/demo/api/teams/reply", d.teamsReply)
}

type teamsInput struct {
	UserID         string          `json:"user_id"`
	ConversationID string          `json:"conversation_id"`
	RootID         string          `json:"root_id"`
	Verb           string          `json:"verb"`
	Data           json.RawMessage `json:"data"`
	Text           string          `json:"text"`
	// MentionBot says the agent addressed @Threadline (needed without the
	// ChannelMessage.Read.Group permission).
	MentionBot bool `json:"mention_bot"`
}

func (d *Demo) teamsUser(id string) (teamstest.User, bool) {
	name, ok := teamsAgents[id]
	return teamstest.User{ID: id, Name: name}, ok
}

// teamsClick presses a card button: an Action.Execute invoke, whose answer
// (the updated card) replaces the card.
func (d *Demo) teamsClick(w http.ResponseWriter, r *http.Request) {
	var in teamsInput
	if !decode(w, r, &in) {
		return
	}
	u, ok := d.teamsUser(in.UserID)
	if d.teams == nil || !ok || in.ConversationID == "" || in.Verb == "" {
		http.Error(w, "teams surface, agent, conversation and verb required", http.StatusBadRequest)
		return
	}
	code, body, err := d.teams.em.PressButton(r.Context(), d.teams.endpoint, in.ConversationID, in.RootID, u, in.Verb, in.Data)
	if err == nil && code == http.StatusOK {
		// A refusal comes back as a message for the one who pressed.
		var res struct {
			Type  string `json:"type"`
			Value any    `json:"value"`
		}
		if json.Unmarshal(body, &res) == nil && res.Type == "application/vnd.microsoft.activity.message" {
			httpserver.WriteJSON(w, http.StatusOK, map[string]any{"ok": true, "message": res.Value})
			return
		}
	}
	d.answer(w, code, err)
}

// teamsReply posts an agent's message in a thread.
func (d *Demo) teamsReply(w http.ResponseWriter, r *http.Request) {
	var in teamsInput
	if !decode(w, r, &in) {
		return
	}
	u, ok := d.teamsUser(in.UserID)
	if d.teams == nil || !ok || in.ConversationID == "" || strings.TrimSpace(in.Text) == "" {
		http.Error(w, "teams surface, agent, conversation and text required", http.StatusBadRequest)
		return
	}
	text := in.Text
	// "@Bob ..." in the demo box mentions the teammate, as picking them
	// from Teams' @ menu does.
	var mentions []teamstest.User
	for id, name := range teamsAgents {
		if strings.Contains(text, "@"+name) {
			text = strings.ReplaceAll(text, "@"+name, "<at>"+name+"</at>")
			mentions = append(mentions, teamstest.User{ID: id, Name: name})
		}
	}
	code, _, err := d.teams.em.Send(r.Context(), d.teams.endpoint, d.teams.em.UserMessage(in.ConversationID, u, text, in.MentionBot, mentions...))
	d.answer(w, code, err)
}
