package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/threadline/threadline/internal/config"
	"github.com/threadline/threadline/internal/demo"
)

// runDemo starts Threadline with local Telegram and Slack (or Teams)
// emulators and the demo page.
func runDemo(ctx context.Context, cfg config.Config, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	surface := fs.String("surface", "slack", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *surface != "slack" && *surface != "teams" {
		return fmt.Errorf("--surface must be slack or teams (got %q)", *surface)
	}
	d, err := demo.StartWith(ctx, cfg, log, demo.Options{Surface: *surface})
	if err != nil {
		return err
	}
	fmt.Printf("\nThreadline demo is running: open %s\n(no accounts or servers needed; Ctrl-C stops it)\n\n", d.URL())
	return d.Run(ctx)
}
