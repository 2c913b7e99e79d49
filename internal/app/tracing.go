package app

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/threadline/threadline/internal/tracing"
	"github.com/threadline/threadline/store/queue"
)

// startTracing turns tracing on when an OTLP endpoint (or, in tests, an
// exporter) is given; otherwise nothing below wraps anything.
func (a *App) startTracing(ctx context.Context, opts Options) error {
	if a.cfg.OTLPEndpoint == "" && opts.SpanExporter == nil {
		return nil
	}
	t, err := tracing.New(ctx, tracing.Options{Endpoint: a.cfg.OTLPEndpoint, Exporter: opts.SpanExporter})
	if err != nil {
		return err
	}
	a.tracing = t
	a.log.Info("tracing on", "otlp_endpoint", a.cfg.OTLPEndpoint)
	return nil
}

// client returns c, traced when tracing is on.
func (a *App) client(c *http.Client) *http.Client {
	if a.tracing == nil {
		return c
	}
	return a.tracing.Client(c)
}

// tracedRoutes mounts routes under the tracing middleware when it is on.
func (a *App) tracedRoutes(r chi.Router, routes func(chi.Router)) {
	if a.tracing == nil {
		routes(r)
		return
	}
	r.Group(func(r chi.Router) {
		r.Use(a.tracing.Middleware)
		routes(r)
	})
}

// jobRunner is the bridge, each job run a span when tracing is on.
func (a *App) jobRunner() queue.Runner {
	if a.tracing == nil {
		return a.bridge
	}
	return a.tracing.Runner(a.bridge)
}

// stopTracing sends the spans still buffered, also when New fails after
// starting tracing.
func (a *App) stopTracing() {
	if a.tracing == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.tracing.Shutdown(ctx); err != nil {
		a.log.Warn("flush traces", "err", err)
	}
}
