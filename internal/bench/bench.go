// Package bench measures Threadline end to end on this machine: signed
// Telegram webhooks in, Slack posts out, agent replies back to Telegram,
// through the real server and store, against the Slack and Telegram
// emulators. It counts what was lost, doubled or reordered from the
// emulators' own records, and prints throughput and latency figures.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/threadline/threadline/adapters/telegram/telegramtest"
	"github.com/threadline/threadline/chatops/slack/slacktest"
	"github.com/threadline/threadline/internal/app"
	"github.com/threadline/threadline/internal/config"
	"github.com/threadline/threadline/store/postgres"
)

// Options sets the load.
type Options struct {
	// DatabaseURL selects PostgreSQL (empty: the embedded store in DataDir).
	DatabaseURL string
	DataDir     string
	Customers   int
	// Messages is how many messages each customer sends.
	Messages int
	// Rate is the target of webhooks per second across all senders; 0 is
	// as fast as the senders go.
	Rate float64
	// Senders is how many webhook requests are in flight at once.
	Senders int
	// Duplicates is the share of webhooks delivered a second time, as
	// platforms retry.
	Duplicates float64
	// Replies is how many conversations get an agent reply from Slack.
	Replies int
	// Baseline also measures the raw insert commit rate of the PostgreSQL,
	// and durable ingest alone: the same webhooks, from other customers,
	// to a Threadline that works no jobs.
	Baseline bool
	// Timeout bounds the wait for everything to arrive.
	Timeout time.Duration
	Logger  *slog.Logger
}

// Report holds the figures of one run.
type Report struct {
	Store                        string
	Webhooks, Duplicates         int
	AckRate                      float64 // webhooks acknowledged per second
	AckP50, AckP95, AckP99       time.Duration
	SlackP50, SlackP95, SlackP99 time.Duration
	ReplyP50, ReplyP95, ReplyP99 time.Duration
	Lost, Doubled, Disordered    int
	RepliesLost, RepliesDoubled  int
	Slack429                     int
	// Resent counts webhook deliveries answered other than 200, or not at
	// all, and delivered again as Telegram would.
	Resent                   int
	PeakRSSKiB               int64
	BaselineInsertsPerSecond float64
	// IngestAloneWebhooks were acknowledged, IngestAloneRate per second
	// with IngestAloneP99 the ack p99, while no job ran (Baseline).
	IngestAloneWebhooks int
	IngestAloneRate     float64
	IngestAloneP99      time.Duration
	// StatementsPerMessage is the PostgreSQL statements the server sent
	// (webhooks and jobs, BEGIN and COMMIT included) per customer message,
	// counted until every message and reply arrived.
	StatementsPerMessage float64
	Elapsed              time.Duration
}

// Print writes the report as aligned lines.
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "store                      %s\n", r.Store)
	fmt.Fprintf(w, "webhooks                   %d (+%d redelivered)\n", r.Webhooks, r.Duplicates)
	fmt.Fprintf(w, "webhook acks/s             %.0f\n", r.AckRate)
	fmt.Fprintf(w, "webhooks not acked, resent %d\n", r.Resent)
	fmt.Fprintf(w, "ack latency p50/p95/p99    %s / %s / %s\n", ms(r.AckP50), ms(r.AckP95), ms(r.AckP99))
	fmt.Fprintf(w, "inbound->Slack p50/p95/p99 %s / %s / %s\n", ms(r.SlackP50), ms(r.SlackP95), ms(r.SlackP99))
	fmt.Fprintf(w, "reply->platform p50/p95/p99 %s / %s / %s\n", ms(r.ReplyP50), ms(r.ReplyP95), ms(r.ReplyP99))
	fmt.Fprintf(w, "messages lost/doubled      %d / %d (out of order: %d)\n", r.Lost, r.Doubled, r.Disordered)
	fmt.Fprintf(w, "replies lost/doubled       %d / %d\n", r.RepliesLost, r.RepliesDoubled)
	fmt.Fprintf(w, "Slack 429s received        %d\n", r.Slack429)
	fmt.Fprintf(w, "peak RSS                   %.1f MiB\n", float64(r.PeakRSSKiB)/1024)
	if r.BaselineInsertsPerSecond > 0 {
		fmt.Fprintf(w, "baseline insert commits/s  %.0f (ingest is %.2fx of it)\n", r.BaselineInsertsPerSecond, r.AckRate/r.BaselineInsertsPerSecond)
	}
	if r.IngestAloneRate > 0 {
		fmt.Fprintf(w, "ingest alone acks/s        %.0f, ack p99 %s (%d webhooks, no job running", r.IngestAloneRate, ms(r.IngestAloneP99), r.IngestAloneWebhooks)
		if r.BaselineInsertsPerSecond > 0 {
			fmt.Fprintf(w, "; %.2fx of the baseline", r.IngestAloneRate/r.BaselineInsertsPerSecond)
		}
		fmt.Fprintln(w, ")")
	}
	if r.StatementsPerMessage > 0 {
		fmt.Fprintf(w, "DB statements per message  %.1f (ingest, Slack post and replies)\n", r.StatementsPerMessage)
	}
	fmt.Fprintf(w, "elapsed                    %s\n", r.Elapsed.Round(time.Millisecond))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}

const (
	channel  = "C0BENCH"
	tgSecret = "bench-telegram-secret"
	signing  = "bench-signing-secret"
)

var idPattern = regexp.MustCompile(`m(\d+)-(\d+)`)

// Run starts Threadline with the emulators, drives the load and counts.
func Run(ctx context.Context, o Options) (Report, error) {
	if o.Customers <= 0 {
		o.Customers = 50
	}
	if o.Messages <= 0 {
		o.Messages = 4
	}
	if o.Senders <= 0 {
		o.Senders = 16
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	tg := telegramtest.New(telegramtest.Options{})
	defer tg.Close()
	sl := slacktest.New(slacktest.Options{})
	defer sl.Close()
	dir, cleanup, err := dataDir(o.DataDir, o.DatabaseURL, "threadline-bench-")
	if err != nil {
		return Report{}, err
	}
	defer cleanup()
	env := map[string]string{
		"THREADLINE_ADDR": "127.0.0.1:0", "THREADLINE_DATA_DIR": dir, "THREADLINE_DATABASE_URL": o.DatabaseURL,
		"THREADLINE_LOG_LEVEL":          "warn",
		"THREADLINE_TELEGRAM_BOT_TOKEN": tg.Token(), "THREADLINE_TELEGRAM_API_URL": tg.URL(),
		"THREADLINE_TELEGRAM_MODE": "webhook", "THREADLINE_TELEGRAM_WEBHOOK_SECRET": tgSecret,
		"THREADLINE_SLACK_BOT_TOKEN": sl.Token(), "THREADLINE_SLACK_SIGNING_SECRET": signing,
		"THREADLINE_SLACK_CHANNEL": channel, "THREADLINE_SLACK_API_URL": sl.URL(),
		// "When Slack does not throttle": the emulator does not, so
		// Threadline's own pacing is lifted to measure the pipeline itself.
		"THREADLINE_SLACK_POST_INTERVAL": "1ns", "THREADLINE_SLACK_UPDATE_INTERVAL": "1ns", "THREADLINE_TELEGRAM_CHAT_INTERVAL": "1ns",
	}
	var statements postgres.StatementCounter
	base, stopServer, err := serve(ctx, env, o.DatabaseURL != "", o.Logger, app.Options{StatementTracer: &statements})
	if err != nil {
		return Report{}, err
	}
	stop := sync.OnceFunc(stopServer)
	defer stop()

	rep := Report{Store: "embedded SQLite"}
	if o.DatabaseURL != "" {
		rep.Store = "PostgreSQL"
		if o.Baseline {
			if rep.BaselineInsertsPerSecond, err = baseline(ctx, o.DatabaseURL, o.Senders, 2000); err != nil {
				return rep, err
			}
		}
	}
	start := time.Now()
	sentAt, acks, dups, resent, err := sendWebhooks(ctx, base, o, 0)
	if err != nil {
		return rep, err
	}
	rep.Webhooks, rep.Duplicates, rep.Resent = len(acks), dups, resent
	rep.AckRate = float64(len(acks)) / time.Since(start).Seconds()
	rep.AckP50, rep.AckP95, rep.AckP99 = percentile(acks, .5), percentile(acks, .95), percentile(acks, .99)

	total := o.Customers * o.Messages
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	_ = sl.WaitFor(wctx, func(s *slacktest.Server) bool { return countShown(s) >= total })
	var lat []time.Duration
	rep.Lost, rep.Doubled, rep.Disordered, lat = tally(sl.Messages(channel), sentAt, o)
	rep.SlackP50, rep.SlackP95, rep.SlackP99 = percentile(lat, .5), percentile(lat, .95), percentile(lat, .99)

	if o.Replies > 0 {
		var rlat []time.Duration
		if rlat, rep.RepliesLost, rep.RepliesDoubled, err = agentReplies(wctx, sl, tg, base, o); err != nil {
			return rep, err
		}
		rep.ReplyP50, rep.ReplyP95, rep.ReplyP99 = percentile(rlat, .5), percentile(rlat, .95), percentile(rlat, .99)
	}
	if o.DatabaseURL != "" {
		rep.StatementsPerMessage = float64(statements.Count()) / float64(total)
	}
	rep.Slack429 = sl.RateLimited()
	rep.PeakRSSKiB = peakRSS()
	rep.Elapsed = time.Since(start)
	if o.Baseline {
		stop()
		acks, took, err := ingestAlone(ctx, env, o)
		if err != nil {
			return rep, err
		}
		rep.IngestAloneWebhooks, rep.IngestAloneRate, rep.IngestAloneP99 = len(acks), float64(len(acks))/took.Seconds(), percentile(acks, .99)
	}
	return rep, nil
}

// ingestAlone restarts Threadline on the same store without job workers and
// sends the load again from as many new customers: what the webhooks cost
// when nothing else competes for the machine, the figure to read against
// the raw insert baseline. The messages it stores stay queued.
func ingestAlone(ctx context.Context, env map[string]string, o Options) (acks []time.Duration, took time.Duration, err error) {
	base, stop, err := serve(ctx, env, false, o.Logger, app.Options{IngestOnly: true})
	if err != nil {
		return nil, 0, err
	}
	defer stop()
	o.Duplicates = 0
	start := time.Now()
	_, acks, _, _, err = sendWebhooks(ctx, base, o, o.Customers)
	return acks, time.Since(start), err
}

func migrate(ctx context.Context, cfg config.Config) error {
	st, _, err := app.OpenStore(ctx, app.StoreOptions{DatabaseURL: cfg.DatabaseURL.Reveal()})
	if err != nil {
		return err
	}
	defer st.Close()
	_, err = st.Migrate(ctx)
	return err
}

// update builds a customer's Telegram update. Telegram numbers messages per
// chat for both sides; these ids stay clear of the ones the emulator gives
// the bot's replies, as Telegram's would.
func update(id int64, customer, msg int) []byte {
	user := 900000 + customer
	b, _ := json.Marshal(map[string]any{"update_id": id, "message": map[string]any{
		"message_id": 1_000_000 + msg, "date": time.Now().Unix(), "text": fmt.Sprintf("m%d-%d", customer, msg),
		"from": map[string]any{"id": user, "is_bot": false, "first_name": fmt.Sprintf("Customer%d", customer)},
		"chat": map[string]any{"id": user, "type": "private"},
	}})
	return b
}

// sendWebhooks posts the messages of customers first to first+o.Customers-1
// in order (one customer is handled by one sender at a time) and
// redelivers a share of them.
func sendWebhooks(ctx context.Context, base string, o Options, first int) (map[string]time.Time, []time.Duration, int, int, error) {
	type job struct{ customer int }
	jobs := make(chan job)
	var mu sync.Mutex
	sentAt := map[string]time.Time{}
	var acks []time.Duration
	var dups atomic.Int64
	var firstErr atomic.Value
	var tick <-chan time.Time
	if o.Rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / o.Rate))
		defer t.Stop()
		tick = t.C
	}
	poster := newTelegramPoster(base, &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.Senders}})
	post := func(body []byte) (time.Duration, error) { return poster.post(ctx, body) }
	var wg sync.WaitGroup
	for range o.Senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				for m := range o.Messages {
					if tick != nil {
						<-tick
					}
					// Unique per message however the senders interleave.
					body := update(int64(j.customer*o.Messages+m+1), j.customer, m)
					id := fmt.Sprintf("m%d-%d", j.customer, m)
					mu.Lock()
					sentAt[id] = time.Now()
					mu.Unlock()
					d, err := post(body)
					if err != nil {
						firstErr.CompareAndSwap(nil, err)
						return
					}
					mu.Lock()
					acks = append(acks, d)
					mu.Unlock()
					if o.Duplicates > 0 && float64((j.customer*o.Messages+m)%100) < o.Duplicates*100 {
						if _, err := post(body); err != nil {
							firstErr.CompareAndSwap(nil, err)
							return
						}
						dups.Add(1)
					}
				}
			}
		}()
	}
	for c := range o.Customers {
		select {
		case jobs <- job{first + c}:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return nil, nil, 0, 0, err
	}
	return sentAt, acks, int(dups.Load()), int(poster.redelivered.Load()), nil
}

func countShown(s *slacktest.Server) int {
	n := 0
	for _, m := range s.Messages(channel) {
		n += len(idPattern.FindAllString(m.Text, -1))
	}
	return n
}

// tally counts, from what the Slack emulator shows, every customer message
// once, in order per conversation.
func tally(msgs []slacktest.Message, sentAt map[string]time.Time, o Options) (lost, doubled, disordered int, lat []time.Duration) {
	seen := map[string]int{}
	last := map[string]int{}
	for _, m := range msgs {
		// A coalesced post shows several messages, in order.
		for _, p := range idPattern.FindAllStringSubmatch(m.Text, -1) {
			id := p[0]
			seen[id]++
			if seen[id] > 1 {
				continue
			}
			n, _ := strconv.Atoi(p[2])
			if prev, ok := last[p[1]]; ok && n < prev {
				disordered++
			}
			last[p[1]] = n
			if t, ok := sentAt[id]; ok {
				lat = append(lat, m.At.Sub(t))
			}
		}
	}
	for c := range o.Customers {
		for m := range o.Messages {
			switch n := seen[fmt.Sprintf("m%d-%d", c, m)]; {
			case n == 0:
				lost++
			case n > 1:
				doubled += n - 1
			}
		}
	}
	return lost, doubled, disordered, lat
}

// agentReplies answers the first conversations from Slack through the real
// events endpoint and measures until Telegram's sendMessage receives them.
func agentReplies(ctx context.Context, sl *slacktest.Server, tg *telegramtest.Server, base string, o Options) ([]time.Duration, int, int, error) {
	client := &slacktest.Client{BaseURL: base, SigningSecret: signing}
	var parents []slacktest.Message
	for _, m := range sl.Messages(channel) {
		// Conversation cards only: the backlog digest is a parent too.
		if m.ThreadTS == "" && idPattern.MatchString(m.Text) && len(parents) < o.Replies {
			parents = append(parents, m)
		}
	}
	sent := map[string]time.Time{}
	for i, p := range parents {
		text := fmt.Sprintf("r%d", i)
		m := sl.AddUserMessage(channel, p.TS, "U0AGENT", text)
		sent[text] = time.Now()
		env := slacktest.EventEnvelope(sl.TeamID(), fmt.Sprintf("EvBENCH%d", i), map[string]any{"type": "message",
			"channel": channel, "user": "U0AGENT", "text": m.Text, "ts": m.TS, "thread_ts": p.TS})
		// 503 says the thread's parent is shown but not yet recorded: Slack
		// redelivers, and so does the harness (sooner than Slack's minute).
		for retry := 0; ; retry++ {
			code, err := client.SendEvent(ctx, env, retry)
			if err == nil && code == http.StatusOK {
				break
			}
			if err != nil || code != http.StatusServiceUnavailable || !sleepCtx(ctx, 50*time.Millisecond) {
				return nil, 0, 0, fmt.Errorf("agent reply: %d %v", code, err)
			}
		}
	}
	_, _ = tg.WaitSent(ctx, 0, len(parents))
	got := map[string]int{}
	var lat []time.Duration
	for _, m := range tg.Sent(0) {
		got[m.Text]++
		if t, ok := sent[m.Text]; ok && got[m.Text] == 1 {
			lat = append(lat, m.At.Sub(t))
		}
	}
	lost, doubled := 0, 0
	for text := range sent {
		switch n := got[text]; {
		case n == 0:
			lost++
		case n > 1:
			doubled += n - 1
		}
	}
	return lat, lost, doubled, nil
}

// baseline measures single-row insert commits per second on the same
// PostgreSQL with the same concurrency, the ceiling durable ingest is read
// against.
func baseline(ctx context.Context, url string, workers, total int) (float64, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_baseline (id bigserial PRIMARY KEY, body text)`); err != nil {
		return 0, err
	}
	defer pool.Exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS bench_baseline`)
	var n atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n.Add(1) <= int64(total) {
				if _, err := pool.Exec(ctx, `INSERT INTO bench_baseline (body) VALUES ('where is my order?')`); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return 0, err
	}
	return float64(total) / time.Since(start).Seconds(), nil
}

// peakRSS reads the process's high-water resident set size (Linux).
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// serve starts Threadline in this process with the settings in env, on a
// free loopback port, and returns its base URL and a stop function that
// waits for it to finish. PostgreSQL (postgres) is migrated first, as
// `threadline migrate` would; the embedded store migrates itself.
func serve(ctx context.Context, env map[string]string, postgres bool, log *slog.Logger, opts app.Options) (base string, stop func(), err error) {
	cfg, err := config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok && v != "" })
	if err != nil {
		return "", nil, err
	}
	if postgres {
		if err := migrate(ctx, cfg); err != nil {
			return "", nil, err
		}
	}
	a, err := app.New(ctx, cfg, log, opts)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx, ln) }()
	return "http://" + ln.Addr().String(), func() { cancel(); <-done }, nil
}

// dataDir is where the embedded store of a run keeps its files: the folder
// asked for, none on PostgreSQL, else a temporary one that cleanup removes.
func dataDir(asked, databaseURL, prefix string) (dir string, cleanup func(), err error) {
	if asked != "" || databaseURL != "" {
		return asked, func() {}, nil
	}
	d, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	return d, func() { os.RemoveAll(d) }, nil
}
