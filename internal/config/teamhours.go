package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/internal/businesshours"
)

// TeamCalendar is one team's business hours as configured; what it leaves
// out (zone, hours, holidays) is taken from the global calendar.
type TeamCalendar struct {
	Team     string // bridge.TeamKey of the team's name
	Location *time.Location
	Hours    string // empty: THREADLINE_SLA_BUSINESS_HOURS
	// Holidays replace the global ones when HasHolidays ("holidays none":
	// a team that works on the global holidays).
	Holidays    []businesshours.Date
	HasHolidays bool
}

// parseTeamHours reads the quick-start form of THREADLINE_SLA_TEAM_HOURS:
// teams separated by "|", each "name=[zone] [hours] [holidays dates]", as in
//
//	us=America/New_York mon-fri 09:00-17:00 holidays 2026-11-26,2026-12-25 | apac=Asia/Tokyo
func parseTeamHours(v string) ([]TeamCalendar, error) {
	var out []TeamCalendar
	seen := map[string]bool{}
	for _, entry := range strings.Split(v, "|") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		name, rest, ok := strings.Cut(entry, "=")
		team := bridge.TeamKey(name)
		if !ok || team == "" || strings.ContainsFunc(team, unicode.IsSpace) {
			return nil, fmt.Errorf("entry %q must start with a team name and =, such as us=America/New_York mon-fri 09:00-17:00", truncate(entry))
		}
		if seen[team] {
			return nil, fmt.Errorf("team %s is listed twice", team)
		}
		seen[team] = true
		cal := TeamCalendar{Team: team}
		fields := strings.Fields(rest)
		if len(fields) > 0 && strings.Contains(fields[0], "/") && fields[0] != "24/7" || len(fields) > 0 && fields[0] == "UTC" {
			loc, err := time.LoadLocation(fields[0])
			if err != nil {
				return nil, fmt.Errorf("team %s: unknown time zone %q (use an IANA name such as America/New_York)", team, truncate(fields[0]))
			}
			cal.Location, fields = loc, fields[1:]
		}
		hours := fields
		for i, f := range fields {
			if strings.EqualFold(f, "holidays") {
				hours = fields[:i]
				cal.HasHolidays = true
				list := strings.Join(fields[i+1:], "")
				if strings.EqualFold(list, "none") {
					break
				}
				if list == "" {
					return nil, fmt.Errorf("team %s: list dates after holidays (YYYY-MM-DD, comma-separated), or none", team)
				}
				for _, d := range strings.Split(list, ",") {
					date, err := businesshours.ParseDate(d)
					if err != nil {
						return nil, fmt.Errorf("team %s: %w", team, err)
					}
					cal.Holidays = append(cal.Holidays, date)
				}
				break
			}
		}
		cal.Hours = strings.Join(hours, " ")
		out = append(out, cal)
	}
	return out, nil
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// teamHoursFromYAML writes the YAML form of THREADLINE_SLA_TEAM_HOURS, a
// mapping of team names to timezone, hours and holidays, in the
// quick-start form, so that both are read by one parser.
func teamHoursFromYAML(v map[string]any) (string, error) {
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	sort.Strings(names)
	var entries []string
	for _, name := range names {
		fields, ok := v[name].(map[string]any)
		if !ok {
			return "", fmt.Errorf("team %s must be a mapping with timezone, hours and holidays", name)
		}
		parts := []string{name + "="}
		for key, val := range fields {
			switch key {
			case "timezone", "hours":
				s, ok := val.(string)
				if !ok || strings.ContainsAny(s, "|=") {
					return "", fmt.Errorf("team %s: %s must be text such as America/New_York or mon-fri 09:00-17:00", name, key)
				}
			case "holidays":
			default:
				return "", fmt.Errorf("team %s: unknown field %q (use timezone, hours, holidays)", name, key)
			}
		}
		if tz, ok := fields["timezone"].(string); ok {
			if !strings.Contains(tz, "/") && tz != "UTC" {
				return "", fmt.Errorf("team %s: unknown time zone %q (use an IANA name such as America/New_York)", name, truncate(tz))
			}
			parts = append(parts, tz)
		}
		if h, ok := fields["hours"].(string); ok {
			parts = append(parts, h)
		}
		if hol, ok := fields["holidays"]; ok {
			list, err := yamlDates(hol)
			if err != nil {
				return "", fmt.Errorf("team %s: %w", name, err)
			}
			if len(list) == 0 {
				list = []string{"none"}
			}
			parts = append(parts, "holidays", strings.Join(list, ","))
		}
		entries = append(entries, parts[0]+strings.Join(parts[1:], " "))
	}
	return strings.Join(entries, " | "), nil
}

func yamlDates(v any) ([]string, error) {
	var items []any
	switch v := v.(type) {
	case nil:
	case []any:
		items = v
	case string:
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
	default:
		items = []any{v}
	}
	out := make([]string, 0, len(items))
	for _, e := range items {
		switch e := e.(type) {
		case time.Time:
			out = append(out, e.Format("2006-01-02"))
		case string:
			out = append(out, strings.TrimSpace(e))
		default:
			return nil, errors.New("holidays must be dates (YYYY-MM-DD)")
		}
	}
	return out, nil
}

// buildTeamHours makes the teams' schedules, filling what each leaves out
// from the global calendar.
func (c *Config) buildTeamHours() error {
	if len(c.SLA.TeamHours) == 0 {
		c.SLA.Teams = nil
		return nil
	}
	c.SLA.Teams = map[string]*businesshours.Schedule{}
	for _, t := range c.SLA.TeamHours {
		loc, spec, holidays := t.Location, t.Hours, t.Holidays
		if loc == nil {
			loc = c.SLA.Location
		}
		if spec == "" {
			spec = c.SLA.BusinessHours
		}
		if !t.HasHolidays {
			holidays = c.SLA.Holidays
		}
		s, err := businesshours.Parse(spec, loc, holidays...)
		if err != nil {
			return &InvalidError{Key: "THREADLINE_SLA_TEAM_HOURS", Reason: "team " + t.Team + ": " + err.Error()}
		}
		c.SLA.Teams[t.Team] = s
	}
	return nil
}
