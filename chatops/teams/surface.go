package teams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/store/ratelimit"
)

// ServiceURLs persists the connector URL of each tenant. Teams tells a bot
// its tenant's serviceUrl on every activity and may move it; proactive
// messages (every thread Threadline opens) must use the latest one, also
// after a restart.
type ServiceURLs interface {
	ServiceURL(ctx context.Context, tenantID string) (string, error)
	SetServiceURL(ctx context.Context, tenantID, url string) error
}

// StoreServiceURLs keeps service URLs as cursors in the bridge store.
type StoreServiceURLs struct{ Store bridge.Store }

func cursorName(tenantID string) string { return "teams:service_url:" + tenantID }

// ServiceURL implements ServiceURLs; "" when none is recorded.
func (s StoreServiceURLs) ServiceURL(ctx context.Context, tenantID string) (string, error) {
	var v string
	err := s.Store.InTx(ctx, func(ctx context.Context, tx bridge.Tx) error {
		var err error
		v, err = tx.GetCursor(ctx, cursorName(tenantID))
		if errors.Is(err, bridge.ErrNotFound) {
			v, err = "", nil
		}
		return err
	})
	return v, err
}

// SetServiceURL implements ServiceURLs.
func (s StoreServiceURLs) SetServiceURL(ctx context.Context, tenantID, url string) error {
	return s.Store.InTx(ctx, func(ctx context.Context, tx bridge.Tx) error {
		return tx.SetCursor(ctx, cursorName(tenantID), url)
	})
}

// Options configures the surface.
type Options struct {
	AppID    string
	TenantID string
	// Channel is the inbox channel id (19:...@thread.tacv2).
	Channel string
	// ServiceURL is the connector URL used until Teams tells us our
	// tenant's (default https://smba.trafficmanager.net/teams/).
	ServiceURL  string
	Connector   *Connector
	ServiceURLs ServiceURLs
	Logger      *slog.Logger
	// Limiter paces connector calls across replicas (store/ratelimit);
	// nil paces this process only.
	Limiter Limiter
	// ThreadInterval spaces the bot's sends to one thread (default 500 ms:
	// Teams allows about 7 a second and 60 in 30 s per bot and thread);
	// AppInterval spaces every connector call of the bot in the tenant
	// (default 1/30 s: about 30 requests a second per app and tenant).
	ThreadInterval, AppInterval time.Duration
}

// Limiter spaces calls per key; see store/ratelimit.
type Limiter interface {
	Reserve(ctx context.Context, key string, interval time.Duration) (time.Duration, error)
}

// DefaultServiceURL is the global connector endpoint for proactive messages.
const DefaultServiceURL = "https://smba.trafficmanager.net/teams/"

// Surface is the Teams chat surface.
type Surface struct {
	opts Options
	log  *slog.Logger

	mu         sync.Mutex
	serviceURL string // the tenant's latest, "" until loaded
}

var _ bridge.ChatSurface = (*Surface)(nil)

// NewSurface returns the surface.
func NewSurface(opts Options) *Surface {
	if opts.ServiceURL == "" {
		opts.ServiceURL = DefaultServiceURL
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Limiter == nil {
		opts.Limiter = ratelimit.NewLocal(nil)
	}
	if opts.ThreadInterval == 0 {
		opts.ThreadInterval = 500 * time.Millisecond
	}
	if opts.AppInterval == 0 {
		opts.AppInterval = time.Second / 30
	}
	return &Surface{opts: opts, log: opts.Logger}
}

// Surface implements bridge.ChatSurface.
func (s *Surface) Surface() bridge.Surface { return bridge.SurfaceTeams }

// Channel is the inbox channel id.
func (s *Surface) Channel() string { return s.opts.Channel }

// TenantID is the tenant of the inbox channel.
func (s *Surface) TenantID() string { return s.opts.TenantID }

// AppID is the bot's app id; its activities are never relayed.
func (s *Surface) AppID() string { return s.opts.AppID }

// serviceURLFor returns the connector URL for the tenant: the latest Teams
// sent, else the configured one.
func (s *Surface) serviceURLFor(ctx context.Context) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serviceURL != "" {
		return s.serviceURL
	}
	if s.opts.ServiceURLs != nil {
		u, err := s.opts.ServiceURLs.ServiceURL(ctx, s.opts.TenantID)
		if err != nil {
			s.log.Warn("teams: load service url, using the configured one", "err", err)
			return s.opts.ServiceURL
		}
		if u != "" {
			s.serviceURL = u
			return u
		}
	}
	return s.opts.ServiceURL
}

// Learn records the serviceUrl of a validated activity from our tenant.
func (s *Surface) Learn(ctx context.Context, tenantID, url string) error {
	if tenantID != s.opts.TenantID || url == "" {
		return nil
	}
	s.mu.Lock()
	same := s.serviceURL == url
	s.mu.Unlock()
	if same {
		return nil
	}
	if s.opts.ServiceURLs != nil {
		if err := s.opts.ServiceURLs.SetServiceURL(ctx, tenantID, url); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.serviceURL = url
	s.mu.Unlock()
	return nil
}

// pace asks the limiter before a call to a thread (or, for a new thread,
// the channel) and turns a wait into a retry-after for the delivery lane:
// an early call would only earn a 429.
func (s *Surface) pace(ctx context.Context, conversationID string) error {
	for _, k := range []struct {
		key      string
		interval time.Duration
	}{
		{"teams:thread:" + conversationID, s.opts.ThreadInterval},
		{"teams:app:" + s.opts.AppID + ":" + s.opts.TenantID, s.opts.AppInterval},
	} {
		wait, err := s.opts.Limiter.Reserve(ctx, k.key, k.interval)
		if err != nil {
			return err
		}
		if wait > 0 {
			return &bridge.RetryAfterError{After: wait, Err: fmt.Errorf("pacing %s", k.key)}
		}
	}
	return nil
}

// OpenThread implements bridge.ChatSurface: a new conversation in the inbox
// channel whose root is the card. The conversation id and root activity id
// Teams returns are the thread's reference.
func (s *Surface) OpenThread(ctx context.Context, card bridge.Card, first bridge.MessageView) (bridge.ChatThread, error) {
	a, err := cardActivity(card)
	if err != nil {
		return bridge.ChatThread{}, bridge.Permanent(err)
	}
	channel := s.opts.Channel
	if card.Channel != "" {
		channel = card.Channel
	}
	if err := s.pace(ctx, channel); err != nil {
		return bridge.ChatThread{}, err
	}
	res, err := s.opts.Connector.CreateConversation(ctx, s.serviceURLFor(ctx), ConversationParameters{
		IsGroup:  true,
		Bot:      &IDName{ID: "28:" + s.opts.AppID},
		TenantID: s.opts.TenantID,
		Activity: &a,
		ChannelData: &ChannelData{
			Channel: &IDName{ID: channel},
			Tenant:  &IDName{ID: s.opts.TenantID},
		},
	})
	if err != nil {
		return bridge.ChatThread{}, err
	}
	return bridge.ChatThread{Workspace: s.opts.TenantID, Channel: res.ID, ThreadRef: res.ActivityID}, nil
}

func (s *Surface) reply(ctx context.Context, t bridge.ChatThread, a Activity) (string, error) {
	if err := s.pace(ctx, t.Channel); err != nil {
		return "", err
	}
	id, err := s.opts.Connector.ReplyToActivity(ctx, s.serviceURLFor(ctx), t.Channel, t.ThreadRef, a)
	if err == nil && id == "" {
		// Nothing to record: an edit or delivery mark could not find it.
		s.log.Warn("teams: reply answered without an activity id", "conversation", t.Channel)
	}
	return id, err
}

// PostMessage implements bridge.ChatSurface.
func (s *Surface) PostMessage(ctx context.Context, t bridge.ChatThread, m bridge.MessageView) (string, error) {
	return s.reply(ctx, t, textActivity(MessageText(m)))
}

// UpdateMessage implements bridge.ChatSurface.
func (s *Surface) UpdateMessage(ctx context.Context, t bridge.ChatThread, ref string, m bridge.MessageView) error {
	if ref == t.ThreadRef {
		return nil // the root shows the first message through the card, refreshed on its own lane
	}
	if err := s.pace(ctx, t.Channel); err != nil {
		return err
	}
	return s.opts.Connector.UpdateActivity(ctx, s.serviceURLFor(ctx), t.Channel, ref, textActivity(MessageText(m)))
}

// UpdateCard implements bridge.ChatSurface.
func (s *Surface) UpdateCard(ctx context.Context, t bridge.ChatThread, card bridge.Card) error {
	a, err := cardActivity(card)
	if err != nil {
		return bridge.Permanent(err)
	}
	if err := s.pace(ctx, t.Channel); err != nil {
		return err
	}
	return s.opts.Connector.UpdateActivity(ctx, s.serviceURLFor(ctx), t.Channel, t.ThreadRef, a)
}

// PostNotice implements bridge.ChatSurface.
func (s *Surface) PostNotice(ctx context.Context, t bridge.ChatThread, text string) (string, error) {
	return s.reply(ctx, t, textActivity("⚠️ "+escapeText(text)))
}

// MarkDelivered implements bridge.ChatSurface. A bot cannot react to a
// person's message in Teams, so the mark is a short reply in the thread.
func (s *Surface) MarkDelivered(ctx context.Context, t bridge.ChatThread, ref string) error {
	a := textActivity("✅ Delivered to the customer.")
	a.ReplyToID = ref
	_, err := s.reply(ctx, t, a)
	return err
}

var receiptTexts = map[bridge.ReceiptStatus]string{
	bridge.ReceiptDelivered: "📨 Reached the customer's device.",
	bridge.ReceiptSeen:      "👀 Seen by the customer.",
}

var _ bridge.ReceiptMarker = (*Surface)(nil)

// MarkReceipt implements bridge.ReceiptMarker with a short reply, as
// MarkDelivered does; the bridge asks once per message and status.
func (s *Surface) MarkReceipt(ctx context.Context, t bridge.ChatThread, ref string, status bridge.ReceiptStatus) error {
	text, ok := receiptTexts[status]
	if !ok {
		return bridge.Permanent(fmt.Errorf("teams: no mark for receipt %s", status))
	}
	a := textActivity(text)
	a.ReplyToID = ref
	_, err := s.reply(ctx, t, a)
	return err
}

// Coalescing bounds: a Teams message is at most 40 KB (UTF-16, with the
// markup), and a post of a few thousand characters stays readable.
const (
	coalesceMessages = 20
	coalesceChars    = 4000
)

var _ bridge.Coalescer = (*Surface)(nil)

// CoalesceLimit implements bridge.Coalescer: customer messages waiting for
// a thread's send budget go out together.
func (s *Surface) CoalesceLimit() (int, int) { return coalesceMessages, coalesceChars }

// Tell implements Teller: the bot's answer to an agent, in the thread.
// It waits out short pacing: nothing else would retry it.
func (s *Surface) Tell(ctx context.Context, conversationID, rootID, text string) error {
	t := bridge.ChatThread{Channel: conversationID, ThreadRef: rootID}
	for {
		_, err := s.reply(ctx, t, textActivity("🤖 "+escapeText(text)))
		var retry *bridge.RetryAfterError
		if !errors.As(err, &retry) || retry.After > 5*time.Second {
			return err
		}
		timer := time.NewTimer(retry.After)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// Roles are the role settings as Teams user ids (29:...) or Entra object
// ids; everyone not named is an agent, so taking someone off the list
// takes the role away.
type Roles struct {
	Supervisors, Managers, Admins []string
}

// RoleOf implements RoleSource.
func (r Roles) RoleOf(_ context.Context, u ChannelAccount) bridge.Role {
	for _, level := range []struct {
		ids  []string
		role bridge.Role
	}{{r.Admins, bridge.RoleAdmin}, {r.Managers, bridge.RoleManager}, {r.Supervisors, bridge.RoleSupervisor}} {
		for _, id := range level.ids {
			if id != "" && (id == u.ID || id == u.AADObjectID) {
				return level.role
			}
		}
	}
	return bridge.RoleAgent
}
