// Command threadline runs the Threadline bridge: social-media customer
// conversations as Slack and Teams threads.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/threadline/threadline/internal/app"
	"github.com/threadline/threadline/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

type command struct {
	name, summary string
	run           func(ctx context.Context, cfg config.Config, log *slog.Logger, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the bridge: webhooks, Slack/Teams requests, delivery workers", runServe},
		{"migrate", "apply database migrations, then exit", runMigrate},
		{"demo", "run the bridge with local Telegram and Slack (or, with --surface teams, Teams) emulators and a demo web page; needs no accounts", runDemo},
		{"bench", "measure throughput, latency and loss against local emulators (flags: bench --help)", runBench},
		{"version", "print the version", func(context.Context, config.Config, *slog.Logger, []string) error {
			fmt.Println(versionString())
			return nil
		}},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: threadline <command> [--config FILE]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nSettings (environment variables, or keys of the --config YAML file; the environment wins):\n")
	config.Usage(w)
}

// run returns the exit code: 2 for usage and configuration errors.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var cmd *command
	for _, c := range commands() {
		if c.name == args[0] {
			cmd = &c
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "threadline: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML file with settings (also THREADLINE_CONFIG)")
	var surface *string
	if cmd.name == "demo" {
		surface = fs.String("surface", "slack", "the chat surface the demo page shows: slack or teams")
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: threadline %s [--config FILE]\n\n%s.\n\nFlags:\n", cmd.name, cmd.summary)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nSettings:\n")
		config.Usage(stderr)
	}
	rest := args[1:]
	if cmd.name != "bench" { // bench parses flags of its own
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		rest = fs.Args()
	}
	if surface != nil {
		rest = append([]string{"--surface=" + *surface}, rest...)
	}
	cfg, err := config.Load(*configPath, os.LookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "threadline: %v\n", err)
		return 2
	}
	log := cfg.Logger(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd.run(ctx, cfg, log, rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		log.Error(cmd.name+" failed", "err", err)
		return 1
	}
	return 0
}

func runServe(ctx context.Context, cfg config.Config, log *slog.Logger, _ []string) error {
	log.Info("starting threadline", "version", versionString())
	a, err := app.New(ctx, cfg, log, app.Options{})
	if err != nil {
		return err
	}
	return a.Run(ctx, nil)
}

func runMigrate(ctx context.Context, cfg config.Config, log *slog.Logger, _ []string) error {
	st, kind, err := app.OpenStore(ctx, app.StoreOptions{DatabaseURL: cfg.DatabaseURL.Reveal(), DataDir: cfg.DataDir, Logger: log})
	if err != nil {
		return err
	}
	defer st.Close()
	applied, err := st.Migrate(ctx)
	for _, name := range applied {
		log.Info("applied migration", "migration", name)
	}
	if err != nil {
		return err
	}
	log.Info("database is up to date", "store", kind, "applied", len(applied))
	return nil
}

func versionString() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "dev"
}
