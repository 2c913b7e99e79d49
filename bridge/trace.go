package bridge

import "context"

// The bridge knows no tracer. Whoever traces (internal/tracing) puts the W3C
// traceparent of the current span in the context; the bridge copies it into
// the jobs it enqueues (Job.TraceParent), so the span of a job worked later,
// elsewhere, joins the trace of the request that caused it.

type traceParentKey struct{}

// WithTraceParent returns ctx carrying a W3C traceparent.
func WithTraceParent(ctx context.Context, tp string) context.Context {
	if tp == "" {
		return ctx
	}
	return context.WithValue(ctx, traceParentKey{}, tp)
}

// TraceParentFrom returns the traceparent ctx carries, or "".
func TraceParentFrom(ctx context.Context) string {
	tp, _ := ctx.Value(traceParentKey{}).(string)
	return tp
}
