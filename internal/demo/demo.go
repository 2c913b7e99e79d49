// Package demo runs Threadline end to end on one machine with no accounts:
// the real bridge on the embedded store, local emulators of the Telegram Bot
// API and the Slack Web API, and a web page showing a customer's Telegram
// chat beside the Slack inbox channel. Everything the page does goes through
// Threadline's real webhooks, signed as Telegram and Slack sign them.
package demo

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/threadline/threadline/adapters/telegram/telegramtest"
	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/chatops/slack/slacktest"
	"github.com/threadline/threadline/internal/app"
	"github.com/threadline/threadline/internal/config"
	"github.com/threadline/threadline/internal/httpserver"
)

//go:embed ui
var uiFS embed.FS

// Channel is the emulated Slack inbox channel; AlertChannel receives SLA
// breach alerts.
const (
	Channel      = "C0INBOX"
	AlertChannel = "C0ALERTS"
)

// agents are the demo's Slack users.
var agents = map[string]string{"U0ANN": "Ann", "U0BOB": "Bob", "U0SUE": "Sue"}

// Options adjusts the demo for tests.
type Options struct {
	// SLAFirstResponse is the demo's first-response target for every
	// priority (default 30s, so a breach shows within a minute).
	SLAFirstResponse time.Duration
	// SLACheckInterval is how often deadlines are checked (default 1s).
	SLACheckInterval time.Duration
	// Surface is the chat surface the page shows: "slack" (default) or
	// "teams" (a Teams channel, driven through /teams/messages).
	Surface string
}

// DemoSLA is the SLA policy of the demo: short targets, so that warnings and
// breaches show while one watches.
func DemoSLA(base config.SLA, o Options) (config.SLA, error) {
	if o.SLAFirstResponse <= 0 {
		o.SLAFirstResponse = 30 * time.Second
	}
	if o.SLACheckInterval <= 0 {
		o.SLACheckInterval = time.Second
	}
	list := func(d time.Duration) (bridge.SLATargets, error) {
		return bridge.ParseSLATargets(fmt.Sprintf("p1=%s,p2=%s,p3=%s,p4=%s", d, d, d, d))
	}
	var err error
	if base.FirstResponse, err = list(o.SLAFirstResponse); err != nil {
		return base, err
	}
	if base.NextResponse, err = list(2 * o.SLAFirstResponse); err != nil {
		return base, err
	}
	if base.Resolution, err = list(10 * o.SLAFirstResponse); err != nil {
		return base, err
	}
	base.WarnAt, base.CheckInterval, base.AlertChannel = 0.5, o.SLACheckInterval, AlertChannel
	base.Survey = true
	if base.Question == "" {
		base.Question = bridge.DefaultCSATQuestion
	}
	return base, nil
}

// Demo is a running demo.
type Demo struct {
	log    *slog.Logger
	dir    string
	tg     *telegramtest.Server
	sl     *slacktest.Server
	client *slacktest.Client
	app    *app.App
	ln     net.Listener
	teams  *teamsDemo // set with Options.Surface "teams"
	meta   *metaDemo  // Messenger and Instagram customers

	mu        sync.Mutex
	customers []*customer
}

type customer struct {
	User telegramtest.User
	sent []chatLine // what the customer typed
}

type chatLine struct {
	From string    `json:"from"` // customer or bot
	Text string    `json:"text"`
	At   time.Time `json:"at"`
	// MessageID and Buttons are set for the bot's messages with an inline
	// keyboard (the satisfaction survey).
	MessageID int64                   `json:"message_id,omitempty"`
	Buttons   [][]telegramtest.Button `json:"buttons,omitempty"`
}

func randomSecret() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Start builds the demo: emulators, Threadline wired to them, the page.
// cfg supplies the listen address and logging; the data folder is fresh.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger) (*Demo, error) {
	return StartWith(ctx, cfg, log, Options{})
}

// StartWith is Start with options.
func StartWith(ctx context.Context, cfg config.Config, log *slog.Logger, o Options) (*Demo, error) {
	d := &Demo{log: log}
	var err error
	if cfg.SLA, err = DemoSLA(cfg.SLA, o); err != nil {
		return nil, err
	}
	d.tg = telegramtest.New(telegramtest.Options{})
	d.sl = slacktest.New(slacktest.Options{})
	for id, name := range agents {
		d.sl.SetUserName(id, name)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		d.closeEmulators()
		return nil, err
	}
	d.ln = ln
	dir, err := os.MkdirTemp("", "threadline-demo-")
	if err != nil {
		d.closeEmulators()
		return nil, err
	}
	d.dir = dir
	signing, tgSecret := randomSecret(), randomSecret()
	cfg.DatabaseURL = ""
	cfg.DataDir = dir
	cfg.Telegram = config.Telegram{BotToken: config.Secret(d.tg.Token()), Mode: "webhook", WebhookSecret: config.Secret(tgSecret), APIURL: d.tg.URL()}
	cfg.Roles = config.Roles{Supervisors: []string{"U0SUE"}}
	cfg.Slack = config.Slack{BotToken: config.Secret(d.sl.Token()), SigningSecret: config.Secret(signing), Channel: Channel, APIURL: d.sl.URL(), ReplyMode: "auto",
		EscalationChannel: AlertChannel} // critical escalations show in the alerts pane
	if o.Surface == "teams" {
		d.teams = newTeamsDemo(&cfg)
	}
	if d.meta, err = newMetaDemo(&cfg); err != nil {
		d.closeEmulators()
		return nil, err
	}
	d.app, err = app.New(ctx, cfg, log, app.Options{Mount: d.routes})
	if err != nil {
		d.closeEmulators()
		return nil, err
	}
	base := "http://" + ln.Addr().String()
	if d.teams != nil {
		d.teams.endpoint = base + "/teams/messages"
	}
	// Telegram delivers updates to our webhook, with the secret header.
	if err := d.tg.SetWebhook(ctx, base+"/webhooks/telegram", tgSecret); err != nil {
		d.closeEmulators()
		return nil, err
	}
	d.client = &slacktest.Client{BaseURL: base, SigningSecret: signing}
	d.meta.base = base
	for _, name := range []string{"Alice Doe", "Bruno Diaz"} {
		d.addCustomer(name)
	}
	log.Info("demo data folder", "path", dir)
	return d, nil
}

// URL is the demo page.
func (d *Demo) URL() string {
	addr := d.ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "localhost"
	}
	return fmt.Sprintf("http://%s/", net.JoinHostPort(host, fmt.Sprint(addr.Port)))
}

// Run serves until ctx ends.
func (d *Demo) Run(ctx context.Context) error {
	defer d.closeEmulators()
	go d.meta.subscribeWhenServing(ctx, d.log)
	return d.app.Run(ctx, d.ln)
}

func (d *Demo) closeEmulators() {
	d.tg.Close()
	d.sl.Close()
	if d.teams != nil {
		d.teams.em.Close()
	}
	if d.meta != nil {
		d.meta.em.Close()
	}
	if d.dir != "" {
		_ = os.RemoveAll(d.dir) // a demo starts fresh every time
	}
}

func (d *Demo) addCustomer(name string) *customer {
	d.mu.Lock()
	defer d.mu.Unlock()
	first, last, _ := strings.Cut(name, " ")
	c := &customer{User: telegramtest.User{ID: int64(700001 + len(d.customers)), FirstName: first, LastName: last,
		Username: strings.ToLower(strings.ReplaceAll(name, " ", "_"))}}
	d.customers = append(d.customers, c)
	return c
}

func (d *Demo) routes(r chi.Router) {
	ui, _ := fs.Sub(uiFS, "ui")
	r.Get("/", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/demo/", http.StatusFound) })
	r.Handle("/demo/*", http.StripPrefix("/demo/", http.FileServerFS(ui)))
	r.Get("/demo/api/state", d.state)
	r.Post("/demo/api/customers", d.newCustomer)
	r.Post("/demo/api/telegram/send", d.customerSends)
	r.Post("/demo/api/telegram/press", d.customerPresses)
	r.Post("/demo/api/slack/click", d.click)
	r.Post("/demo/api/slack/reply", d.reply)
	d.teamsRoutes(r)
	d.metaRoutes(r)
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

type customerView struct {
	ChatID   int64      `json:"chat_id"`
	Name     string     `json:"name"`
	Messages []chatLine `json:"messages"`
}

type threadView struct {
	Parent  slacktest.Message   `json:"parent"`
	Replies []slacktest.Message `json:"replies"`
}

func (d *Demo) state(w http.ResponseWriter, _ *http.Request) {
	d.mu.Lock()
	customers := []customerView{}
	for _, c := range d.customers {
		lines := append([]chatLine{}, c.sent...)
		for _, m := range d.tg.Sent(c.User.ID) {
			lines = append(lines, chatLine{From: "bot", Text: m.Text, At: m.At, MessageID: m.MessageID, Buttons: m.Buttons})
		}
		sort.SliceStable(lines, func(i, j int) bool { return lines[i].At.Before(lines[j].At) })
		customers = append(customers, customerView{ChatID: c.User.ID, Name: strings.TrimSpace(c.User.FirstName + " " + c.User.LastName), Messages: lines})
	}
	d.mu.Unlock()
	threads := []*threadView{}
	byTS := map[string]*threadView{}
	for _, m := range d.sl.Messages(Channel) {
		if m.ThreadTS == "" {
			t := &threadView{Parent: m, Replies: []slacktest.Message{}}
			byTS[m.TS] = t
			threads = append(threads, t)
		} else if t, ok := byTS[m.ThreadTS]; ok {
			t.Replies = append(t.Replies, m)
		}
	}
	for i, j := 0, len(threads)-1; i < j; i, j = i+1, j-1 {
		threads[i], threads[j] = threads[j], threads[i] // newest first, as agents scan an inbox
	}
	alerts := append([]slacktest.Message{}, d.sl.Messages(AlertChannel)...)
	for id := range agents {
		alerts = append(alerts, d.sl.Messages(slacktest.DMChannel(id))...)
	}
	sort.SliceStable(alerts, func(i, j int) bool { return alerts[i].TS > alerts[j].TS })
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{
		"alerts":        alerts,
		"alert_channel": AlertChannel,
		"customers":     customers,
		"channel":       map[string]any{"id": Channel, "name": "support-inbox", "threads": threads},
		"ephemeral":     append([]slacktest.Ephemeral{}, d.sl.Ephemerals()...),
		"surface":       d.surface(),
		"teams":         d.teamsState(),
		"meta":          d.metaState(),
	})
}

func (d *Demo) newCustomer(w http.ResponseWriter, r *http.Request) {
	var in struct{ Name string }
	if !decode(w, r, &in) {
		return
	}
	if strings.TrimSpace(in.Name) == "" {
		http.Error(w, "name required", http.StatusBadRequest)
		return
	}
	c := d.addCustomer(strings.TrimSpace(in.Name))
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"chat_id": c.User.ID})
}

func (d *Demo) customer(id int64) *customer {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.customers {
		if c.User.ID == id {
			return c
		}
	}
	return nil
}

func (d *Demo) customerSends(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ChatID int64 `json:"chat_id"`
		Text   string
	}
	if !decode(w, r, &in) {
		return
	}
	c := d.customer(in.ChatID)
	if c == nil || strings.TrimSpace(in.Text) == "" {
		http.Error(w, "unknown customer or empty text", http.StatusBadRequest)
		return
	}
	d.mu.Lock()
	c.sent = append(c.sent, chatLine{From: "customer", Text: in.Text, At: time.Now()})
	d.mu.Unlock()
	// The emulator posts the update to Threadline's webhook, as Telegram would.
	if _, _, err := d.tg.CustomerSends(r.Context(), c.User, telegramtest.Message{Text: in.Text}); err != nil {
		http.Error(w, "telegram delivery failed: "+err.Error(), http.StatusBadGateway)
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// customerPresses taps a button under one of the bot's messages.
func (d *Demo) customerPresses(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ChatID    int64  `json:"chat_id"`
		MessageID int64  `json:"message_id"`
		Data      string `json:"data"`
	}
	if !decode(w, r, &in) {
		return
	}
	c := d.customer(in.ChatID)
	if c == nil {
		http.Error(w, "unknown customer", http.StatusBadRequest)
		return
	}
	for _, m := range d.tg.Sent(c.User.ID) {
		if m.MessageID == in.MessageID {
			if _, err := d.tg.CustomerPresses(r.Context(), c.User, m, in.Data); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			httpserver.WriteJSON(w, http.StatusOK, map[string]any{"ok": true})
			return
		}
	}
	http.Error(w, "unknown message", http.StatusBadRequest)
}

type agentInput struct {
	Selected  string `json:"selected"` // the chosen option of a select
	UserID    string `json:"user_id"`
	Name      string `json:"name"`
	Channel   string `json:"channel"`
	MessageTS string `json:"message_ts"`
	ThreadTS  string `json:"thread_ts"`
	ActionID  string `json:"action_id"`
	Value     string `json:"value"`
	BlockID   string `json:"block_id"`
	Text      string `json:"text"`
}

func (d *Demo) click(w http.ResponseWriter, r *http.Request) {
	var in agentInput
	if !decode(w, r, &in) {
		return
	}
	code, _, err := d.client.SendAction(r.Context(), slacktest.Action{TeamID: d.sl.TeamID(), UserID: in.UserID, UserName: in.Name,
		Channel: in.Channel, MessageTS: in.MessageTS, ActionID: in.ActionID, Value: in.Value, BlockID: in.BlockID, Selected: in.Selected})
	d.answer(w, code, err)
}

func (d *Demo) reply(w http.ResponseWriter, r *http.Request) {
	var in agentInput
	if !decode(w, r, &in) {
		return
	}
	if in.ThreadTS == "" || strings.TrimSpace(in.Text) == "" {
		http.Error(w, "thread and text required", http.StatusBadRequest)
		return
	}
	m := d.sl.AddUserMessage(in.Channel, in.ThreadTS, in.UserID, in.Text)
	_, code, err := d.client.SendMessageEvent(r.Context(), d.sl.TeamID(), m)
	d.answer(w, code, err)
}

func (d *Demo) answer(w http.ResponseWriter, code int, err error) {
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("threadline answered %d", code)
	}
	if err != nil {
		d.log.Warn("demo: request to threadline failed", "err", err)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"ok": true})
}
