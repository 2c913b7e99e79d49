package config_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"

	"github.com/threadline/threadline/internal/config"
)

// FuzzTeamHours: any value of THREADLINE_SLA_TEAM_HOURS loads or is refused
// with an error naming the key, and a loaded one has a calendar per team.
func FuzzTeamHours(f *testing.F) {
	for _, s := range []string{"us=America/New_York mon-fri 09:00-17:00 holidays 2026-11-26 | apac=Asia/Tokyo", "x=", "=", "|||", "a=UTC holidays none",
		"a=mon-fri 09:00-17:00 holidays", "a=b=c", "a=Europe/Berlin sat 22:00-06:00 holidays 2026-02-30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		c, err := config.Load("", env("THREADLINE_SLA_TEAM_HOURS", v))
		if err != nil {
			var inv *config.InvalidError
			if !errors.As(err, &inv) || inv.Key != "THREADLINE_SLA_TEAM_HOURS" {
				t.Fatalf("%q: %v", v, err)
			}
			return
		}
		if len(c.SLA.Teams) != len(c.SLA.TeamHours) {
			t.Fatalf("%q: %d calendars for %d teams", v, len(c.SLA.Teams), len(c.SLA.TeamHours))
		}
		for _, th := range c.SLA.TeamHours {
			if th.Team == "" || strings.ContainsFunc(th.Team, unicode.IsSpace) || strings.ContainsAny(th.Team, "|=") || c.SLA.Teams[th.Team] == nil {
				t.Fatalf("%q: team %q", v, th.Team)
			}
		}
	})
}
