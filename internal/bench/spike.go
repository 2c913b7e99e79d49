package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/threadline/threadline/adapters/telegram/telegramtest"
	"github.com/threadline/threadline/chatops/slack/slacktest"
	"github.com/threadline/threadline/internal/app"
)

// SpikeOptions sets a flood: a viral post brings many conversations into
// the one inbox channel at once, while Slack allows about one post per
// second per channel, and a few urgent (P1) conversations arrive in the
// middle of it.
type SpikeOptions struct {
	DatabaseURL string
	DataDir     string
	// Flood is how many conversations arrive at once; each sends Messages.
	Flood    int
	Messages int
	// Urgent is how many P1 conversations (an urgent keyword) arrive once
	// the flood is queued and draining; each sends two messages.
	Urgent int
	// PostInterval is the channel's budget, enforced by the Slack emulator
	// (429 past it) and configured in Threadline; Slack's is about 1s.
	PostInterval time.Duration
	Senders      int
	Timeout      time.Duration
	Logger       *slog.Logger
}

// SpikeReport holds the figures of a flood.
type SpikeReport struct {
	Store                   string
	Flood, FloodMessages    int
	Urgent, UrgentMessages  int
	PostInterval            time.Duration
	Posts                   int // messages in the channel showing customer messages
	Slack429                int
	Resent                  int // webhook deliveries not acknowledged and sent again
	P1P50, P1P95, P1Max     time.Duration
	FirstP1Post             time.Duration // P1 send -> its first message shown, worst case
	Drain                   time.Duration // first flood webhook -> last flood message shown
	FloodWaitingAtP1        int           // flood messages not yet shown when the P1s arrived
	FloodOvertaken          int           // of those, shown after every P1 message (the P1s went ahead)
	Lost, Doubled, Disorder int
	DigestPeak              int  // conversations the digest reported at most
	DigestCleared           bool // the digest said "caught up" at the end
	Elapsed                 time.Duration
}

// Failed reports loss, doubles or disorder.
func (r SpikeReport) Failed() bool { return r.Lost+r.Doubled+r.Disorder > 0 }

// Print writes the report.
func (r SpikeReport) Print(w io.Writer) {
	fmt.Fprintf(w, "store                       %s\n", r.Store)
	fmt.Fprintf(w, "flood                       %d conversations, %d messages at once into one channel (budget 1 post / %s)\n", r.Flood, r.FloodMessages, r.PostInterval)
	fmt.Fprintf(w, "urgent (P1) mid-flood       %d conversations, %d messages\n", r.Urgent, r.UrgentMessages)
	fmt.Fprintf(w, "posts used                  %d for %d messages (%.2f messages a post)\n", r.Posts, r.FloodMessages+r.UrgentMessages,
		float64(r.FloodMessages+r.UrgentMessages)/float64(max(r.Posts, 1)))
	fmt.Fprintf(w, "P1 latency p50/p95/max      %s / %s / %s (first message of a P1 conversation: %s worst)\n", ms(r.P1P50), ms(r.P1P95), ms(r.P1Max), ms(r.FirstP1Post))
	fmt.Fprintf(w, "P1s went ahead of           %d of the %d flood messages waiting when they arrived\n", r.FloodOvertaken, r.FloodWaitingAtP1)
	fmt.Fprintf(w, "backlog drain time          %s\n", r.Drain.Round(time.Millisecond))
	fmt.Fprintf(w, "messages lost/doubled       %d / %d (out of order: %d)\n", r.Lost, r.Doubled, r.Disorder)
	fmt.Fprintf(w, "backlog digest              peak %d conversations, cleared: %v\n", r.DigestPeak, r.DigestCleared)
	fmt.Fprintf(w, "Slack 429s received         %d\n", r.Slack429)
	fmt.Fprintf(w, "webhooks not acked, resent  %d\n", r.Resent)
	fmt.Fprintf(w, "elapsed                     %s\n", r.Elapsed.Round(time.Millisecond))
}

var (
	digestPeak    = regexp.MustCompile(`at most (\d+) conversations`)
	digestWaiting = regexp.MustCompile(`Backlog: (\d+) conversation`)
)

// Spike runs the flood and counts.
func Spike(ctx context.Context, o SpikeOptions) (SpikeReport, error) {
	if o.Flood <= 0 {
		o.Flood = 300
	}
	if o.Messages <= 0 {
		o.Messages = 3
	}
	if o.Urgent < 0 {
		o.Urgent = 0
	}
	if o.PostInterval <= 0 {
		o.PostInterval = time.Second
	}
	if o.Senders <= 0 {
		o.Senders = 16
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	tg := telegramtest.New(telegramtest.Options{})
	defer tg.Close()
	// The emulator enforces the budget a little below Threadline's pacing,
	// as Slack tolerates short bursts; a post too early earns a 429.
	sl := slacktest.New(slacktest.Options{ChannelRate: o.PostInterval * 9 / 10})
	defer sl.Close()
	dir, cleanup, err := dataDir(o.DataDir, o.DatabaseURL, "threadline-spike-")
	if err != nil {
		return SpikeReport{}, err
	}
	defer cleanup()
	digestEvery := 5 * o.PostInterval
	env := map[string]string{
		"THREADLINE_ADDR": "127.0.0.1:0", "THREADLINE_DATA_DIR": dir, "THREADLINE_DATABASE_URL": o.DatabaseURL,
		"THREADLINE_LOG_LEVEL":          "warn",
		"THREADLINE_TELEGRAM_BOT_TOKEN": tg.Token(), "THREADLINE_TELEGRAM_API_URL": tg.URL(),
		"THREADLINE_TELEGRAM_MODE": "webhook", "THREADLINE_TELEGRAM_WEBHOOK_SECRET": tgSecret,
		"THREADLINE_SLACK_BOT_TOKEN": sl.Token(), "THREADLINE_SLACK_SIGNING_SECRET": signing,
		"THREADLINE_SLACK_CHANNEL": channel, "THREADLINE_SLACK_API_URL": sl.URL(),
		"THREADLINE_SLACK_POST_INTERVAL":   o.PostInterval.String(),
		"THREADLINE_SLACK_UPDATE_INTERVAL": (o.PostInterval * 6 / 5).String(),
		"THREADLINE_SLACK_BACKLOG_DIGEST":  strconv.Itoa(max(2, o.Flood/10)),
		"THREADLINE_SLACK_DIGEST_INTERVAL": digestEvery.String(),
		"THREADLINE_URGENT_KEYWORDS":       "fraud",
	}
	base, stop, err := serve(ctx, env, o.DatabaseURL != "", o.Logger, app.Options{})
	if err != nil {
		return SpikeReport{}, err
	}
	defer stop()

	rep := SpikeReport{Store: "embedded SQLite", Flood: o.Flood, FloodMessages: o.Flood * o.Messages, Urgent: o.Urgent, UrgentMessages: 2 * o.Urgent, PostInterval: o.PostInterval}
	if o.DatabaseURL != "" {
		rep.Store = "PostgreSQL"
	}
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	s := &spikeSender{poster: newTelegramPoster(base, &http.Client{Timeout: 30 * time.Second}), sentAt: map[string]time.Time{}}

	// The flood: every conversation at once.
	floodStart := time.Now()
	var convs [][]string
	for c := range o.Flood {
		var texts []string
		for m := range o.Messages {
			texts = append(texts, fmt.Sprintf("m%d-%d", c, m))
		}
		convs = append(convs, texts)
	}
	if err := s.send(wctx, o.Senders, 0, convs); err != nil {
		return rep, err
	}
	// Once the flood is queued and draining, the urgent conversations.
	_ = sl.WaitFor(wctx, func(s *slacktest.Server) bool { return countShown(s) >= max(1, rep.FloodMessages/10) })
	rep.FloodWaitingAtP1 = rep.FloodMessages - countShown(sl)
	urgentAt := time.Now()
	var urgent [][]string
	for c := range o.Urgent {
		id := o.Flood + c
		urgent = append(urgent, []string{fmt.Sprintf("fraud on my card m%d-0", id), fmt.Sprintf("m%d-1", id)})
	}
	if err := s.send(wctx, o.Senders, o.Flood, urgent); err != nil {
		return rep, err
	}
	total := rep.FloodMessages + rep.UrgentMessages
	_ = sl.WaitFor(wctx, func(s *slacktest.Server) bool { return countShown(s) >= total })
	// The digest closes on its next check once nothing waits.
	dctx, dcancel := context.WithTimeout(wctx, 4*digestEvery+5*time.Second)
	_ = sl.WaitFor(dctx, func(s *slacktest.Server) bool { return digestCleared(s) })
	dcancel()

	// Count from the emulator's record.
	msgs := sl.Messages(channel)
	expected := map[string]bool{}
	for _, texts := range append(convs, urgent...) {
		for _, t := range texts {
			expected[idPattern.FindString(t)] = true
		}
	}
	type shown struct {
		index int
		at    time.Time
	}
	first := map[string]shown{}
	copies := map[string]int{}
	last := map[string]int{}
	for i, m := range msgs {
		ids := idPattern.FindAllStringSubmatch(m.Text, -1)
		if len(ids) > 0 {
			rep.Posts++
		}
		for _, p := range ids {
			copies[p[0]]++
			if copies[p[0]] > 1 {
				continue
			}
			first[p[0]] = shown{i, m.At}
			n, _ := strconv.Atoi(p[2])
			if prev, ok := last[p[1]]; ok && n < prev {
				rep.Disorder++
			}
			last[p[1]] = n
		}
	}
	for id := range expected {
		switch n := copies[id]; {
		case n == 0:
			rep.Lost++
		case n > 1:
			rep.Doubled += n - 1
		}
	}
	var p1 []time.Duration
	lastP1 := -1
	for c := range o.Urgent {
		for m := range 2 {
			id := fmt.Sprintf("m%d-%d", o.Flood+c, m)
			f, ok := first[id]
			if !ok {
				continue
			}
			d := f.at.Sub(s.sentAt[id])
			p1 = append(p1, d)
			if m == 0 {
				rep.FirstP1Post = max(rep.FirstP1Post, d)
			}
			lastP1 = max(lastP1, f.index)
		}
	}
	rep.P1P50, rep.P1P95 = percentile(p1, .5), percentile(p1, .95)
	if len(p1) > 0 {
		rep.P1Max = p1[len(p1)-1] // sorted by percentile
	}
	var lastFlood time.Time
	for c := range o.Flood {
		for m := range o.Messages {
			f, ok := first[fmt.Sprintf("m%d-%d", c, m)]
			if !ok {
				continue
			}
			if f.at.After(lastFlood) {
				lastFlood = f.at
			}
			if lastP1 >= 0 && f.index > lastP1 && f.at.After(urgentAt) {
				rep.FloodOvertaken++
			}
		}
	}
	rep.Drain = lastFlood.Sub(floodStart)
	for _, m := range msgs {
		if p := digestPeak.FindStringSubmatch(m.Text); p != nil {
			rep.DigestPeak, _ = strconv.Atoi(p[1])
			rep.DigestCleared = true
		} else if p := digestWaiting.FindStringSubmatch(m.Text); p != nil {
			n, _ := strconv.Atoi(p[1])
			rep.DigestPeak = max(rep.DigestPeak, n)
		}
	}
	rep.Slack429 = sl.RateLimited()
	rep.Resent = int(s.poster.redelivered.Load())
	rep.Elapsed = time.Since(start)
	return rep, nil
}

func digestCleared(s *slacktest.Server) bool {
	for _, m := range s.Messages(channel) {
		if strings.Contains(m.Text, "Caught up") {
			return true
		}
	}
	return false
}

// spikeSender posts each conversation's messages in order, conversations
// in parallel, as signed Telegram webhooks.
type spikeSender struct {
	poster *telegramPoster
	mu     sync.Mutex
	next   int64
	sentAt map[string]time.Time
}

func (s *spikeSender) send(ctx context.Context, senders, firstCustomer int, convs [][]string) error {
	jobs := make(chan int)
	errc := make(chan error, senders)
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				for m, text := range convs[c] {
					s.mu.Lock()
					s.next++
					id := s.next
					s.sentAt[idPattern.FindString(text)] = time.Now()
					s.mu.Unlock()
					if err := s.post(ctx, updateText(id, firstCustomer+c, m, text)); err != nil {
						errc <- err
						return
					}
				}
			}
		}()
	}
	for c := range convs {
		select {
		case jobs <- c:
		case err := <-errc:
			close(jobs)
			wg.Wait()
			return err
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return ctx.Err()
	}
}

func (s *spikeSender) post(ctx context.Context, body []byte) error {
	_, err := s.poster.post(ctx, body)
	return err
}

// updateText is a customer's Telegram update with the given text.
func updateText(id int64, customer, msg int, text string) []byte {
	user := 900000 + customer
	b, _ := json.Marshal(map[string]any{"update_id": id, "message": map[string]any{
		"message_id": 1_000_000 + msg, "date": time.Now().Unix(), "text": text,
		"from": map[string]any{"id": user, "is_bot": false, "first_name": fmt.Sprintf("Customer%d", customer)},
		"chat": map[string]any{"id": user, "type": "private"},
	}})
	return b
}
