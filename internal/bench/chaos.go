package bench

import (
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
	// Private runs Threadline on PostgreSQL and Redis instances of the
	// harness's own (initdb and redis-server on spare ports, in a temporary
	// folder; DatabaseURL is ignored), which it may restart and stop: never
	// the machine's shared services.
	Private bool
	// PGRestarts is how often the private PostgreSQL is stopped hard
	// (immediate: connections cut, crash recovery) and started again after
	// PGDown.
	PGRestarts int
	PGDown     time.Duration
	// RedisDown is how long the private Redis is stopped (standing in for
	// a minute of outage); 0 leaves it running. Meanwhile /readyz must stay
	// 200 and say "degraded".
	RedisDown time.Duration
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
	// Timeouts counts injected calls that got no answer: applied (the
	// caller cannot know it landed) and not applied.
	TimeoutsApplied, TimeoutsNotApplied int
	PGRestarts                          int
	// RedisDown is how long Redis was stopped; ReadyChecks the /readyz
	// answers meanwhile, of which ReadyDegraded said "degraded" and
	// ReadyNot200 were not 200.
	RedisDown                               time.Duration
	ReadyChecks, ReadyDegraded, ReadyNot200 int
	Elapsed                                 time.Duration
}

// Failed reports whether anything was lost, reordered or repeated without
// cause, or a Redis outage made the process unready.
func (r ChaosReport) Failed() bool {
	redisBad := r.RedisDown > 0 && (r.ReadyDegraded == 0 || r.ReadyNot200 > 0)
	return r.Lost+r.Disordered+r.RepliesLost+r.Unexplained > 0 || redisBad
}

// Print writes the report.
func (r ChaosReport) Print(w io.Writer) {
	fmt.Fprintf(w, "kills (SIGKILL + restart)  %d\n", r.Kills)
	fmt.Fprintf(w, "redeliveries (now + late)  %d\n", r.Redelivered)
	fmt.Fprintf(w, "messages lost/out of order %d / %d\n", r.Lost, r.Disordered)
	fmt.Fprintf(w, "replies lost               %d\n", r.RepliesLost)
	fmt.Fprintf(w, "repeats explained          %d (outcome left unknown by a kill, a PostgreSQL stop, a lost answer or a timeout; at most one each)\n", r.Explained)
	fmt.Fprintf(w, "repeats unexplained        %d\n", r.Unexplained)
	for _, d := range r.UnexplainedDetail {
		fmt.Fprintf(w, "  %s\n", d)
	}
	fmt.Fprintf(w, "Slack 429s received        %d\n", r.Slack429)
	fmt.Fprintf(w, "timeouts injected          %d applied, %d not applied\n", r.TimeoutsApplied, r.TimeoutsNotApplied)
	if r.PGRestarts > 0 {
		fmt.Fprintf(w, "PostgreSQL restarts        %d (immediate stop, crash recovery)\n", r.PGRestarts)
	}
	if r.RedisDown > 0 {
		fmt.Fprintf(w, "Redis down                 %s: /readyz %d checks, %d degraded, %d not 200\n", r.RedisDown, r.ReadyChecks, r.ReadyDegraded, r.ReadyNot200)
	}
	fmt.Fprintf(w, "elapsed                    %s\n", r.Elapsed.Round(time.Millisecond))
}

type child struct {
	bin    string
	env    []string
	addr   string
	log    *os.File
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// start runs `threadline serve` until it answers /healthz. A process that
// exits before (its database was down at start) is started again, as an
// orchestrator would.
func (c *child) start(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		cmd := exec.Command(c.bin, "serve")
		cmd.Env, cmd.Stdout, cmd.Stderr = c.env, c.log, c.log
		if err := cmd.Start(); err != nil {
			return err
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		c.mu.Lock()
		c.cmd, c.exited = cmd, exited
		c.mu.Unlock()
		for alive := true; alive; {
			select {
			case <-exited:
				alive = false // exited before it was up: start it again
				continue
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
			if res, err := http.Get("http://" + c.addr + "/healthz"); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return nil
				}
			}
			if time.Now().After(deadline) {
				return errors.New("threadline did not come up")
			}
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
	return errors.New("threadline did not come up")
}

func (c *child) signal(sig syscall.Signal) {
	c.mu.Lock()
	cmd, exited := c.cmd, c.exited
	c.mu.Unlock()
	_ = cmd.Process.Signal(sig)
	<-exited
}

func (c *child) kill() { c.signal(syscall.SIGKILL) }
func (c *child) stop() { c.signal(syscall.SIGTERM) }

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Chaos runs the fault harness.
func Chaos(ctx context.Context, o ChaosOptions) (rep ChaosReport, err error) {
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
		// Timeouts: no answer at all, after applying the call or before.
		sl.Inject(slacktest.Fault{Method: "chat.postMessage", Count: 1, Timeout: true, Applied: i%2 == 0})
		tg.Inject(telegramtest.Fault{Method: "sendMessage", Count: 1, Timeout: true, Applied: i%2 == 1})
	}
	// Each round, one of the two timeouts was applied.
	rep.TimeoutsApplied, rep.TimeoutsNotApplied = max(o.Faults, 0), max(o.Faults, 0)
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
	defer func() {
		if err != nil { // the child's last words say why
			if b, rerr := os.ReadFile(logFile.Name()); rerr == nil {
				lines := strings.Split(strings.TrimSpace(string(b)), "\n")
				err = fmt.Errorf("%w\nlast lines of threadline's log:\n%s", err, strings.Join(lines[max(0, len(lines)-15):], "\n"))
			}
		}
	}()
	redisURL := ""
	var pg *privatePostgres
	var rd *privateRedis
	if o.Private {
		if pg, err = startPostgres(ctx); err != nil {
			return ChaosReport{}, err
		}
		defer pg.close()
		o.DatabaseURL = pg.URL()
		if rd, err = startRedis(ctx, dir); err != nil {
			return ChaosReport{}, err
		}
		defer rd.close()
		redisURL = rd.URL()
	}
	env := append(os.Environ(),
		"THREADLINE_ADDR="+addr, "THREADLINE_DATA_DIR="+dir, "THREADLINE_DATABASE_URL="+o.DatabaseURL,
		"THREADLINE_LOG_LEVEL=warn", "THREADLINE_SHUTDOWN_TIMEOUT=5s", "THREADLINE_DELIVERY_LEASE="+o.Lease.String(),
		"THREADLINE_TELEGRAM_BOT_TOKEN="+tg.Token(), "THREADLINE_TELEGRAM_API_URL="+tg.URL(),
		"THREADLINE_TELEGRAM_MODE=webhook", "THREADLINE_TELEGRAM_WEBHOOK_SECRET="+tgSecret,
		"THREADLINE_SLACK_BOT_TOKEN="+sl.Token(), "THREADLINE_SLACK_SIGNING_SECRET="+signing,
		"THREADLINE_SLACK_CHANNEL="+channel, "THREADLINE_SLACK_API_URL="+sl.URL(),
		"THREADLINE_SLACK_POST_INTERVAL=1ns", "THREADLINE_SLACK_UPDATE_INTERVAL=1ns", "THREADLINE_TELEGRAM_CHAT_INTERVAL=1ns",
		"THREADLINE_SLACK_APP_TOKEN=", "THREADLINE_REDIS_URL="+redisURL)
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

	var killMu sync.Mutex
	var kills []time.Time
	// pgOutages are the spans PostgreSQL was down (guarded by killMu): a send
	// made in one cannot be recorded, so its outcome is unknown as after a kill.
	var pgOutages []outage
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
	disruptDone := make(chan disruption, 1)
	go func() {
		disruptDone <- disrupt(ctx, o, pg, rd, base, func(o outage) { killMu.Lock(); pgOutages = append(pgOutages, o); killMu.Unlock() })
	}()
	// Webhooks are retried until answered 200, as Telegram retries.
	poster := newTelegramPoster(base, http.DefaultClient)
	poster.until = deadline
	post := func(body []byte) error {
		_, err := poster.post(ctx, body)
		return err
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
		if p.ThreadTS != "" || !idPattern.MatchString(p.Text) || sentReplies >= o.Replies { // cards only, not the backlog digest
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
	dis := <-disruptDone
	if dis.err != nil {
		return rep, dis.err
	}
	rep.PGRestarts, rep.RedisDown = dis.pgRestarts, dis.redisDown
	rep.ReadyChecks, rep.ReadyDegraded, rep.ReadyNot200 = dis.checks, dis.degraded, dis.not200
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

	near := func(at time.Time) bool { // in flight when a kill struck, or sent while PostgreSQL was down
		for _, k := range kills {
			if !at.After(k) && k.Sub(at) < 3*time.Second {
				return true
			}
		}
		for _, d := range pgOutages {
			if !at.After(d.to) && d.from.Sub(at) < 3*time.Second {
				return true
			}
		}
		return false
	}
	// Count from the emulators' own records.
	first := map[string]slacktest.Message{}
	copies := map[string]int{}
	last := map[string]int{}
	book := repeatBook{}
	for _, m := range sl.Messages(channel) {
		// A coalesced post shows several messages, in order.
		for _, p := range idPattern.FindAllStringSubmatch(m.Text, -1) {
			copies[p[0]]++
			explained := book.copy("slack "+p[0], m.AnswerLost || near(m.At))
			if copies[p[0]] > 1 {
				f := first[p[0]]
				if explained {
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
		explained := book.copy("telegram "+s.Text, s.AnswerLost || near(s.At))
		if f, ok := replyFirst[s.Text]; ok {
			if explained {
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

// disruption is what the service outages did.
type disruption struct {
	pgRestarts               int
	redisDown                time.Duration
	checks, degraded, not200 int
	err                      error
}

// disrupt restarts the private PostgreSQL and stops the private Redis at
// even intervals over the kill window, one outage at a time, and watches
// /readyz while Redis is down.
func disrupt(ctx context.Context, o ChaosOptions, pg *privatePostgres, rd *privateRedis, base string, pgDown func(outage)) disruption {
	var d disruption
	if pg == nil {
		return d
	}
	steps := o.PGRestarts
	redisStep := -1
	if o.RedisDown > 0 {
		redisStep = steps / 2
		steps++
	}
	gap := o.KillEvery * time.Duration(max(o.Kills, 1)) / time.Duration(steps+1)
	for i := range steps {
		if !sleepCtx(ctx, gap) {
			d.err = ctx.Err()
			return d
		}
		if i == redisStep {
			rd.stop()
			start := time.Now()
			for time.Since(start) < o.RedisDown {
				if res, err := http.Get(base + "/readyz"); err == nil { // a killed child answers nothing
					body, _ := io.ReadAll(res.Body)
					res.Body.Close()
					d.checks++
					if res.StatusCode != http.StatusOK {
						d.not200++
					}
					if strings.Contains(string(body), "degraded") {
						d.degraded++
					}
				}
				sleepCtx(ctx, 100*time.Millisecond)
			}
			d.redisDown = time.Since(start).Round(time.Millisecond)
			if d.err = rd.start(ctx); d.err != nil {
				return d
			}
			continue
		}
		from := time.Now()
		if d.err = pg.restart(ctx, o.PGDown); d.err != nil {
			return d
		}
		pgDown(outage{from: from, to: time.Now()})
		d.pgRestarts++
	}
	return d
}

// repeatBook explains repeats: each copy of an item whose outcome an event
// left unknown (its answer lost, or a kill or a PostgreSQL stop struck while
// it was in flight) may explain one further copy, and no more.
type repeatBook map[string]*struct{ seen, allowed int }

// copy records one copy of id and reports whether it is the first or a
// repeat an earlier copy's event explains.
func (b repeatBook) copy(id string, unknown bool) bool {
	e := b[id]
	if e == nil {
		e = &struct{ seen, allowed int }{}
		b[id] = e
	}
	ok := e.seen == 0 || e.allowed > 0
	if e.seen > 0 && e.allowed > 0 {
		e.allowed--
	}
	e.seen++
	if unknown {
		e.allowed++
	}
	return ok
}

// outage is a span of time a service was down.
type outage struct{ from, to time.Time }
