package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/threadline/threadline/internal/config"
)

// runDemo is filled in by the demo issue; until then it says so plainly.
func runDemo(context.Context, config.Config, *slog.Logger, []string) error {
	return errors.New("the demo is not built yet; run `threadline serve` to start the bridge on the embedded store")
}
