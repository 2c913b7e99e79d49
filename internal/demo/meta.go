package demo

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/threadline/threadline/adapters/meta/metatest"
	"github.com/threadline/threadline/internal/config"
	"github.com/threadline/threadline/internal/httpserver"
)

// The demo's Facebook Page and Instagram account.
const (
	demoPageID = "112233445566778"
	demoIGID   = "17841400000000001"
)

// metaDemo lets the page act as a Messenger or Instagram customer: the
// Graph API emulator delivers their messages and comments to Threadline's
// /webhooks/meta, signed with the app secret, and records the replies.
type metaDemo struct {
	em     *metatest.Server
	verify string
	base   string        // Threadline's address
	ready  chan struct{} // closed once the webhook is subscribed

	mu        sync.Mutex
	customers []*metaCustomer
}

type metaCustomer struct {
	Customer metatest.Customer
	Platform string // messenger or instagram
	lines    []chatLine
	// comment is the customer's latest top-level comment: their next
	// comment replies under it, as people continue a comment thread.
	comment string
}

// newMetaDemo starts the emulator and points the configuration at it.
func newMetaDemo(cfg *config.Config) (*metaDemo, error) {
	em := metatest.New(metatest.Options{Pages: []metatest.Page{
		{ID: demoPageID, Token: "EAADEMOPAGE", Name: "Acme Support"},
		{ID: demoIGID, Token: "IGDEMOTOKEN", Name: "acme.shop", Instagram: true},
	}})
	m := &metaDemo{em: em, verify: randomSecret(), ready: make(chan struct{})}
	cfg.Meta = config.Meta{AppSecret: config.Secret(em.AppSecret()), VerifyToken: config.Secret(m.verify),
		APIURL: em.URL(), GraphVersion: "v21.0", HumanAgentTag: true}
	if err := cfg.Meta.SetAccounts(em.Accounts()); err != nil {
		em.Close()
		return nil, fmt.Errorf("demo: the emulator's accounts: %w", err)
	}
	m.add("Maya Lopez", "messenger")
	m.add("Rae Sun", "instagram")
	return m, nil
}

// subscribeWhenServing performs the webhook handshake, as when the Meta
// app is set up, once Threadline answers.
func (m *metaDemo) subscribeWhenServing(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := m.em.Subscribe(hctx, m.base+"/webhooks/meta", m.verify)
		cancel()
		if err == nil {
			close(m.ready)
			return
		}
		if ctx.Err() != nil {
			return
		}
		log.Debug("demo: meta webhook handshake not answered yet", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *metaDemo) add(name, platform string) *metaCustomer {
	m.mu.Lock()
	defer m.mu.Unlock()
	first, last, _ := strings.Cut(name, " ")
	id := fmt.Sprintf("690000000%07d", len(m.customers)+1) // page-scoped ids are long digit strings
	c := &metaCustomer{Platform: platform, Customer: metatest.Customer{ID: id, Name: name, FirstName: first, LastName: last,
		Username: strings.ToLower(strings.ReplaceAll(name, " ", "."))}}
	m.customers = append(m.customers, c)
	m.em.AddCustomer(c.Customer)
	return c
}

func (m *metaDemo) find(id string) *metaCustomer {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.customers {
		if c.Customer.ID == id {
			return c
		}
	}
	return nil
}

func (d *Demo) metaRoutes(r chi.Router) {
	r.Post("/demo/api/meta/customers", d.metaNewCustomer)
	r.Post("/demo/api/meta/send", d.metaSend)
}

func (d *Demo) metaNewCustomer(w http.ResponseWriter, r *http.Request) {
	var in struct{ Name, Platform string }
	if !decode(w, r, &in) {
		return
	}
	if strings.TrimSpace(in.Name) == "" || (in.Platform != "messenger" && in.Platform != "instagram") {
		http.Error(w, "name and platform (messenger or instagram) required", http.StatusBadRequest)
		return
	}
	c := d.meta.add(strings.TrimSpace(in.Name), in.Platform)
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"id": c.Customer.ID})
}

// metaSend delivers what the customer did: a DM, a public comment on the
// page's post, or (Instagram) a reply to the account's story.
func (d *Demo) metaSend(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ID   string `json:"id"`
		Text string `json:"text"`
		Kind string `json:"kind"` // dm (default), comment, story
	}
	if !decode(w, r, &in) {
		return
	}
	c := d.meta.find(in.ID)
	if c == nil || strings.TrimSpace(in.Text) == "" {
		http.Error(w, "unknown customer or empty text", http.StatusBadRequest)
		return
	}
	select {
	case <-d.meta.ready:
	case <-r.Context().Done():
		return
	case <-time.After(10 * time.Second):
		http.Error(w, "the Meta webhook is not subscribed yet", http.StatusServiceUnavailable)
		return
	}
	account := demoPageID
	if c.Platform == "instagram" {
		account = demoIGID
	}
	line := chatLine{From: "customer", Text: in.Text, At: time.Now()}
	var err error
	switch in.Kind {
	case "comment":
		line.Text = "💬 comment on the post: " + in.Text
		d.meta.mu.Lock()
		parent := c.comment
		d.meta.mu.Unlock()
		var id string
		id, err = d.meta.em.CustomerComments(r.Context(), account, c.Customer, metatest.NewComment{Text: in.Text, ParentID: parent,
			Permalink: "https://www.facebook.com/acme/posts/pfbid0demo"})
		if err == nil && parent == "" {
			d.meta.mu.Lock()
			c.comment = id
			d.meta.mu.Unlock()
		}
	case "story":
		line.Text = "↩ reply to your story: " + in.Text
		_, err = d.meta.em.CustomerSends(r.Context(), account, c.Customer, metatest.Message{Text: in.Text, StoryURL: "https://www.instagram.com/stories/acme.shop/3141592653"})
	default:
		_, err = d.meta.em.CustomerSends(r.Context(), account, c.Customer, metatest.Message{Text: in.Text})
	}
	if err != nil {
		http.Error(w, "meta delivery failed: "+err.Error(), http.StatusBadGateway)
		return
	}
	d.meta.mu.Lock()
	c.lines = append(c.lines, line)
	d.meta.mu.Unlock()
	httpserver.WriteJSON(w, http.StatusOK, map[string]any{"ok": true})
}

type metaCustomerView struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Platform string     `json:"platform"`
	Messages []chatLine `json:"messages"`
}

var sentLabels = map[string]string{"comment_reply": "💬 reply to your comment: ", "private_reply": "✉ private reply to your comment: "}

func (d *Demo) metaState() any {
	if d.meta == nil {
		return nil
	}
	d.meta.mu.Lock()
	defer d.meta.mu.Unlock()
	out := []metaCustomerView{}
	for _, c := range d.meta.customers {
		lines := append([]chatLine{}, c.lines...)
		for _, s := range d.meta.em.Sent(c.Customer.ID) {
			lines = append(lines, chatLine{From: "bot", Text: sentLabels[s.Kind] + s.Text, At: s.At})
		}
		sort.SliceStable(lines, func(i, j int) bool { return lines[i].At.Before(lines[j].At) })
		out = append(out, metaCustomerView{ID: c.Customer.ID, Name: c.Customer.Name, Platform: c.Platform, Messages: lines})
	}
	return map[string]any{"customers": out}
}
