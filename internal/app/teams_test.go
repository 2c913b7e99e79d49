package app_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/threadline/threadline/adapters/telegram/telegramtest"
	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/chatops/slack/slacktest"
	"github.com/threadline/threadline/chatops/teams/teamstest"
	"github.com/threadline/threadline/internal/app"
)

type served struct {
	tg   *telegramtest.Server
	sl   *slacktest.Server
	em   *teamstest.Server
	app  *app.App
	addr string
}

// deliveries counts a surface's chat deliveries: they are written in the
// same transaction as every other lane's, so zero is final once another
// surface showed the message.
func (s served) deliveries(t *testing.T, ctx context.Context, surface bridge.Surface) int {
	t.Helper()
	var n int
	err := s.app.Bridge().Store().InTx(ctx, func(ctx context.Context, tx bridge.Tx) error {
		var err error
		n, err = tx.CountDeliveries(ctx, bridge.DeliveryFilter{Target: bridge.ChatTarget(surface)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// serveBoth runs serve with Telegram, Slack (Socket Mode) and Teams all
// configured.
func serveBoth(t *testing.T, ctx context.Context, defaultSurface string, extra ...string) served {
	t.Helper()
	s := served{tg: telegramtest.New(telegramtest.Options{}), sl: slacktest.New(slacktest.Options{}), em: teamstest.New(teamstest.Options{})}
	t.Cleanup(s.tg.Close)
	t.Cleanup(s.sl.Close)
	t.Cleanup(s.em.Close)
	env := map[string]string{
		"THREADLINE_DATA_DIR":                  t.TempDir(),
		"THREADLINE_TELEGRAM_BOT_TOKEN":        s.tg.Token(),
		"THREADLINE_TELEGRAM_API_URL":          s.tg.URL(),
		"THREADLINE_SLACK_BOT_TOKEN":           s.sl.Token(),
		"THREADLINE_SLACK_APP_TOKEN":           "xapp-test",
		"THREADLINE_SLACK_CHANNEL":             "C0INBOX",
		"THREADLINE_SLACK_API_URL":             s.sl.URL(),
		"THREADLINE_TEAMS_APP_ID":              s.em.AppID(),
		"THREADLINE_TEAMS_APP_PASSWORD":        s.em.AppPassword(),
		"THREADLINE_TEAMS_TENANT_ID":           s.em.TenantID(),
		"THREADLINE_TEAMS_CHANNEL":             s.em.Channel(),
		"THREADLINE_TEAMS_SERVICE_URL":         s.em.ServiceURL(),
		"THREADLINE_TEAMS_OPENID_METADATA_URL": s.em.MetadataURL(),
		"THREADLINE_TEAMS_TOKEN_URL":           s.em.TokenURL(),
		"THREADLINE_DEFAULT_SURFACE":           defaultSurface,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	r := serve(ctx, t, env, slog.New(slog.DiscardHandler), app.Options{TelegramPollTimeout: time.Second})
	s.addr, s.app = r.addr, r.app
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	if err := s.sl.WaitSocket(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDefaultSurfaceTeams(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := serveBoth(t, ctx, "teams")
	customer := telegramtest.User{ID: 42, FirstName: "Ada"}
	if _, _, err := s.tg.CustomerSends(ctx, customer, telegramtest.Message{Text: "where is my refund?"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.tg.CustomerSends(ctx, customer, telegramtest.Message{Text: "order 77"}); err != nil {
		t.Fatal(err)
	}
	if err := s.em.WaitFor(ctx, func(em *teamstest.Server) bool {
		roots := em.Roots()
		if len(roots) != 1 || !strings.Contains(roots[0].Summary, "Ada on Telegram: where is my refund?") {
			return false
		}
		for _, m := range em.Messages(roots[0].ConversationID) {
			if strings.Contains(m.Text, "order 77") {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatal(err)
	}
	if n := s.deliveries(t, ctx, bridge.SurfaceSlack); n != 0 {
		t.Errorf("%d deliveries towards Slack, want none", n)
	}
	if msgs := s.sl.Messages(""); len(msgs) != 0 {
		t.Errorf("Slack got %d messages, want none (the default surface is Teams): %+v", len(msgs), msgs)
	}
	// The messaging endpoint is mounted and authenticates.
	code, _, err := teamstest.Deliver(ctx, "http://"+s.addr+"/teams/messages", s.em.UserMessage(s.em.Channel()+";messageid=1", teamstest.User{ID: "29:x"}, "hi", true), "Bearer forged")
	if err != nil || code != 401 {
		t.Errorf("forged token: %d %v, want 401", code, err)
	}
	code, _, err = s.em.Send(ctx, "http://"+s.addr+"/teams/messages", s.em.UserMessage(s.em.Channel()+";messageid=1", teamstest.User{ID: "29:x"}, "hi", true))
	if err != nil || code != 200 {
		t.Errorf("valid token: %d %v, want 200", code, err)
	}
}

func TestDefaultSurfaceSlack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := serveBoth(t, ctx, "slack")
	if _, _, err := s.tg.CustomerSends(ctx, telegramtest.User{ID: 43, FirstName: "Bo"}, telegramtest.Message{Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	if err := s.sl.WaitFor(ctx, func(sl *slacktest.Server) bool { return len(sl.Messages("C0INBOX")) == 1 }); err != nil {
		t.Fatal(err)
	}
	if n := s.deliveries(t, ctx, bridge.SurfaceTeams); n != 0 {
		t.Errorf("%d deliveries towards Teams, want none", n)
	}
	if roots := s.em.Roots(); len(roots) != 0 {
		t.Errorf("Teams got %d threads, want none (the default surface is Slack)", len(roots))
	}
}

// TestSurfaceRoutes: an account's route wins over its platform's, which
// wins over the default.
func TestSurfaceRoutes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The emulated bot's account id is 123456 (its token's prefix).
	s := serveBoth(t, ctx, "slack", "THREADLINE_SURFACE_ROUTES", "telegram=slack, telegram:123456=teams")
	if _, _, err := s.tg.CustomerSends(ctx, telegramtest.User{ID: 44, FirstName: "Cy"}, telegramtest.Message{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if err := s.em.WaitFor(ctx, func(em *teamstest.Server) bool { return len(em.Roots()) == 1 }); err != nil {
		t.Fatal(err)
	}
	if n := s.deliveries(t, ctx, bridge.SurfaceSlack); n != 0 {
		t.Errorf("%d deliveries towards Slack, want none", n)
	}
}
