package app

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/threadline/threadline/bridge"
	tlteams "github.com/threadline/threadline/chatops/teams"
)

// teamsParts is the Teams surface and its messaging endpoint (issue #9).
type teamsParts struct {
	surface *tlteams.Surface
	handler *tlteams.Handler
}

// connectTeams builds the Teams surface. Nothing is called yet: the token
// is fetched with the first send and the signing keys with the first
// inbound request, so a Teams outage does not stop the process.
func (a *App) connectTeams(opts Options) {
	cfg := a.cfg.Teams
	tokenURL := cfg.TokenURL
	if tokenURL == "" {
		tokenURL = tlteams.TenantTokenURL(cfg.TenantID)
	}
	client := a.client(&http.Client{Timeout: 30 * time.Second})
	connector := &tlteams.Connector{
		Tokens:     &tlteams.TokenSource{AppID: cfg.AppID, Password: cfg.AppPassword.Reveal(), TokenURL: tokenURL, HTTPClient: client, Clock: opts.Clock},
		HTTPClient: client, RateLimited: func(op string) { a.metrics.RateLimited("teams." + op) },
	}
	s := tlteams.NewSurface(tlteams.Options{
		AppID: cfg.AppID, TenantID: cfg.TenantID, Channel: cfg.Channel, ServiceURL: cfg.ServiceURL,
		Connector: connector, ServiceURLs: tlteams.StoreServiceURLs{Store: a.store}, Logger: a.log, Limiter: a.limiter,
	})
	validator := tlteams.NewValidator(tlteams.ValidatorOptions{AppID: cfg.AppID, MetadataURL: cfg.OpenIDMetadataURL, Clock: opts.Clock})
	a.teams = &teamsParts{
		surface: s,
		handler: tlteams.NewHandler(tlteams.HandlerOptions{
			Auth: validator, Learner: s, AppID: cfg.AppID, TenantID: cfg.TenantID, Logger: a.log, Observe: a.metrics.Webhook,
			Teller: s, ReplyMode: cfg.ReplyMode, Reports: a.bridge,
			Roles: tlteams.Roles{Supervisors: a.cfg.Roles.Supervisors, Managers: a.cfg.Roles.Managers, Admins: a.cfg.Roles.Admins},
		}),
	}
	a.log.Info("teams configured", "tenant", cfg.TenantID, "channel", cfg.Channel)
}

func (a *App) teamsRoutes(r chi.Router) {
	if a.teams != nil {
		a.teams.handler.Routes(r)
	}
}

// routeSurface sends a new conversation where THREADLINE_SURFACE_ROUTES
// says (its account's route, else its platform's), else to
// THREADLINE_DEFAULT_SURFACE.
func (a *App) routeSurface(c bridge.Conversation, acc bridge.Account) bridge.Surface {
	surface := a.cfg.DefaultSurface
	matched := false
	for _, r := range a.cfg.SurfaceRoutes {
		if r.Platform != string(c.Platform) {
			continue
		}
		if r.Account == acc.ExternalID {
			return bridge.Surface(r.Surface)
		}
		if r.Account == "" && !matched {
			surface, matched = r.Surface, true
		}
	}
	// An account's own channel is more specific than its platform's route.
	if s, ok := a.metaSurface(acc); ok {
		return s
	}
	return bridge.Surface(surface)
}
