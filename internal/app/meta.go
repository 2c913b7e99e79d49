package app

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/threadline/threadline/adapters/meta"
	"github.com/threadline/threadline/bridge"
	tlslack "github.com/threadline/threadline/chatops/slack"
	"github.com/threadline/threadline/internal/config"
	"github.com/threadline/threadline/store/ratelimit"
	tlredis "github.com/threadline/threadline/store/redis"
)

// Meta (Messenger, Instagram): kept apart from app.go so the wiring of each
// platform stays in its own block.

func (a *App) connectMeta(ctx context.Context, opts Options) error {
	accounts := make([]meta.Account, 0, len(a.cfg.Meta.AccountList))
	for _, acc := range a.cfg.Meta.AccountList {
		accounts = append(accounts, meta.Account{ID: acc.ID, Token: acc.Token.Reveal(), Name: acc.Name})
	}
	m, err := meta.New(meta.Options{
		AppSecret: a.cfg.Meta.AppSecret.Reveal(), VerifyToken: a.cfg.Meta.VerifyToken.Reveal(), Accounts: accounts,
		APIURL: a.cfg.Meta.APIURL, GraphVersion: a.cfg.Meta.GraphVersion, HumanAgentTag: a.cfg.Meta.HumanAgentTag,
		Logger: a.log, Clock: opts.Clock, HTTPClient: a.client(&http.Client{}), Throttle: a.metaThrottle(opts),
	})
	if err != nil {
		return err
	}
	if err := m.Connect(ctx); err != nil {
		return err
	}
	a.meta = m
	a.log.Info("meta connected", "accounts", len(accounts), "graph_version", a.cfg.Meta.GraphVersion)
	return nil
}

// metaFiles lets the Slack surface copy Messenger and Instagram attachments.
func (a *App) metaFiles(files map[bridge.Platform]tlslack.FileSource) {
	if a.meta == nil {
		return
	}
	files[bridge.PlatformMessenger] = a.meta
	files[bridge.PlatformInstagram] = a.meta
}

func (a *App) addMetaPlatforms() {
	if a.meta == nil {
		return
	}
	for _, p := range a.meta.Platforms() {
		a.bridge.AddPlatform(p)
	}
}

func (a *App) metaRoutes(r chi.Router) {
	if a.meta == nil {
		return
	}
	observe := func(outcome string, took time.Duration) { a.metrics.Webhook("meta", outcome, took) }
	h := a.meta.WebhookHandler(a.bridge, observe)
	r.Method(http.MethodGet, "/webhooks/meta", h)
	r.Method(http.MethodPost, "/webhooks/meta", h)
}

// metaAccount is the configured Meta account a conversation came through,
// if it is one.
func (a *App) metaAccount(acc bridge.Account) (config.MetaAccount, bool) {
	switch acc.Platform {
	case bridge.PlatformMessenger, bridge.PlatformInstagram, bridge.PlatformFacebook:
		return a.cfg.Meta.MetaAccountByID(acc.ExternalID)
	}
	return config.MetaAccount{}, false
}

// metaSurface routes an account with a channel on one surface only there.
func (a *App) metaSurface(acc bridge.Account) (bridge.Surface, bool) {
	m, ok := a.metaAccount(acc)
	switch {
	case !ok || (m.SlackChannel != "") == (m.TeamsChannel != ""):
		return "", false
	case m.SlackChannel != "":
		return bridge.SurfaceSlack, true
	}
	return bridge.SurfaceTeams, true
}

// routeChannel opens a Meta account's conversations in its own channel.
func (a *App) routeChannel(_ bridge.Conversation, acc bridge.Account, s bridge.Surface) string {
	m, ok := a.metaAccount(acc)
	if !ok {
		return ""
	}
	if s == bridge.SurfaceTeams {
		return m.TeamsChannel
	}
	return m.SlackChannel
}

// metaSlackChannels lists the Meta accounts' own Slack channels.
func (a *App) metaSlackChannels() []string {
	var out []string
	for _, m := range a.cfg.Meta.AccountList {
		if m.SlackChannel != "" {
			out = append(out, m.SlackChannel)
		}
	}
	return out
}

// metaThrottle shares Meta's throttles through Redis when there is one, so
// a Page throttled on one replica is left alone by all of them.
func (a *App) metaThrottle(opts Options) meta.Throttle {
	if a.redis == nil {
		return nil
	}
	return ratelimit.NewFallbackBlocks(tlredis.NewBlocker(a.redis, "threadline:rl:"), opts.Clock, a.log)
}
