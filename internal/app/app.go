package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/threadline/threadline/adapters/meta"
	"github.com/threadline/threadline/adapters/telegram"
	"github.com/threadline/threadline/bridge"
	tlslack "github.com/threadline/threadline/chatops/slack"
	"github.com/threadline/threadline/internal/config"
	"github.com/threadline/threadline/internal/httpserver"
	"github.com/threadline/threadline/internal/logctx"
	"github.com/threadline/threadline/internal/metrics"
	"github.com/threadline/threadline/internal/tracing"
	"github.com/threadline/threadline/store/ratelimit"
	tlredis "github.com/threadline/threadline/store/redis"
)

// App is one running Threadline process.
type App struct {
	cfg      config.Config
	clock    bridge.Clock
	log      *slog.Logger
	store    Store
	bridge   *bridge.Bridge
	metrics  *metrics.Registry
	server   *httpserver.Server
	limiter  ratelimit.Limiter
	fallback *ratelimit.Fallback
	redis    *goredis.Client
	telegram *telegram.Adapter
	meta     *meta.Adapter
	slack    *tlslack.Surface
	handler  *tlslack.Handler
	teams    *teamsParts
	roles    *tlslack.RoleDirectory
	mount    func(r chi.Router)
	tracing  *tracing.Tracing // nil: tracing off
	// ingestOnly: see Options.IngestOnly.
	ingestOnly bool
}

// Options adjusts an App for tests, the demo and the bench harness.
type Options struct {
	// Clock drives the bridge and the limiters; nil is the wall clock.
	Clock bridge.Clock
	// TelegramPollTimeout overrides the getUpdates long-poll timeout.
	TelegramPollTimeout time.Duration
	// Classify sets priorities at ingest.
	Classify func(text string) bridge.Priority
	// Mount adds routes beside Threadline's own (the demo page).
	Mount func(r chi.Router)
	// StatementTracer sees every PostgreSQL statement (the bench harness
	// counts them).
	StatementTracer pgx.QueryTracer
	// SpanExporter turns tracing on with spans sent there (tests).
	SpanExporter sdktrace.SpanExporter
	// IngestOnly answers requests and stores what they bring but works no
	// jobs and runs no background loop: the bench harness measures durable
	// ingest alone with it.
	IngestOnly bool
}

// New opens the store and assembles the bridge, the connected platforms and
// surfaces, and the HTTP server. The embedded store migrates itself (one
// machine, nothing to coordinate); PostgreSQL must be migrated with
// `threadline migrate` first.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, opts Options) (_ *App, err error) {
	if opts.Clock == nil {
		opts.Clock = bridge.SystemClock{}
	}
	// Log lines made with a context name its request and conversation.
	log = slog.New(logctx.Wrap(log.Handler()))
	st, kind, err := OpenStore(ctx, StoreOptions{DatabaseURL: cfg.DatabaseURL.Reveal(), DataDir: cfg.DataDir, Logger: log, Jobs: cfg.Jobs, Tracer: opts.StatementTracer})
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, clock: opts.Clock, log: log, store: st, metrics: metrics.New(), mount: opts.Mount, ingestOnly: opts.IngestOnly}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if cfg.DatabaseURL.Set() {
		err = CheckSchema(ctx, st)
	} else {
		_, err = st.Migrate(ctx)
	}
	if err != nil {
		return nil, err
	}
	log.Info("store ready", "store", kind)
	if err = a.startTracing(ctx, opts); err != nil {
		return nil, err
	}

	a.limiter = ratelimit.NewLocal(opts.Clock)
	if cfg.RedisURL.Set() {
		if a.redis, err = tlredis.Connect(cfg.RedisURL.Reveal()); err != nil {
			return nil, err
		}
		if perr := a.redis.Ping(ctx).Err(); perr != nil {
			// Redis only shares limits: start without it, per process,
			// and use it once it answers.
			log.Warn("redis unavailable at start, limits are per process until it answers", "err", perr)
		}
		a.fallback = ratelimit.NewFallback(tlredis.NewLimiter(a.redis, "threadline:rl:"), opts.Clock, log)
		a.limiter = a.fallback
	}

	var surfaces []bridge.Surface
	if cfg.Telegram.BotToken.Set() {
		if err := a.connectTelegram(ctx, opts); err != nil {
			return nil, err
		}
	}
	if cfg.Meta.Accounts.Set() {
		if err := a.connectMeta(ctx, opts); err != nil {
			return nil, err
		}
	}
	if cfg.Slack.BotToken.Set() {
		if err := a.connectSlack(ctx, opts); err != nil {
			return nil, err
		}
		surfaces = append(surfaces, bridge.SurfaceSlack)
	}
	if cfg.Teams.AppID != "" {
		a.connectTeams(opts)
		surfaces = append(surfaces, bridge.SurfaceTeams)
	}
	a.bridge = bridge.New(st, bridge.Options{
		Clock:         opts.Clock,
		Logger:        log,
		ReopenWindow:  cfg.ReopenWindow,
		LeaseDuration: cfg.DeliveryLease,
		Metrics:       a.metrics,
		Surfaces:      surfaces,
		RouteSurface:  a.routeSurface,
		RouteChannel:  a.routeChannel,
		Classify:      cmpClassify(opts.Classify, cfg.UrgentKeywords),
		SLA:           cfg.SLA.Policy(),

		KeepUnassignedOnReply: !cfg.ClaimOnReply,
		DMHandoff:             cfg.DMHandoff,
		CSAT:                  cfg.SLA.CSAT(),
		IngestBatch:           cfg.Jobs.IngestBatch,
		IngestConcurrency:     cfg.Jobs.IngestConcurrency,
	})
	if a.telegram != nil {
		a.bridge.AddPlatform(a.telegram)
	}
	a.addMetaPlatforms()
	if a.slack != nil {
		a.bridge.AddSurface(a.slack)
		a.roles = tlslack.NewRoleDirectory(tlslack.Roles(cfg.Roles), a.slack, opts.Clock, log)
		a.handler = tlslack.NewHandler(tlslack.HandlerOptions{
			Bridge: a.bridge, Notifier: a.slack, Names: a.slack, Roles: a.roles, Links: a.slack, Views: a.slack,
			Verifier:  tlslack.Verifier{Secret: cfg.Slack.SigningSecret.Reveal(), Clock: opts.Clock},
			BotUserID: a.slack.BotUserID(), InboxChannel: cfg.Slack.Channel, ThreadChannels: a.metaSlackChannels(), ReplyMode: cfg.Slack.ReplyMode,
			Logger: log, Clock: opts.Clock, Observe: a.metrics.Webhook,
			Reports: &tlslack.Reports{Source: a.bridge, Poster: a.slack, Home: a.slack, Location: cfg.SLA.Location, Clock: opts.Clock},
		})
	}
	if a.teams != nil {
		a.bridge.AddSurface(a.teams.surface)
		a.teams.handler.SetBridge(a.bridge)
	}
	if a.telegram == nil && a.meta == nil && len(surfaces) == 0 {
		log.Warn("no social platform and no chat surface connected yet: set THREADLINE_TELEGRAM_BOT_TOKEN and THREADLINE_SLACK_BOT_TOKEN or THREADLINE_TEAMS_APP_ID (see README)")
	} else if len(surfaces) == 0 {
		log.Warn("no chat surface connected: conversations are stored but shown nowhere; set THREADLINE_SLACK_BOT_TOKEN or THREADLINE_TEAMS_APP_ID")
	} else if a.telegram == nil && a.meta == nil {
		log.Warn("no social platform connected: set THREADLINE_TELEGRAM_BOT_TOKEN or THREADLINE_META_ACCOUNTS")
	}
	a.server = httpserver.New(httpserver.Options{
		Addr:         cfg.Addr,
		Logger:       log,
		MaxBodyBytes: cfg.MaxBodyBytes,
		Ready:        a.ready,
		Mount:        a.routes,
	})
	return a, nil
}

func (a *App) connectTelegram(ctx context.Context, opts Options) error {
	tg, err := telegram.New(telegram.Options{
		Token: a.cfg.Telegram.BotToken.Reveal(), APIURL: a.cfg.Telegram.APIURL, WebhookSecret: a.cfg.Telegram.WebhookSecret.Reveal(),
		Logger: a.log, Clock: opts.Clock, Limiter: a.limiter, MinChatInterval: a.cfg.Telegram.ChatInterval, PollTimeout: opts.TelegramPollTimeout,
		HTTPClient: a.client(&http.Client{}),
	})
	if err != nil {
		return err
	}
	me, err := tg.GetMe(ctx)
	if err != nil {
		return fmt.Errorf("telegram getMe: %w", err)
	}
	a.telegram = tg
	a.log.Info("telegram connected", "bot", me.Username, "mode", a.cfg.Telegram.Mode)
	return nil
}

func (a *App) connectSlack(ctx context.Context, opts Options) error {
	files := map[bridge.Platform]tlslack.FileSource{}
	if a.telegram != nil {
		files[bridge.PlatformTelegram] = a.telegram
	}
	a.metaFiles(files)
	s, err := tlslack.New(ctx, tlslack.Options{
		Token: a.cfg.Slack.BotToken.Reveal(), APIURL: a.cfg.Slack.APIURL, Channel: a.cfg.Slack.Channel, Logger: a.log,
		Files: files, Limiter: a.limiter, RateLimited: a.metrics.RateLimited, HTTPClient: a.client(&http.Client{Timeout: 30 * time.Second}),
		PostInterval: a.cfg.Slack.PostInterval, UpdateInterval: a.cfg.Slack.UpdateInterval, Clock: opts.Clock,
		AlertChannel:      a.cfg.SLA.AlertChannel,
		EscalationChannel: a.cfg.Slack.EscalationChannel,
	})
	if err != nil {
		return err
	}
	a.slack = s
	transport := "http"
	if a.cfg.Slack.AppToken.Set() {
		transport = "socket mode"
	}
	a.log.Info("slack connected", "team", s.TeamID(), "channel", a.cfg.Slack.Channel, "reply_mode", a.cfg.Slack.ReplyMode, "transport", transport)
	return nil
}

func (a *App) routes(r chi.Router) {
	r.Method(http.MethodGet, "/metrics", a.metrics.Handler())
	a.tracedRoutes(r, a.webhookRoutes)
	if a.mount != nil {
		a.mount(r)
	}
}

// webhookRoutes are the platforms' and chat surfaces' requests, the ones
// traced.
func (a *App) webhookRoutes(r chi.Router) {
	if a.telegram != nil && a.cfg.Telegram.Mode == "webhook" {
		observe := func(outcome string, took time.Duration) { a.metrics.Webhook("telegram", outcome, took) }
		r.Method(http.MethodPost, "/webhooks/telegram", a.telegram.WebhookHandler(a.bridge, observe))
	}
	a.metaRoutes(r)
	if a.handler != nil && a.cfg.Slack.SigningSecret.Set() {
		a.handler.Routes(r)
	}
	a.teamsRoutes(r)
}

func (a *App) ready(ctx context.Context) (string, error) {
	if err := a.store.Ping(ctx); err != nil {
		return "", fmt.Errorf("store: %w", err)
	}
	// Without Redis the bridge keeps working with per-process limits:
	// report it, but stay ready so replicas are not all taken out at once.
	if a.redis != nil {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		if err := a.redis.Ping(pctx).Err(); err != nil {
			return "degraded", nil
		}
	}
	return "ok", nil
}

// Bridge exposes the core, for the demo and the bench harness.
func (a *App) Bridge() *bridge.Bridge { return a.bridge }

// Handler exposes the HTTP routes.
func (a *App) Handler() http.Handler { return a.server.Handler() }

// Metrics exposes the registry.
func (a *App) Metrics() *metrics.Registry { return a.metrics }

func (a *App) close() {
	a.stopTracing()
	if a.redis != nil {
		a.redis.Close()
	}
	a.store.Close()
}

// background starts the job workers and returns the loops Run keeps going
// beside the server: none for an ingest-only App.
func (a *App) background(ctx context.Context) ([]func(context.Context) error, error) {
	if a.ingestOnly {
		return nil, nil
	}
	if err := a.store.StartWorkers(ctx, a.jobRunner()); err != nil {
		return nil, err
	}
	loops := []func(context.Context) error{a.rescueLoop, a.backlogLoop, a.jobLoop, a.slaLoop, a.slaStandingLoop, a.snoozeLoop}
	if a.roles != nil {
		loops = append(loops, a.roleLoop)
	}
	if a.slack != nil && a.cfg.Slack.BacklogDigest > 0 && a.cfg.Slack.Channel != "" {
		loops = append(loops, a.digestLoop)
	}
	if a.handler != nil && a.cfg.Slack.AppToken.Set() {
		client := a.slack.SocketClient(a.cfg.Slack.AppToken.Reveal())
		loops = append(loops, func(ctx context.Context) error { return a.handler.RunSocketMode(ctx, client) })
	}
	if a.telegram != nil && a.cfg.Telegram.Mode == "poll" {
		loops = append(loops, func(ctx context.Context) error { return a.telegram.RunPoller(ctx, a.store, a.bridge) })
	}
	return loops, nil
}

// Run serves HTTP and works jobs until ctx ends, then shuts down in order:
// stop taking requests, let running jobs finish, close the store.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	defer a.close()
	loops, err := a.background(ctx)
	if err != nil {
		return err
	}
	errc := make(chan error, len(loops))
	for _, loop := range loops {
		go func() { errc <- loop(ctx) }()
	}
	if ln == nil {
		if ln, err = net.Listen("tcp", a.cfg.Addr); err != nil {
			return err
		}
	}
	a.log.Info("listening", "addr", ln.Addr().String())
	serveErr := a.server.Serve(ctx, ln, a.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ShutdownTimeout)
	defer cancel()
	stopErr := a.store.StopWorkers(sctx)
	for range loops {
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
			a.log.Error("background loop", "err", err)
		}
	}
	return errors.Join(serveErr, stopErr)
}

// rescueLoop re-enqueues lanes that have due work and no live worker: the
// job of a worker killed mid-run stays "running" in the queue until the
// queue's own rescue, which is far slower than a lease expiring.
func (a *App) rescueLoop(ctx context.Context) error {
	every := a.cfg.DeliveryLease
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := a.bridge.RescueStalledLanes(ctx, every); err != nil && ctx.Err() == nil {
				a.log.Warn("rescue stalled lanes", "err", err)
			}
		}
	}
}

// snoozeLoop returns conversations to the queue when their snooze ends.
func (a *App) snoozeLoop(ctx context.Context) error {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		if n, err := a.bridge.WakeSnoozed(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("wake snoozed conversations", "err", err)
		} else if n > 0 {
			a.log.Info("snoozed conversations back in the queue", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// roleLoop keeps the stored roles in step with the role settings (user
// groups change without Threadline hearing of it), so escalation finds
// supervisors and managers who have not acted yet.
func (a *App) roleLoop(ctx context.Context) error {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		members, err := a.roles.Members(ctx)
		if err == nil {
			for i := range members {
				members[i].Name = a.slack.UserName(ctx, members[i].UserID)
			}
			err = a.bridge.SyncRoles(ctx, bridge.SurfaceSlack, a.slack.TeamID(), members)
		}
		if err != nil && ctx.Err() == nil {
			a.log.Warn("sync roles", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// slaLoop raises the SLA warnings and breaches that fell due. The deadlines
// are rows: this only asks for the due ones, on every replica.
func (a *App) slaLoop(ctx context.Context) error {
	every := a.cfg.SLA.CheckInterval
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			res, err := a.bridge.CheckSLA(ctx)
			if err != nil && ctx.Err() == nil {
				a.log.Warn("check SLA deadlines", "err", err)
			}
			if res.Warnings+res.Breaches > 0 {
				a.metrics.SLAAlerts(res)
				a.log.Info("SLA alerts raised", "warnings", res.Warnings, "breaches", res.Breaches)
			}
		}
	}
}

// backlogLoop keeps the queue depth and age gauges current.
func (a *App) backlogLoop(ctx context.Context) error {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	seen := map[bridge.Target]bool{}
	for {
		backlog, err := a.bridge.Backlog(ctx)
		if err != nil && ctx.Err() == nil {
			a.log.Warn("queue backlog", "err", err)
		}
		now := time.Now()
		current := map[bridge.Target]bool{}
		for _, b := range backlog {
			current[b.Target] = true
			a.metrics.QueueState(string(b.Target), b.Count, now.Sub(b.Oldest))
		}
		for target := range seen {
			if !current[target] {
				a.metrics.QueueState(string(target), 0, 0)
			}
		}
		seen = current
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func cmpClassify(given func(string) bridge.Priority, urgent []string) func(string) bridge.Priority {
	if given != nil {
		return given
	}
	return KeywordClassifier(urgent)
}

// KeywordClassifier marks a message P1 when it contains one of the words
// (case-insensitive), else P3. It is the minimal triage that lets urgent
// conversations overtake a flood; nil when there are no words.
func KeywordClassifier(words []string) func(string) bridge.Priority {
	if len(words) == 0 {
		return nil
	}
	return func(text string) bridge.Priority {
		lower := strings.ToLower(text)
		for _, w := range words {
			if strings.Contains(lower, w) {
				return bridge.P1
			}
		}
		return bridge.P3
	}
}
