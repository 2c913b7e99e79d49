package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/internal/config"
	"github.com/threadline/threadline/internal/httpserver"
	"github.com/threadline/threadline/internal/metrics"
)

// App is one running Threadline process.
type App struct {
	cfg     config.Config
	log     *slog.Logger
	store   Store
	bridge  *bridge.Bridge
	metrics *metrics.Registry
	server  *httpserver.Server
	// background work started by Run, such as pollers.
	loops []func(ctx context.Context) error
}

// New opens the store and assembles the bridge and HTTP server. The
// embedded store migrates itself (one machine, nothing to coordinate);
// PostgreSQL must be migrated with `threadline migrate` first.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	st, kind, err := OpenStore(ctx, StoreOptions{DatabaseURL: cfg.DatabaseURL.Reveal(), DataDir: cfg.DataDir, Logger: log})
	if err != nil {
		return nil, err
	}
	if cfg.DatabaseURL.Set() {
		err = CheckSchema(ctx, st)
	} else {
		_, err = st.Migrate(ctx)
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	log.Info("store ready", "store", kind)
	a := &App{cfg: cfg, log: log, store: st, metrics: metrics.New()}
	a.bridge = bridge.New(st, bridge.Options{
		Logger:       log,
		ReopenWindow: cfg.ReopenWindow,
		Metrics:      a.metrics,
	})
	a.server = httpserver.New(httpserver.Options{
		Addr:         cfg.Addr,
		Logger:       log,
		MaxBodyBytes: cfg.MaxBodyBytes,
		Ready:        a.ready,
		Mount:        a.routes,
	})
	log.Warn("no social platform and no chat surface connected yet: set THREADLINE_TELEGRAM_BOT_TOKEN and THREADLINE_SLACK_BOT_TOKEN (see README)")
	return a, nil
}

func (a *App) routes(r chi.Router) {
	r.Method(http.MethodGet, "/metrics", a.metrics.Handler())
}

func (a *App) ready(ctx context.Context) (string, error) {
	if err := a.store.Ping(ctx); err != nil {
		return "", fmt.Errorf("store: %w", err)
	}
	return "ok", nil
}

// Handler exposes the HTTP routes, for tests.
func (a *App) Handler() http.Handler { return a.server.Handler() }

// Run serves HTTP and works jobs until ctx ends, then shuts down in order:
// stop taking requests, let running jobs finish, close the store.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	defer a.store.Close()
	if err := a.store.StartWorkers(ctx, a.bridge); err != nil {
		return err
	}
	loops := append([]func(context.Context) error{a.rescueLoop}, a.loops...)
	errc := make(chan error, len(loops)+1)
	for _, loop := range loops {
		go func() { errc <- loop(ctx) }()
	}
	if ln == nil {
		var err error
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

// rescueLoop re-enqueues lanes whose job the queue gave up on.
func (a *App) rescueLoop(ctx context.Context) error {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := a.bridge.RescueStalledLanes(ctx, 2*time.Minute); err != nil && ctx.Err() == nil {
				a.log.Warn("rescue stalled lanes", "err", err)
			}
		}
	}
}
