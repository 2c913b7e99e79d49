package slack_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/threadline/threadline/bridge"
	tlslack "github.com/threadline/threadline/chatops/slack"
	"github.com/threadline/threadline/chatops/slack/slacktest"
	"github.com/threadline/threadline/internal/testclock"
	"github.com/threadline/threadline/store/sqlite"
	"github.com/threadline/threadline/store/storetest/open"
)

func TestReportCommandPostsBlocksChartAndCSV(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store := open.SQLite(t, sqlite.Options{})
	sl := slacktest.New(slacktest.Options{})
	defer sl.Close()
	clock := testclock.New(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC))
	surface, err := tlslack.New(ctx, tlslack.Options{Token: sl.Token(), APIURL: sl.URL(), Channel: channel})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := bridge.ParseSLATargets("p3=30m")
	b := bridge.New(store, bridge.Options{Clock: clock, Surfaces: []bridge.Surface{bridge.SurfaceSlack}, SLA: &bridge.SLAPolicy{FirstResponse: first}})
	reports := &tlslack.Reports{Source: b, Poster: surface, Home: surface, Location: time.UTC, Clock: clock}
	h := tlslack.NewHandler(tlslack.HandlerOptions{Bridge: b, Notifier: surface, Names: surface, Verifier: tlslack.Verifier{Secret: "sign", Clock: clock},
		Logger: testLogger(t), BotUserID: surface.BotUserID(), InboxChannel: channel, Reports: reports, Clock: clock,
		Roles: supervisors{"U0SUE": true}})
	r := chi.NewRouter()
	h.Routes(r)
	srv := httptest.NewServer(r)
	defer srv.Close()
	client := &slacktest.Client{BaseURL: srv.URL, SigningSecret: "sign", Now: clock.Now}

	ann := bridge.Actor{Surface: bridge.SurfaceSlack, Workspace: sl.TeamID(), UserID: "U0ANN", Name: "Ann"}
	for i, wait := range []time.Duration{10 * time.Minute, 20 * time.Minute, 0} {
		res, err := b.Ingest(ctx, bridge.InboundEvent{Platform: bridge.PlatformTelegram, Account: bridge.UpsertAccountParams{ExternalID: "bot"},
			Thread: string(rune('a' + i)), Sender: bridge.UpsertIdentityParams{ExternalUserID: string(rune('a' + i)), Name: "C"},
			PlatformMessageID: "1", Text: "help"})
		if err != nil {
			t.Fatal(err)
		}
		if wait > 0 {
			clock.Advance(wait)
			if _, err := b.Reply(ctx, bridge.ReplyParams{Actor: ann, Ref: bridge.ConversationRef{ID: res.ConversationID}, Text: "hi"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	clock.Advance(24 * time.Hour)

	send := func(text string) string {
		code, body, err := client.SendCommand(ctx, slacktest.Command{TeamID: sl.TeamID(), UserID: "U0SUE", UserName: "sue", Channel: "C0REPORTS", Text: text})
		if err != nil || code != 200 {
			t.Fatalf("command %q: %d %v", text, code, err)
		}
		var ans struct{ Text string }
		_ = json.Unmarshal(body, &ans)
		return ans.Text
	}
	if ans := send("report 2026-11-30..2026-11-30 telegram <@U0ANN|ann> csv"); !strings.Contains(ans, "Preparing the report for 30 Nov 2026") {
		t.Fatalf("answer: %q", ans)
	}
	reports.Wait()
	msgs := sl.Messages("C0REPORTS")
	if len(msgs) != 3 {
		t.Fatalf("report channel: %+v", msgs)
	}
	blocks := ""
	for _, b := range msgs[0].Blocks {
		blocks += string(b)
	}
	for _, want := range []string{"Threadline report", "Ann", "Telegram", `*Conversations*\n2`, `median 10m · p90 20m`, "100 % (2 of 2 met)"} {
		if !strings.Contains(blocks, want) {
			t.Errorf("report blocks lack %q:\n%s", want, blocks)
		}
	}
	chart, table := msgs[1], msgs[2]
	if chart.ThreadTS != msgs[0].TS || len(chart.Files) != 1 || !strings.HasSuffix(chart.Files[0].Name, ".png") {
		t.Fatalf("chart upload: %+v", chart)
	}
	if img, err := png.Decode(bytes.NewReader(chart.Files[0].Body)); err != nil || img.Bounds().Dx() < 100 {
		t.Fatalf("chart is not a PNG: %v", err)
	}
	rows, err := csv.NewReader(bytes.NewReader(table.Files[0].Body)).ReadAll()
	if err != nil || len(rows) < 3 || rows[0][0] != "scope" || rows[1][0] != "total" || rows[1][4] != "2" || rows[1][7] != "600" {
		t.Fatalf("CSV: %v %v", rows, err)
	}

	// Bad arguments and agents are answered at once and post nothing.
	for _, tc := range []struct{ user, text, want string }{
		{"U0SUE", "report lastweek", "period"},
		{"U0SUE", "report 7d telegram nope", `unexpected "nope"`},
		{"U0SUE", "report 7d <@U0NOBODY>", "has not worked a conversation"},
		{"U0SUE", "report 7d @ann", "pick them from the @ menu"},
		{"U0ANN", "report 7d", "not done: report is for supervisors, managers and admins"},
		{"U0ANN", "report 7d <@U0ANN|ann>", "not done: report is for supervisors, managers and admins"},
	} {
		code, body, err := client.SendCommand(ctx, slacktest.Command{TeamID: sl.TeamID(), UserID: tc.user, UserName: "x", Channel: "C0REPORTS", Text: tc.text})
		var ans struct {
			Text         string `json:"text"`
			ResponseType string `json:"response_type"`
		}
		_ = json.Unmarshal(body, &ans)
		if err != nil || code != 200 || !strings.Contains(strings.ToLower(ans.Text), tc.want) || ans.ResponseType != "ephemeral" {
			t.Errorf("%s %q answered %d %+v, want ephemeral %q", tc.user, tc.text, code, ans, tc.want)
		}
	}
	reports.Wait()
	if n := len(sl.Messages("C0REPORTS")); n != 3 {
		t.Errorf("bad commands posted: %d messages", n)
	}

	// App Home: a supervisor sees the team's figures, an agent their own,
	// someone new an introduction.
	home := func(user string) string {
		t.Helper()
		if code, err := client.DeliverEvent(ctx, slacktest.HomeOpened(sl.TeamID(), user)); err != nil || code != 200 {
			t.Fatalf("app_home_opened: %d %v", code, err)
		}
		reports.Wait()
		blocks, ok := sl.HomeView(user)
		if !ok {
			t.Fatalf("no home view published for %s", user)
		}
		out := ""
		for _, b := range blocks {
			out += string(b)
		}
		return out
	}
	if v := home("U0SUE"); !strings.Contains(v, "your team's figures") || !strings.Contains(v, `*Conversations*\n3`) || !strings.Contains(v, "By agent") {
		t.Errorf("supervisor's home: %s", v)
	}
	if v := home("U0ANN"); !strings.Contains(v, "your own figures") || !strings.Contains(v, `*Conversations*\n2`) {
		t.Errorf("agent's home: %s", v)
	}
	if v := home("U0NEW"); !strings.Contains(v, "Claim one in the inbox channel") {
		t.Errorf("newcomer's home: %s", v)
	}
}

type supervisors map[string]bool

func (s supervisors) RoleOf(_ context.Context, user string) bridge.Role {
	if s[user] {
		return bridge.RoleSupervisor
	}
	return bridge.RoleAgent
}
