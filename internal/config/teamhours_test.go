package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threadline/threadline/internal/config"
)

func TestTeamHoursQuickStartForm(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		// at is a Berlin wall time; open says for each team whether its
		// calendar is open then.
		at   time.Time
		open map[string]bool
		err  string
	}{
		{name: "zone, hours and holidays", value: "us=America/New_York mon-fri 09:00-17:00 holidays 2026-11-26 | #APAC=Asia/Tokyo",
			// Wednesday 16:00 in Berlin: 10:00 in New York, midnight in Tokyo.
			at: time.Date(2026, 11, 25, 16, 0, 0, 0, berlinLoc(t)), open: map[string]bool{"us": true, "apac": false}},
		{name: "team holiday", value: "us=America/New_York mon-fri 09:00-17:00 holidays 2026-11-26, 2026-12-25",
			at: time.Date(2026, 11, 26, 16, 0, 0, 0, berlinLoc(t)), open: map[string]bool{"us": false}},
		{name: "inherits the global holidays", value: "late=mon-fri 12:00-20:00",
			at: time.Date(2026, 12, 25, 13, 0, 0, 0, berlinLoc(t)), open: map[string]bool{"late": false}},
		{name: "holidays none", value: "late=mon-fri 12:00-20:00 holidays none",
			at: time.Date(2026, 12, 25, 13, 0, 0, 0, berlinLoc(t)), open: map[string]bool{"late": true}},
		{name: "24/7", value: "night=UTC 24/7",
			at: time.Date(2026, 12, 26, 3, 0, 0, 0, berlinLoc(t)), open: map[string]bool{"night": true}},
		{name: "unknown zone", value: "us=America/Bostn mon-fri 09:00-17:00", err: `team us: unknown time zone "America/Bostn"`},
		{name: "bad hours", value: "us=America/New_York mon-fri 9-17", err: "team us: business hours"},
		{name: "bad holiday", value: "us=mon-fri 09:00-17:00 holidays 26.11.2026", err: "team us: date"},
		{name: "holidays without dates", value: "us=mon-fri 09:00-17:00 holidays", err: "list dates after holidays"},
		{name: "no name", value: "=Europe/Paris", err: "must start with a team name"},
		{name: "twice", value: "us=UTC | US=UTC", err: "team us is listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Load("", env("THREADLINE_SLA_TIMEZONE", "Europe/Berlin", "THREADLINE_SLA_BUSINESS_HOURS", "mon-fri 09:00-17:00",
				"THREADLINE_SLA_HOLIDAYS", "2026-12-25", "THREADLINE_SLA_TEAM_HOURS", tc.value))
			if tc.err != "" {
				var inv *config.InvalidError
				if !errors.As(err, &inv) || inv.Key != "THREADLINE_SLA_TEAM_HOURS" || !strings.Contains(inv.Reason, tc.err) {
					t.Fatalf("got %v, want an error on THREADLINE_SLA_TEAM_HOURS with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := c.SLA.Policy()
			if len(p.Teams) != len(tc.open) {
				t.Fatalf("teams %v", p.Teams)
			}
			for team, open := range tc.open {
				if got := p.HoursFor("#" + strings.ToUpper(team)).Open(tc.at); got != open {
					t.Errorf("%s open at %v: %t, want %t", team, tc.at, got, open)
				}
			}
		})
	}
}

func berlinLoc(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	return loc
}

func TestTeamHoursInYAML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "threadline.yaml")
	yaml := `THREADLINE_SLA_TIMEZONE: Europe/Berlin
THREADLINE_SLA_BUSINESS_HOURS: mon-fri 09:00-17:00
THREADLINE_SLA_TEAM_HOURS:
  us:
    timezone: America/New_York
    hours: "mon-fri 08:00-12:00,13:00-17:00; sat 10:00-14:00"
    holidays:
      - 2026-11-26
      - "2026-12-25"
  berlin-late:
    hours: mon-fri 12:00-20:00
    holidays: []
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path, env())
	if err != nil {
		t.Fatal(err)
	}
	p := c.SLA.Policy()
	us, late := p.HoursFor("us"), p.HoursFor("berlin-late")
	if us.Location().String() != "America/New_York" || late.Location().String() != "Europe/Berlin" {
		t.Fatalf("zones %v %v", us.Location(), late.Location())
	}
	ny := us.Location()
	// Wednesday 11:00 + 6h in New York skips lunch and Thanksgiving, and ends on Friday.
	due, err := us.Add(time.Date(2026, 11, 25, 11, 0, 0, 0, ny), 6*time.Hour)
	if want := time.Date(2026, 11, 27, 9, 0, 0, 0, ny); err != nil || !due.Equal(want) {
		t.Errorf("due %v, want %v (%v)", due, want, err)
	}
	if !late.Open(time.Date(2026, 11, 25, 19, 0, 0, 0, late.Location())) {
		t.Error("berlin-late closed at 19:00")
	}
	if p.HoursFor("support") != p.Hours {
		t.Error("a team without a calendar must count in the global one")
	}
	for _, bad := range []string{
		"THREADLINE_SLA_TEAM_HOURS:\n  us: mon-fri\n",
		"THREADLINE_SLA_TEAM_HOURS:\n  us:\n    zone: UTC\n",
		"THREADLINE_SLA_TEAM_HOURS:\n  us:\n    hours: [1, 2]\n",
		"THREADLINE_SLA_TEAM_HOURS:\n  us:\n    holidays: [1]\n",
		"THREADLINE_SLA_HOLIDAYS:\n  a: b\n",
	} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		var inv *config.InvalidError
		if _, err := config.Load(path, env()); !errors.As(err, &inv) || !strings.HasPrefix(inv.Key, "THREADLINE_SLA_") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
