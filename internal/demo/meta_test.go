package demo_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

type metaState struct {
	Meta struct {
		Customers []struct {
			ID, Name, Platform string
			Messages           []struct{ From, Text string }
		}
	}
	Channel struct {
		Threads []struct {
			Parent  struct{ Channel, TS, Text string }
			Replies []struct{ Text string }
		}
	}
}

// TestDemoMetaCustomers: the demo acts as a Messenger customer and as an
// Instagram commenter through the Graph API emulator; their threads appear
// in Slack and the agent's replies come back as a DM and as a reply under
// the comment.
func TestDemoMetaCustomers(t *testing.T) {
	d, _ := startDemo(t)
	post := func(path string, body any) {
		t.Helper()
		b, _ := json.Marshal(body)
		res, err := http.Post(d.URL()+strings.TrimPrefix(path, "/"), "application/json", strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, res.StatusCode)
		}
	}
	var st metaState
	get := func() {
		t.Helper()
		res, err := http.Get(d.URL() + "demo/api/state")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		st = metaState{}
		if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			get()
			if cond() {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: state %+v", what, st)
			}
			time.Sleep(50 * time.Millisecond) // polling the page's own API, as the page does
		}
	}
	get()
	ids := map[string]string{}
	for _, c := range st.Meta.Customers {
		ids[c.Platform] = c.ID
	}
	if ids["messenger"] == "" || ids["instagram"] == "" {
		t.Fatalf("customers %+v", st.Meta.Customers)
	}
	thread := func(text string) (channel, ts string) {
		for _, th := range st.Channel.Threads {
			if strings.Contains(th.Parent.Text, text) {
				return th.Parent.Channel, th.Parent.TS
			}
		}
		return "", ""
	}
	customerSees := func(platform, text string) bool {
		for _, c := range st.Meta.Customers {
			if c.ID == ids[platform] {
				for _, m := range c.Messages {
					if m.From == "bot" && strings.Contains(m.Text, text) {
						return true
					}
				}
			}
		}
		return false
	}

	post("/demo/api/meta/send", map[string]string{"id": ids["messenger"], "text": "Where is my order?"})
	waitFor("Messenger thread", func() bool { _, ts := thread("Where is my order?"); return ts != "" })
	ch, ts := thread("Where is my order?")
	post("/demo/api/slack/reply", map[string]string{"user_id": "U0ANN", "name": "Ann", "channel": ch, "thread_ts": ts, "text": "It ships today."})
	waitFor("Messenger reply", func() bool { return customerSees("messenger", "It ships today.") })

	post("/demo/api/meta/send", map[string]string{"id": ids["instagram"], "text": "Is this vegan?", "kind": "comment"})
	waitFor("Instagram comment thread", func() bool { _, ts := thread("Is this vegan?"); return ts != "" })
	ch, ts = thread("Is this vegan?")
	post("/demo/api/slack/reply", map[string]string{"user_id": "U0ANN", "name": "Ann", "channel": ch, "thread_ts": ts, "text": "Yes, 100%."})
	waitFor("reply under the comment", func() bool { return customerSees("instagram", "reply to your comment: Yes, 100%.") })
}

// TestDemoMetaPaneInBrowser: switch the customer pane to Messenger, write
// as the customer, and see the thread in the Slack pane.
func TestDemoMetaPaneInBrowser(t *testing.T) {
	exe := browser(t)
	d, _ := startDemo(t)
	ctx := newBrowser(t, exe, 60*time.Second)
	steps := []step{
		{"open page", chromedp.Navigate(d.URL())},
		{"switch to Messenger", chromedp.Click(chromedp.CSS(`#telegram .platform-switch button[data-platform="messenger"]`))},
		{"Messenger customers listed", poll(`!document.getElementById('meta').hidden && document.querySelectorAll('#meta-customer option').length > 0`)},
		{"customer types", chromedp.SendKeys(chromedp.CSS(`#meta-text`), "Hello from Messenger")},
		{"customer sends", chromedp.Click(chromedp.CSS(`#meta-form button[type="submit"]`))},
		{"thread appears on Messenger", poll(`[...document.querySelectorAll('.thread .parent')].some((p) => p.innerText.includes('Hello from Messenger') && p.innerText.includes('Messenger'))`)},
		{"customer's line in the pane", poll(`document.querySelector('#meta-chat').innerText.includes('Hello from Messenger')`)},
	}
	runSteps(ctx, t, "threadline-demo-meta-failure", steps)
	if shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		path := filepath.Join(os.TempDir(), "threadline-demo-meta.png")
		_ = os.WriteFile(path, shot, 0o644)
		t.Logf("screenshot: %s", path)
	}
}
