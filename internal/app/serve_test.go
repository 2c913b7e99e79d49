package app_test

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"

	"github.com/threadline/threadline/internal/app"
	"github.com/threadline/threadline/internal/config"
)

// running is an App running on a local port.
type running struct {
	app  *app.App
	addr string // 127.0.0.1:port
	base string // http://127.0.0.1:port
	stop func() error
}

// serve loads the settings from env alone, builds the App and runs it on a
// local port until stop, which ends Run and returns its error (stop also
// runs when the test ends, should the test not get there).
func serve(ctx context.Context, t *testing.T, env map[string]string, log *slog.Logger, opts app.Options) running {
	t.Helper()
	cfg, err := config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, log, opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx, ln) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return running{app: a, addr: ln.Addr().String(), base: "http://" + ln.Addr().String(), stop: stop}
}
