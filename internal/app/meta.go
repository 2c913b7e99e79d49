package app

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/threadline/threadline/adapters/meta"
	"github.com/threadline/threadline/bridge"
	tlslack "github.com/threadline/threadline/chatops/slack"
)

// Meta (Messenger, Instagram): kept apart from app.go so the wiring of each
// platform stays in its own block.

func (a *App) connectMeta(ctx context.Context, opts Options) error {
	accounts, err := meta.ParseAccounts(a.cfg.Meta.Accounts.Reveal())
	if err != nil {
		return err
	}
	m, err := meta.New(meta.Options{
		AppSecret: a.cfg.Meta.AppSecret.Reveal(), VerifyToken: a.cfg.Meta.VerifyToken.Reveal(), Accounts: accounts,
		APIURL: a.cfg.Meta.APIURL, GraphVersion: a.cfg.Meta.GraphVersion, HumanAgentTag: a.cfg.Meta.HumanAgentTag,
		Logger: a.log, Clock: opts.Clock, HTTPClient: a.client(&http.Client{}),
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
