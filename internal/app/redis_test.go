package app_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/threadline/threadline/internal/app"
	"github.com/threadline/threadline/internal/config"
	"github.com/threadline/threadline/internal/testenv"
)

// TestRedisDownIsDegradedNotUnready: Redis only shares rate limits, so a
// process whose Redis is unreachable (even at start) serves, and /readyz
// stays 200 saying "degraded"; with Redis answering it says "ok".
func TestRedisDownIsDegradedNotUnready(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "redis://" + closed.Addr().String() + "/0"
	closed.Close() // nothing listens there now
	for name, tc := range map[string]struct{ url, want string }{
		"down": {down, `"status":"degraded"`},
		"up":   {testenv.RedisURL(), `"status":"ok"`},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Load("", func(k string) (string, bool) {
				switch k {
				case "THREADLINE_DATA_DIR":
					return t.TempDir(), true
				case "THREADLINE_REDIS_URL":
					return tc.url, true
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
			defer func() { cancel(); <-done }()
			res, err := http.Get("http://" + ln.Addr().String() + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || !strings.Contains(string(body), tc.want) {
				t.Errorf("/readyz = %d %s, want 200 with %s", res.StatusCode, body, tc.want)
			}
		})
	}
}
