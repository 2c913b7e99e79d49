package app_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/internal/app"
	"github.com/threadline/threadline/internal/config"
)

// TestServeWithNoSettings starts like `threadline serve` on a fresh machine:
// embedded store, no platform, no chat surface; both health checks answer.
func TestServeWithNoSettings(t *testing.T) {
	cfg, err := config.Load("", func(k string) (string, bool) {
		if k == "THREADLINE_DATA_DIR" {
			return t.TempDir(), true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, ln) }()
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		res, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("%s: %d %s", path, res.StatusCode, body)
		}
		if path == "/readyz" && !strings.Contains(string(body), `"ok"`) {
			t.Errorf("readyz body %s", body)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("shutdown did not finish")
	}
}

func TestKeywordClassifier(t *testing.T) {
	c := app.KeywordClassifier([]string{"hacked", "fraud"})
	for text, want := range map[string]bridge.Priority{
		"My account was HACKED!": bridge.P1, "possible fraud on my card": bridge.P1, "where is my parcel": bridge.P3,
	} {
		if got := c(text); got != want {
			t.Errorf("%q: %s, want %s", text, got, want)
		}
	}
	if app.KeywordClassifier(nil) != nil {
		t.Error("no words should mean no rule")
	}
}
