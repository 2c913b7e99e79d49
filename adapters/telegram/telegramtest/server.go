// Package telegramtest is a Telegram Bot API emulator in the spirit of
// net/http/httptest: a real HTTP server speaking the documented wire format
// for one bot, with customers who write to it. Tests, the demo and the chaos
// harness use it.
//
// It covers what Threadline calls: getMe, getUpdates (long poll, offset
// confirmation, 409 while a webhook is set or when a newer poll starts),
// setWebhook and deleteWebhook (updates are then POSTed with the secret
// header and retried on failure), sendMessage, getFile and file downloads.
// Faults can be injected per method.
package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/threadline/threadline/internal/emulator"
)

// User is a Telegram user as the emulator's customers appear.
type User struct {
	ID        int64  `json:"id"`
	IsBot     bool   `json:"is_bot"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name,omitempty"`
	Username  string `json:"username,omitempty"`
}

// SentMessage is a message the bot sent through sendMessage.
type SentMessage struct {
	ChatID    int64
	MessageID int64
	Text      string
	// Buttons are the callback_data of an inline keyboard, row by row.
	Buttons [][]Button
	At      time.Time
	// AnswerLost says the send was applied but answered with an error (an
	// injected fault): the bot cannot know it landed.
	AnswerLost bool
}

// Fault makes the next Count calls of a method fail.
type Fault struct {
	Method     string
	Count      int
	Code       int // 429, 5xx, or a 4xx such as 403
	RetryAfter int // seconds, with 429
	// Applied makes the call take effect before failing, as a timeout after
	// the server acted does.
	Applied bool
	// Timeout: no answer comes at all; the connection is closed as when the
	// caller's deadline passes. With Applied the call took effect first, so
	// the caller cannot know; without, it did not. Code is ignored.
	Timeout bool
}

// Options configures the emulator.
type Options struct {
	Token       string // default 123456:TEST-TOKEN
	BotUsername string // default acme_support_bot
	// WebhookRetries bounds redeliveries of an update the webhook did not
	// answer with 2xx. Default 5; negative: no retry.
	WebhookRetries int
	// WebhookRetryDelay is the wait before the first redelivery; it grows
	// linearly. Default 20ms.
	WebhookRetryDelay time.Duration
}

// Server is a running emulator. Its methods are safe for concurrent use.
type Server struct {
	srv   *httptest.Server
	opts  Options
	botID int64

	mu         sync.Mutex
	cond       *sync.Cond        // signalled on new updates, sends, polls and Close
	updates    []json.RawMessage // not yet confirmed by an offset
	nextUpdate int64
	nextMsgID  map[int64]int64 // per chat, shared by both sides as in Telegram
	sent       []SentMessage
	webhookURL string
	secret     string
	files      map[string]file   // by file_id
	paths      map[string]string // file_path -> file_id
	blocked    map[int64]bool
	callbacks  map[string]bool // callback query ids delivered
	answered   []CallbackAnswer
	faults     []Fault
	calls      map[string]int
	pollGen    int64 // bumped by every getUpdates; an older waiting poll is terminated
	closed     bool
}

type file struct {
	path string
	body []byte
}

// New starts an emulator; Close stops it.
func New(opts Options) *Server {
	if opts.Token == "" {
		opts.Token = "123456:TEST-TOKEN"
	}
	if opts.BotUsername == "" {
		opts.BotUsername = "acme_support_bot"
	}
	switch {
	case opts.WebhookRetries == 0:
		opts.WebhookRetries = 5
	case opts.WebhookRetries < 0:
		opts.WebhookRetries = 0
	}
	if opts.WebhookRetryDelay == 0 {
		opts.WebhookRetryDelay = 20 * time.Millisecond
	}
	id, _, _ := strings.Cut(opts.Token, ":")
	botID, _ := strconv.ParseInt(id, 10, 64)
	s := &Server{
		opts: opts, botID: botID, nextUpdate: 100000,
		nextMsgID: map[int64]int64{}, files: map[string]file{}, paths: map[string]string{},
		blocked: map[int64]bool{}, callbacks: map[string]bool{}, calls: map[string]int{},
	}
	s.cond = sync.NewCond(&s.mu)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the API base to configure the adapter with.
func (s *Server) URL() string { return s.srv.URL }

// Token is the bot token the emulator accepts.
func (s *Server) Token() string { return s.opts.Token }

// Close stops the server and wakes long polls and waiters.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.cond.Broadcast()
	s.mu.Unlock()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Inject queues faults for coming calls.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, f)
	s.mu.Unlock()
}

// Calls counts the calls received of a method (with the right token).
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Block has a customer block the bot: sendMessage to their chat answers 403.
func (s *Server) Block(chatID int64) {
	s.mu.Lock()
	s.blocked[chatID] = true
	s.mu.Unlock()
}

// Pending counts updates not yet confirmed by a getUpdates offset.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.updates)
}

// SetWebhook sets the webhook through the Bot API's setWebhook, as an
// operator does.
func (s *Server) SetWebhook(ctx context.Context, url, secret string) error {
	body, err := json.Marshal(map[string]string{"url": url, "secret_token": secret})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/bot"+s.Token()+"/setWebhook", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("setWebhook: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(res.Body)
		return fmt.Errorf("setWebhook: %d %s", res.StatusCode, msg)
	}
	return nil
}

// Webhook returns the URL and secret set with setWebhook ("" when none).
func (s *Server) Webhook() (url, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhookURL, s.secret
}

type answer struct {
	OK          bool        `json:"ok"`
	Result      any         `json:"result,omitempty"`
	ErrorCode   int         `json:"error_code,omitempty"`
	Description string      `json:"description,omitempty"`
	Parameters  *parameters `json:"parameters,omitempty"`
}

type parameters struct {
	RetryAfter int `json:"retry_after,omitempty"`
}

func reply(w http.ResponseWriter, code int, a answer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(a)
}

func fail(w http.ResponseWriter, code int, desc string) {
	reply(w, code, answer{ErrorCode: code, Description: desc})
}

// params reads a method's parameters from a JSON or form body, or the query,
// as the Bot API accepts all three.
func params(r *http.Request) (map[string]any, error) {
	out := map[string]any{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		dec := json.NewDecoder(r.Body)
		dec.UseNumber() // chat ids are 52-bit: keep them exact
		if err := dec.Decode(&out); err != nil && err != io.EOF {
			return nil, err
		}
		return out, nil
	}
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	for k, v := range r.Form {
		out[k] = v[0]
	}
	return out, nil
}

func intParam(p map[string]any, k string) (int64, bool) {
	var s string
	switch v := p[k].(type) {
	case json.Number:
		s = v.String()
	case string:
		s = v
	default:
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	if rest, ok := strings.CutPrefix(path, "file/bot"); ok {
		s.serveFile(w, rest)
		return
	}
	rest, ok := strings.CutPrefix(path, "bot")
	token, method, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		fail(w, http.StatusNotFound, "Not Found")
		return
	}
	if token != s.opts.Token {
		fail(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	p, err := params(r)
	if err != nil {
		fail(w, http.StatusBadRequest, "Bad Request: can't parse parameters")
		return
	}
	s.mu.Lock()
	s.calls[method]++
	var fault *Fault
	for i := range s.faults {
		if s.faults[i].Method == method && s.faults[i].Count > 0 {
			s.faults[i].Count--
			f := s.faults[i]
			fault = &f
			break
		}
	}
	s.mu.Unlock()
	if fault != nil && !fault.Applied {
		failWith(w, *fault)
		return
	}
	rec := httptest.NewRecorder()
	switch method {
	case "getMe":
		reply(rec, 200, answer{OK: true, Result: s.bot()})
	case "getUpdates":
		s.getUpdates(r.Context(), rec, p)
	case "setWebhook":
		s.setWebhook(rec, p)
	case "deleteWebhook":
		s.mu.Lock()
		s.webhookURL, s.secret = "", ""
		s.mu.Unlock()
		reply(rec, 200, answer{OK: true, Result: true, Description: "Webhook was deleted"})
	case "sendMessage":
		s.sendMessage(rec, p)
	case "answerCallbackQuery":
		s.answerCallbackQuery(rec, p)
	case "getFile":
		id, _ := p["file_id"].(string)
		s.mu.Lock()
		f, ok := s.files[id]
		s.mu.Unlock()
		if !ok {
			fail(rec, 400, "Bad Request: invalid file_id")
			break
		}
		reply(rec, 200, answer{OK: true, Result: map[string]any{"file_id": id, "file_unique_id": id, "file_size": len(f.body), "file_path": f.path}})
	default:
		fail(rec, 404, "Not Found: method not found")
	}
	if fault != nil { // applied, then the answer was lost
		if method == "sendMessage" {
			s.markAnswerLost(rec.Body.Bytes())
		}
		failWith(w, *fault)
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (s *Server) bot() User {
	return User{ID: s.botID, IsBot: true, FirstName: "Acme Support", Username: s.opts.BotUsername}
}

func (s *Server) markAnswerLost(answer []byte) {
	var a struct {
		Result struct {
			MessageID int64 `json:"message_id"`
			Chat      struct {
				ID int64 `json:"id"`
			} `json:"chat"`
		} `json:"result"`
	}
	_ = json.Unmarshal(answer, &a)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.sent {
		if s.sent[i].ChatID == a.Result.Chat.ID && s.sent[i].MessageID == a.Result.MessageID {
			s.sent[i].AnswerLost = true
		}
	}
}

func failWith(w http.ResponseWriter, f Fault) {
	if f.Timeout {
		emulator.HangUp(w)
		return
	}
	switch {
	case f.Code == http.StatusTooManyRequests:
		reply(w, 429, answer{ErrorCode: 429, Description: fmt.Sprintf("Too Many Requests: retry after %d", f.RetryAfter), Parameters: &parameters{RetryAfter: f.RetryAfter}})
	case f.Code == http.StatusForbidden:
		fail(w, f.Code, "Forbidden: bot was blocked by the user")
	case f.Code == http.StatusBadRequest:
		fail(w, f.Code, "Bad Request: chat not found")
	default:
		fail(w, f.Code, http.StatusText(f.Code))
	}
}

// secretToken is what setWebhook accepts as secret_token.
var secretToken = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

func (s *Server) setWebhook(w http.ResponseWriter, p map[string]any) {
	hook, _ := p["url"].(string)
	secret, _ := p["secret_token"].(string)
	if secret != "" && !secretToken.MatchString(secret) {
		fail(w, 400, "Bad Request: secret token contains unallowed characters")
		return
	}
	s.mu.Lock()
	// As in Telegram, an empty url removes the webhook.
	s.webhookURL, s.secret = hook, secret
	if hook == "" {
		s.secret = ""
	}
	s.cond.Broadcast() // a waiting poll now ends with 409
	s.mu.Unlock()
	desc := "Webhook was set"
	if hook == "" {
		desc = "Webhook was deleted"
	}
	reply(w, 200, answer{OK: true, Result: true, Description: desc})
}

func (s *Server) sendMessage(w http.ResponseWriter, p map[string]any) {
	chatID, ok := intParam(p, "chat_id")
	text, _ := p["text"].(string)
	switch {
	case !ok:
		fail(w, 400, "Bad Request: chat not found")
		return
	case strings.TrimSpace(text) == "":
		fail(w, 400, "Bad Request: message text is empty")
		return
	case len([]rune(text)) > 4096:
		fail(w, 400, "Bad Request: message is too long")
		return
	}
	s.mu.Lock()
	if s.blocked[chatID] {
		s.mu.Unlock()
		fail(w, 403, "Forbidden: bot was blocked by the user")
		return
	}
	buttons, err := inlineKeyboard(p["reply_markup"])
	if err != nil {
		s.mu.Unlock()
		fail(w, 400, "Bad Request: "+err.Error())
		return
	}
	s.nextMsgID[chatID]++
	m := SentMessage{ChatID: chatID, MessageID: s.nextMsgID[chatID], Text: text, Buttons: buttons, At: time.Now()}
	s.sent = append(s.sent, m)
	s.cond.Broadcast()
	s.mu.Unlock()
	reply(w, 200, answer{OK: true, Result: map[string]any{
		"message_id": m.MessageID, "date": m.At.Unix(), "text": text,
		"chat": map[string]any{"id": chatID, "type": "private"},
		"from": s.bot(),
	}})
}

func (s *Server) getUpdates(ctx context.Context, w http.ResponseWriter, p map[string]any) {
	offset, _ := intParam(p, "offset")
	timeout, _ := intParam(p, "timeout")
	limit, ok := intParam(p, "limit")
	if !ok || limit < 1 || limit > 100 {
		limit = 100
	}
	deadline := time.Now().Add(time.Duration(timeout) * time.Second)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.webhookURL != "" {
		fail(w, 409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
		return
	}
	// Confirm what the offset acknowledges.
	kept := s.updates[:0]
	for _, u := range s.updates {
		if updateID(u) >= offset {
			kept = append(kept, u)
		}
	}
	s.updates = kept
	s.pollGen++
	gen := s.pollGen
	s.cond.Broadcast() // an older poll still waiting is terminated
	if len(s.updates) == 0 && timeout > 0 {
		stop := context.AfterFunc(ctx, func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
		timer := time.AfterFunc(time.Until(deadline), func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
		for len(s.updates) == 0 && time.Now().Before(deadline) && ctx.Err() == nil && !s.closed && s.webhookURL == "" && s.pollGen == gen {
			s.cond.Wait()
		}
		stop()
		timer.Stop()
		switch {
		case s.pollGen != gen:
			fail(w, 409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running")
			return
		case s.webhookURL != "":
			fail(w, 409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
			return
		}
	}
	out := append([]json.RawMessage{}, s.updates[:min(len(s.updates), int(limit))]...)
	reply(w, 200, answer{OK: true, Result: out})
}

func updateID(raw json.RawMessage) int64 {
	var u struct {
		UpdateID int64 `json:"update_id"`
	}
	_ = json.Unmarshal(raw, &u)
	return u.UpdateID
}

func (s *Server) serveFile(w http.ResponseWriter, rest string) {
	token, path, _ := strings.Cut(rest, "/")
	if token != s.opts.Token {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	f, ok := s.files[s.paths[path]]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, nil)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(f.body)
}

// Message is what a customer sends: text, or a caption with a photo or a
// document.
type Message struct {
	Text     string
	Caption  string
	Photo    *Photo
	Document *Document
}

// Photo is a picture a customer sends. Telegram offers it in several sizes;
// the emulator offers a thumbnail and the full size, smallest first.
type Photo struct {
	Width, Height int
	Body          []byte // served for the full size
}

// Document is a file a customer attaches.
type Document struct {
	Name     string
	MIMEType string
	Body     []byte
}

// CustomerSends has a customer write to the bot in their private chat (chat
// id = user id) and delivers the update: queued for getUpdates, or posted to
// the webhook with its secret, retried like Telegram on failure. It returns
// the update as JSON and the message id.
func (s *Server) CustomerSends(ctx context.Context, from User, m Message) (json.RawMessage, int64, error) {
	return s.deliver(ctx, from, m, 0)
}

// CustomerEdits has a customer edit an earlier message.
func (s *Server) CustomerEdits(ctx context.Context, from User, messageID int64, text string) (json.RawMessage, error) {
	raw, _, err := s.deliver(ctx, from, Message{Text: text}, messageID)
	return raw, err
}

// DeliverUpdate delivers an arbitrary update built from fields (a group
// message, a callback query, one that does not decode), like CustomerSends
// does, with the next update_id, which it returns.
func (s *Server) DeliverUpdate(ctx context.Context, fields map[string]any) (int64, error) {
	update := map[string]any{}
	for k, v := range fields {
		update[k] = v
	}
	s.mu.Lock()
	s.nextUpdate++
	id := s.nextUpdate
	update["update_id"] = id
	raw, err := json.Marshal(update)
	if err != nil {
		s.mu.Unlock()
		return 0, err
	}
	hook, secret := s.enqueue(raw)
	s.mu.Unlock()
	if hook == "" {
		return id, nil
	}
	return id, s.Post(ctx, raw, secret)
}

// enqueue queues an update for getUpdates unless a webhook is set, in which
// case it returns where to post it. s.mu is held.
func (s *Server) enqueue(raw json.RawMessage) (hook, secret string) {
	if s.webhookURL != "" {
		return s.webhookURL, s.secret
	}
	s.updates = append(s.updates, raw)
	s.cond.Broadcast()
	return "", ""
}

func (s *Server) deliver(ctx context.Context, from User, m Message, editOf int64) (json.RawMessage, int64, error) {
	s.mu.Lock()
	s.nextUpdate++
	updateID := s.nextUpdate
	msgID := editOf
	if msgID == 0 {
		s.nextMsgID[from.ID]++
		msgID = s.nextMsgID[from.ID]
	}
	now := time.Now().Unix()
	msg := map[string]any{
		"message_id": msgID, "date": now,
		"from": from,
		"chat": privateChat(from),
	}
	if m.Text != "" {
		msg["text"] = m.Text
	}
	if m.Caption != "" {
		msg["caption"] = m.Caption
	}
	if ph := m.Photo; ph != nil {
		base := fmt.Sprintf("photo-%d-%d", from.ID, msgID)
		s.addFile(base+"-s", "photos/"+base+"-s.jpg", ph.Body)
		s.addFile(base, "photos/"+base+".jpg", ph.Body)
		msg["photo"] = []map[string]any{
			{"file_id": base + "-s", "file_unique_id": base + "-s", "width": 90, "height": 90 * max(ph.Height, 1) / max(ph.Width, 1), "file_size": len(ph.Body)},
			{"file_id": base, "file_unique_id": base, "width": ph.Width, "height": ph.Height, "file_size": len(ph.Body)},
		}
	}
	if d := m.Document; d != nil {
		fileID := fmt.Sprintf("doc-%d-%d", from.ID, msgID)
		s.addFile(fileID, "documents/"+fileID, d.Body)
		msg["document"] = map[string]any{"file_id": fileID, "file_unique_id": fileID, "file_name": d.Name, "mime_type": d.MIMEType, "file_size": len(d.Body)}
	}
	key := "message"
	if editOf != 0 {
		key = "edited_message"
		msg["edit_date"] = now
	}
	raw, _ := json.Marshal(map[string]any{"update_id": updateID, key: msg})
	hook, secret := s.enqueue(raw)
	s.mu.Unlock()
	if hook == "" {
		return raw, msgID, nil
	}
	return raw, msgID, s.Post(ctx, raw, secret)
}

// privateChat is the Chat of a user's private chat with the bot.
func privateChat(u User) map[string]any {
	c := map[string]any{"id": u.ID, "type": "private", "first_name": u.FirstName}
	if u.LastName != "" {
		c["last_name"] = u.LastName
	}
	if u.Username != "" {
		c["username"] = u.Username
	}
	return c
}

// addFile makes a file downloadable. s.mu is held.
func (s *Server) addFile(id, path string, body []byte) {
	s.files[id] = file{path: path, body: body}
	s.paths[path] = id
}

// Post delivers one update to the webhook as Telegram does, with the secret
// header, redelivering on a non-2xx answer or a network error up to
// WebhookRetries times. It returns the last failure.
func (s *Server) Post(ctx context.Context, update json.RawMessage, secret string) error {
	s.mu.Lock()
	hook := s.webhookURL
	s.mu.Unlock()
	if hook == "" {
		return fmt.Errorf("telegramtest: no webhook is set")
	}
	var last error
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook, bytes.NewReader(update))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		if secret != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		}
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode/100 == 2 {
				return nil
			}
			err = fmt.Errorf("webhook answered %d", res.StatusCode)
		}
		last = err
		if attempt >= s.opts.WebhookRetries {
			return fmt.Errorf("telegramtest: gave up after %d deliveries: %w", attempt+1, last)
		}
		t := time.NewTimer(time.Duration(attempt+1) * s.opts.WebhookRetryDelay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Sent returns the messages the bot sent to a chat (0: all chats).
func (s *Server) Sent(chatID int64) []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sentTo(chatID)
}

func (s *Server) sentTo(chatID int64) []SentMessage {
	var out []SentMessage
	for _, m := range s.sent {
		if chatID == 0 || m.ChatID == chatID {
			out = append(out, m)
		}
	}
	return out
}

// WaitSent blocks until the bot sent at least n messages to the chat (0: all
// chats) or ctx ends.
func (s *Server) WaitSent(ctx context.Context, chatID int64, n int) ([]SentMessage, error) {
	stop := context.AfterFunc(ctx, func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		got := s.sentTo(chatID)
		if len(got) >= n {
			return got, nil
		}
		if ctx.Err() != nil {
			return got, fmt.Errorf("waited for %d messages, got %d: %w", n, len(got), context.Cause(ctx))
		}
		if s.closed {
			return got, fmt.Errorf("waited for %d messages, got %d: emulator closed", n, len(got))
		}
		s.cond.Wait()
	}
}

// Button is an inline keyboard button.
type Button struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data"`
}

// inlineKeyboard reads reply_markup's inline_keyboard as the Bot API
// defines it (a JSON object, or its serialization in a form field), with
// Telegram's 1-64 byte bound on callback_data.
func inlineKeyboard(v any) ([][]Button, error) {
	if v == nil {
		return nil, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if s, ok := v.(string); ok {
		raw = []byte(s)
	}
	var markup struct {
		InlineKeyboard [][]Button `json:"inline_keyboard"`
	}
	if err := json.Unmarshal(raw, &markup); err != nil {
		return nil, fmt.Errorf("can't parse reply keyboard markup JSON object")
	}
	for _, row := range markup.InlineKeyboard {
		for _, b := range row {
			if b.Text == "" || len(b.CallbackData) == 0 || len(b.CallbackData) > 64 {
				return nil, fmt.Errorf("BUTTON_DATA_INVALID")
			}
		}
	}
	return markup.InlineKeyboard, nil
}

// CallbackAnswer is an answerCallbackQuery call.
type CallbackAnswer struct {
	ID, Text string
}

func (s *Server) answerCallbackQuery(w http.ResponseWriter, p map[string]any) {
	id, _ := p["callback_query_id"].(string)
	text, _ := p["text"].(string)
	s.mu.Lock()
	_, known := s.callbacks[id]
	if known {
		s.answered = append(s.answered, CallbackAnswer{ID: id, Text: text})
		s.cond.Broadcast()
	}
	s.mu.Unlock()
	if !known {
		fail(w, 400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
		return
	}
	reply(w, 200, answer{OK: true, Result: true})
}

// CallbackAnswers returns the answerCallbackQuery calls received.
func (s *Server) CallbackAnswers() []CallbackAnswer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]CallbackAnswer(nil), s.answered...)
}

// CustomerPresses has a customer tap the inline keyboard button with data
// under one of the bot's messages, delivering the callback_query update as
// Telegram would. A button the message does not have is an error: Telegram
// only sends the data of real buttons. It returns the callback query id.
func (s *Server) CustomerPresses(ctx context.Context, from User, msg SentMessage, data string) (string, error) {
	found := false
	for _, row := range msg.Buttons {
		for _, b := range row {
			found = found || b.CallbackData == data
		}
	}
	if !found {
		return "", fmt.Errorf("telegramtest: message %d has no button %q", msg.MessageID, data)
	}
	s.mu.Lock()
	s.nextUpdate++
	id := fmt.Sprintf("%d%06d", from.ID, s.nextUpdate)
	s.callbacks[id] = true
	update := map[string]any{"update_id": s.nextUpdate, "callback_query": map[string]any{
		"id": id, "from": from, "chat_instance": fmt.Sprint(from.ID * 7), "data": data,
		"message": map[string]any{"message_id": msg.MessageID, "date": msg.At.Unix(), "text": msg.Text,
			"chat": map[string]any{"id": msg.ChatID, "type": "private"}, "from": s.bot()},
	}}
	raw, _ := json.Marshal(update)
	hook, secret := s.enqueue(raw)
	s.mu.Unlock()
	if hook == "" {
		return id, nil
	}
	return id, s.Post(ctx, raw, secret)
}
