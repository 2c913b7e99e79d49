// Package telegramtest is a Telegram Bot API emulator in the spirit of
// net/http/httptest: a real HTTP server speaking the documented wire format
// for one bot, with customers that write to it. Tests and the demo use it.
package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
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
	At        time.Time
	// AnswerLost says the send was applied but answered with an error (an
	// injected fault): the bot cannot know it landed.
	AnswerLost bool
}

// Fault makes the next calls of a method fail.
type Fault struct {
	Method     string
	Count      int
	Code       int // 429 or 5xx
	RetryAfter int // seconds, with 429
	// Applied makes the call take effect before failing, as a timeout after
	// the server acted does.
	Applied bool
}

// Options configures the emulator.
type Options struct {
	Token       string // default 123456:TEST-TOKEN
	BotUsername string // default acme_support_bot
	// WebhookRetries bounds redelivery of an update the webhook did not 2xx.
	WebhookRetries int
}

// Server is a running emulator.
type Server struct {
	srv   *httptest.Server
	opts  Options
	botID int64

	mu         sync.Mutex
	cond       *sync.Cond
	updates    []json.RawMessage // not yet confirmed by an offset
	nextUpdate int64
	nextMsgID  map[int64]int64 // per chat, shared by both sides as in Telegram
	sent       []SentMessage
	webhookURL string
	secret     string
	files      map[string][]byte
	faults     []Fault
	calls      map[string]int
	closed     bool
}

// New starts an emulator; Close stops it.
func New(opts Options) *Server {
	if opts.Token == "" {
		opts.Token = "123456:TEST-TOKEN"
	}
	if opts.BotUsername == "" {
		opts.BotUsername = "acme_support_bot"
	}
	if opts.WebhookRetries == 0 {
		opts.WebhookRetries = 5
	}
	id, _, _ := strings.Cut(opts.Token, ":")
	botID, _ := strconv.ParseInt(id, 10, 64)
	s := &Server{opts: opts, botID: botID, nextUpdate: 100000, nextMsgID: map[int64]int64{}, files: map[string][]byte{}, calls: map[string]int{}}
	s.cond = sync.NewCond(&s.mu)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func (s *Server) URL() string   { return s.srv.URL }
func (s *Server) Token() string { return s.opts.Token }

// Close stops the server and wakes long polls.
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

// Calls counts the calls received of a method.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
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

// params reads a method's parameters from a JSON or form body, or the query.
func params(r *http.Request) (map[string]any, error) {
	out := map[string]any{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(r.Body).Decode(&out); err != nil && err != io.EOF {
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
	switch v := p[k].(type) {
	case float64:
		return int64(v), true
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	return 0, false
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
		s.failWith(w, *fault)
		return
	}
	rec := httptest.NewRecorder()
	switch method {
	case "getMe":
		reply(rec, 200, answer{OK: true, Result: User{ID: s.botID, IsBot: true, FirstName: "Acme Support", Username: s.opts.BotUsername}})
	case "getUpdates":
		s.getUpdates(r.Context(), rec, p)
	case "setWebhook":
		s.mu.Lock()
		s.webhookURL, _ = p["url"].(string)
		s.secret, _ = p["secret_token"].(string)
		s.mu.Unlock()
		reply(rec, 200, answer{OK: true, Result: true, Description: "Webhook was set"})
	case "deleteWebhook":
		s.mu.Lock()
		s.webhookURL, s.secret = "", ""
		s.mu.Unlock()
		reply(rec, 200, answer{OK: true, Result: true, Description: "Webhook was deleted"})
	case "sendMessage":
		s.sendMessage(rec, p)
	case "getFile":
		id, _ := p["file_id"].(string)
		s.mu.Lock()
		_, ok := s.files[id]
		s.mu.Unlock()
		if !ok {
			fail(rec, 400, "Bad Request: invalid file_id")
			break
		}
		reply(rec, 200, answer{OK: true, Result: map[string]any{"file_id": id, "file_unique_id": id, "file_path": "documents/" + id}})
	default:
		fail(rec, 404, "Not Found: method not found")
	}
	if fault != nil { // applied, then the answer was lost
		if method == "sendMessage" {
			var a struct {
				Result struct {
					MessageID int64 `json:"message_id"`
					Chat      struct {
						ID int64 `json:"id"`
					} `json:"chat"`
				} `json:"result"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &a)
			s.mu.Lock()
			for i := range s.sent {
				if s.sent[i].ChatID == a.Result.Chat.ID && s.sent[i].MessageID == a.Result.MessageID {
					s.sent[i].AnswerLost = true
				}
			}
			s.mu.Unlock()
		}
		s.failWith(w, *fault)
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (s *Server) failWith(w http.ResponseWriter, f Fault) {
	if f.Code == http.StatusTooManyRequests {
		reply(w, 429, answer{ErrorCode: 429, Description: fmt.Sprintf("Too Many Requests: retry after %d", f.RetryAfter), Parameters: &parameters{RetryAfter: f.RetryAfter}})
		return
	}
	fail(w, f.Code, "Internal Server Error")
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
	s.nextMsgID[chatID]++
	m := SentMessage{ChatID: chatID, MessageID: s.nextMsgID[chatID], Text: text, At: time.Now()}
	s.sent = append(s.sent, m)
	s.cond.Broadcast()
	s.mu.Unlock()
	reply(w, 200, answer{OK: true, Result: map[string]any{
		"message_id": m.MessageID, "date": m.At.Unix(), "text": text,
		"chat": map[string]any{"id": chatID, "type": "private"},
		"from": User{ID: s.botID, IsBot: true, FirstName: "Acme Support", Username: s.opts.BotUsername},
	}})
}

func (s *Server) getUpdates(ctx context.Context, w http.ResponseWriter, p map[string]any) {
	offset, _ := intParam(p, "offset")
	timeout, _ := intParam(p, "timeout")
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
	if len(s.updates) == 0 && timeout > 0 {
		stop := context.AfterFunc(ctx, func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
		timer := time.AfterFunc(time.Until(deadline), func() { s.mu.Lock(); s.cond.Broadcast(); s.mu.Unlock() })
		for len(s.updates) == 0 && time.Now().Before(deadline) && ctx.Err() == nil && !s.closed {
			s.cond.Wait()
		}
		stop()
		timer.Stop()
	}
	out := append([]json.RawMessage{}, s.updates...)
	if len(out) > 100 {
		out = out[:100]
	}
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
	id := strings.TrimPrefix(path, "documents/")
	s.mu.Lock()
	body, ok := s.files[id]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, nil)
		return
	}
	_, _ = w.Write(body)
}

// Message is what a customer sends.
type Message struct {
	Text     string
	Caption  string
	Document *Document
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
		"chat": map[string]any{"id": from.ID, "type": "private", "first_name": from.FirstName, "username": from.Username},
	}
	if m.Text != "" {
		msg["text"] = m.Text
	}
	if m.Caption != "" {
		msg["caption"] = m.Caption
	}
	if d := m.Document; d != nil {
		fileID := fmt.Sprintf("doc-%d-%d", from.ID, msgID)
		s.files[fileID] = d.Body
		msg["document"] = map[string]any{"file_id": fileID, "file_unique_id": fileID, "file_name": d.Name, "mime_type": d.MIMEType, "file_size": len(d.Body)}
	}
	key := "message"
	if editOf != 0 {
		key = "edited_message"
		msg["edit_date"] = now
	}
	raw, _ := json.Marshal(map[string]any{"update_id": updateID, key: msg})
	hook, secret := s.webhookURL, s.secret
	if hook == "" {
		s.updates = append(s.updates, raw)
		s.cond.Broadcast()
	}
	s.mu.Unlock()
	if hook == "" {
		return raw, msgID, nil
	}
	return raw, msgID, s.Post(ctx, raw, secret)
}

// Post delivers one update to the webhook as Telegram does, retrying a
// non-2xx answer up to WebhookRetries times.
func (s *Server) Post(ctx context.Context, update json.RawMessage, secret string) error {
	s.mu.Lock()
	hook := s.webhookURL
	s.mu.Unlock()
	var last error
	for attempt := 0; attempt <= s.opts.WebhookRetries; attempt++ {
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
			res.Body.Close()
			if res.StatusCode/100 == 2 {
				return nil
			}
			err = fmt.Errorf("webhook answered %d", res.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 20 * time.Millisecond):
		}
	}
	return last
}

// Sent returns the messages the bot sent to a chat (0: all chats).
func (s *Server) Sent(chatID int64) []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
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
		var got []SentMessage
		for _, m := range s.sent {
			if chatID == 0 || m.ChatID == chatID {
				got = append(got, m)
			}
		}
		if len(got) >= n {
			return got, nil
		}
		if ctx.Err() != nil || s.closed {
			return got, fmt.Errorf("waited for %d messages, got %d: %w", n, len(got), context.Cause(ctx))
		}
		s.cond.Wait()
	}
}
