package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/threadline/threadline/adapters/telegram"
	"github.com/threadline/threadline/adapters/telegram/telegramtest"
	"github.com/threadline/threadline/chatops/slack/slacktest"
)

// ChaosOptions sets a fault run: Threadline runs as a child process that is
// killed with SIGKILL at random moments and restarted, while the emulators
// answer some calls with 429s and with errors after applying them.
type ChaosOptions struct {
	// Binary is the threadline executable to run as `serve`.
	Binary      string
	DatabaseURL string // empty: the embedded store in a fresh folder
	Customers   int
	Messages    int
	Replies     int
	Kills       int
	// KillEvery is the mean time between kills.
	KillEvery time.Duration
	// Faults is how many calls of each kind (Slack 429, Slack lost answer,
	// Telegram 429, Telegram lost answer) the emulators fail.
	Faults  int
	Timeout time.Duration
	// Lease is THREADLINE_DELIVERY_LEASE for the child: how long a kill
	// blocks the lanes it held.
	Lease time.Duration
	// Late is how long after the first delivery every webhook and Slack
	// event is delivered again, standing in for Slack's retries after 1 and
	// 5 minutes and Telegram's and Meta's hours-later ones.
	Late time.Duration
}

// ChaosReport counts what survived.
type ChaosReport struct {
	Kills int
	// Redelivered counts the extra deliveries of webhooks and Slack events.
	Redelivered      int
	Lost, Disordered int
	RepliesLost      int
	// Explained repeats were sent again after a kill or a lost answer left
	// their first send's outcome unknown; at most one per such send.
	Explained, Unexplained int
	// UnexplainedDetail describes each unexplained repeat.
	UnexplainedDetail []string
	Slack429          int
	Elapsed           time.Duration
}

// Failed reports whether anything was lost, reordered or repeated without
// cause.
func (r ChaosReport) Failed() bool {
	return r.Lost+r.Disordered+r.RepliesLost+r.Unexplained > 0
}

// Print writes the report.
func (r ChaosReport) Print(w io.Writer) {
	fmt.Fprintf(w, "kills (SIGKILL + restart)  %d\n", r.Kills)
	fmt.Fprintf(w, "redeliveries (now + late)  %d\n", r.Redelivered)
	fmt.Fprintf(w, "messages lost/out of order %d / %d\n", r.Lost, r.Disordered)
	fmt.Fprintf(w, "replies lost               %d\n", r.RepliesLost)
	fmt.Fprintf(w, "repeats explained          %d (outcome left unknown by a kill or a lost answer)\n", r.Explained)
	fmt.Fprintf(w, "repeats unexplained        %d\n", r.Unexplained)
	for _, d := range r.UnexplainedDetail {
		fmt.Fprintf(w, "  %s\n", d)
	}
	fmt.Fprintf(w, "Slack 429s received        %d\n", r.Slack429)
	fmt.Fprintf(w, "elapsed                    %s\n", r.Elapsed.Round(time.Millisecond))
}

type child struct {
	bin  string
	env  []string
	addr string
	log  *os.File
	mu   sync.Mutex
	cmd  *exec.Cmd
}

func (c *child) start(ctx context.Context) error {
	cmd := exec.Command(c.bin, "serve")
	cmd.Env, cmd.Stdout, cmd.Stderr = c.env, c.log, c.log
	if err := cmd.Start(); err != nil {
		return err
	}
	c.mu.Lock()
	c.cmd = cmd
	c.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if res, err := http.Get("http://" + c.addr + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("threadline did not come up")
}

func (c *child) kill() {
	c.mu.Lock()
	cmd := c.cmd
	c.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
}

func (c *child) stop() {
	c.mu.Lock()
	cmd := c.cmd
	c.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Chaos runs the fault harness.
func Chaos(ctx context.Context, o ChaosOptions) (ChaosReport, error) {
	if o.Customers <= 0 {
		o.Customers = 10
	}
	if o.Messages <= 0 {
		o.Messages = 5
	}
	if o.KillEvery <= 0 {
		o.KillEvery = time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Lease <= 0 {
		o.Lease = 15 * time.Second
	}
	if o.Late <= 0 {
		o.Late = time.Second
	}
	start := time.Now()
	tg := telegramtest.New(telegramtest.Options{})
	defer tg.Close()
	sl := slacktest.New(slacktest.Options{})
	defer sl.Close()
	for i := 0; i < o.Faults; i++ {
		sl.Inject(slacktest.Fault{Method: "chat.postMessage", Count: 1, Code: 429, RetryAfter: time.Second})
		sl.Inject(slacktest.Fault{Method: "chat.postMessage", Count: 1, Code: 500, Applied: true})
		tg.Inject(telegramtest.Fault{Method: "sendMessage", Count: 1, Code: 429, RetryAfter: 1})
		tg.Inject(telegramtest.Fault{Method: "sendMessage", Count: 1, Code: 500, Applied: true})
	}
	addr, err := freeAddr()
	if err != nil {
		return ChaosReport{}, err
	}
	dir, err := os.MkdirTemp("", "threadline-chaos-")
	if err != nil {
		return ChaosReport{}, err
	}
	defer os.RemoveAll(dir)
	logFile, err := os.Create(dir + "/threadline.log")
	if err != nil {
		return ChaosReport{}, err
	}
	defer logFile.Close()
	env := append(os.Environ(),
		"THREADLINE_ADDR="+addr, "THREADLINE_DATA_DIR="+dir, "THREADLINE_DATABASE_URL="+o.DatabaseURL,
		"THREADLINE_LOG_LEVEL=warn", "THREADLINE_SHUTDOWN_TIMEOUT=5s", "THREADLINE_DELIVERY_LEASE="+o.Lease.String(),
		"THREADLINE_TELEGRAM_BOT_TOKEN="+tg.Token(), "THREADLINE_TELEGRAM_API_URL="+tg.URL(),
		"THREADLINE_TELEGRAM_MODE=webhook", "THREADLINE_TELEGRAM_WEBHOOK_SECRET="+tgSecret,
		"THREADLINE_SLACK_BOT_TOKEN="+sl.Token(), "THREADLINE_SLACK_SIGNING_SECRET="+signing,
		"THREADLINE_SLACK_CHANNEL="+channel, "THREADLINE_SLACK_API_URL="+sl.URL(),
		"THREADLINE_SLACK_POST_INTERVAL=1ns", "THREADLINE_SLACK_UPDATE_INTERVAL=1ns", "THREADLINE_TELEGRAM_CHAT_INTERVAL=1ns",
		"THREADLINE_SLACK_APP_TOKEN=", "THREADLINE_REDIS_URL=")
	if o.DatabaseURL != "" {
		mig := exec.CommandContext(ctx, o.Binary, "migrate")
		mig.Env, mig.Stdout, mig.Stderr = env, logFile, logFile
		if err := mig.Run(); err != nil {
			return ChaosReport{}, fmt.Errorf("migrate: %w", err)
		}
	}
	c := &child{bin: o.Binary, env: env, addr: addr, log: logFile}
	if err := c.start(ctx); err != nil {
		return ChaosReport{}, err
	}
	defer c.stop()

	rep := ChaosReport{}
	var killMu sync.Mutex
	var kills []time.Time
	stopKiller := make(chan struct{})
	killerDone := make(chan error, 1)
	go func() {
		for i := 0; i < o.Kills; i++ {
			wait := time.Duration(float64(o.KillEvery) * (0.5 + rand.Float64()))
			select {
			case <-stopKiller:
				killerDone <- nil
				return
			case <-time.After(wait):
			}
			killMu.Lock()
			kills = append(kills, time.Now())
			killMu.Unlock()
			c.kill()
			if err := c.start(ctx); err != nil {
				killerDone <- err
				return
			}
		}
		killerDone <- nil
	}()

	deadline := time.Now().Add(o.Timeout)
	base := "http://" + addr
	// Webhooks are retried until answered 200, as Telegram retries.
	post := func(body []byte) error {
		for time.Now().Before(deadline) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhooks/telegram", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(telegram.SecretHeader, tgSecret)
			if res, err := http.DefaultClient.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return nil
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		return errors.New("webhook never acknowledged")
	}
	var late sync.WaitGroup
	var redelivered, lateErrs int
	var lateMu sync.Mutex
	redeliver := func(send func() error) {
		for _, after := range []time.Duration{0, o.Late} {
			late.Add(1)
			go func() {
				defer late.Done()
				time.Sleep(after)
				err := send()
				lateMu.Lock()
				redelivered++
				if err != nil {
					lateErrs++
				}
				lateMu.Unlock()
			}()
		}
	}
	// Spread the load over the kill window, so kills strike mid-stream.
	gap := o.KillEvery * time.Duration(max(o.Kills, 1)) / time.Duration(o.Messages+1)
	var wg sync.WaitGroup
	var sendErr error
	var errMu sync.Mutex
	var nextUpdate int64
	var upMu sync.Mutex
	for cust := range o.Customers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range o.Messages {
				upMu.Lock()
				nextUpdate++
				id := nextUpdate
				upMu.Unlock()
				body := update(id, cust, m)
				if err := post(body); err != nil {
					errMu.Lock()
					sendErr = err
					errMu.Unlock()
					return
				}
				// Every update comes again, at once and late, as platforms
				// redeliver: it must change nothing.
				redeliver(func() error { return post(body) })
				time.Sleep(gap)
			}
		}()
	}
	wg.Wait()
	if sendErr != nil {
		close(stopKiller)
		<-killerDone
		return rep, sendErr
	}
	defer close(stopKiller)
	total := o.Customers * o.Messages
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	_ = sl.WaitFor(wctx, func(s *slacktest.Server) bool { return countShown(s) >= total })

	// Agent replies, retried like Slack while Threadline is down.
	client := &slacktest.Client{BaseURL: base, SigningSecret: signing}
	sentReplies := 0
	for _, p := range sl.Messages(channel) {
		if p.ThreadTS != "" || sentReplies >= o.Replies {
			continue
		}
		m := sl.AddUserMessage(channel, p.TS, "U0AGENT", fmt.Sprintf("r%d", sentReplies))
		env := slacktest.EventEnvelope(sl.TeamID(), fmt.Sprintf("EvCHAOS%d", sentReplies), map[string]any{"type": "message",
			"channel": channel, "user": "U0AGENT", "text": m.Text, "ts": m.TS, "thread_ts": p.TS})
		deliver := func() error {
			for retry := 0; time.Now().Before(deadline); retry++ {
				if code, err := client.SendEvent(ctx, env, min(retry, 3)); err == nil && code == http.StatusOK {
					return nil
				}
				time.Sleep(50 * time.Millisecond)
			}
			return errors.New("slack event never acknowledged")
		}
		if err := deliver(); err != nil {
			return rep, err
		}
		redeliver(deliver)
		sentReplies++
	}
	if err := <-killerDone; err != nil { // every kill struck
		return rep, err
	}
	late.Wait()
	rep.Redelivered = redelivered
	if lateErrs > 0 {
		return rep, fmt.Errorf("%d redeliveries were never acknowledged", lateErrs)
	}
	for time.Now().Before(deadline) && distinctReplies(tg) < sentReplies {
		time.Sleep(20 * time.Millisecond)
	}
	killMu.Lock()
	rep.Kills = len(kills)
	killMu.Unlock()

	near := func(at time.Time) bool { // in flight when a kill struck
		for _, k := range kills {
			if !at.After(k) && k.Sub(at) < 3*time.Second {
				return true
			}
		}
		return false
	}
	// Count from the emulators' own records.
	first := map[string]slacktest.Message{}
	copies := map[string]int{}
	last := map[string]int{}
	for _, m := range sl.Messages(channel) {
		// A coalesced post shows several messages, in order.
		for _, p := range idPattern.FindAllStringSubmatch(m.Text, -1) {
			copies[p[0]]++
			if copies[p[0]] > 1 {
				f := first[p[0]]
				if f.AnswerLost || near(f.At) {
					rep.Explained++
				} else {
					rep.Unexplained++
					rep.UnexplainedDetail = append(rep.UnexplainedDetail, fmt.Sprintf("slack %s first at %s (thread %q) again at %s; kills %v",
						p[0], f.At.Format("15:04:05.000"), f.ThreadTS, m.At.Format("15:04:05.000"), fmtTimes(kills)))
				}
				continue
			}
			first[p[0]] = m
			n, _ := strconv.Atoi(p[2])
			if prev, ok := last[p[1]]; ok && n < prev {
				rep.Disordered++
			}
			last[p[1]] = n
		}
	}
	for cust := range o.Customers {
		for m := range o.Messages {
			if copies[fmt.Sprintf("m%d-%d", cust, m)] == 0 {
				rep.Lost++
			}
		}
	}
	replyFirst := map[string]telegramtest.SentMessage{}
	for _, s := range tg.Sent(0) {
		if !strings.HasPrefix(s.Text, "r") {
			continue
		}
		if f, ok := replyFirst[s.Text]; ok {
			if f.AnswerLost || near(f.At) {
				rep.Explained++
			} else {
				rep.Unexplained++
				rep.UnexplainedDetail = append(rep.UnexplainedDetail, fmt.Sprintf("telegram %s first at %s again at %s; kills %v",
					s.Text, f.At.Format("15:04:05.000"), s.At.Format("15:04:05.000"), fmtTimes(kills)))
			}
			continue
		}
		replyFirst[s.Text] = s
	}
	rep.RepliesLost = sentReplies - len(replyFirst)
	rep.Slack429 = sl.RateLimited()
	rep.Elapsed = time.Since(start)
	return rep, nil
}

func distinctReplies(tg *telegramtest.Server) int {
	seen := map[string]bool{}
	for _, s := range tg.Sent(0) {
		if strings.HasPrefix(s.Text, "r") {
			seen[s.Text] = true
		}
	}
	return len(seen)
}

func fmtTimes(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Format("15:04:05.000")
	}
	return out
}
