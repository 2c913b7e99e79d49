package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"github.com/threadline/threadline/internal/bench"
	"github.com/threadline/threadline/internal/config"
)

// runBench drives load through a Threadline started with the emulators and
// prints the figures. THREADLINE_DATABASE_URL selects PostgreSQL.
func runBench(ctx context.Context, cfg config.Config, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	o := bench.Options{DatabaseURL: cfg.DatabaseURL.Reveal(), Logger: log}
	fs.IntVar(&o.Customers, "customers", 200, "customers writing at once")
	fs.IntVar(&o.Messages, "messages", 10, "messages per customer")
	fs.Float64Var(&o.Rate, "rate", 0, "webhooks per second (0: as fast as the senders go)")
	fs.IntVar(&o.Senders, "senders", 32, "webhook requests in flight")
	fs.Float64Var(&o.Duplicates, "duplicates", 0.1, "share of webhooks delivered twice")
	fs.IntVar(&o.Replies, "replies", 50, "conversations answered by an agent from Slack")
	fs.BoolVar(&o.Baseline, "baseline", false, "also measure PostgreSQL's raw insert commit rate, and durable ingest alone (the same load from new customers, no job running)")
	fs.DurationVar(&o.Timeout, "timeout", 15*time.Minute, "how long to wait for everything to arrive")
	chaos := fs.Bool("chaos", false, "fault run: kill -9 a child `threadline serve` under load and restart it, with 429s and lost answers from the emulators")
	kills := fs.Int("kills", 5, "with --chaos: how many kills")
	killEvery := fs.Duration("kill-every", 2*time.Second, "with --chaos: mean time between kills")
	faults := fs.Int("faults", 3, "with --chaos: rounds of faults injected per API (a 429, a 500 after applying, a timeout applied or not)")
	private := fs.Bool("private", true, "with --chaos: run on PostgreSQL and Redis instances of the harness's own (initdb, redis-server on spare ports) so they can be restarted; false: THREADLINE_DATABASE_URL or the embedded store, no outages")
	pgRestarts := fs.Int("pg-restarts", 2, "with --chaos --private: hard PostgreSQL restarts (immediate stop, crash recovery)")
	pgDown := fs.Duration("pg-down", 2*time.Second, "with --chaos --private: how long PostgreSQL stays down each time")
	redisDown := fs.Duration("redis-down", time.Minute, "with --chaos --private: how long Redis is stopped (0: never)")
	spike := fs.Bool("spike", false, "flood run: many conversations at once into one Slack channel paced like Slack (1 post a second), with P1 conversations mid-flood")
	flood := fs.Int("flood", 300, "with --spike: conversations arriving at once")
	floodMessages := fs.Int("flood-messages", 3, "with --spike: messages per flood conversation")
	urgent := fs.Int("urgent", 5, "with --spike: P1 conversations arriving mid-flood")
	postInterval := fs.Duration("post-interval", time.Second, "with --spike: the channel's post budget (Slack's is about one a second); smaller compresses the run")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run (the server runs in this process, except with --chaos) to this file, for go tool pprof")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *spike {
		rep, err := bench.Spike(ctx, bench.SpikeOptions{DatabaseURL: o.DatabaseURL, Flood: *flood, Messages: *floodMessages, Urgent: *urgent,
			PostInterval: *postInterval, Senders: o.Senders, Timeout: o.Timeout, Logger: log})
		if err != nil {
			return err
		}
		rep.Print(os.Stdout)
		if rep.Failed() {
			return fmt.Errorf("spike run lost, doubled or reordered messages")
		}
		return nil
	}
	if *chaos {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		rep, err := bench.Chaos(ctx, bench.ChaosOptions{Binary: exe, DatabaseURL: o.DatabaseURL, Customers: o.Customers, Messages: o.Messages,
			Replies: o.Replies, Kills: *kills, KillEvery: *killEvery, Faults: *faults, Timeout: o.Timeout, Lease: 2 * time.Second,
			Private: *private, PGRestarts: *pgRestarts, PGDown: *pgDown, RedisDown: *redisDown})
		if err != nil {
			return err
		}
		rep.Print(os.Stdout)
		if rep.Failed() {
			return fmt.Errorf("chaos run lost, reordered or repeated without cause, or was unready without Redis")
		}
		return nil
	}
	rep, err := bench.Run(ctx, o)
	if err != nil {
		return err
	}
	rep.Print(os.Stdout)
	if rep.Lost+rep.Doubled+rep.Disordered+rep.RepliesLost+rep.RepliesDoubled > 0 {
		return fmt.Errorf("lost, doubled or reordered messages")
	}
	return nil
}
