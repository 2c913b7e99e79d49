// Package slacktest is a Slack emulator in the spirit of net/http/httptest:
// a real HTTP server answering the Web API methods Threadline calls, in
// Slack's wire format, and a client that sends Threadline correctly signed
// Events API, interactivity and slash command requests. Tests and the demo
// use it.
package slacktest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/threadline/threadline/internal/emulator"
)

// Message is a message in the emulated workspace.
type Message struct {
	Channel   string            `json:"channel"`
	TS        string            `json:"ts"`
	ThreadTS  string            `json:"thread_ts,omitempty"`
	User      string            `json:"user,omitempty"`
	UserName  string            `json:"user_name,omitempty"`
	BotID     string            `json:"bot_id,omitempty"`
	Text      string            `json:"text"`
	Blocks    []json.RawMessage `json:"blocks,omitempty"`
	Metadata  json.RawMessage   `json:"metadata,omitempty"`
	Reactions []string          `json:"reactions,omitempty"`
	Files     []File            `json:"files,omitempty"`
	Edited    bool              `json:"edited,omitempty"`
	// At is when the emulator received the post.
	At time.Time `json:"-"`
	// AnswerLost says the post was applied but its answer replaced by an
	// error (an injected fault): the sender cannot know it landed.
	AnswerLost bool `json:"-"`
}

// File is an uploaded file.
type File struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Title string `json:"title,omitempty"`
	Size  int    `json:"size"`
	Body  []byte `json:"-"`
}

// Ephemeral is a message only one user sees.
type Ephemeral struct {
	Channel  string `json:"channel"`
	User     string `json:"user"`
	ThreadTS string `json:"thread_ts,omitempty"`
	Text     string `json:"text"`
}

// Fault makes the next calls of a method fail.
type Fault struct {
	Method     string
	Count      int
	Code       int           // 429 or 5xx
	RetryAfter time.Duration // with 429
	Applied    bool          // the call takes effect, then the answer is lost
	// Timeout: no answer comes at all; the connection is closed as when the
	// caller's deadline passes. With Applied the call took effect first, so
	// the caller cannot know; without, it did not. Code is ignored.
	Timeout bool
}

// Options configures the emulator.
type Options struct {
	BotToken  string // default xoxb-test
	TeamID    string // default T0TEST
	BotUserID string // default U0BOT
	BotID     string // default B0BOT
	AppToken  string // default xapp-test: Socket Mode
	// ChannelRate, when set, limits chat.postMessage per channel like Slack
	// (about one per second), answering 429 past it.
	ChannelRate time.Duration
}

// Server is a running emulator.
type Server struct {
	srv  *httptest.Server
	opts Options

	mu        sync.Mutex
	changes   emulator.Changes
	messages  []*Message
	ephemeral []Ephemeral
	uploads   map[string]*File
	faults    []Fault
	calls     map[string]int
	status429 int
	lastPost  map[string]time.Time
	clock     int64
	users     map[string]string
	homes     map[string][]json.RawMessage // App Home views by user
	groups    map[string][]string
	channels  map[string]string
	views     []*View
	sockets   *socketHub
}

// View is a modal opened with views.open, as the emulated client shows it.
type View struct {
	ID, Hash   string
	User       string // from the trigger id
	CallbackID string
	Title      string
	Metadata   string            // private_metadata
	Blocks     []json.RawMessage `json:"blocks"`
	// State is what the user typed or picked: block id -> action id -> value.
	// It survives views.update for inputs whose block and action ids stay.
	State  map[string]map[string]string
	Closed bool
	// NotifyOnClose: Slack sends view_closed when the user dismisses it.
	NotifyOnClose bool
	// Updates counts views.update calls applied.
	Updates int
}

// New starts an emulator.
func New(opts Options) *Server {
	if opts.BotToken == "" {
		opts.BotToken = "xoxb-test"
	}
	if opts.TeamID == "" {
		opts.TeamID = "T0TEST"
	}
	if opts.BotUserID == "" {
		opts.BotUserID = "U0BOT"
	}
	if opts.BotID == "" {
		opts.BotID = "B0BOT"
	}
	if opts.AppToken == "" {
		opts.AppToken = "xapp-test"
	}
	s := &Server{opts: opts, uploads: map[string]*File{}, calls: map[string]int{},
		lastPost: map[string]time.Time{}, clock: time.Now().Unix() * 1_000_000, users: map[string]string{}, homes: map[string][]json.RawMessage{},
		groups: map[string][]string{}, channels: map[string]string{}, sockets: newSocketHub()}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the Web API base URL (ends in /api/), for THREADLINE_SLACK_API_URL.
func (s *Server) URL() string    { return s.srv.URL + "/api/" }
func (s *Server) Token() string  { return s.opts.BotToken }
func (s *Server) TeamID() string { return s.opts.TeamID }
func (s *Server) BotUserID() string {
	return s.opts.BotUserID
}
func (s *Server) Close() {
	s.sockets.closeAll()
	s.srv.Close()
}

// SetUserName names a user, for display in the demo.
func (s *Server) SetUserName(id, name string) {
	s.mu.Lock()
	s.users[id] = name
	s.mu.Unlock()
}

// SetChannelName names a channel (conversations.info).
func (s *Server) SetChannelName(id, name string) {
	s.mu.Lock()
	s.channels[id] = name
	s.mu.Unlock()
}

// SetUserGroup sets a user group's members (usergroups.users.list).
func (s *Server) SetUserGroup(id string, members ...string) {
	s.mu.Lock()
	s.groups[id] = append([]string(nil), members...)
	s.mu.Unlock()
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

// RateLimited counts the 429 answers given.
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status429
}

func (s *Server) notify() { s.changes.Notify() }

// nextTS issues increasing message timestamps as Slack does ("secs.micros").
func (s *Server) nextTS() string {
	s.clock++
	return fmt.Sprintf("%d.%06d", s.clock/1_000_000, s.clock%1_000_000)
}

func write(w http.ResponseWriter, v map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code string) { write(w, map[string]any{"ok": false, "error": code}) }

// form reads a method's arguments from a form or JSON body.
func form(r *http.Request) (url.Values, error) {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil && err != io.EOF {
			return nil, err
		}
		v := url.Values{}
		for k, x := range m {
			switch x := x.(type) {
			case string:
				v.Set(k, x)
			default:
				b, _ := json.Marshal(x)
				v.Set(k, string(b))
			}
		}
		return v, nil
	}
	if r.Header.Get("Content-Type") == "" {
		return r.URL.Query(), nil // apps.connections.open is posted with no body
	}
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	return r.Form, nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if id, ok := strings.CutPrefix(r.URL.Path, "/upload/"); ok {
		s.upload(w, r, id)
		return
	}
	if r.URL.Path == "/socket" {
		s.socket(w, r)
		return
	}
	method, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	args, err := form(r)
	if err != nil {
		fail(w, "invalid_form_data")
		return
	}
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if token == "" {
		token = args.Get("token")
	}
	want := s.opts.BotToken
	if method == "apps.connections.open" {
		want = s.opts.AppToken // Socket Mode opens with the app-level token
	}
	if token != want {
		fail(w, "invalid_auth")
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
	if fault == nil && method == "chat.postMessage" && s.opts.ChannelRate > 0 {
		ch := args.Get("channel")
		if last, ok := s.lastPost[ch]; ok && time.Since(last) < s.opts.ChannelRate {
			fault = &Fault{Code: 429, RetryAfter: s.opts.ChannelRate - time.Since(last)}
		} else {
			s.lastPost[ch] = time.Now()
		}
	}
	if fault != nil && fault.Code == 429 {
		s.status429++
	}
	s.mu.Unlock()
	if fault != nil && !fault.Applied {
		failWith(w, *fault)
		return
	}
	rec := httptest.NewRecorder()
	s.dispatch(rec, r, method, args)
	if fault != nil {
		if method == "chat.postMessage" {
			var posted struct {
				Channel string `json:"channel"`
				TS      string `json:"ts"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &posted)
			s.mu.Lock()
			if m := s.find(posted.Channel, posted.TS); m != nil {
				m.AnswerLost = true
			}
			s.mu.Unlock()
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

func failWith(w http.ResponseWriter, f Fault) {
	if f.Timeout {
		emulator.HangUp(w)
		return
	}
	if f.Code == 429 {
		secs := int((f.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		w.WriteHeader(429)
		fail(w, "ratelimited")
		return
	}
	w.WriteHeader(f.Code)
	_, _ = io.WriteString(w, "upstream error")
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, method string, args url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch method {
	case "auth.test":
		write(w, map[string]any{"ok": true, "url": "https://test.slack.com/", "team": "Test", "user": "threadline",
			"team_id": s.opts.TeamID, "user_id": s.opts.BotUserID, "bot_id": s.opts.BotID})
	case "chat.postMessage":
		ch := args.Get("channel")
		if ch == "" {
			fail(w, "channel_not_found")
			return
		}
		if args.Get("text") == "" && args.Get("blocks") == "" {
			fail(w, "no_text")
			return
		}
		if DMChannel(ch) != ch {
			// A bot posting to a user id writes in the app's DM with them,
			// and Slack answers with that DM channel's id.
			ch = DMChannel(ch)
		}
		m := &Message{Channel: ch, TS: s.nextTS(), ThreadTS: args.Get("thread_ts"), Text: args.Get("text"),
			User: s.opts.BotUserID, BotID: s.opts.BotID, Blocks: blocks(args.Get("blocks")), At: time.Now()}
		if md := args.Get("metadata"); md != "" {
			m.Metadata = json.RawMessage(md)
		}
		s.messages = append(s.messages, m)
		s.notify()
		write(w, map[string]any{"ok": true, "channel": ch, "ts": m.TS, "message": m})
	case "chat.update":
		m := s.find(args.Get("channel"), args.Get("ts"))
		if m == nil {
			fail(w, "message_not_found")
			return
		}
		if t := args.Get("text"); t != "" {
			m.Text = t
		}
		if b := args.Get("blocks"); b != "" {
			m.Blocks = blocks(b)
		}
		m.Edited = true
		s.notify()
		write(w, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "text": m.Text})
	case "chat.postEphemeral":
		e := Ephemeral{Channel: args.Get("channel"), User: args.Get("user"), ThreadTS: args.Get("thread_ts"), Text: args.Get("text")}
		s.ephemeral = append(s.ephemeral, e)
		s.notify()
		write(w, map[string]any{"ok": true, "message_ts": s.nextTS()})
	case "reactions.add":
		m := s.find(args.Get("channel"), args.Get("timestamp"))
		if m == nil {
			fail(w, "message_not_found")
			return
		}
		name := args.Get("name")
		for _, r := range m.Reactions {
			if r == name {
				fail(w, "already_reacted")
				return
			}
		}
		m.Reactions = append(m.Reactions, name)
		s.notify()
		write(w, map[string]any{"ok": true})
	case "files.getUploadURLExternal":
		size, _ := strconv.Atoi(args.Get("length"))
		id := fmt.Sprintf("F%06d", len(s.uploads)+1)
		s.uploads[id] = &File{ID: id, Name: args.Get("filename"), Size: size}
		write(w, map[string]any{"ok": true, "upload_url": s.srv.URL + "/upload/" + id, "file_id": id})
	case "files.completeUploadExternal":
		var files []struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		}
		_ = json.Unmarshal([]byte(args.Get("files")), &files)
		ch := args.Get("channel_id")
		var done []File
		for _, f := range files {
			up, ok := s.uploads[f.ID]
			if !ok || up.Body == nil {
				fail(w, "file_not_found")
				return
			}
			up.Title = f.Title
			done = append(done, *up)
		}
		if ch != "" {
			m := &Message{Channel: ch, TS: s.nextTS(), ThreadTS: args.Get("thread_ts"), Text: args.Get("initial_comment"),
				User: s.opts.BotUserID, BotID: s.opts.BotID, Files: done}
			s.messages = append(s.messages, m)
			s.notify()
		}
		write(w, map[string]any{"ok": true, "files": done})
	case "apps.connections.open":
		write(w, map[string]any{"ok": true, "url": "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/socket"})
	case "conversations.replies", "conversations.history":
		ch, ts := args.Get("channel"), args.Get("ts")
		withMeta := args.Get("include_all_metadata") == "1" || args.Get("include_all_metadata") == "true"
		var out []map[string]any
		for _, m := range s.messages {
			if m.Channel != ch {
				continue
			}
			if method == "conversations.replies" && m.TS != ts && m.ThreadTS != ts {
				continue
			}
			if method == "conversations.history" && m.ThreadTS != "" {
				continue
			}
			v := map[string]any{"type": "message", "ts": m.TS, "text": m.Text, "user": m.User}
			if m.ThreadTS != "" {
				v["thread_ts"] = m.ThreadTS
			}
			if withMeta && len(m.Metadata) > 0 {
				v["metadata"] = m.Metadata
			}
			out = append(out, v)
		}
		write(w, map[string]any{"ok": true, "messages": out, "has_more": false})
	case "views.open", "views.update":
		s.viewCall(w, method, args)
	case "conversations.info":
		id := args.Get("channel")
		name, ok := s.channels[id]
		if !ok {
			fail(w, "channel_not_found")
			return
		}
		write(w, map[string]any{"ok": true, "channel": map[string]any{"id": id, "name": name, "is_channel": true}})
	case "usergroups.users.list":
		members, ok := s.groups[args.Get("usergroup")]
		if !ok {
			fail(w, "no_such_subteam")
			return
		}
		write(w, map[string]any{"ok": true, "users": members})
	case "views.publish":
		user := args.Get("user_id")
		var view struct {
			Type   string            `json:"type"`
			Blocks []json.RawMessage `json:"blocks"`
		}
		if user == "" {
			fail(w, "invalid_arguments")
			return
		}
		if err := json.Unmarshal([]byte(args.Get("view")), &view); err != nil || view.Type != "home" {
			fail(w, "invalid_arguments")
			return
		}
		if len(view.Blocks) > 100 {
			fail(w, "invalid_blocks")
			return
		}
		s.homes[user] = view.Blocks
		s.notify()
		write(w, map[string]any{"ok": true, "view": map[string]any{"id": "V" + user, "type": "home", "blocks": view.Blocks}})
	case "users.info":
		id := args.Get("user")
		write(w, map[string]any{"ok": true, "user": map[string]any{"id": id, "name": s.users[id], "real_name": s.users[id]}})
	default:
		fail(w, "unknown_method")
	}
}

// viewCall implements views.open (trigger_id, view) and views.update
// (view_id, hash, view). The trigger ids the Client issues name the user
// ("U0ANN.12.trig"), as Slack's do not but know.
func (s *Server) viewCall(w http.ResponseWriter, method string, args url.Values) {
	var v struct {
		Type            string                `json:"type"`
		CallbackID      string                `json:"callback_id"`
		PrivateMetadata string                `json:"private_metadata"`
		NotifyOnClose   bool                  `json:"notify_on_close"`
		Title           struct{ Text string } `json:"title"`
		Blocks          []json.RawMessage     `json:"blocks"`
	}
	if err := json.Unmarshal([]byte(args.Get("view")), &v); err != nil || v.Type != "modal" {
		fail(w, "invalid_arguments")
		return
	}
	if len(v.Blocks) > 100 || len(v.PrivateMetadata) > 3000 {
		fail(w, "invalid_arguments")
		return
	}
	var view *View
	if method == "views.open" {
		trigger := args.Get("trigger_id")
		user, _, ok := strings.Cut(trigger, ".")
		if trigger == "" || !ok {
			fail(w, "invalid_trigger_id")
			return
		}
		view = &View{ID: fmt.Sprintf("V%07d", len(s.views)+1), User: user, State: map[string]map[string]string{}}
		s.views = append(s.views, view)
	} else {
		for _, x := range s.views {
			if x.ID == args.Get("view_id") {
				view = x
			}
		}
		if view == nil || view.Closed {
			fail(w, "not_found")
			return
		}
		if h := args.Get("hash"); h != "" && h != view.Hash {
			fail(w, "hash_conflict")
			return
		}
		view.Updates++
	}
	view.CallbackID, view.Title, view.Metadata, view.Blocks, view.NotifyOnClose = v.CallbackID, v.Title.Text, v.PrivateMetadata, v.Blocks, v.NotifyOnClose
	keep := map[string]map[string]string{}
	for _, b := range v.Blocks {
		var in struct {
			Type    string `json:"type"`
			BlockID string `json:"block_id"`
			Element struct {
				ActionID     string `json:"action_id"`
				InitialValue string `json:"initial_value"`
			} `json:"element"`
		}
		_ = json.Unmarshal(b, &in)
		if val, ok := view.State[in.BlockID][in.Element.ActionID]; ok {
			keep[in.BlockID] = map[string]string{in.Element.ActionID: val}
		} else if in.Type == "input" && in.Element.InitialValue != "" {
			// Submitted as it is unless the user changes it.
			keep[in.BlockID] = map[string]string{in.Element.ActionID: in.Element.InitialValue}
		}
	}
	view.State = keep
	s.clock++
	view.Hash = fmt.Sprintf("%d.h%d", s.clock, view.Updates)
	s.notify()
	write(w, map[string]any{"ok": true, "view": map[string]any{"id": view.ID, "hash": view.Hash, "type": "modal",
		"callback_id": view.CallbackID, "private_metadata": view.Metadata, "blocks": view.Blocks}})
}

// view returns a copy of a view by id (the last one, should an id repeat).
func (s *Server) view(id string) (*View, error) {
	var view *View
	for _, v := range s.Views("") {
		if v.ID == id {
			view = &v
		}
	}
	if view == nil {
		return nil, fmt.Errorf("slacktest: no view %s", id)
	}
	return view, nil
}

// Views returns copies of the modals opened for a user ("" for all).
func (s *Server) Views(user string) []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []View
	for _, v := range s.views {
		if user == "" || v.User == user {
			c := *v
			c.State = map[string]map[string]string{}
			for b, m := range v.State {
				c.State[b] = map[string]string{}
				for a, x := range m {
					c.State[b][a] = x
				}
			}
			out = append(out, c)
		}
	}
	return out
}

// Type enters a value into an open modal's input, as the user would.
func (s *Server) Type(viewID, blockID, actionID, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.views {
		if v.ID == viewID {
			if v.State[blockID] == nil {
				v.State[blockID] = map[string]string{}
			}
			v.State[blockID][actionID] = value
		}
	}
}

func (s *Server) replaceView(id, callbackID, metadata string, blocks []json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.views {
		if v.ID == id {
			v.CallbackID, v.Metadata, v.Blocks = callbackID, metadata, blocks
			v.State = map[string]map[string]string{}
			s.clock++
			v.Hash = fmt.Sprintf("%d.h%d", s.clock, v.Updates)
		}
	}
	s.notify()
}

func (s *Server) closeView(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.views {
		if v.ID == id {
			v.Closed = true
		}
	}
	s.notify()
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request, id string) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "bad upload", 400)
		return
	}
	// The upload may be raw bytes or multipart form data; keep the file's bytes.
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		req, _ := http.NewRequest("POST", "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
		if err := req.ParseMultipartForm(32 << 20); err == nil {
			for _, fhs := range req.MultipartForm.File {
				for _, fh := range fhs {
					f, _ := fh.Open()
					body, _ = io.ReadAll(f)
					f.Close()
				}
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.uploads[id]
	if !ok {
		http.Error(w, "unknown upload", 404)
		return
	}
	f.Body = body
	_, _ = io.WriteString(w, "OK - "+strconv.Itoa(len(body)))
}

func blocks(raw string) []json.RawMessage {
	if raw == "" {
		return nil
	}
	var out []json.RawMessage
	_ = json.Unmarshal([]byte(raw), &out)
	return out
}

func (s *Server) find(channel, ts string) *Message {
	for _, m := range s.messages {
		if m.Channel == channel && m.TS == ts {
			return m
		}
	}
	return nil
}

// AddUserMessage records a message an agent typed (as Slack would store it
// before sending the event), returning its ts.
func (s *Server) AddUserMessage(channel, threadTS, user, text string) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &Message{Channel: channel, TS: s.nextTS(), ThreadTS: threadTS, User: user, UserName: s.users[user], Text: text, At: time.Now()}
	s.messages = append(s.messages, m)
	s.notify()
	return *m
}

// Messages returns copies of the messages in a channel ("" for all), in order.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if channel == "" || m.Channel == channel {
			c := *m
			c.Reactions = append([]string(nil), m.Reactions...)
			if c.UserName == "" {
				c.UserName = s.users[c.User]
			}
			out = append(out, c)
		}
	}
	return out
}

// Ephemerals returns the ephemeral messages sent.
func (s *Server) Ephemerals() []Ephemeral {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Ephemeral(nil), s.ephemeral...)
}

// WaitFor blocks until cond holds for the emulator's state or ctx ends.
func (s *Server) WaitFor(ctx context.Context, cond func(s *Server) bool) error {
	return s.changes.WaitFor(ctx, "slacktest", func() bool { return cond(s) })
}

// Sign returns the X-Slack-Signature of a body at a timestamp.
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%d:%s", ts, body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// Client sends Threadline what Slack sends, signed with the signing secret.
type Client struct {
	BaseURL       string // Threadline's base URL
	SigningSecret string
	HTTP          *http.Client
	Now           func() time.Time
	RetryDelay    time.Duration
	mu            sync.Mutex
	nextEvent     int
}

func (c *Client) post(ctx context.Context, path, contentType string, body []byte, header http.Header) (*http.Response, []byte, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	ts := now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Slack-Signature", Sign(c.SigningSecret, ts, body))
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, b, err
}

// NewEventID returns a fresh Events API event_id.
func (c *Client) NewEventID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextEvent++
	return fmt.Sprintf("Ev%08d%d", c.nextEvent, time.Now().UnixNano()%1000)
}

// EventEnvelope wraps an event as the Events API delivers it.
func EventEnvelope(teamID, eventID string, event map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{
		"token": "deprecated", "team_id": teamID, "api_app_id": "A0THREADLINE", "type": "event_callback",
		"event_id": eventID, "event_time": time.Now().Unix(), "event": event,
		"authorizations": []map[string]any{{"team_id": teamID, "user_id": "U0BOT", "is_bot": true}},
	})
	return b
}

// SendEvent posts an Events API envelope; retry > 0 marks a redelivery.
func (c *Client) SendEvent(ctx context.Context, envelope []byte, retry int) (int, error) {
	h := http.Header{}
	if retry > 0 {
		h.Set("X-Slack-Retry-Num", strconv.Itoa(retry))
		h.Set("X-Slack-Retry-Reason", "http_error")
	}
	res, _, err := c.post(ctx, "/slack/events", "application/json", envelope, h)
	if err != nil {
		return 0, err
	}
	return res.StatusCode, nil
}

// DeliverEvent posts an envelope and, like Slack, redelivers it up to three
// times while the answer is not 200. Slack waits a minute and then five
// between tries; RetryDelay compresses that (default 50ms).
func (c *Client) DeliverEvent(ctx context.Context, envelope []byte) (int, error) {
	delay := c.RetryDelay
	if delay == 0 {
		delay = 50 * time.Millisecond
	}
	var code int
	var err error
	for retry := 0; retry <= 3; retry++ {
		if code, err = c.SendEvent(ctx, envelope, retry); err == nil && code == http.StatusOK {
			return code, nil
		}
		select {
		case <-ctx.Done():
			return code, ctx.Err()
		case <-time.After(delay * time.Duration(retry+1)):
		}
	}
	return code, err
}

// SendMessageEvent sends a message event for a message an agent typed.
func (c *Client) SendMessageEvent(ctx context.Context, teamID string, m Message) (string, int, error) {
	id := c.NewEventID()
	ev := map[string]any{"type": "message", "channel": m.Channel, "user": m.User, "text": m.Text, "ts": m.TS,
		"event_ts": m.TS, "channel_type": "channel", "team": teamID}
	if m.ThreadTS != "" {
		ev["thread_ts"] = m.ThreadTS
	}
	if m.BotID != "" {
		ev["bot_id"] = m.BotID
	}
	code, err := c.DeliverEvent(ctx, EventEnvelope(teamID, id, ev))
	return id, code, err
}

// Action describes a button press, or a choice in a static select when
// Selected is set.
type Action struct {
	TeamID, UserID, UserName, Channel, MessageTS, ActionID, Value, BlockID string
	Selected                                                               string
}

// SendAction posts a block_actions interaction, form-encoded as Slack does.
func (c *Client) SendAction(ctx context.Context, a Action) (int, []byte, error) {
	action := map[string]any{"type": "button", "action_id": a.ActionID, "block_id": a.BlockID, "value": a.Value,
		"action_ts": strconv.FormatInt(time.Now().Unix(), 10) + ".000001"}
	if a.Selected != "" {
		action = map[string]any{"type": "static_select", "action_id": a.ActionID, "block_id": a.BlockID,
			"selected_option": map[string]any{"value": a.Selected, "text": map[string]any{"type": "plain_text", "text": a.Selected}},
			"action_ts":       strconv.FormatInt(time.Now().Unix(), 10) + ".000002"}
	}
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "trigger_id": c.triggerID(a.UserID),
		"user":         map[string]any{"id": a.UserID, "username": a.UserName, "name": a.UserName, "team_id": a.TeamID},
		"team":         map[string]any{"id": a.TeamID},
		"channel":      map[string]any{"id": a.Channel},
		"container":    map[string]any{"type": "message", "message_ts": a.MessageTS, "channel_id": a.Channel},
		"message":      map[string]any{"ts": a.MessageTS, "type": "message"},
		"response_url": "",
		"actions":      []map[string]any{action},
	})
	return c.sendInteraction(ctx, payload)
}

// triggerID issues a trigger id naming the user, so the emulator knows
// whose client a views.open with it is for.
func (c *Client) triggerID(user string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextEvent++
	return fmt.Sprintf("%s.%d%d.trig", user, time.Now().UnixNano()%1_000_000, c.nextEvent)
}

func (c *Client) sendInteraction(ctx context.Context, payload []byte) (int, []byte, error) {
	body := []byte("payload=" + url.QueryEscape(string(payload)))
	res, b, err := c.post(ctx, "/slack/interactions", "application/x-www-form-urlencoded", body, nil)
	if err != nil {
		return 0, nil, err
	}
	return res.StatusCode, b, nil
}

// PickInView is a choice in a static select inside an open modal
// (block_actions with the view).
func (c *Client) PickInView(ctx context.Context, sl *Server, teamID, viewID, blockID, actionID, value string) (int, error) {
	view, err := sl.view(viewID)
	if err != nil {
		return 0, err
	}
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "trigger_id": c.triggerID(view.User), "team": map[string]any{"id": teamID},
		"user":      map[string]any{"id": view.User, "team_id": teamID},
		"container": map[string]any{"type": "view", "view_id": view.ID},
		"view": map[string]any{"id": view.ID, "hash": view.Hash, "type": "modal", "callback_id": view.CallbackID,
			"private_metadata": view.Metadata},
		"actions": []map[string]any{{"type": "static_select", "action_id": actionID, "block_id": blockID,
			"selected_option": map[string]any{"value": value}, "action_ts": strconv.FormatInt(time.Now().Unix(), 10) + ".000004"}},
	})
	code, _, err := c.sendInteraction(ctx, payload)
	return code, err
}

// Shortcut describes a message shortcut chosen on a message.
type Shortcut struct {
	TeamID, UserID, UserName, Channel, CallbackID string
	// MessageTS and ThreadTS are the message's; ThreadTS is empty for a
	// parent message.
	MessageTS, ThreadTS string
}

// SendShortcut posts a message_action interaction as Slack does.
func (c *Client) SendShortcut(ctx context.Context, s Shortcut) (int, []byte, error) {
	msg := map[string]any{"type": "message", "ts": s.MessageTS, "text": "", "user": s.UserID}
	if s.ThreadTS != "" {
		msg["thread_ts"] = s.ThreadTS
	}
	payload, _ := json.Marshal(map[string]any{
		"type": "message_action", "callback_id": s.CallbackID, "trigger_id": c.triggerID(s.UserID),
		"action_ts":    strconv.FormatInt(time.Now().Unix(), 10) + ".000003",
		"message_ts":   s.MessageTS,
		"user":         map[string]any{"id": s.UserID, "username": s.UserName, "name": s.UserName, "team_id": s.TeamID},
		"team":         map[string]any{"id": s.TeamID},
		"channel":      map[string]any{"id": s.Channel},
		"message":      msg,
		"response_url": "https://hooks.slack.com/app/x",
	})
	return c.sendInteraction(ctx, payload)
}

// Command describes a slash command invocation.
type Command struct {
	TeamID, UserID, UserName, Channel, Text string
}

// SendCommand posts /threadline as Slack does.
func (c *Client) SendCommand(ctx context.Context, cmd Command) (int, []byte, error) {
	v := url.Values{"command": {"/threadline"}, "text": {cmd.Text}, "team_id": {cmd.TeamID}, "user_id": {cmd.UserID},
		"user_name": {cmd.UserName}, "channel_id": {cmd.Channel}, "trigger_id": {c.triggerID(cmd.UserID)},
		"response_url": {"https://hooks.slack.com/commands/x"}, "api_app_id": {"A0THREADLINE"}}
	res, b, err := c.post(ctx, "/slack/commands", "application/x-www-form-urlencoded", []byte(v.Encode()), nil)
	if err != nil {
		return 0, nil, err
	}
	return res.StatusCode, b, nil
}

// DMChannel is the id of the app's direct-message channel with a user (U...
// or W...); other channel ids are returned unchanged.
func DMChannel(channel string) string {
	if strings.HasPrefix(channel, "U") || strings.HasPrefix(channel, "W") {
		return "D" + channel
	}
	return channel
}

// HomeView returns the blocks last published to a user's App Home tab.
func (s *Server) HomeView(user string) ([]json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.homes[user]
	return append([]json.RawMessage(nil), v...), ok
}

// HomeOpened is the app_home_opened event Slack sends when a user opens the
// app's Home tab.
func HomeOpened(teamID, user string) []byte {
	b, _ := json.Marshal(map[string]any{"type": "event_callback", "team_id": teamID, "api_app_id": "A0THREADLINE",
		"event_id": fmt.Sprintf("Ev%d", time.Now().UnixNano()), "event_time": time.Now().Unix(),
		"event": map[string]any{"type": "app_home_opened", "user": user, "channel": DMChannel(user), "tab": "home", "event_ts": fmt.Sprintf("%d.000100", time.Now().Unix())}})
	return b
}

// Input is what a user entered in one input of a modal.
type Input struct {
	Kind  string // plain_text_input (default), users_select, conversations_select, radio_buttons, static_select
	Value string
}

func inputState(kind, value string) map[string]any {
	switch kind {
	case "users_select":
		return map[string]any{"type": kind, "selected_user": value}
	case "conversations_select":
		return map[string]any{"type": kind, "selected_conversation": value}
	case "radio_buttons", "static_select":
		return map[string]any{"type": kind, "selected_option": map[string]any{"value": value}}
	}
	return map[string]any{"type": "plain_text_input", "value": value}
}

// SubmitView posts the view_submission of an open modal with what the user
// typed (Server.Type) and the inputs given here (block id -> action id ->
// input), and returns Threadline's answer. Slack closes the modal on an
// empty answer or response_action clear; the emulator does the same.
func (c *Client) SubmitView(ctx context.Context, sl *Server, teamID, viewID string, inputs map[string]map[string]Input) (int, []byte, error) {
	view, err := sl.view(viewID)
	if err != nil {
		return 0, nil, err
	}
	values := map[string]map[string]any{}
	for b, m := range view.State {
		for a, x := range m {
			if values[b] == nil {
				values[b] = map[string]any{}
			}
			values[b][a] = inputState("", x)
		}
	}
	for b, m := range inputs {
		for a, in := range m {
			if values[b] == nil {
				values[b] = map[string]any{}
			}
			values[b][a] = inputState(in.Kind, in.Value)
		}
	}
	payload, _ := json.Marshal(map[string]any{
		"type": "view_submission", "team": map[string]any{"id": teamID}, "trigger_id": c.triggerID(view.User),
		"user": map[string]any{"id": view.User, "team_id": teamID},
		"view": map[string]any{"id": view.ID, "hash": view.Hash, "type": "modal", "callback_id": view.CallbackID,
			"private_metadata": view.Metadata, "state": map[string]any{"values": values}},
	})
	code, body, err := c.sendInteraction(ctx, payload)
	if err == nil && code == http.StatusOK {
		var res struct {
			ResponseAction string `json:"response_action"`
			View           struct {
				CallbackID      string            `json:"callback_id"`
				PrivateMetadata string            `json:"private_metadata"`
				Blocks          []json.RawMessage `json:"blocks"`
			} `json:"view"`
		}
		_ = json.Unmarshal(body, &res)
		switch {
		case len(bytes.TrimSpace(body)) == 0 || res.ResponseAction == "clear":
			sl.closeView(viewID)
		case res.ResponseAction == "update":
			// Slack shows the returned view in place of the submitted one.
			sl.replaceView(viewID, res.View.CallbackID, res.View.PrivateMetadata, res.View.Blocks)
		}
	}
	return code, body, err
}

// CloseView is the user dismissing a modal: Slack sends view_closed when
// the view asked for notify_on_close.
func (c *Client) CloseView(ctx context.Context, sl *Server, teamID, viewID string) (int, error) {
	view, err := sl.view(viewID)
	if err != nil {
		return 0, err
	}
	sl.closeView(viewID)
	if !view.NotifyOnClose {
		return 0, nil // Slack tells the app nothing
	}
	payload, _ := json.Marshal(map[string]any{
		"type": "view_closed", "team": map[string]any{"id": teamID}, "user": map[string]any{"id": view.User, "team_id": teamID},
		"view":       map[string]any{"id": view.ID, "hash": view.Hash, "type": "modal", "callback_id": view.CallbackID, "private_metadata": view.Metadata},
		"is_cleared": false,
	})
	code, _, err := c.sendInteraction(ctx, payload)
	return code, err
}
