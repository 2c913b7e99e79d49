package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/internal/config"
)

func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaults(t *testing.T) {
	c, err := config.Load("", env())
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.DataDir != "./data" || c.DatabaseURL.Set() || c.LogLevel != slog.LevelInfo ||
		c.ReopenWindow != 168*time.Hour || c.Telegram.Mode != "poll" || c.Telegram.APIURL != "https://api.telegram.org" ||
		c.Slack.APIURL != "https://slack.com/api/" || c.Slack.ReplyMode != "auto" || c.MaxBodyBytes != 1<<20 {
		t.Errorf("defaults: %+v", c)
	}
}

func TestFileThenEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "threadline.yaml")
	if err := os.WriteFile(path, []byte("THREADLINE_ADDR: \":9090\"\nTHREADLINE_LOG_LEVEL: debug\nTHREADLINE_MAX_BODY_BYTES: 4096\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load("", env("THREADLINE_CONFIG", path, "THREADLINE_LOG_LEVEL", "warn"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9090" || c.LogLevel != slog.LevelWarn || c.MaxBodyBytes != 4096 {
		t.Errorf("file then env: addr %q level %v body %d", c.Addr, c.LogLevel, c.MaxBodyBytes)
	}
	if err := os.WriteFile(path, []byte("THREADLINE_ADRR: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var inv *config.InvalidError
	if _, err := config.Load(path, env()); !errors.As(err, &inv) || inv.Key != "THREADLINE_ADRR" {
		t.Errorf("unknown key in file: %v", err)
	}
}

func TestInvalidValuesNameTheKey(t *testing.T) {
	tests := []struct {
		env     []string
		key     string
		reason  string
		leakage string
	}{
		{[]string{"THREADLINE_LOG_LEVEL", "loud"}, "THREADLINE_LOG_LEVEL", "must be one of debug, info, warn, error", ""},
		{[]string{"THREADLINE_DATABASE_URL", "mysql://u:hunter2@db/x"}, "THREADLINE_DATABASE_URL", "postgres://", "hunter2"},
		{[]string{"THREADLINE_REDIS_URL", "http://:hunter2@r"}, "THREADLINE_REDIS_URL", "redis://", "hunter2"},
		{[]string{"THREADLINE_REOPEN_WINDOW", "soon"}, "THREADLINE_REOPEN_WINDOW", "positive duration", ""},
		{[]string{"THREADLINE_TELEGRAM_MODE", "push"}, "THREADLINE_TELEGRAM_MODE", "poll, webhook", ""},
		{[]string{"THREADLINE_TELEGRAM_BOT_TOKEN", "hunter2"}, "THREADLINE_TELEGRAM_BOT_TOKEN", "123456:ABC", "hunter2"},
		{[]string{"THREADLINE_TELEGRAM_BOT_TOKEN", "1:x", "THREADLINE_TELEGRAM_MODE", "webhook"}, "THREADLINE_TELEGRAM_WEBHOOK_SECRET", "required", ""},
		{[]string{"THREADLINE_SLACK_BOT_TOKEN", "xoxb-1"}, "THREADLINE_SLACK_CHANNEL", "required", ""},
		{[]string{"THREADLINE_SLACK_BOT_TOKEN", "xoxb-1", "THREADLINE_SLACK_CHANNEL", "C1"}, "THREADLINE_SLACK_SIGNING_SECRET", "Socket Mode", ""},
		{[]string{"THREADLINE_SLACK_BOT_TOKEN", "hunter2"}, "THREADLINE_SLACK_BOT_TOKEN", "xoxb-", "hunter2"},
		{[]string{"THREADLINE_SLACK_API_URL", "ftp://x"}, "THREADLINE_SLACK_API_URL", "http(s) URL", ""},
		{[]string{"THREADLINE_MAX_BODY_BYTES", "12"}, "THREADLINE_MAX_BODY_BYTES", "at least 1024", ""},
		{[]string{"THREADLINE_SLA_FIRST_RESPONSE", "p9=1h"}, "THREADLINE_SLA_FIRST_RESPONSE", "p1..p4", ""},
		{[]string{"THREADLINE_SLA_RESOLUTION", "p1=soon"}, "THREADLINE_SLA_RESOLUTION", "positive duration", ""},
		{[]string{"THREADLINE_SLA_WARN_AT", "75"}, "THREADLINE_SLA_WARN_AT", "share", ""},
		{[]string{"THREADLINE_SLA_TIMEZONE", "Mars/Olympus"}, "THREADLINE_SLA_TIMEZONE", "IANA", ""},
		{[]string{"THREADLINE_SLA_BUSINESS_HOURS", "weekdays 9-5"}, "THREADLINE_SLA_BUSINESS_HOURS", "unknown day", ""},
		{[]string{"THREADLINE_SLA_HOLIDAYS", "25.12.2026"}, "THREADLINE_SLA_HOLIDAYS", "YYYY-MM-DD", ""},
		{[]string{"THREADLINE_SLA_ESCALATE_ON_BREACH", "boss"}, "THREADLINE_SLA_ESCALATE_ON_BREACH", "off, supervisor, manager, critical", ""},
		{[]string{"THREADLINE_CSAT_SURVEY", "yes"}, "THREADLINE_CSAT_SURVEY", "on, off", ""},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.env, "="), func(t *testing.T) {
			_, err := config.Load("", env(tc.env...))
			var inv *config.InvalidError
			if !errors.As(err, &inv) || inv.Key != tc.key || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("err = %v, want key %s and %q", err, tc.key, tc.reason)
			}
			if tc.leakage != "" && strings.Contains(err.Error(), tc.leakage) {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	c, err := config.Load("", env(
		"THREADLINE_DATABASE_URL", "postgres://u:pw-db-1@h/db",
		"THREADLINE_TELEGRAM_BOT_TOKEN", "1:tg-secret-2",
		"THREADLINE_SLACK_BOT_TOKEN", "xoxb-slack-secret-3",
		"THREADLINE_SLACK_SIGNING_SECRET", "sign-secret-4",
		"THREADLINE_SLACK_CHANNEL", "C1",
	))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%v %+v %#v %s %q", c, c, c, c.Slack.BotToken, c.Telegram.BotToken)
	js, _ := json.Marshal(c)
	buf.Write(js)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "cfg", c, "token", c.Slack.BotToken)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "token", c.Telegram.BotToken)
	config.Usage(&buf)
	for _, s := range []string{"pw-db-1", "tg-secret-2", "slack-secret-3", "sign-secret-4"} {
		if strings.Contains(buf.String(), s) {
			t.Errorf("secret %q printed:\n%s", s, buf.String())
		}
	}
	if c.Slack.BotToken.Reveal() != "xoxb-slack-secret-3" {
		t.Error("Reveal lost the value")
	}
}

func TestREADMEDocumentsEveryKey(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range config.Keys() {
		if !strings.Contains(string(readme), "`"+k.Name+"`") {
			t.Errorf("README.md does not document %s", k.Name)
		}
	}
}

func TestSLASettings(t *testing.T) {
	c, err := config.Load("", env())
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := c.SLA.FirstResponse.For(bridge.P1, bridge.PlatformTelegram, bridge.SourceDM); !ok || d != 15*time.Minute {
		t.Errorf("default P1 first response: %s %v", d, ok)
	}
	if d, _ := c.SLA.Resolution.For(bridge.P3, bridge.PlatformTelegram, bridge.SourceDM); d != 24*time.Hour {
		t.Errorf("default P3 resolution: %s", d)
	}
	if !c.SLA.Hours.IsAlways() || c.SLA.WarnAt != 0.75 || c.SLA.CheckInterval != 5*time.Second || c.SLA.EscalateOnBreach != "" || c.SLA.CSAT() != nil {
		t.Errorf("defaults: %+v", c.SLA)
	}
	path := filepath.Join(t.TempDir(), "threadline.yaml")
	yaml := "THREADLINE_SLA_TIMEZONE: Europe/Berlin\nTHREADLINE_SLA_BUSINESS_HOURS: mon-fri 09:00-17:00\nTHREADLINE_SLA_HOLIDAYS:\n  - 2026-12-25\n  - \"2026-12-28\"\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = config.Load(path, env())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.SLA.Holidays) != 2 || c.SLA.Holidays[0].String() != "2026-12-25" || c.SLA.Hours.IsAlways() || c.SLA.Hours.Location().String() != "Europe/Berlin" {
		t.Fatalf("from YAML: %+v", c.SLA)
	}
	berlin := c.SLA.Hours.Location()
	// Thursday 24 December 16:00 + 2h of business time skips Christmas, the weekend and the 28th.
	due, err := c.SLA.Policy().Hours.Add(time.Date(2026, 12, 24, 16, 0, 0, 0, berlin), 2*time.Hour)
	if err != nil || !due.Equal(time.Date(2026, 12, 29, 10, 0, 0, 0, berlin)) {
		t.Fatalf("due %v %v", due, err)
	}
}
