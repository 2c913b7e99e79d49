package httpserver_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/threadline/threadline/internal/httpserver"
)

func TestHealthAndReadiness(t *testing.T) {
	tests := []struct {
		name     string
		ready    func(context.Context) (string, error)
		path     string
		wantCode int
		wantBody string
	}{
		{"healthz", nil, "/healthz", 200, `"status":"ok"`},
		{"ready", func(context.Context) (string, error) { return "ok", nil }, "/readyz", 200, `"status":"ok"`},
		{"degraded", func(context.Context) (string, error) { return "degraded", nil }, "/readyz", 200, `"status":"degraded"`},
		{"unavailable", func(context.Context) (string, error) { return "", errors.New("store down") }, "/readyz", 503, `store down`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := httpserver.New(httpserver.Options{Ready: tc.ready})
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
			if rec.Code != tc.wantCode || !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("%s: %d %s, want %d %s", tc.path, rec.Code, rec.Body, tc.wantCode, tc.wantBody)
			}
		})
	}
}

func TestBodyLimitAndPanic(t *testing.T) {
	s := httpserver.New(httpserver.Options{MaxBodyBytes: 16, Mount: func(r chi.Router) {
		r.Post("/echo", func(w http.ResponseWriter, r *http.Request) {
			if _, err := io.ReadAll(r.Body); err != nil {
				httpserver.BodyError(w, err)
				return
			}
			w.WriteHeader(204)
		})
		r.Get("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	}})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	for _, tc := range []struct {
		body string
		want int
	}{{"small", 204}, {strings.Repeat("x", 17), 413}} {
		res, err := http.Post(srv.URL+"/echo", "text/plain", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("body of %d bytes: %d, want %d", len(tc.body), res.StatusCode, tc.want)
		}
	}
	// A chunked body of unknown length is cut off at the limit too.
	req, _ := http.NewRequest("POST", srv.URL+"/echo", io.NopCloser(strings.NewReader(strings.Repeat("y", 64))))
	req.ContentLength = -1
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 413 {
		t.Errorf("chunked oversize body: %d, want 413", res.StatusCode)
	}
	res, err = http.Get(srv.URL + "/panic")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 500 {
		t.Errorf("panic: %d, want 500", res.StatusCode)
	}
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	s := httpserver.New(httpserver.Options{Mount: func(r chi.Router) {
		r.Get("/slow", func(w http.ResponseWriter, _ *http.Request) {
			close(started)
			<-release
			_, _ = io.WriteString(w, "done")
		})
	}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln, 10*time.Second) }()

	got := make(chan string, 1)
	go func() {
		res, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		got <- string(b)
	}()
	<-started
	stop() // SIGTERM arrives while the request is in flight
	select {
	case err := <-served:
		t.Fatalf("server stopped before the in-flight request finished: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if body := <-got; body != "done" {
		t.Errorf("in-flight request got %q", body)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("still accepting after shutdown")
	}
}
