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
			env := map[string]string{"THREADLINE_DATA_DIR": t.TempDir(), "THREADLINE_REDIS_URL": tc.url}
			srv := serve(context.Background(), t, env, slog.New(slog.DiscardHandler), app.Options{})
			res, err := http.Get(srv.base + "/readyz")
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
