// Package tracing sends OpenTelemetry traces of Threadline's work: the
// webhook request that brought a message, the job that delivers it and the
// calls it makes to Slack, Teams or the platform, in one trace. It is off
// unless an OTLP endpoint is configured; then spans go out over OTLP/HTTP in
// batches.
//
// The trace crosses the job queue as a W3C traceparent stored in the job
// (bridge.Job.TraceParent): the request's span puts it in the context
// (bridge.WithTraceParent), enqueueing copies it, and Runner starts the
// job's span as a child of it, so a job worked seconds later, by another
// replica or after a restart, still joins the webhook's trace.
//
// Dependencies, pinned exactly as every module here: go.opentelemetry.io/otel,
// otel/sdk and otel/exporters/otlp/otlptrace/otlptracehttp v1.47.0 (one
// release train: the API, the SDK and the exporter must agree), and
// go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp v0.72.0,
// the contrib release built on that train, for the server and client HTTP
// spans with the standard attributes. OTLP/HTTP rather than gRPC keeps
// gRPC out of the binary; every collector accepts both.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/threadline/threadline/bridge"
)

const scope = "github.com/threadline/threadline"

// Tracing makes Threadline's spans. A nil *Tracing is not valid: callers
// leave tracing out entirely when it is off.
type Tracing struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
	prop   propagation.TraceContext
}

// Options chooses where spans go.
type Options struct {
	// Endpoint is the OTLP/HTTP base URL (http://collector:4318), as in
	// OTEL_EXPORTER_OTLP_ENDPOINT: spans are posted to Endpoint/v1/traces.
	Endpoint string
	// Exporter, when set, receives the spans instead (tests), synchronously.
	Exporter sdktrace.SpanExporter
}

// New starts a tracer provider exporting to the endpoint or exporter.
func New(ctx context.Context, o Options) (*Tracing, error) {
	var sp sdktrace.SpanProcessor
	switch {
	case o.Exporter != nil:
		sp = sdktrace.NewSimpleSpanProcessor(o.Exporter)
	case o.Endpoint != "":
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(strings.TrimSuffix(o.Endpoint, "/")+"/v1/traces"))
		if err != nil {
			return nil, fmt.Errorf("OTLP trace exporter: %w", err)
		}
		sp = sdktrace.NewBatchSpanProcessor(exp)
	default:
		return nil, fmt.Errorf("tracing: no endpoint and no exporter")
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "threadline"))))
	return &Tracing{tp: tp, tracer: tp.Tracer(scope)}, nil
}

// Shutdown sends the spans still buffered and stops.
func (t *Tracing) Shutdown(ctx context.Context) error { return t.tp.Shutdown(ctx) }

// Middleware traces each request as a server span (named by method and
// path; a span for each webhook) and carries its trace into the bridge, so
// the jobs the request enqueues join it. An incoming traceparent header is
// honoured, for a caller that traces too.
func (t *Tracing) Middleware(next http.Handler) http.Handler {
	carry := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(withTraceParent(r.Context())))
	})
	return otelhttp.NewHandler(carry, "http", otelhttp.WithTracerProvider(t.tp), otelhttp.WithPropagators(t.prop),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
}

// Client returns an HTTP client whose calls made inside a traced request or
// job are client spans of it (calls outside any trace, such as Telegram's
// long poll, make none). No trace header is sent: Slack, Teams and the
// platforms are not part of our traces.
func (t *Tracing) Client(c *http.Client) *http.Client {
	out := *c
	out.Transport = otelhttp.NewTransport(c.Transport, otelhttp.WithTracerProvider(t.tp),
		otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator()),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithFilter(func(r *http.Request) bool { return trace.SpanContextFromContext(r.Context()).IsValid() }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Host }))
	return &out
}

// JobRunner is what works the queue's jobs (the bridge).
type JobRunner interface {
	RunJob(ctx context.Context, j bridge.Job) error
}

// Runner wraps r so that each job run is a span, a child of the span that
// enqueued the job when the job carries its traceparent.
func (t *Tracing) Runner(r JobRunner) JobRunner { return runner{t: t, inner: r} }

type runner struct {
	t     *Tracing
	inner JobRunner
}

func (r runner) RunJob(ctx context.Context, j bridge.Job) error {
	if j.TraceParent != "" {
		ctx = r.t.prop.Extract(ctx, propagation.MapCarrier{"traceparent": j.TraceParent})
	}
	ctx, span := r.t.tracer.Start(ctx, "deliver "+string(j.Target), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.Int64("threadline.conversation_id", int64(j.ConversationID)),
			attribute.String("threadline.target", string(j.Target)), attribute.String("threadline.request_id", j.RequestID)))
	defer span.End()
	err := r.inner.RunJob(withTraceParent(ctx), j)
	var retry *bridge.RetryAfterError
	switch {
	case errors.As(err, &retry):
		// Paced or rate limited: the lane runs again later, nothing failed.
		span.SetAttributes(attribute.String("threadline.retry_after", retry.After.String()))
	case err != nil:
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}

// withTraceParent hands ctx's current span to the bridge as a traceparent.
func withTraceParent(ctx context.Context) context.Context {
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	if tp := c["traceparent"]; tp != "" {
		return bridge.WithTraceParent(ctx, tp)
	}
	return ctx
}
