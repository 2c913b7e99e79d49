package telegramtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadline/threadline/adapters/telegram/telegramtest"
)

type answer struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

// post invokes a Bot API method of the emulator with a JSON body.
func post(s *telegramtest.Server, token, method, body string) (int, answer, error) {
	res, err := http.Post(s.URL()+"/bot"+token+"/"+method, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, answer{}, err
	}
	defer res.Body.Close()
	var a answer
	if err := json.NewDecoder(res.Body).Decode(&a); err != nil {
		return 0, answer{}, fmt.Errorf("%s: undecodable answer: %w", method, err)
	}
	return res.StatusCode, a, nil
}

func call(t *testing.T, s *telegramtest.Server, token, method, body string) (int, answer) {
	t.Helper()
	code, a, err := post(s, token, method, body)
	if err != nil {
		t.Fatal(err)
	}
	return code, a
}

func updateIDs(t *testing.T, a answer) []int64 {
	t.Helper()
	var us []struct {
		UpdateID int64 `json:"update_id"`
	}
	if err := json.Unmarshal(a.Result, &us); err != nil {
		t.Fatalf("getUpdates result %s: %v", a.Result, err)
	}
	var ids []int64
	for _, u := range us {
		ids = append(ids, u.UpdateID)
	}
	return ids
}

var bob = telegramtest.User{ID: 77, FirstName: "Bob"}

func TestWrongToken(t *testing.T) {
	s := telegramtest.New(telegramtest.Options{})
	t.Cleanup(s.Close)
	code, a := call(t, s, "123456:WRONG", "getMe", `{}`)
	if code != 401 || a.OK || a.ErrorCode != 401 || a.Description != "Unauthorized" {
		t.Errorf("%d %+v", code, a)
	}
	if s.Calls("getMe") != 0 {
		t.Error("a call with the wrong token was counted")
	}
}

func TestGetUpdatesOffsets(t *testing.T) {
	s := telegramtest.New(telegramtest.Options{})
	t.Cleanup(s.Close)
	ctx := t.Context()
	for _, text := range []string{"a", "b", "c"} {
		if _, _, err := s.CustomerSends(ctx, bob, telegramtest.Message{Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	_, a := call(t, s, s.Token(), "getUpdates", `{}`)
	ids := updateIDs(t, a)
	if len(ids) != 3 {
		t.Fatalf("got updates %v", ids)
	}
	// Without a higher offset nothing is confirmed.
	if _, a := call(t, s, s.Token(), "getUpdates", `{"limit":2}`); len(updateIDs(t, a)) != 2 || s.Pending() != 3 {
		t.Errorf("limit 2: %v, %d pending", updateIDs(t, a), s.Pending())
	}
	_, a = call(t, s, s.Token(), "getUpdates", `{"offset":`+itoa(ids[1])+`}`)
	if got := updateIDs(t, a); len(got) != 2 || got[0] != ids[1] || s.Pending() != 2 {
		t.Errorf("offset of the second: %v, %d pending", got, s.Pending())
	}
	_, a = call(t, s, s.Token(), "getUpdates", `{"offset":`+itoa(ids[2]+1)+`}`)
	if got := updateIDs(t, a); len(got) != 0 || s.Pending() != 0 {
		t.Errorf("all confirmed: %v, %d pending", got, s.Pending())
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestLongPoll(t *testing.T) {
	s := telegramtest.New(telegramtest.Options{})
	t.Cleanup(s.Close)

	start := time.Now()
	if _, a := call(t, s, s.Token(), "getUpdates", `{"timeout":1}`); len(updateIDs(t, a)) != 0 {
		t.Errorf("empty poll returned %s", a.Result)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("a 1 s long poll returned after %s", d)
	}

	// A waiting poll returns as soon as an update arrives.
	got := make(chan answer, 1)
	go func() {
		_, a, err := post(s, s.Token(), "getUpdates", `{"timeout":30}`)
		if err != nil {
			a.Description = err.Error()
		}
		got <- a
	}()
	if _, _, err := s.CustomerSends(t.Context(), bob, telegramtest.Message{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-got:
		if !a.OK || len(updateIDs(t, a)) != 1 {
			t.Errorf("poll returned %+v", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the long poll did not wake up")
	}
}

func TestConcurrentPollsConflict(t *testing.T) {
	s := telegramtest.New(telegramtest.Options{})
	t.Cleanup(s.Close)
	codes := make(chan int, 2)
	for range 2 {
		go func() {
			code, _, _ := post(s, s.Token(), "getUpdates", `{"timeout":2}`)
			codes <- code
		}()
	}
	a, b := <-codes, <-codes
	if min(a, b) != 200 || max(a, b) != 409 {
		t.Errorf("two concurrent polls answered %d and %d, want one 409", a, b)
	}
}

func TestWebhookMode(t *testing.T) {
	var fails atomic.Int32
	fails.Store(2)
	got := make(chan string, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("X-Telegram-Bot-Api-Secret-Token")
		_, _ = io.Copy(io.Discard, r.Body)
		if fails.Add(-1) >= 0 {
			w.WriteHeader(500)
		}
	}))
	t.Cleanup(hook.Close)
	s := telegramtest.New(telegramtest.Options{WebhookRetries: 3, WebhookRetryDelay: time.Millisecond})
	t.Cleanup(s.Close)

	if code, a := call(t, s, s.Token(), "setWebhook", `{"url":"`+hook.URL+`","secret_token":"bad secret!"}`); code != 400 || a.OK {
		t.Errorf("invalid secret_token accepted: %d %+v", code, a)
	}
	if code, _ := call(t, s, s.Token(), "setWebhook", `{"url":"`+hook.URL+`","secret_token":"sec-ret_1"}`); code != 200 {
		t.Fatalf("setWebhook: %d", code)
	}
	if code, a := call(t, s, s.Token(), "getUpdates", `{}`); code != 409 || !strings.Contains(a.Description, "webhook is active") {
		t.Errorf("getUpdates with a webhook: %d %+v", code, a)
	}
	// Two failures, then success: three deliveries, each with the secret.
	if _, _, err := s.CustomerSends(t.Context(), bob, telegramtest.Message{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if secret := <-got; secret != "sec-ret_1" {
			t.Errorf("delivery %d carried secret %q", i, secret)
		}
	}
	if s.Pending() != 0 {
		t.Error("a webhook update was also queued for getUpdates")
	}

	// Past the retry budget the emulator gives up and says so.
	fails.Store(10)
	if _, _, err := s.CustomerSends(t.Context(), bob, telegramtest.Message{Text: "again"}); err == nil {
		t.Error("no error after the webhook kept failing")
	}

	if code, _ := call(t, s, s.Token(), "deleteWebhook", `{}`); code != 200 {
		t.Fatal("deleteWebhook failed")
	}
	if code, _ := call(t, s, s.Token(), "getUpdates", `{}`); code != 200 {
		t.Errorf("getUpdates after deleteWebhook: %d", code)
	}
}

func TestSendMessage(t *testing.T) {
	s := telegramtest.New(telegramtest.Options{})
	t.Cleanup(s.Close)
	s.Block(99)
	tests := []struct {
		name     string
		body     string
		wantCode int
		wantID   int64
	}{
		{"first", `{"chat_id":77,"text":"one"}`, 200, 1},
		{"ids increase per chat", `{"chat_id":"77","text":"two"}`, 200, 2},
		{"empty text", `{"chat_id":77,"text":""}`, 400, 0},
		{"no chat", `{"text":"x"}`, 400, 0},
		{"too long", `{"chat_id":77,"text":"` + strings.Repeat("x", 4097) + `"}`, 400, 0},
		{"blocked", `{"chat_id":99,"text":"x"}`, 403, 0},
	}
	for _, tc := range tests {
		code, a := call(t, s, s.Token(), "sendMessage", tc.body)
		if code != tc.wantCode || a.OK != (tc.wantCode == 200) {
			t.Errorf("%s: %d %+v", tc.name, code, a)
			continue
		}
		if tc.wantID != 0 {
			var m struct {
				MessageID int64 `json:"message_id"`
			}
			_ = json.Unmarshal(a.Result, &m)
			if m.MessageID != tc.wantID {
				t.Errorf("%s: message_id %d, want %d", tc.name, m.MessageID, tc.wantID)
			}
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	sent, err := s.WaitSent(ctx, 77, 2)
	if err != nil || sent[0].Text != "one" || sent[1].Text != "two" {
		t.Errorf("WaitSent = %+v, %v", sent, err)
	}
	short, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := s.WaitSent(short, 77, 3); err == nil {
		t.Error("WaitSent returned without the messages")
	}
	if s.Calls("sendMessage") != len(tests) {
		t.Errorf("counted %d calls", s.Calls("sendMessage"))
	}
}

func TestFaults(t *testing.T) {
	s := telegramtest.New(telegramtest.Options{})
	t.Cleanup(s.Close)
	s.Inject(telegramtest.Fault{Method: "sendMessage", Count: 2, Code: 429, RetryAfter: 3})
	s.Inject(telegramtest.Fault{Method: "sendMessage", Count: 1, Code: 500, Applied: true})
	want := []struct {
		code       int
		retryAfter int
	}{{429, 3}, {429, 3}, {500, 0}, {200, 0}}
	for i, w := range want {
		wantErrorCode := w.code
		if w.code == 200 {
			wantErrorCode = 0
		}
		code, a := call(t, s, s.Token(), "sendMessage", `{"chat_id":5,"text":"x"}`)
		if code != w.code || a.ErrorCode != wantErrorCode || a.Parameters.RetryAfter != w.retryAfter {
			t.Errorf("call %d: %d %+v, want %d", i, code, a, w.code)
		}
	}
	sent := s.Sent(5)
	if len(sent) != 2 || !sent[0].AnswerLost || sent[1].AnswerLost {
		t.Errorf("sent %+v: the applied 500 should count, with its answer lost", sent)
	}
}

func TestFiles(t *testing.T) {
	s := telegramtest.New(telegramtest.Options{})
	t.Cleanup(s.Close)
	raw, _, err := s.CustomerSends(t.Context(), bob, telegramtest.Message{Caption: "pic", Photo: &telegramtest.Photo{Width: 640, Height: 480, Body: []byte("JPEG")}})
	if err != nil {
		t.Fatal(err)
	}
	var u struct {
		Message struct {
			Photo []struct {
				FileID string `json:"file_id"`
				Width  int    `json:"width"`
			} `json:"photo"`
		} `json:"message"`
	}
	if err := json.Unmarshal(raw, &u); err != nil || len(u.Message.Photo) != 2 || u.Message.Photo[1].Width != 640 {
		t.Fatalf("update %s: %v", raw, err)
	}
	_, a := call(t, s, s.Token(), "getFile", `{"file_id":"`+u.Message.Photo[1].FileID+`"}`)
	var f struct {
		FilePath string `json:"file_path"`
	}
	if err := json.Unmarshal(a.Result, &f); err != nil || f.FilePath == "" {
		t.Fatalf("getFile: %+v", a)
	}
	for token, want := range map[string]int{s.Token(): 200, "123456:WRONG": 401} {
		res, err := http.Get(s.URL() + "/file/bot" + token + "/" + f.FilePath)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want || (want == 200 && string(body) != "JPEG") {
			t.Errorf("download with token %q: %d %q", token, res.StatusCode, body)
		}
	}
	if code, _ := call(t, s, s.Token(), "getFile", `{"file_id":"nope"}`); code != 400 {
		t.Errorf("unknown file: %d", code)
	}
}
