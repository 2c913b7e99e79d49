// Package metatest is a Graph API emulator in the spirit of
// net/http/httptest: a real HTTP server speaking Meta's documented wire
// formats for a few Pages and Instagram accounts, with customers who write
// to them. Tests and the demo use it.
//
// It covers what Threadline calls: the Send API (POST /{version}/{id}/messages,
// with the 24-hour window and the HUMAN_AGENT tag enforced as Meta does),
// account and profile lookups (GET /{id}?fields=...), and attachment
// downloads from its own "CDN". Webhook deliveries (customer messages, the
// echoes of every message a page sends, replies typed in Meta's inbox) are
// POSTed signed with the app secret and retried until answered with 2xx, as
// Meta does; the subscription handshake is performed first. Faults can be
// injected per call kind.
package metatest

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
)

// InboxAppID is the app_id Meta puts on echoes of replies typed in the
// Page inbox (Meta Business Suite).
const InboxAppID = "263902037430900"

// Page is a connected Facebook Page or Instagram professional account.
type Page struct {
	ID    string
	Token string
	Name  string
	// Instagram makes deliveries for this account object=instagram.
	Instagram bool
}

// Customer is a person writing to a page (their page-scoped id).
type Customer struct {
	ID         string
	Name       string
	FirstName  string
	LastName   string
	Username   string // Instagram
	ProfilePic string
}

// Sent is a message a page sent, through the Send API or Meta's inbox,
// or a reply to a comment.
type Sent struct {
	// Kind is "message", "comment_reply", "private_reply" or
	// "mention_reply".
	Kind string
	// CommentID is the comment answered (replies, private replies).
	CommentID     string
	PageID        string
	RecipientID   string
	MID           string
	Text          string
	MessagingType string
	Tag           string
	Metadata      string
	// QuickReplies are the buttons offered with it.
	QuickReplies []QuickReply
	// Inbox says a person typed it in Meta's inbox, not an app.
	Inbox bool
	At    time.Time
	// AnswerLost says it was applied but answered with an injected error.
	AnswerLost bool
}

// Fault makes the next Count calls of a kind ("messages", "profile",
// "account") fail.
type Fault struct {
	Kind    string
	Count   int
	Status  int // HTTP status, default 400
	Code    int // Graph error code (4, 17, 32, 613: throttled; 190: token; 2: transient)
	Subcode int
	// RetryAfter, in seconds, is sent as a Retry-After header.
	RetryAfter int
	// Header adds response headers (X-App-Usage, X-Business-Use-Case-Usage).
	Header map[string]string
	// Applied makes the call take effect before failing.
	Applied bool
	// Delay holds the answer back, as a slow Graph API does.
	Delay time.Duration
}

// Options configures the emulator.
type Options struct {
	AppSecret string // default "meta-app-secret"
	AppID     string // our app, on echoes of Send API messages; default 100200300
	Pages     []Page // default one page 112233445566778
	// Now is the emulator's clock (message timestamps, the window); nil is
	// the wall clock.
	Now func() time.Time
	// WebhookRetries bounds redeliveries; default 5, negative none.
	WebhookRetries    int
	WebhookRetryDelay time.Duration // default 20ms, growing linearly
	// NoEchoes turns message_echoes off, as an app not subscribed to them.
	NoEchoes bool
	// EchoFirst delivers a send's echo before answering the Send API, as
	// Meta sometimes does.
	EchoFirst bool
}

// Server is a running emulator. Its methods are safe for concurrent use.
type Server struct {
	srv  *httptest.Server
	opts Options

	mu         sync.Mutex
	cond       *sync.Cond
	pages      map[string]Page
	customers  map[string]Customer // by id
	lastWrote  map[string]time.Time
	sent       []Sent
	faults     []Fault
	calls      map[string]int
	files      map[string][]byte
	comments   map[string]*Comment
	webhookURL string
	mentions   map[string]*mention // by media id / comment id
	// reported holds the mids a delivery event named already.
	reported map[string]bool
	nextMID  int64
	closed   bool
	echoes   int // deliveries of echoes in flight
	// stop ends echo deliveries in flight at Close.
	stop   context.Context
	cancel context.CancelFunc
}

// New starts an emulator; Close stops it.
func New(opts Options) *Server {
	if opts.AppSecret == "" {
		opts.AppSecret = "meta-app-secret"
	}
	if opts.AppID == "" {
		opts.AppID = "100200300"
	}
	if len(opts.Pages) == 0 {
		opts.Pages = []Page{{ID: "112233445566778", Token: "EAAPAGETOKEN1", Name: "Acme Support"}}
	}
	if opts.Now == nil {
		opts.Now = time.Now
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
	s := &Server{opts: opts, pages: map[string]Page{}, customers: map[string]Customer{}, lastWrote: map[string]time.Time{},
		calls: map[string]int{}, files: map[string][]byte{}, comments: map[string]*Comment{}, nextMID: 1000}
	for _, p := range opts.Pages {
		s.pages[p.ID] = p
	}
	s.cond = sync.NewCond(&s.mu)
	s.stop, s.cancel = context.WithCancel(context.Background())
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the Graph API base to configure the adapter with.
func (s *Server) URL() string { return s.srv.URL }

// AppSecret signs deliveries.
func (s *Server) AppSecret() string { return s.opts.AppSecret }

// Page returns the first page (the usual one in tests).
func (s *Server) Page() Page { return s.opts.Pages[0] }

// Accounts is the THREADLINE_META_ACCOUNTS value for all pages.
func (s *Server) Accounts() string {
	var parts []string
	for _, p := range s.opts.Pages {
		parts = append(parts, p.ID+":"+p.Token)
	}
	return strings.Join(parts, ",")
}

// Close stops the server, after echo deliveries in flight.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.cond.Broadcast()
	s.mu.Unlock()
	s.cancel()
	s.Settle()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Settle waits until the echoes of sends made so far have been delivered
// (or given up).
func (s *Server) Settle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.echoes > 0 {
		s.cond.Wait()
	}
}

// Inject queues faults for coming calls.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, f)
	s.mu.Unlock()
}

// Calls counts the authenticated calls of a kind.
func (s *Server) Calls(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[kind]
}

// AddCustomer makes a customer known to profile lookups.
func (s *Server) AddCustomer(c Customer) {
	s.mu.Lock()
	s.customers[c.ID] = c
	s.mu.Unlock()
}

// AddFile serves body on the emulator's CDN and returns its URL (signed
// query parameters included, as Meta's are).
func (s *Server) AddFile(name string, body []byte) string {
	s.mu.Lock()
	s.files[name] = body
	s.mu.Unlock()
	return s.srv.URL + "/cdn/" + url.PathEscape(name) + "?_nc_sig=abc123&oe=FFFFFFFF"
}

type graphErr struct {
	Message   string `json:"message"`
	Type      string `json:"type"`
	Code      int    `json:"code"`
	Subcode   int    `json:"error_subcode,omitempty"`
	FBTraceID string `json:"fbtrace_id"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status, code, subcode int, msg string) {
	typ := "OAuthException"
	if code == 100 {
		typ = "GraphMethodException"
	}
	writeJSON(w, status, map[string]any{"error": graphErr{Message: msg, Type: typ, Code: code, Subcode: subcode, FBTraceID: "AbCdEfGh"}})
}

func failWith(w http.ResponseWriter, f Fault) {
	if f.Delay > 0 {
		time.Sleep(f.Delay) // the emulated server is slow, not the test
	}
	for k, v := range f.Header {
		w.Header().Set(k, v)
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	status := f.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	fail(w, status, f.Code, f.Subcode, fmt.Sprintf("(#%d) injected fault", f.Code))
}

// takeFault returns the next fault for kind, if any.
func (s *Server) takeFault(kind string) (Fault, bool) {
	for i := range s.faults {
		if s.faults[i].Kind == kind && s.faults[i].Count > 0 {
			s.faults[i].Count--
			return s.faults[i], true
		}
	}
	return Fault{}, false
}

func (s *Server) token(r *http.Request) string {
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return t
	}
	return r.URL.Query().Get("access_token")
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if name, ok := strings.CutPrefix(r.URL.Path, "/cdn/"); ok {
		s.mu.Lock()
		body, found := s.files[name]
		s.mu.Unlock()
		if !found {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(body)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 2 || !strings.HasPrefix(parts[0], "v") {
		fail(w, http.StatusBadRequest, 2500, 0, "Unknown path components")
		return
	}
	token := s.token(r)
	s.mu.Lock()
	var page Page
	found := false
	for _, p := range s.pages {
		if p.Token == token && token != "" {
			page, found = p, true
		}
	}
	s.mu.Unlock()
	if !found {
		fail(w, http.StatusBadRequest, 190, 0, "Invalid OAuth access token - Cannot parse access token")
		return
	}
	switch {
	case len(parts) == 3 && parts[2] == "messages" && r.Method == http.MethodPost:
		s.sendMessage(w, r, page, parts[1])
	case len(parts) == 3 && (parts[2] == "comments" || parts[2] == "replies") && r.Method == http.MethodPost:
		s.replyToComment(w, r, page, parts[1], parts[2])
	case len(parts) == 3 && parts[2] == "mentions" && r.Method == http.MethodPost:
		s.replyToMention(w, r, page, parts[1])
	case len(parts) == 2 && (r.Method == http.MethodPost || r.Method == http.MethodDelete):
		s.moderate(w, r, page, parts[1])
	case len(parts) == 2 && r.Method == http.MethodGet:
		if !s.lookupMention(w, r, page, parts[1]) {
			s.lookup(w, page, parts[1])
		}
	default:
		fail(w, http.StatusBadRequest, 100, 0, "Unsupported request")
	}
}

func (s *Server) lookup(w http.ResponseWriter, page Page, id string) {
	s.mu.Lock()
	kind := "profile"
	if id == page.ID || id == "me" {
		kind = "account"
	}
	s.calls[kind]++
	f, faulty := s.takeFault(kind)
	c, known := s.customers[id]
	s.mu.Unlock()
	if faulty {
		failWith(w, f)
		return
	}
	if kind == "account" {
		writeJSON(w, http.StatusOK, map[string]string{"id": page.ID, "name": page.Name})
		return
	}
	if !known {
		fail(w, http.StatusBadRequest, 100, 33, "Unsupported get request. Object with ID '"+id+"' does not exist")
		return
	}
	out := map[string]string{"id": c.ID, "name": c.Name, "profile_pic": c.ProfilePic}
	if page.Instagram {
		out["username"] = c.Username
	} else {
		out["first_name"], out["last_name"] = c.FirstName, c.LastName
	}
	writeJSON(w, http.StatusOK, out)
}

type sendBody struct {
	Recipient struct {
		ID        string `json:"id"`
		CommentID string `json:"comment_id"`
	} `json:"recipient"`
	MessagingType string `json:"messaging_type"`
	Tag           string `json:"tag"`
	Message       struct {
		Text         string       `json:"text"`
		Metadata     string       `json:"metadata"`
		QuickReplies []QuickReply `json:"quick_replies"`
	} `json:"message"`
}

// QuickReply is a button offered with a message; a tap sends its title as
// the customer's message, with the payload.
type QuickReply struct {
	ContentType string `json:"content_type"`
	Title       string `json:"title"`
	Payload     string `json:"payload"`
}

func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request, page Page, id string) {
	if id != page.ID && id != "me" {
		fail(w, http.StatusBadRequest, 200, 0, "(#200) The token is not the token of this page")
		return
	}
	var b sendBody
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&b); err != nil {
		fail(w, http.StatusBadRequest, 100, 0, "(#100) Invalid JSON")
		return
	}
	now := s.opts.Now()
	s.mu.Lock()
	s.calls["messages"]++
	f, faulty := s.takeFault("messages")
	if faulty && !f.Applied {
		s.mu.Unlock()
		failWith(w, f)
		return
	}
	last, wrote := s.lastWrote[page.ID+"/"+b.Recipient.ID]
	var refusal func()
	comment := s.comments[b.Recipient.CommentID]
	switch {
	case b.Recipient.CommentID != "" && (comment == nil || comment.PageID != page.ID):
		refusal = func() { fail(w, http.StatusBadRequest, 100, 0, "(#100) Invalid comment_id") }
	case b.Recipient.CommentID != "" && comment.PrivateReplied:
		refusal = func() { fail(w, http.StatusBadRequest, 10900, 0, "Activity already replied to") }
	case b.Recipient.CommentID != "" && now.Sub(comment.At) > 7*24*time.Hour:
		refusal = func() { fail(w, http.StatusBadRequest, 10903, 0, "This activity can't be replied to") }
	case b.Recipient.CommentID != "":
		// A private reply: allowed once, within 7 days, without a window.
	case b.Recipient.ID == "" || b.Message.Text == "":
		refusal = func() {
			fail(w, http.StatusBadRequest, 100, 0, "(#100) The parameter recipient and message.text are required")
		}
	case !wrote:
		refusal = func() { fail(w, http.StatusBadRequest, 100, 2018001, "(#100) No matching user found") }
	case b.MessagingType == "RESPONSE" && now.Sub(last) > 24*time.Hour,
		b.MessagingType == "MESSAGE_TAG" && b.Tag == "HUMAN_AGENT" && now.Sub(last) > 7*24*time.Hour:
		refusal = func() {
			fail(w, http.StatusBadRequest, 10, 2018278, "(#10) This message is sent outside of allowed window.")
		}
	case b.MessagingType != "RESPONSE" && !(b.MessagingType == "MESSAGE_TAG" && b.Tag == "HUMAN_AGENT"):
		refusal = func() { fail(w, http.StatusBadRequest, 100, 0, "(#100) Unsupported messaging_type or tag") }
	case badQuickReplies(b.Message.QuickReplies):
		refusal = func() {
			fail(w, http.StatusBadRequest, 100, 0, "(#100) quick_replies: at most 13, each a text with a title of up to 20 characters and a payload")
		}
	case page.Instagram && len(b.Message.Text) > 1000:
		refusal = func() {
			fail(w, http.StatusBadRequest, 100, 0, "(#100) Length of param message[text] must be less than or equal to 1000 bytes")
		}
	case len([]rune(b.Message.Text)) > 2000:
		refusal = func() {
			fail(w, http.StatusBadRequest, 100, 0, "(#100) Length of param message[text] must be less than or equal to 2000")
		}
	}
	if refusal != nil {
		s.mu.Unlock()
		refusal()
		return
	}
	s.nextMID++
	m := Sent{Kind: "message", PageID: page.ID, RecipientID: b.Recipient.ID, MID: fmt.Sprintf("m_%s_%d", page.ID, s.nextMID), Text: b.Message.Text,
		MessagingType: b.MessagingType, Tag: b.Tag, Metadata: b.Message.Metadata, QuickReplies: b.Message.QuickReplies, At: now, AnswerLost: faulty}
	if comment != nil {
		comment.PrivateReplied = true
		m.Kind, m.CommentID, m.RecipientID = "private_reply", comment.ID, comment.AuthorID
	}
	s.sent = append(s.sent, m)
	s.cond.Broadcast()
	s.mu.Unlock()
	if !s.opts.NoEchoes {
		echo := s.echo(page, m, s.opts.AppID)
		if s.opts.EchoFirst {
			_ = s.deliver(r.Context(), echo)
		} else {
			s.mu.Lock()
			s.echoes++
			s.mu.Unlock()
			go func() {
				defer func() {
					s.mu.Lock()
					s.echoes--
					s.cond.Broadcast()
					s.mu.Unlock()
				}()
				ctx, cancel := context.WithTimeout(s.stop, 10*time.Second)
				defer cancel()
				_ = s.deliver(ctx, echo)
			}()
		}
	}
	if faulty {
		failWith(w, f)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"recipient_id": b.Recipient.ID, "message_id": m.MID})
}

// badQuickReplies applies the Send API's limits on quick replies.
func badQuickReplies(q []QuickReply) bool {
	if len(q) > 13 {
		return true
	}
	for _, r := range q {
		if r.ContentType != "text" || r.Title == "" || len([]rune(r.Title)) > 20 || r.Payload == "" || len(r.Payload) > 1000 {
			return true
		}
	}
	return false
}

func object(p Page) string {
	if p.Instagram {
		return "instagram"
	}
	return "page"
}

// echo is the message_echoes delivery of a sent message.
func (s *Server) echo(page Page, m Sent, appID string) []byte {
	msg := map[string]any{"is_echo": true, "app_id": json.Number(appID), "mid": m.MID, "text": m.Text}
	if m.Metadata != "" {
		msg["metadata"] = m.Metadata
	}
	return Envelope(object(page), page.ID, m.At, map[string]any{
		"sender": map[string]string{"id": page.ID}, "recipient": map[string]string{"id": m.RecipientID},
		"timestamp": m.At.UnixMilli(), "message": msg,
	})
}

// Envelope wraps messaging events of one account into a delivery body.
func Envelope(object, accountID string, at time.Time, events ...map[string]any) []byte {
	body, _ := json.Marshal(map[string]any{"object": object, "entry": []map[string]any{{
		"id": accountID, "time": at.UnixMilli(), "messaging": events,
	}}})
	return body
}

// Attachment is a file or shared item a customer sends.
type Attachment struct {
	Type string // image, video, audio, file, share, story_mention...
	Name string // file name on the CDN (with Body)
	Body []byte // served by the emulator's CDN
	URL  string // for shares, or a file elsewhere
	// StickerID makes an image a sticker.
	StickerID int64
}

// Message is what a customer sends.
type Message struct {
	Text        string
	Attachments []Attachment
	// QuickReply is the payload of a tapped quick reply (Text is its title).
	QuickReply string
	// Postback sends a tapped button instead of a message.
	Postback *Postback
	// StoryURL makes the message a reply to the account's story (Instagram).
	StoryURL string
}

// Postback is a tapped button.
type Postback struct {
	Title   string
	Payload string
}

// CustomerSends delivers a customer's message to the page's webhook, as
// Meta would, and returns its mid. The customer becomes known to profile
// lookups and opens the 24-hour window.
func (s *Server) CustomerSends(ctx context.Context, pageID string, c Customer, m Message) (string, error) {
	s.mu.Lock()
	page, ok := s.pages[pageID]
	if !ok {
		s.mu.Unlock()
		return "", fmt.Errorf("metatest: unknown page %s", pageID)
	}
	s.customers[c.ID] = c
	now := s.opts.Now()
	s.lastWrote[pageID+"/"+c.ID] = now
	s.nextMID++
	mid := fmt.Sprintf("m_%s_%d", c.ID, s.nextMID)
	s.mu.Unlock()
	event := map[string]any{"sender": map[string]string{"id": c.ID}, "recipient": map[string]string{"id": pageID}, "timestamp": now.UnixMilli()}
	if m.Postback != nil {
		event["postback"] = map[string]string{"mid": mid, "title": m.Postback.Title, "payload": m.Postback.Payload}
	} else {
		msg := map[string]any{"mid": mid}
		if m.Text != "" {
			msg["text"] = m.Text
		}
		if m.QuickReply != "" {
			msg["quick_reply"] = map[string]string{"payload": m.QuickReply}
		}
		if m.StoryURL != "" {
			msg["reply_to"] = map[string]any{"story": map[string]string{"url": m.StoryURL, "id": "1790" + mid}}
		}
		var atts []map[string]any
		for _, a := range m.Attachments {
			u := a.URL
			if a.Body != nil {
				u = s.AddFile(a.Name, a.Body)
			}
			payload := map[string]any{"url": u}
			if a.StickerID != 0 {
				payload["sticker_id"] = a.StickerID
			}
			atts = append(atts, map[string]any{"type": a.Type, "payload": payload})
		}
		if atts != nil {
			msg["attachments"] = atts
		}
		event["message"] = msg
	}
	return mid, s.deliver(ctx, Envelope(object(page), pageID, now, event))
}

// InboxReply is a person answering in Meta's own inbox: the customer gets
// it and the app sees only its echo, without our metadata.
func (s *Server) InboxReply(ctx context.Context, pageID, customerID, text string) (string, error) {
	s.mu.Lock()
	page, ok := s.pages[pageID]
	if !ok {
		s.mu.Unlock()
		return "", fmt.Errorf("metatest: unknown page %s", pageID)
	}
	s.nextMID++
	m := Sent{PageID: pageID, RecipientID: customerID, MID: fmt.Sprintf("m_%s_%d", pageID, s.nextMID), Text: text, Inbox: true, At: s.opts.Now()}
	s.sent = append(s.sent, m)
	s.cond.Broadcast()
	s.mu.Unlock()
	return m.MID, s.deliver(ctx, s.echo(page, m, InboxAppID))
}

// CustomerGets is the customer's device receiving the page's messages: a
// message_deliveries event naming the mids not reported yet, with the
// watermark (Meta sends these for Messenger only). It returns the mids.
func (s *Server) CustomerGets(ctx context.Context, pageID, customerID string) ([]string, error) {
	s.mu.Lock()
	page, ok := s.pages[pageID]
	if !ok || page.Instagram {
		s.mu.Unlock()
		return nil, fmt.Errorf("metatest: %s is not a Facebook Page", pageID)
	}
	if s.reported == nil {
		s.reported = map[string]bool{}
	}
	mids := []string{}
	for _, m := range s.sent {
		if m.PageID == pageID && m.RecipientID == customerID && m.Kind != "comment_reply" && !s.reported[m.MID] {
			s.reported[m.MID] = true
			mids = append(mids, m.MID)
		}
	}
	now := s.opts.Now()
	s.mu.Unlock()
	return mids, s.deliver(ctx, Envelope("page", pageID, now, map[string]any{
		"sender": map[string]string{"id": customerID}, "recipient": map[string]string{"id": pageID}, "timestamp": now.UnixMilli(),
		"delivery": map[string]any{"mids": mids, "watermark": now.UnixMilli()},
	}))
}

// CustomerReads is the customer opening the conversation: Messenger's
// message_reads with everything up to now as the watermark, or Instagram's
// messaging_seen naming the last message the account sent them.
func (s *Server) CustomerReads(ctx context.Context, pageID, customerID string) error {
	s.mu.Lock()
	page, ok := s.pages[pageID]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("metatest: unknown page %s", pageID)
	}
	now := s.opts.Now()
	read := map[string]any{"watermark": now.UnixMilli()}
	if page.Instagram {
		read = nil
		for _, m := range s.sent {
			if m.PageID == pageID && m.RecipientID == customerID && m.Kind != "comment_reply" {
				read = map[string]any{"mid": m.MID}
			}
		}
	}
	s.mu.Unlock()
	if read == nil {
		return fmt.Errorf("metatest: nothing sent to %s to read", customerID)
	}
	return s.deliver(ctx, Envelope(object(page), pageID, now, map[string]any{
		"sender": map[string]string{"id": customerID}, "recipient": map[string]string{"id": pageID}, "timestamp": now.UnixMilli(),
		"read": read,
	}))
}

// Subscribe performs the webhook handshake against callbackURL with the
// verify token and, when it is answered correctly, delivers there from now on.
func (s *Server) Subscribe(ctx context.Context, callbackURL, verifyToken string) error {
	challenge := strconv.FormatInt(time.Now().UnixNano()%1e10, 10)
	q := url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {verifyToken}, "hub.challenge": {challenge}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, callbackURL+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1024))
	if res.StatusCode != http.StatusOK || string(body) != challenge {
		return fmt.Errorf("metatest: handshake failed: HTTP %d %q", res.StatusCode, body)
	}
	s.mu.Lock()
	s.webhookURL = callbackURL
	s.mu.Unlock()
	return nil
}

// Sign is the X-Hub-Signature-256 value for body.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// deliver POSTs a signed delivery to the webhook, retrying until 2xx.
func (s *Server) deliver(ctx context.Context, body []byte) error {
	s.mu.Lock()
	hook := s.webhookURL
	s.mu.Unlock()
	if hook == "" {
		return fmt.Errorf("metatest: no webhook subscribed")
	}
	var last error
	for attempt := 0; attempt <= s.opts.WebhookRetries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * s.opts.WebhookRetryDelay):
			}
		}
		code, err := s.Post(ctx, body, Sign(s.opts.AppSecret, body))
		if err == nil && code/100 == 2 {
			return nil
		}
		last = fmt.Errorf("metatest: webhook answered %d: %v", code, err)
	}
	return last
}

// Post sends one delivery with the given signature header, once, and
// returns the status.
func (s *Server) Post(ctx context.Context, body []byte, signature string) (int, error) {
	s.mu.Lock()
	hook := s.webhookURL
	s.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

// Deliver POSTs a delivery signed with the app secret, retried as Meta does.
func (s *Server) Deliver(ctx context.Context, body []byte) error { return s.deliver(ctx, body) }

// Sent returns the messages sent to a customer (all when customerID is "").
func (s *Server) Sent(customerID string) []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sentTo(customerID)
}

func (s *Server) sentTo(customerID string) []Sent {
	var out []Sent
	for _, m := range s.sent {
		if customerID == "" || m.RecipientID == customerID {
			out = append(out, m)
		}
	}
	return out
}

// WaitSent waits until at least n messages were sent to the customer.
func (s *Server) WaitSent(ctx context.Context, customerID string, n int) ([]Sent, error) {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if got := s.sentTo(customerID); len(got) >= n {
			return got, nil
		}
		if ctx.Err() != nil || s.closed {
			return s.sentTo(customerID), fmt.Errorf("metatest: %d messages to %s, waited for %d: %w", len(s.sentTo(customerID)), customerID, n, context.Cause(ctx))
		}
		s.cond.Wait()
	}
}
