package metatest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threadline/threadline/adapters/meta/metatest"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// graph calls the emulator as the Send API's clients do.
func graph(t *testing.T, s *metatest.Server, token, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/v21.0"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func code(out map[string]any) float64 {
	e, _ := out["error"].(map[string]any)
	c, _ := e["code"].(float64)
	return c
}

// TestSendAPIWindowAndEchoes: the emulator enforces what Meta enforces
// (the token, the 24-hour window, the HUMAN_AGENT tag's 7 days) and echoes
// each send to the webhook, signed, with its metadata.
func TestSendAPIWindowAndEchoes(t *testing.T) {
	c := &clock{now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	s := metatest.New(metatest.Options{Now: c.Now})
	defer s.Close()
	var mu sync.Mutex
	var echoes []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			_, _ = w.Write([]byte(r.URL.Query().Get("hub.challenge")))
			return
		}
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		echoes = append(echoes, r.Header.Get("X-Hub-Signature-256")+" "+string(body))
		mu.Unlock()
	}))
	defer hook.Close()
	if err := s.Subscribe(context.Background(), hook.URL, "v"); err != nil {
		t.Fatal(err)
	}
	page := s.Page()
	if _, err := s.CustomerSends(context.Background(), page.ID, metatest.Customer{ID: "c1"}, metatest.Message{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	send := func(extra string) (int, map[string]any) {
		return graph(t, s, page.Token, "/"+page.ID+"/messages", `{"recipient":{"id":"c1"},`+extra+`"message":{"text":"hello","metadata":"threadline:msg:1"}}`)
	}
	if st, out := graph(t, s, "EAAWRONG", "/"+page.ID+"/messages", `{}`); st != 400 || code(out) != 190 {
		t.Errorf("bad token: %d %v", st, out)
	}
	if st, out := send(`"messaging_type":"RESPONSE",`); st != 200 || out["message_id"] == "" {
		t.Errorf("in the window: %d %v", st, out)
	}
	c.add(25 * time.Hour)
	if st, out := send(`"messaging_type":"RESPONSE",`); st != 400 || code(out) != 10 {
		t.Errorf("after 24 hours: %d %v", st, out)
	}
	if st, _ := send(`"messaging_type":"MESSAGE_TAG","tag":"HUMAN_AGENT",`); st != 200 {
		t.Errorf("human agent tag within 7 days: %d", st)
	}
	c.add(7 * 24 * time.Hour)
	if st, out := send(`"messaging_type":"MESSAGE_TAG","tag":"HUMAN_AGENT",`); st != 400 || code(out) != 10 {
		t.Errorf("human agent tag after 7 days: %d %v", st, out)
	}
	s.Settle()
	mu.Lock()
	defer mu.Unlock()
	// The customer's message, then the echoes of the two sends.
	if len(echoes) != 3 {
		t.Fatalf("deliveries %q", echoes)
	}
	for _, e := range echoes[1:] {
		sig, body, _ := strings.Cut(e, " ")
		if sig != metatest.Sign(s.AppSecret(), []byte(body)) || !strings.Contains(body, `"is_echo":true`) || !strings.Contains(body, `"metadata":"threadline:msg:1"`) {
			t.Errorf("echo %q", e)
		}
	}
}
