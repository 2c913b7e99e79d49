package tracing_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/internal/tracing"
)

// receiver is an OTLP/HTTP collector: it decodes the protobuf export
// requests posted to /v1/traces.
type receiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
	paths []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	var req coltrace.ExportTraceServiceRequest
	if err == nil && r.Header.Get("Content-Type") == "application/x-protobuf" {
		err = proto.Unmarshal(raw, &req)
	}
	if err != nil {
		http.Error(w, "not an OTLP protobuf export", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.paths = append(rc.paths, r.URL.Path)
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			rc.spans = append(rc.spans, ss.GetSpans()...)
		}
	}
	rc.mu.Unlock()
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// jobRunner stands for the bridge: it calls a platform.
type jobRunner struct {
	client *http.Client
	url    string
}

func (j jobRunner) RunJob(ctx context.Context, _ bridge.Job) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.url, nil)
	if err != nil {
		return err
	}
	res, err := j.client.Do(req)
	if err != nil {
		return err
	}
	return res.Body.Close()
}

// TestTraceCrossesTheQueue: a webhook's span, the span of the job it
// enqueued (run later, from the job's stored traceparent alone) and the job's
// platform call reach an OTLP collector as one trace; the platform is sent no
// trace header, and a call made outside any trace makes no span.
func TestTraceCrossesTheQueue(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc := &receiver{}
	collector := httptest.NewServer(rc)
	defer collector.Close()
	var leaked []string
	var mu sync.Mutex
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if h := r.Header.Get("Traceparent"); h != "" {
			leaked = append(leaked, h)
		}
	}))
	defer platform.Close()

	tr, err := tracing.New(ctx, tracing.Options{Endpoint: collector.URL})
	if err != nil {
		t.Fatal(err)
	}
	// The webhook handler enqueues a job the way the bridge does: with the
	// traceparent its context carries.
	var job bridge.Job
	webhook := tr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		job = bridge.Job{ConversationID: 7, Target: bridge.TargetPlatform, TraceParent: bridge.TraceParentFrom(r.Context())}
	}))
	rec := httptest.NewRecorder()
	webhook.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/webhooks/telegram", bytes.NewReader(nil)))
	if job.TraceParent == "" {
		t.Fatal("the webhook's context carries no traceparent")
	}
	client := tr.Client(&http.Client{})
	// The worker starts from a fresh context: only the job links it.
	if err := tr.Runner(jobRunner{client: client, url: platform.URL}).RunJob(ctx, job); err != nil {
		t.Fatal(err)
	}
	// The same call outside any trace (Telegram's long poll) makes no span.
	if err := (jobRunner{client: client, url: platform.URL}).RunJob(ctx, job); err != nil {
		t.Fatal(err)
	}
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	rc.mu.Lock()
	defer rc.mu.Unlock()
	byKind := map[tracepb.Span_SpanKind][]*tracepb.Span{}
	for _, s := range rc.spans {
		byKind[s.GetKind()] = append(byKind[s.GetKind()], s)
	}
	server, consumer, clients := byKind[tracepb.Span_SPAN_KIND_SERVER], byKind[tracepb.Span_SPAN_KIND_CONSUMER], byKind[tracepb.Span_SPAN_KIND_CLIENT]
	if len(rc.spans) != 3 || len(server) != 1 || len(consumer) != 1 || len(clients) != 1 {
		t.Fatalf("collector got %d spans (%v), want a server, a consumer and one client span", len(rc.spans), rc.spans)
	}
	for _, p := range rc.paths {
		if p != "/v1/traces" {
			t.Errorf("export posted to %s", p)
		}
	}
	if server[0].GetName() != "POST /webhooks/telegram" || consumer[0].GetName() != "deliver platform" {
		t.Errorf("span names %q and %q", server[0].GetName(), consumer[0].GetName())
	}
	trace := server[0].GetTraceId()
	if !bytes.Equal(consumer[0].GetTraceId(), trace) || !bytes.Equal(consumer[0].GetParentSpanId(), server[0].GetSpanId()) {
		t.Errorf("job span: trace %x parent %x, want trace %x parent %x", consumer[0].GetTraceId(), consumer[0].GetParentSpanId(), trace, server[0].GetSpanId())
	}
	if !bytes.Equal(clients[0].GetTraceId(), trace) || !bytes.Equal(clients[0].GetParentSpanId(), consumer[0].GetSpanId()) {
		t.Errorf("platform call: trace %x parent %x, want under the job span", clients[0].GetTraceId(), clients[0].GetParentSpanId())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) != 0 {
		t.Errorf("the platform was sent traceparent %v", leaked)
	}
}
