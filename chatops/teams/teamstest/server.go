// Package teamstest emulates what Threadline's Teams surface talks to, in
// the spirit of net/http/httptest: a local identity service (Bot Framework
// OpenID metadata, its signing keys with endorsements, and the Entra ID
// client-credentials token endpoint) and a Bot Framework connector (create
// conversation, reply, update, in the v3 REST wire format), together with a
// client that sends Threadline activities signed as the Bot Connector signs
// them. Tests and the demo use it.
package teamstest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/threadline/threadline/internal/emulator"
)

// Options configures the emulator.
type Options struct {
	AppID       string // default 00000000-1111-2222-3333-444444444444
	AppPassword string // default teams-secret
	TenantID    string // default 72f988bf-86f1-41af-91ab-2d7cd011db47
	// Channel is the inbox channel id, default 19:inbox@thread.tacv2.
	Channel string
	// MoreChannels are further channels the bot is in (per-account
	// channels).
	MoreChannels []string
	// MaxMessageBytes answers 413 MessageSizeTooBig past it (Teams: 40 KB).
	MaxMessageBytes int
	// ThreadRate, when set, answers 429 (without Retry-After, as Teams
	// often does) to a bot sending to one thread more often than that many
	// times a second.
	ThreadRate int
}

// Message is an activity in the emulated channel: a thread root (its
// ConversationID ends in ";messageid=" + its own ID) or a reply.
type Message struct {
	ConversationID string          `json:"conversation_id"`
	ID             string          `json:"id"`
	ReplyToID      string          `json:"reply_to_id,omitempty"`
	FromBot        bool            `json:"from_bot"`
	FromID         string          `json:"from_id"`
	FromName       string          `json:"from_name,omitempty"`
	Text           string          `json:"text,omitempty"`
	TextFormat     string          `json:"text_format,omitempty"`
	Summary        string          `json:"summary,omitempty"`
	Card           json.RawMessage `json:"card,omitempty"`
	Updates        int             `json:"updates,omitempty"`
	At             time.Time       `json:"-"`
	// AnswerLost says the call was applied but its answer replaced by an
	// error (an injected fault).
	AnswerLost bool `json:"-"`
}

// IsRoot reports whether m starts a thread.
func (m Message) IsRoot() bool { return strings.HasSuffix(m.ConversationID, ";messageid="+m.ID) }

// Fault makes the next calls of an operation fail.
type Fault struct {
	Op         string // createConversation, replyToActivity, sendToConversation, updateActivity, token
	Count      int
	Code       int           // 429, 412, 5xx
	RetryAfter time.Duration // with 429
	Applied    bool          // the call takes effect, then the answer is lost
}

type signer struct {
	kid string
	key *rsa.PrivateKey
}

// Server is a running emulator.
type Server struct {
	srv  *httptest.Server
	opts Options

	mu       sync.Mutex
	changes  emulator.Changes
	signers  []signer // published keys; the last one signs
	messages []*Message
	faults   []Fault
	calls    map[string]int
	nextID   int64
	tokens   int
	sends    map[string][]time.Time // per thread, for ThreadRate
	limited  int
	holds    map[string]chan struct{} // per operation, see HoldAnswers
}

// New starts an emulator.
func New(opts Options) *Server {
	if opts.AppID == "" {
		opts.AppID = "00000000-1111-2222-3333-444444444444"
	}
	if opts.AppPassword == "" {
		opts.AppPassword = "teams-secret"
	}
	if opts.TenantID == "" {
		opts.TenantID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	}
	if opts.Channel == "" {
		opts.Channel = "19:inbox@thread.tacv2"
	}
	if opts.MaxMessageBytes == 0 {
		opts.MaxMessageBytes = 40 << 10
	}
	s := &Server{opts: opts, calls: map[string]int{}, nextID: 1732380000000, sends: map[string][]time.Time{}}
	s.signers = []signer{newSigner()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/.well-known/openidconfiguration", s.serveMetadata)
	mux.HandleFunc("GET /v1/.well-known/keys", s.serveKeys)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.serveToken)
	mux.HandleFunc("/connector/v3/conversations", s.serveConnector)
	mux.HandleFunc("/connector/v3/conversations/", s.serveConnector)
	s.srv = httptest.NewServer(mux)
	return s
}

func newSigner() signer {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err) // the system's randomness failed: nothing else would work
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return signer{kid: base64.RawURLEncoding.EncodeToString(b[:]), key: key}
}

// Close stops the emulator.
func (s *Server) Close() { s.srv.Close() }

// URL is the emulator's base URL.
func (s *Server) URL() string { return s.srv.URL }

// MetadataURL is the OpenID metadata URL (THREADLINE_TEAMS_OPENID_METADATA_URL).
func (s *Server) MetadataURL() string { return s.srv.URL + "/v1/.well-known/openidconfiguration" }

// TokenURL is the tenant's token endpoint (THREADLINE_TEAMS_TOKEN_URL).
func (s *Server) TokenURL() string { return s.srv.URL + "/" + s.opts.TenantID + "/oauth2/v2.0/token" }

// ServiceURL is the connector's base URL (THREADLINE_TEAMS_SERVICE_URL).
func (s *Server) ServiceURL() string { return s.srv.URL + "/connector/" }

// AppID, AppPassword, TenantID and Channel are the emulated bot's settings.
func (s *Server) AppID() string       { return s.opts.AppID }
func (s *Server) AppPassword() string { return s.opts.AppPassword }
func (s *Server) TenantID() string    { return s.opts.TenantID }
func (s *Server) Channel() string     { return s.opts.Channel }

// BotID is the bot's channel account id.
func (s *Server) BotID() string { return "28:" + s.opts.AppID }

// RotateKey publishes a new signing key beside the old ones and signs with
// it from now on, as Microsoft rolls its keys.
func (s *Server) RotateKey() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signers = append(s.signers, newSigner())
}

// Calls counts the requests per operation (metadata, keys, token and the
// connector operations).
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// HoldAnswers makes the calls of an operation take effect at once (a
// created thread is in the channel, where agents see it and answer) but
// keeps their answers back until release is called, as Teams can be slow to
// answer a call it already applied. Calls made after release answer at once.
func (s *Server) HoldAnswers(op string) (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holds == nil {
		s.holds = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	s.holds[op] = ch
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.holds[op] == ch {
				delete(s.holds, op)
			}
			close(ch)
		})
	}
}

// AddFault queues a fault.
func (s *Server) AddFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

func (s *Server) takeFault(op string) (Fault, bool) {
	for i, f := range s.faults {
		if f.Op == op && f.Count > 0 {
			s.faults[i].Count--
			return f, true
		}
	}
	return Fault{}, false
}

func (s *Server) notify() { s.changes.Notify() }

// WaitFor blocks until cond holds (checked after every change) or ctx ends.
func (s *Server) WaitFor(ctx context.Context, cond func(s *Server) bool) error {
	return s.changes.WaitFor(ctx, "teamstest", func() bool { return cond(s) })
}

// Messages returns copies of the messages of a thread (every message when
// conversationID is empty), oldest first.
func (s *Server) Messages(conversationID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if conversationID == "" || m.ConversationID == conversationID {
			out = append(out, *m)
		}
	}
	return out
}

// Roots returns the thread roots (the cards), oldest first.
func (s *Server) Roots() []Message {
	var out []Message
	for _, m := range s.Messages("") {
		if m.IsRoot() {
			out = append(out, m)
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, errCode, msg string) {
	writeJSON(w, code, map[string]any{"error": map[string]string{"code": errCode, "message": msg}})
}

// --- identity service ---

func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls["metadata"]++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                "https://api.botframework.com",
		"authorization_endpoint":                "https://invalid.botframework.com",
		"jwks_uri":                              s.srv.URL + "/v1/.well-known/keys",
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt"},
	})
}

func (s *Server) serveKeys(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls["keys"]++
	var keys []map[string]any
	for _, sg := range s.signers {
		pub := sg.key.PublicKey
		keys = append(keys, map[string]any{
			"kty": "RSA", "use": "sig", "kid": sg.kid,
			"n":            base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			"e":            base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
			"endorsements": []string{"msteams", "skype", "webchat", "directline"},
		})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

// serveToken is Entra ID's client-credentials grant.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls["token"]++
	f, faulted := s.takeFault("token")
	s.mu.Unlock()
	if faulted {
		writeJSON(w, f.Code, map[string]string{"error": "temporarily_unavailable"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("scope") != "https://api.botframework.com/.default" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "grant_type or scope"})
		return
	}
	if r.PathValue("tenant") != s.opts.TenantID && r.PathValue("tenant") != "botframework.com" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_tenant"})
		return
	}
	if r.PostForm.Get("client_id") != s.opts.AppID || r.PostForm.Get("client_secret") != s.opts.AppPassword {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	now := time.Now()
	tok := s.sign(jwt.MapClaims{
		"iss": "https://login.microsoftonline.com/" + s.opts.TenantID + "/v2.0", "aud": "https://api.botframework.com",
		"azp": s.opts.AppID, "tid": s.opts.TenantID, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	s.mu.Lock()
	s.tokens++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok})
}

func (s *Server) sign(claims jwt.MapClaims) string {
	s.mu.Lock()
	sg := s.signers[len(s.signers)-1]
	s.mu.Unlock()
	return signWith(sg, claims)
}

func signWith(sg signer, claims jwt.MapClaims) string {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = sg.kid
	out, err := t.SignedString(sg.key)
	if err != nil {
		panic(err) // RS256 with a valid key cannot fail
	}
	return out
}

// TokenSpec describes a channel token; ChannelToken fills in a valid one
// and tests change what they want to break.
type TokenSpec struct {
	Issuer, Audience, ServiceURL string
	IssuedAt, Expires            time.Time
	// ForeignKey signs with a key the metadata does not publish, under a
	// published kid (a forged token).
	ForeignKey bool
	// UnknownKid signs with an unpublished key and kid.
	UnknownKid bool
}

// ValidSpec is the spec of a token the Bot Connector would send now.
func (s *Server) ValidSpec() TokenSpec {
	now := time.Now()
	return TokenSpec{Issuer: "https://api.botframework.com", Audience: s.opts.AppID, ServiceURL: s.ServiceURL(),
		IssuedAt: now.Add(-time.Minute), Expires: now.Add(time.Hour)}
}

// ChannelToken signs a token as the Bot Connector does for the activities
// it sends a bot.
func (s *Server) ChannelToken(spec TokenSpec) string {
	claims := jwt.MapClaims{
		"iss": spec.Issuer, "aud": spec.Audience, "serviceurl": spec.ServiceURL,
		"nbf": spec.IssuedAt.Unix(), "iat": spec.IssuedAt.Unix(), "exp": spec.Expires.Unix(),
	}
	s.mu.Lock()
	sg := s.signers[len(s.signers)-1]
	s.mu.Unlock()
	switch {
	case spec.UnknownKid:
		sg = newSigner()
	case spec.ForeignKey:
		sg = signer{kid: sg.kid, key: newSigner().key}
	}
	return signWith(sg, claims)
}

// --- connector ---

// authorize checks the bearer token the bot got from the token endpoint.
func (s *Server) authorize(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || scheme != "Bearer" {
		return false
	}
	_, err := jwt.Parse(tok, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, sg := range s.signers {
			if sg.kid == kid {
				return &sg.key.PublicKey, nil
			}
		}
		return nil, fmt.Errorf("unknown kid")
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience("https://api.botframework.com"), jwt.WithExpirationRequired())
	return err == nil
}

type inActivity struct {
	Type        string          `json:"type"`
	ID          string          `json:"id"`
	Text        string          `json:"text"`
	TextFormat  string          `json:"textFormat"`
	Summary     string          `json:"summary"`
	ReplyToID   string          `json:"replyToId"`
	Timestamp   *string         `json:"timestamp"`
	Attachments []inAttachment  `json:"attachments"`
	From        json.RawMessage `json:"from"`
}

type inAttachment struct {
	ContentType string          `json:"contentType"`
	Content     json.RawMessage `json:"content"`
}

func (s *Server) serveConnector(w http.ResponseWriter, r *http.Request) {
	// Conversation ids carry ":" ";" "@" "=": split the escaped path and
	// unescape each segment, as the connector does.
	var parts []string
	for _, p := range strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/connector/v3/conversations"), "/") {
		if p == "" {
			continue
		}
		u, err := url.PathUnescape(p)
		if err != nil {
			writeError(w, http.StatusBadRequest, "BadSyntax", "bad path")
			return
		}
		parts = append(parts, u)
	}
	var op string
	switch {
	case r.Method == http.MethodPost && len(parts) == 0:
		op = "createConversation"
	case r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "activities":
		op = "sendToConversation"
	case r.Method == http.MethodPost && len(parts) == 3 && parts[1] == "activities":
		op = "replyToActivity"
	case r.Method == http.MethodPut && len(parts) == 3 && parts[1] == "activities":
		op = "updateActivity"
	default:
		writeError(w, http.StatusNotFound, "NotFound", "no such operation")
		return
	}
	if !s.authorize(r) {
		writeError(w, http.StatusUnauthorized, "Unauthorized", "Authorization has been denied for this request.")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadSyntax", "cannot read body")
		return
	}
	if len(body) > s.opts.MaxMessageBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "MessageSizeTooBig", "Message size too large")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	f, faulted := s.takeFault(op)
	if faulted && !f.Applied {
		s.writeFault(w, f)
		return
	}
	if len(parts) > 0 && s.overRate(parts[0]) {
		s.limited++
		writeError(w, http.StatusTooManyRequests, "TooManyRequests", "Too many requests")
		return
	}
	code, resp := s.apply(op, parts, body)
	if code >= 300 {
		writeError(w, code, resp["code"], resp["message"])
		return
	}
	if faulted {
		for _, m := range s.messages {
			if m.ID == resp["id"] || m.ID == resp["activityId"] {
				m.AnswerLost = true
			}
		}
		s.writeFault(w, f)
		return
	}
	if hold := s.holds[op]; hold != nil {
		s.mu.Unlock()
		select {
		case <-hold:
		case <-r.Context().Done():
		}
		s.mu.Lock() // for the deferred unlock
	}
	writeJSON(w, code, resp)
}

// overRate counts a send to a thread against ThreadRate; s.mu is held.
func (s *Server) overRate(thread string) bool {
	if s.opts.ThreadRate <= 0 {
		return false
	}
	now := time.Now()
	recent := s.sends[thread][:0]
	for _, t := range s.sends[thread] {
		if now.Sub(t) < time.Second {
			recent = append(recent, t)
		}
	}
	if len(recent) >= s.opts.ThreadRate {
		s.sends[thread] = recent
		return true
	}
	s.sends[thread] = append(recent, now)
	return false
}

// RateLimited counts the 429s ThreadRate answered.
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limited
}

func (s *Server) writeFault(w http.ResponseWriter, f Fault) {
	if f.Code == http.StatusTooManyRequests && f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter.Round(time.Second)/time.Second)))
	}
	writeError(w, f.Code, "ServiceError", http.StatusText(f.Code))
}

// apply performs a connector operation; s.mu is held.
func (s *Server) apply(op string, parts []string, body []byte) (int, map[string]string) {
	bad := func(msg string) (int, map[string]string) {
		return http.StatusBadRequest, map[string]string{"code": "BadArgument", "message": msg}
	}
	var a inActivity
	var params struct {
		IsGroup     bool        `json:"isGroup"`
		TenantID    string      `json:"tenantId"`
		Activity    *inActivity `json:"activity"`
		ChannelData struct {
			Channel *struct {
				ID string `json:"id"`
			} `json:"channel"`
		} `json:"channelData"`
	}
	if op == "createConversation" {
		if err := json.Unmarshal(body, &params); err != nil {
			return bad("body is not ConversationParameters")
		}
		if params.Activity == nil {
			return bad("activity required to start a channel thread")
		}
		a = *params.Activity
	} else if err := json.Unmarshal(body, &a); err != nil {
		return bad("body is not an activity")
	}
	if a.Type != "message" {
		return bad("activity type must be message")
	}
	if a.Timestamp != nil && strings.HasPrefix(*a.Timestamp, "0001-") {
		return bad("timestamp is the zero time")
	}
	m := &Message{ID: s.newID(), Text: a.Text, TextFormat: a.TextFormat, Summary: a.Summary, FromBot: true, FromID: s.BotID(), ReplyToID: a.ReplyToID, At: time.Now()}
	for _, at := range a.Attachments {
		if at.ContentType == "application/vnd.microsoft.card.adaptive" {
			m.Card = at.Content
		}
	}
	switch op {
	case "createConversation":
		if !params.IsGroup || params.ChannelData.Channel == nil ||
			(params.ChannelData.Channel.ID != s.opts.Channel && !slices.Contains(s.opts.MoreChannels, params.ChannelData.Channel.ID)) {
			return http.StatusNotFound, map[string]string{"code": "ConversationNotFound", "message": "channel not found"}
		}
		if params.TenantID != s.opts.TenantID {
			return http.StatusForbidden, map[string]string{"code": "BotNotInConversationRoster", "message": "tenant"}
		}
		m.ConversationID = params.ChannelData.Channel.ID + ";messageid=" + m.ID
		s.add(m)
		return http.StatusCreated, map[string]string{"id": m.ConversationID, "activityId": m.ID}
	case "sendToConversation", "replyToActivity":
		if !s.threadExists(parts[0]) {
			return http.StatusNotFound, map[string]string{"code": "ConversationNotFound", "message": "Conversation not found."}
		}
		m.ConversationID = parts[0]
		if op == "replyToActivity" && m.ReplyToID == "" {
			m.ReplyToID = parts[2]
		}
		s.add(m)
		return http.StatusCreated, map[string]string{"id": m.ID}
	default: // updateActivity
		for _, old := range s.messages {
			if old.ConversationID == parts[0] && old.ID == parts[2] {
				if !old.FromBot {
					return http.StatusForbidden, map[string]string{"code": "Forbidden", "message": "a bot can update only its own activities"}
				}
				old.Text, old.TextFormat, old.Summary, old.Updates = m.Text, m.TextFormat, m.Summary, old.Updates+1
				if m.Card != nil {
					old.Card = m.Card
				}
				s.notify()
				return http.StatusOK, map[string]string{"id": old.ID}
			}
		}
		return http.StatusNotFound, map[string]string{"code": "ActivityNotFound", "message": "Activity not found."}
	}
}

func (s *Server) threadExists(conv string) bool {
	for _, m := range s.messages {
		if m.ConversationID == conv {
			return true
		}
	}
	return false
}

func (s *Server) newID() string {
	s.nextID++
	return strconv.FormatInt(s.nextID, 10)
}

func (s *Server) add(m *Message) {
	s.messages = append(s.messages, m)
	s.notify()
}
