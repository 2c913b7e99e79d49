// Package businesshours does calendar arithmetic over a weekly schedule of
// opening hours in one time zone, with holidays: how much working time lies
// between two instants, and when a given amount of working time will have
// passed. SLA clocks count in working time.
//
// Opening intervals are wall-clock times on local dates, so a day on which
// the clocks change is as long as it really is (an around-the-clock day has
// 23 or 25 hours). An interval starts at the first instant its start time
// occurs on that date and ends at the first instant its end time occurs; a
// wall time skipped by a forward change is taken as the moment of the change.
package businesshours

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Interval is one opening period of a weekday, in minutes after local
// midnight. End may pass 24:00 (1440): the period then runs into the next day.
type Interval struct {
	Start, End int
}

// Date is a local calendar date.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// ParseDate reads YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse("2006-01-02", strings.TrimSpace(s))
	if err != nil {
		return Date{}, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return Date{t.Year(), t.Month(), t.Day()}, nil
}

// Schedule is a weekly timetable in a location. The zero value is not
// usable; build one with Always or Parse.
type Schedule struct {
	loc      *time.Location
	always   bool
	week     [7][]Interval // by time.Weekday
	holidays map[Date]bool
}

// Always is open around the clock: working time is elapsed time.
func Always() *Schedule { return &Schedule{loc: time.UTC, always: true} }

// maxScanDays bounds how far the arithmetic looks ahead (about three years):
// a schedule whose holidays close every day has no answer.
const maxScanDays = 3 * 366

// ErrNeverOpen says the schedule has no opening time.
var ErrNeverOpen = errors.New("business hours: schedule is never open")

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// Parse reads a schedule such as "mon-fri 09:00-17:00" or
// "mon-fri 08:00-12:00,13:00-17:00; sat 10:00-14:00" in loc. Day ranges wrap
// (fri-mon); "24/7" or an empty spec is open around the clock. An end before
// its start (22:00-06:00) runs past midnight.
func Parse(spec string, loc *time.Location, holidays ...Date) (*Schedule, error) {
	if loc == nil {
		loc = time.UTC
	}
	spec = strings.TrimSpace(strings.ToLower(spec))
	if spec == "" || spec == "24/7" || spec == "always" {
		s := Always()
		s.loc = loc
		if len(holidays) == 0 {
			return s, nil
		}
		// Holidays need the day-by-day arithmetic.
		spec = "mon-sun 00:00-24:00"
	}
	s := &Schedule{loc: loc, holidays: map[Date]bool{}}
	for _, h := range holidays {
		s.holidays[h] = true
	}
	for _, part := range strings.Split(spec, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		days, hours, ok := strings.Cut(part, " ")
		if !ok {
			return nil, fmt.Errorf("business hours %q: want days and hours, such as mon-fri 09:00-17:00", part)
		}
		wds, err := parseDays(days)
		if err != nil {
			return nil, err
		}
		for _, h := range strings.Split(hours, ",") {
			iv, err := parseInterval(strings.TrimSpace(h))
			if err != nil {
				return nil, err
			}
			for _, wd := range wds {
				s.week[wd] = append(s.week[wd], iv)
			}
		}
	}
	open := false
	for wd := range s.week {
		sort.Slice(s.week[wd], func(i, j int) bool { return s.week[wd][i].Start < s.week[wd][j].Start })
		open = open || len(s.week[wd]) > 0
	}
	if !open {
		return nil, fmt.Errorf("business hours %q: %w", spec, ErrNeverOpen)
	}
	return s, nil
}

func parseDays(s string) ([]time.Weekday, error) {
	var out []time.Weekday
	for _, r := range strings.Split(s, ",") {
		from, to, isRange := strings.Cut(strings.TrimSpace(r), "-")
		a, ok := dayNames[from]
		if !ok {
			return nil, fmt.Errorf("business hours: unknown day %q (use mon, tue, ...)", from)
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b, ok := dayNames[to]
		if !ok {
			return nil, fmt.Errorf("business hours: unknown day %q (use mon, tue, ...)", to)
		}
		for d := a; ; d = (d + 1) % 7 {
			out = append(out, d)
			if d == b {
				break
			}
		}
	}
	return out, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || hh > 24 || mm < 0 || mm > 59 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("business hours: time %q: want HH:MM", s)
	}
	return hh*60 + mm, nil
}

func parseInterval(s string) (Interval, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return Interval{}, fmt.Errorf("business hours: hours %q: want HH:MM-HH:MM", s)
	}
	start, err := parseClock(strings.TrimSpace(a))
	if err != nil {
		return Interval{}, err
	}
	end, err := parseClock(strings.TrimSpace(b))
	if err != nil {
		return Interval{}, err
	}
	if start == 1440 {
		return Interval{}, fmt.Errorf("business hours: hours %q start at 24:00", s)
	}
	if end == start {
		return Interval{}, fmt.Errorf("business hours: hours %q are empty", s)
	}
	if end < start {
		end += 1440 // past midnight
	}
	return Interval{Start: start, End: end}, nil
}

// Location is the schedule's time zone.
func (s *Schedule) Location() *time.Location { return s.loc }

// IsAlways reports whether the schedule is open around the clock.
func (s *Schedule) IsAlways() bool { return s.always }

// wallInstant is the first instant at which the local wall clock reads the
// given minute of the date (minute may pass 1440), or, when that wall time
// is skipped by a clock change, the instant of the change.
func (s *Schedule) wallInstant(y int, m time.Month, d, minute int) time.Time {
	want := time.Date(y, m, d, 0, minute, 0, 0, time.UTC) // the wall time, read as UTC
	t := time.Date(y, m, d, 0, minute, 0, 0, s.loc)
	var best time.Time
	check := func(offset int) {
		u := want.Add(-time.Duration(offset) * time.Second)
		if wall(u.In(s.loc)).Equal(want) && (best.IsZero() || u.Before(best)) {
			best = u
		}
	}
	_, off := t.Zone()
	check(off)
	start, end := t.ZoneBounds()
	if !start.IsZero() {
		_, o := start.Add(-time.Second).Zone()
		check(o)
	}
	if !end.IsZero() {
		_, o := end.Zone()
		check(o)
	}
	if !best.IsZero() {
		return best
	}
	// Skipped: the change happened at a zone boundary next to t.
	if wall(t).After(want) {
		return start
	}
	return end
}

// wall is t's local wall clock, as a UTC time.
func wall(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// walk calls fn with the opening periods [from, to) that end after t, in
// order, until fn returns false. Periods may overlap; fn gets them clipped so
// that each instant is seen once.
func (s *Schedule) walk(t time.Time, fn func(from, to time.Time) bool) error {
	local := t.In(s.loc)
	// Start a day early: yesterday's period may run past midnight.
	day := time.Date(local.Year(), local.Month(), local.Day()-1, 12, 0, 0, 0, time.UTC)
	cursor := t
	for range maxScanDays {
		y, m, d := day.Date()
		if !s.holidays[Date{y, m, d}] {
			for _, iv := range s.week[day.Weekday()] {
				from, to := s.wallInstant(y, m, d, iv.Start), s.wallInstant(y, m, d, iv.End)
				if from.Before(cursor) {
					from = cursor
				}
				if !to.After(from) {
					continue
				}
				if !fn(from, to) {
					return nil
				}
				cursor = to
			}
		}
		day = day.AddDate(0, 0, 1)
	}
	return ErrNeverOpen
}

// Between is the working time in [a, b); zero when b is not after a.
func (s *Schedule) Between(a, b time.Time) time.Duration {
	if !b.After(a) {
		return 0
	}
	if s.always {
		return b.Sub(a)
	}
	var sum time.Duration
	_ = s.walk(a, func(from, to time.Time) bool {
		if !from.Before(b) {
			return false
		}
		if to.After(b) {
			to = b
		}
		sum += to.Sub(from)
		return to.Before(b)
	})
	return sum
}

// Add returns the earliest instant u at or after t with Between(t, u) == d
// (t itself for d <= 0). It fails only when the schedule never opens.
func (s *Schedule) Add(t time.Time, d time.Duration) (time.Time, error) {
	if d <= 0 {
		return t, nil
	}
	if s.always {
		return t.Add(d), nil
	}
	var out time.Time
	err := s.walk(t, func(from, to time.Time) bool {
		if span := to.Sub(from); d >= span {
			// Landing exactly on the end of a period: the deadline is there,
			// not at the start of the next one.
			if d == span {
				out = to
				return false
			}
			d -= span
			return true
		}
		out = from.Add(d)
		return false
	})
	if out.IsZero() {
		return time.Time{}, err
	}
	return out, nil
}

// NextOpen is the earliest instant at or after t within opening hours. It
// fails only when the schedule never opens.
func (s *Schedule) NextOpen(t time.Time) (time.Time, error) {
	if s.always {
		return t, nil
	}
	var out time.Time
	err := s.walk(t, func(from, _ time.Time) bool {
		out = from
		return false
	})
	if out.IsZero() {
		return time.Time{}, err
	}
	return out, nil
}

// Open reports whether t is within opening hours.
func (s *Schedule) Open(t time.Time) bool {
	if s.always {
		return true
	}
	return s.Between(t, t.Add(time.Nanosecond)) > 0
}
