package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/threadline/threadline/internal/config"
	"github.com/threadline/threadline/internal/demo"
)

// runDemo starts Threadline with local Slack and Telegram emulators and the
// demo page.
func runDemo(ctx context.Context, cfg config.Config, log *slog.Logger, _ []string) error {
	d, err := demo.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	fmt.Printf("\nThreadline demo is running: open %s\n(no accounts or servers needed; Ctrl-C stops it)\n\n", d.URL())
	return d.Run(ctx)
}
