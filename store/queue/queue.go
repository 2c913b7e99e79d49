// Package queue runs the bridge's jobs on River, the same way over
// PostgreSQL and SQLite. Jobs are inserted in the caller's transaction
// (transactional outbox) and worked by a client started once the bridge exists.
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/threadline/threadline/bridge"
)

// drainArgs is the one job kind: drain a conversation's delivery lane.
type drainArgs struct {
	bridge.Job
}

func (drainArgs) Kind() string { return "threadline_drain" }

// Lane jobs keep their own attempt count per delivery; River's attempts only
// count infrastructure errors (database down), so they get many (see EnqueueMany).
// Runner works one job; *bridge.RetryAfterError snoozes it without using an
// attempt.
type Runner interface {
	RunJob(ctx context.Context, j bridge.Job) error
}

type worker struct {
	river.WorkerDefaults[drainArgs]
	runner Runner
}

func (w *worker) Work(ctx context.Context, job *river.Job[drainArgs]) error {
	err := w.runner.RunJob(ctx, job.Args.Job)
	var retry *bridge.RetryAfterError
	if errors.As(err, &retry) {
		return river.JobSnooze(max(retry.After, 0))
	}
	return err
}

// Options tunes the working client.
type Options struct {
	Logger *slog.Logger
	// Workers is how many jobs run at once.
	Workers int
	// PollInterval bounds job pickup latency where the database cannot notify
	// (SQLite); PostgreSQL is notified on insert, and polls only to pick up
	// jobs whose notification was coalesced away (see FetchCooldown).
	PollInterval time.Duration
	// FetchCooldown is the least time between two fetches of the working
	// client. River's default of 100 ms adds up to that much to a job's
	// pickup. Insert notifications go out at most every NotifyEvery.
	FetchCooldown time.Duration
	// PollOnly disables LISTEN/NOTIFY.
	PollOnly bool
}

// DefaultFetchCooldown keeps pickup within a few milliseconds of commit
// while bounding fetches to a few hundred a second under load.
const DefaultFetchCooldown = 5 * time.Millisecond

// NotifyEvery bounds the insert notifications one process sends (River
// drops those that come sooner after the last; the jobs they announced are
// fetched with the next one, or by the poll). Each is one more statement in
// an ingest transaction, and PostgreSQL serializes the commits of
// transactions that notify, so a few tens a second are enough.
const NotifyEvery = 20 * time.Millisecond

// Queue inserts and works jobs over one River driver.
type Queue[TTx any] struct {
	driver riverdriver.Driver[TTx]
	insert *river.Client[TTx]
	opts   Options
	work   *river.Client[TTx]
}

// New returns a queue that can insert jobs at once; Start begins working them.
func New[TTx any](driver riverdriver.Driver[TTx], opts Options) (*Queue[TTx], error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Workers <= 0 {
		opts.Workers = 50
	}
	if opts.FetchCooldown <= 0 {
		opts.FetchCooldown = DefaultFetchCooldown
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	opts.FetchCooldown = min(opts.FetchCooldown, opts.PollInterval)
	// River's inserting client limits its notifications by its FetchCooldown.
	insert, err := river.NewClient(driver, &river.Config{Logger: opts.Logger, FetchCooldown: min(max(opts.FetchCooldown, NotifyEvery), opts.PollInterval)})
	if err != nil {
		return nil, fmt.Errorf("river insert client: %w", err)
	}
	return &Queue[TTx]{driver: driver, insert: insert, opts: opts}, nil
}

// EnqueueMany inserts jobs in tx in one statement (and at most one
// notification), however many a transaction enqueued.
func (q *Queue[TTx]) EnqueueMany(ctx context.Context, tx TTx, jobs []bridge.Job) error {
	params := make([]river.InsertManyParams, len(jobs))
	for i, j := range jobs {
		opts := &river.InsertOpts{MaxAttempts: 100}
		// River's priorities run 1 (first) to 4, as ours do.
		if j.Priority >= bridge.P1 && j.Priority <= bridge.P4 {
			opts.Priority = int(j.Priority)
		}
		params[i] = river.InsertManyParams{Args: drainArgs{j}, InsertOpts: opts}
	}
	_, err := q.insert.InsertManyTx(ctx, tx, params)
	return err
}

// Start works jobs with runner until ctx is cancelled or Stop is called.
func (q *Queue[TTx]) Start(ctx context.Context, runner Runner) error {
	if q.work != nil {
		return errors.New("queue already started")
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &worker{runner: runner}); err != nil {
		return err
	}
	cfg := &river.Config{
		Logger:            q.opts.Logger,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: q.opts.Workers}},
		Workers:           workers,
		FetchPollInterval: q.opts.PollInterval,
		FetchCooldown:     q.opts.FetchCooldown,
		PollOnly:          q.opts.PollOnly,
		JobTimeout:        time.Minute,
	}
	work, err := river.NewClient(q.driver, cfg)
	if err != nil {
		return fmt.Errorf("river work client: %w", err)
	}
	if err := work.Start(ctx); err != nil {
		return fmt.Errorf("start river: %w", err)
	}
	q.work = work
	return nil
}

// Stop lets running jobs finish, up to ctx's deadline, then cancels them.
func (q *Queue[TTx]) Stop(ctx context.Context) error {
	if q.work == nil {
		return nil
	}
	err := q.work.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return q.work.StopAndCancel(sctx)
	}
	return err
}

// Migrate brings River's own tables up to date.
func Migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx]) error {
	m, err := rivermigrate.New(driver, nil)
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrate: %w", err)
	}
	return nil
}

// Pending reports River migrations not yet applied.
func Pending[TTx any](ctx context.Context, driver riverdriver.Driver[TTx]) ([]string, error) {
	m, err := rivermigrate.New(driver, nil)
	if err != nil {
		return nil, fmt.Errorf("river migrator: %w", err)
	}
	res, err := m.Validate(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("river validate: %w", err)
	}
	return res.Messages, nil
}
