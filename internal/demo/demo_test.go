package demo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/threadline/threadline/internal/config"
	"github.com/threadline/threadline/internal/demo"
)

func startDemo(t *testing.T) (*demo.Demo, context.Context) {
	t.Helper()
	return startDemoWith(t, demo.Options{})
}

func startDemoWith(t *testing.T, o demo.Options) (*demo.Demo, context.Context) {
	t.Helper()
	cfg, err := config.Load("", func(k string) (string, bool) {
		if k == "THREADLINE_ADDR" {
			return "127.0.0.1:0", true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := demo.StartWith(ctx, cfg, slog.New(slog.DiscardHandler), o)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo run: %v", err)
		}
	})
	return d, ctx
}

func browser(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" || os.Getenv("THREADLINE_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatal("headless Chromium is required here (scripts/test installs Debian's chromium)")
	}
	t.Skip("no Chromium installed")
	return ""
}

// newBrowser starts a headless Chromium for the test; its context ends
// after timeout or with the test.
func newBrowser(t *testing.T, exe string, timeout time.Duration) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	ctx, cancel := context.WithTimeout(bctx, timeout)
	t.Cleanup(func() {
		cancel()
		cancelBrowser()
		cancelAlloc()
	})
	return ctx
}

// step is one thing a person does, or waits to see, on the demo page.
type step struct {
	name string
	act  chromedp.Action[chromedp.Void]
}

// poll waits up to 30 s for a JavaScript expression to hold.
func poll(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(30*time.Second))
}

// runSteps runs the steps in order; at the first that fails it saves a
// screenshot (failShot.png in the temporary folder) and fails the test.
func runSteps(ctx context.Context, t *testing.T, failShot string, steps []step) {
	t.Helper()
	for _, step := range steps {
		if err := chromedp.Do(ctx, step.act); err != nil {
			shot, _ := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			fail := filepath.Join(os.TempDir(), failShot+".png")
			_ = os.WriteFile(fail, shot, 0o644)
			t.Fatalf("step %q: %v (screenshot %s)", step.name, err, fail)
		}
	}
}

// TestDemoRoundTripInBrowser drives the demo page as a person would: a
// customer writes in the Telegram pane, the conversation appears in the
// Slack pane, an agent claims it and replies, and the reply reaches the
// customer's pane. Every step goes through Threadline's real webhooks.
func TestDemoRoundTripInBrowser(t *testing.T) {
	exe := browser(t)
	d, _ := startDemo(t)
	ctx := newBrowser(t, exe, 90*time.Second)
	steps := []step{
		{"open page", chromedp.Navigate(d.URL())},
		{"customers listed", poll(`document.querySelectorAll('#customer option').length > 0`)},
		{"customer types", chromedp.SendKeys(chromedp.CSS(`#customer-text`), "Hi, my parcel never arrived")},
		{"customer sends", chromedp.Click(chromedp.CSS(`#customer-form button`))},
		// The conversation shows up as a Slack thread with a Claim button.
		{"thread appears", poll(`document.querySelector('.thread button[data-action-id="threadline_claim"]') !== null`)},
		{"claim", chromedp.Click(chromedp.CSS(`.thread button[data-action-id="threadline_claim"]`))},
		{"card shows assignee", poll(`document.querySelector('.thread .parent').innerText.includes('Assigned to Ann')`)},
		{"agent types", chromedp.SendKeys(chromedp.CSS(`.thread form input`), "So sorry! A replacement ships today.")},
		{"agent sends", chromedp.Click(chromedp.CSS(`.thread form button`))},
		// The reply reaches the customer's Telegram pane, and Slack marks it delivered.
		{"customer sees reply", poll(`document.querySelector('#chat').innerText.includes('A replacement ships today')`)},
		{"delivered mark", poll(`document.querySelector('.thread .replies').innerText.includes('✅')`)},
		// The card's More menu: escalate to a supervisor, who is Sue.
		{"escalate from More", poll(`(() => {
			const s = document.querySelector('.thread select[data-action-id="threadline_more"]');
			if (!s) return false;
			s.value = [...s.options].find((o) => o.value.startsWith('escalate') && o.value.endsWith('supervisor')).value;
			s.dispatchEvent(new Event('change'));
			return true;
		})()`)},
		{"card shows the escalation", poll(`document.querySelector('.thread .parent').innerText.includes('Escalated (supervisor)') &&
			document.querySelector('.thread .parent').innerText.includes('Assigned to Sue')`)},
	}
	runSteps(ctx, t, "threadline-demo-failure", steps)
	claimedCard, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`.thread .parent`)))
	if err != nil {
		t.Fatal(err)
	}
	customerPane, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#chat`)))
	if err != nil {
		t.Fatal(err)
	}
	screenshot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(claimedCard, "Alice Doe") || !strings.Contains(customerPane, "Hi, my parcel never arrived") {
		t.Errorf("card %q, customer pane %q", claimedCard, customerPane)
	}
	path := os.Getenv("THREADLINE_SCREENSHOT")
	if path == "" {
		path = filepath.Join(os.TempDir(), "threadline-demo.png")
	}
	if err := os.WriteFile(path, screenshot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// TestDemoShowsSLABreach: with the demo's short targets (here 2 s instead of
// 30 s) an unanswered conversation gets a warning and then a breach alert in
// its thread, on its card and in the alerts channel, through the same
// webhooks and emulators as the page.
func TestDemoShowsSLABreachAndSurvey(t *testing.T) {
	d, ctx := startDemoWith(t, demo.Options{SLAFirstResponse: 2 * time.Second, SLACheckInterval: 100 * time.Millisecond})
	post := func(path, body string) {
		res, err := http.Post(d.URL()+strings.TrimPrefix(path, "/"), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, res.StatusCode)
		}
	}
	var state struct {
		Customers []struct {
			ChatID   int64 `json:"chat_id"`
			Messages []struct {
				MessageID int64 `json:"message_id"`
				Buttons   [][]struct {
					CallbackData string `json:"callback_data"`
				}
			}
		}
		Channel struct {
			Threads []struct {
				Parent struct {
					Channel, TS string
					Blocks      []json.RawMessage
				}
				Replies []struct{ Text string }
			}
		}
		Alerts []struct{ Channel, Text string }
	}
	get := func() {
		res, err := http.Get(d.URL() + "demo/api/state")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if err := json.NewDecoder(res.Body).Decode(&state); err != nil {
			t.Fatal(err)
		}
	}
	get()
	post("/demo/api/telegram/send", fmt.Sprintf(`{"chat_id":%d,"text":"Where is my order?"}`, state.Customers[0].ChatID))
	deadline := time.Now().Add(30 * time.Second)
	for {
		get()
		var replies, card string
		if len(state.Channel.Threads) == 1 {
			for _, r := range state.Channel.Threads[0].Replies {
				replies += r.Text + "\n"
			}
			for _, b := range state.Channel.Threads[0].Parent.Blocks {
				card += string(b)
			}
		}
		alerted := len(state.Alerts) == 1 && state.Alerts[0].Channel == demo.AlertChannel && strings.Contains(state.Alerts[0].Text, "SLA breached")
		if strings.Contains(replies, "SLA warning") && strings.Contains(replies, "SLA breached") && strings.Contains(card, "overdue") && alerted {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("no breach shown: replies %q card %s alerts %+v", replies, card, state.Alerts)
		}
		time.Sleep(100 * time.Millisecond) // polling the page's own API, with a deadline
	}

	// Resolving sends the customer the satisfaction survey; a tap on its
	// buttons shows the rating in the thread.
	var action struct{ ActionID, Value string }
	for _, raw := range state.Channel.Threads[0].Parent.Blocks {
		var b struct {
			Elements []struct {
				ActionID string `json:"action_id"`
				Value    string `json:"value"`
			}
		}
		_ = json.Unmarshal(raw, &b)
		for _, e := range b.Elements {
			if e.ActionID == "threadline_resolve" {
				action.ActionID, action.Value = e.ActionID, e.Value
			}
		}
	}
	if action.Value == "" {
		t.Fatal("no Resolve button on the card")
	}
	p := state.Channel.Threads[0].Parent
	post("/demo/api/slack/click", fmt.Sprintf(`{"user_id":"U0ANN","name":"Ann","channel":%q,"message_ts":%q,"action_id":%q,"value":%q}`, p.Channel, p.TS, action.ActionID, action.Value))
	deadline = time.Now().Add(30 * time.Second)
	pressed := false
	for {
		get()
		if !pressed {
			for _, m := range state.Customers[0].Messages {
				if len(m.Buttons) == 1 && len(m.Buttons[0]) == 5 {
					post("/demo/api/telegram/press", fmt.Sprintf(`{"chat_id":%d,"message_id":%d,"data":%q}`, state.Customers[0].ChatID, m.MessageID, m.Buttons[0][4].CallbackData))
					pressed = true
				}
			}
		}
		replies := ""
		for _, r := range state.Channel.Threads[0].Replies {
			replies += r.Text + "\n"
		}
		if pressed && strings.Contains(replies, "Customer satisfaction: 5/5") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("survey: pressed %v, replies %q, customer %+v", pressed, replies, state.Customers[0].Messages)
		}
		time.Sleep(100 * time.Millisecond) // polling the page's own API, with a deadline
	}
}

// TestDemoTeamsInBrowser is the round trip with `demo --surface teams`: the
// page shows a Teams channel whose cards and replies go through the real
// /teams/messages endpoint with locally signed tokens.
func TestDemoTeamsInBrowser(t *testing.T) {
	exe := browser(t)
	d, _ := startDemoWith(t, demo.Options{Surface: "teams"})
	ctx := newBrowser(t, exe, 90*time.Second)
	steps := []step{
		{"open page", chromedp.Navigate(d.URL())},
		{"teams pane shown", poll(`!document.querySelector('#teams').hidden && document.querySelector('#slack').hidden`)},
		{"customer types", chromedp.SendKeys(chromedp.CSS(`#customer-text`), "Hi, my parcel never arrived")},
		{"customer sends", chromedp.Click(chromedp.CSS(`#customer-form button`))},
		{"card appears", poll(`document.querySelector('#teams .thread button[data-verb="claim"]') !== null`)},
		{"claim", chromedp.Click(chromedp.CSS(`#teams .thread button[data-verb="claim"]`))},
		{"card shows assignee", poll(`document.querySelector('#teams .thread .parent').innerText.includes('Assignee: Ann')`)},
		{"agent types", chromedp.SendKeys(chromedp.CSS(`#teams .thread form input`), "So sorry! A replacement ships today.")},
		{"agent sends", chromedp.Click(chromedp.CSS(`#teams .thread form button`))},
		{"customer sees reply", poll(`document.querySelector('#chat').innerText.includes('A replacement ships today')`)},
		{"delivered mark", poll(`document.querySelector('#teams .thread .replies').innerText.includes('Delivered')`)},
		// More…: pick a priority from the list and apply it.
		{"open more", chromedp.Click(chromedp.CSS(`#teams .thread .actions button:last-child`))},
		{"pick priority", poll(`(() => { const s = document.querySelector('#teams .thread select[data-input="command"]'); if (!s) return false; s.value = [...s.options].find((o) => o.textContent === 'Priority P1').value; s.dispatchEvent(new Event('change')); return true })()`)},
		{"apply", chromedp.Click(chromedp.CSS(`#teams .thread button[data-verb="more"]`))},
		{"card shows priority", poll(`document.querySelector('#teams .thread .parent').innerText.includes('Priority: P1')`)},
	}
	runSteps(ctx, t, "threadline-demo-teams-failure", steps)
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(os.TempDir(), "threadline-demo-teams.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
