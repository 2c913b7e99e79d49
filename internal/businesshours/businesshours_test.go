package businesshours

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/quick"
	"time"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("time zone %s not available: %v", name, err)
	}
	return loc
}

func mustParse(t testing.TB, spec string, loc *time.Location, holidays ...Date) *Schedule {
	t.Helper()
	s, err := Parse(spec, loc, holidays...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAddTable(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	berlin := mustLoc(t, "Europe/Berlin")
	at := func(loc *time.Location, y int, m time.Month, d, h, mi int) time.Time {
		return time.Date(y, m, d, h, mi, 0, 0, loc)
	}
	xmas := Date{2026, time.December, 25}
	tests := []struct {
		name  string
		spec  string
		loc   *time.Location
		hol   []Date
		start time.Time
		d     time.Duration
		want  time.Time
	}{
		{"inside hours", "mon-fri 09:00-17:00", berlin, nil, at(berlin, 2026, 12, 1, 10, 0), time.Hour, at(berlin, 2026, 12, 1, 11, 0)},
		{"spills to next morning", "mon-fri 09:00-17:00", berlin, nil, at(berlin, 2026, 12, 1, 16, 30), time.Hour, at(berlin, 2026, 12, 2, 9, 30)},
		{"before opening", "mon-fri 09:00-17:00", berlin, nil, at(berlin, 2026, 12, 1, 3, 0), 15 * time.Minute, at(berlin, 2026, 12, 1, 9, 15)},
		{"friday evening to monday", "mon-fri 09:00-17:00", berlin, nil, at(berlin, 2026, 12, 4, 16, 0), 2 * time.Hour, at(berlin, 2026, 12, 7, 10, 0)},
		{"exactly at closing stays there", "mon-fri 09:00-17:00", berlin, nil, at(berlin, 2026, 12, 1, 16, 0), time.Hour, at(berlin, 2026, 12, 1, 17, 0)},
		{"weekend start", "mon-fri 09:00-17:00", berlin, nil, at(berlin, 2026, 12, 5, 12, 0), 4 * time.Hour, at(berlin, 2026, 12, 7, 13, 0)},
		{"holiday skipped", "mon-fri 09:00-17:00", berlin, []Date{xmas}, at(berlin, 2026, 12, 24, 16, 0), 2 * time.Hour, at(berlin, 2026, 12, 28, 10, 0)},
		{"lunch break", "mon-fri 08:00-12:00,13:00-17:00", berlin, nil, at(berlin, 2026, 12, 1, 11, 30), time.Hour, at(berlin, 2026, 12, 1, 13, 30)},
		{"night shift past midnight", "mon-fri 22:00-06:00", berlin, nil, at(berlin, 2026, 12, 1, 23, 0), 2 * time.Hour, at(berlin, 2026, 12, 2, 1, 0)},
		{"night shift friday ends saturday", "fri 22:00-06:00", berlin, nil, at(berlin, 2026, 12, 5, 5, 0), 2 * time.Hour, at(berlin, 2026, 12, 11, 23, 0)},
		// 8 March 2026: New York springs forward at 02:00; the day has 23 hours.
		{"around the clock on a 23h day", "mon-sun 00:00-24:00", ny, nil, at(ny, 2026, 3, 8, 0, 0), 23 * time.Hour, at(ny, 2026, 3, 9, 0, 0)},
		{"spring forward: 01:00-04:00 is two hours", "mon-sun 01:00-04:00", ny, nil, at(ny, 2026, 3, 8, 1, 0), 2 * time.Hour, at(ny, 2026, 3, 8, 4, 0)},
		{"spring forward: the third hour is the next night", "mon-sun 01:00-04:00", ny, nil, at(ny, 2026, 3, 8, 1, 0), 3 * time.Hour, at(ny, 2026, 3, 9, 2, 0)},
		// 1 November 2026: New York falls back at 02:00; 01:00-02:00 happens twice.
		{"around the clock on a 25h day", "mon-sun 00:00-24:00", ny, nil, at(ny, 2026, 11, 1, 0, 0), 25 * time.Hour, at(ny, 2026, 11, 2, 0, 0)},
		{"fall back: 00:00-03:00 is four hours", "sun 00:00-03:00", ny, nil, at(ny, 2026, 11, 1, 0, 0), 4 * time.Hour, time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)},
		{"opening in the skipped hour starts at the change", "sun 02:30-05:00", ny, nil, at(ny, 2026, 3, 8, 0, 0), time.Hour, time.Date(2026, 3, 8, 8, 0, 0, 0, time.UTC)},
		{"around the clock default", "", time.UTC, nil, at(time.UTC, 2026, 12, 1, 23, 59), 2 * time.Minute, at(time.UTC, 2026, 12, 2, 0, 1)},
		{"zero duration is the start", "mon-fri 09:00-17:00", berlin, nil, at(berlin, 2026, 12, 5, 12, 0), 0, at(berlin, 2026, 12, 5, 12, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustParse(t, tc.spec, tc.loc, tc.hol...)
			got, err := s.Add(tc.start, tc.d)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.want) {
				t.Fatalf("Add(%s, %s) = %s, want %s", tc.start, tc.d, got.In(tc.loc), tc.want.In(tc.loc))
			}
			if b := s.Between(tc.start, got); b != tc.d {
				t.Fatalf("Between(start, Add) = %s, want %s", b, tc.d)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, spec := range []string{"mon-fri", "mon-fri 9-17", "xyz 09:00-17:00", "mon 09:00-09:00", "mon 25:00-26:00", "mon 09:60-10:00", "mon 24:00-01:00", ";"} {
		if _, err := Parse(spec, time.UTC); err == nil && spec != ";" {
			t.Errorf("Parse(%q) accepted", spec)
		}
	}
	if _, err := Parse("sat-sun 10:00-11:00", time.UTC); err != nil {
		t.Errorf("weekend only: %v", err)
	}
	if _, err := Parse("fri-mon 10:00-11:00", time.UTC); err != nil {
		t.Errorf("wrapping range: %v", err)
	}
}

func TestHolidaysEveryDayNeverOpen(t *testing.T) {
	var all []Date
	for d := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC); d.Year() < 2030; d = d.AddDate(0, 0, 1) {
		all = append(all, Date{d.Year(), d.Month(), d.Day()})
	}
	s := mustParse(t, "mon-fri 09:00-17:00", time.UTC, all...)
	if _, err := s.Add(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Hour); err == nil {
		t.Fatal("a schedule closed for years found a deadline")
	}
}

// randomSchedule draws a weekly schedule whose boundaries avoid 01:00-03:59,
// where the tested zones change their clocks, so that the wall-clock oracle
// below and the schedule agree on what "open" means.
func randomSchedule(r *rand.Rand) string {
	days := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	spec := ""
	for _, d := range days {
		if r.IntN(3) == 0 {
			continue
		}
		start := 4*60 + r.IntN(12*60)
		end := start + 15 + r.IntN(20*60-start)
		if end > 24*60 {
			end = 24 * 60
		}
		if spec != "" {
			spec += "; "
		}
		spec += fmt.Sprintf("%s %02d:%02d-%02d:%02d", d, start/60, start%60, end/60, end%60)
		if r.IntN(3) == 0 && end < 23*60 { // a second period the same day
			s2 := end + 15 + r.IntN(23*60-end)
			e2 := min(s2+15+r.IntN(60), 24*60)
			if s2 < e2 {
				spec += fmt.Sprintf(",%02d:%02d-%02d:%02d", s2/60, s2%60, e2/60, e2%60)
			}
		}
	}
	if spec == "" {
		spec = "mon 09:00-17:00"
	}
	return spec
}

// openByWall is the oracle: u is open when its local weekday and wall time
// fall in one of the day's periods and the date is no holiday.
func openByWall(s *Schedule, u time.Time) bool {
	l := u.In(s.loc)
	if s.holidays[Date{l.Year(), l.Month(), l.Day()}] {
		return false
	}
	minute := l.Hour()*60 + l.Minute()
	for _, iv := range s.week[l.Weekday()] {
		if minute >= iv.Start && minute < iv.End {
			return true
		}
	}
	return false
}

// TestMatchesMinuteByMinuteOracle compares Between and Add with counting
// open minutes one by one, across DST changes (the window includes them)
// and midnights, in zones with 60- and 30-minute changes.
func TestMatchesMinuteByMinuteOracle(t *testing.T) {
	zones := []*time.Location{time.UTC, mustLoc(t, "America/New_York"), mustLoc(t, "Europe/Berlin"), mustLoc(t, "Australia/Lord_Howe"), mustLoc(t, "Asia/Kolkata")}
	r := rand.New(rand.NewPCG(42, 2026))
	// Windows around the 2026 changes: March, April (southern), October, November.
	anchors := []time.Time{
		time.Date(2026, 3, 6, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 27, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 4, 3, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 10, 23, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 30, 0, 0, 0, 0, time.UTC),
	}
	for i := range 120 {
		loc := zones[r.IntN(len(zones))]
		var hol []Date
		if r.IntN(3) == 0 {
			a := anchors[r.IntN(len(anchors))].AddDate(0, 0, r.IntN(5))
			hol = append(hol, Date{a.Year(), a.Month(), a.Day()})
		}
		spec := randomSchedule(r)
		s := mustParse(t, spec, loc, hol...)
		start := anchors[r.IntN(len(anchors))].Add(time.Duration(r.IntN(4*24*60)) * time.Minute)
		const window = 6 * 24 * 60 // minutes
		var open time.Duration
		want := map[int]time.Time{} // open minutes so far -> the instant they are reached
		for m := range window {
			u := start.Add(time.Duration(m) * time.Minute)
			if openByWall(s, u) {
				open += time.Minute
				if _, ok := want[int(open/time.Minute)]; !ok {
					want[int(open/time.Minute)] = u.Add(time.Minute)
				}
			}
		}
		if first, ok := want[1]; ok {
			if got, err := s.NextOpen(start); err != nil || !got.Equal(first.Add(-time.Minute)) {
				t.Fatalf("case %d %q in %s from %s: NextOpen = %s %v, oracle %s", i, spec, loc, start, got.In(loc), err, first.Add(-time.Minute).In(loc))
			}
		}
		end := start.Add(window * time.Minute)
		if got := s.Between(start, end); got != open {
			t.Fatalf("case %d %q in %s from %s: Between = %s, oracle %s", i, spec, loc, start, got, open)
		}
		if open == 0 {
			continue
		}
		k := 1 + r.IntN(int(open/time.Minute))
		got, err := s.Add(start, time.Duration(k)*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want[k]) {
			t.Fatalf("case %d %q in %s from %s: Add(%d min) = %s, oracle %s", i, spec, loc, start, k, got.In(loc), want[k].In(loc))
		}
	}
}

// TestProperties checks algebraic laws on arbitrary instants and durations,
// including odd ones (nanoseconds, boundaries inside DST changes).
func TestProperties(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	schedules := []*Schedule{
		mustParse(t, "mon-fri 09:00-17:00", ny),
		mustParse(t, "mon-sun 00:00-24:00", ny),
		mustParse(t, "sun 01:30-02:30; mon-fri 08:00-12:00,13:00-17:30; sat 22:00-02:00", ny, Date{2026, 11, 26}),
		Always(),
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := &quick.Config{MaxCount: 300, Rand: nil}
	for i, s := range schedules {
		law := func(at uint32, d1, d2 uint32) bool {
			t0 := base.Add(time.Duration(at%(366*24*3600)) * time.Second).Add(time.Duration(d2%1000) * time.Nanosecond)
			a := time.Duration(d1%(200*3600)) * time.Second
			b := time.Duration(d2%(200*3600)) * time.Second
			ta, err := s.Add(t0, a)
			if err != nil {
				return false
			}
			tab, _ := s.Add(t0, a+b)
			tb, _ := s.Add(ta, b)
			next, err := s.NextOpen(t0)
			if err != nil {
				return false
			}
			after, _ := s.Add(t0, time.Nanosecond)
			return s.Between(t0, ta) == a && // Add inverts Between
				s.Open(next) && s.Between(t0, next) == 0 && after.Equal(next.Add(time.Nanosecond)) && // NextOpen is where work starts
				!ta.Before(t0) && // never earlier
				tab.Equal(tb) && // Add composes
				s.Between(t0, tab) == s.Between(t0, ta)+s.Between(ta, tab) && // Between adds up
				s.Between(t0, ta) <= ta.Sub(t0) // working time never exceeds elapsed time
		}
		if err := quick.Check(law, cfg); err != nil {
			t.Errorf("schedule %d: %v", i, err)
		}
	}
}

func BenchmarkAddWeek(b *testing.B) {
	s, _ := Parse("mon-fri 09:00-17:00", time.UTC)
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for b.Loop() {
		_, _ = s.Add(t0, 40*time.Hour)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"mon-fri 09:00-17:00", "mon-fri 08:00-12:00,13:00-17:00; sat 10:00-14:00", "fri 22:00-06:00", "24/7", "sun-sat 00:00-24:00", "x", "mon 9"} {
		f.Add(s)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		f.Skip(err)
	}
	t0 := time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := Parse(spec, ny)
		if err != nil {
			return
		}
		due, err := s.Add(t0, 90*time.Minute)
		if err != nil {
			t.Fatalf("%q: %v", spec, err)
		}
		if got := s.Between(t0, due); got != 90*time.Minute {
			t.Fatalf("%q: Between(t0, Add(t0, 90m)) = %s", spec, got)
		}
	})
}
