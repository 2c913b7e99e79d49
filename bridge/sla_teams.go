package bridge

import (
	"strings"
	"time"

	"github.com/threadline/threadline/internal/businesshours"
)

// Teams may keep their own calendar (a support desk in New York and one in
// Berlin): a conversation's clocks count in the calendar of the team it is
// with, and in the policy's Hours while it is with none or with a team that
// has no calendar of its own. A transfer to another team keeps the business
// time already used and counts the rest in the new team's calendar.

// TeamKey is how a team's name is matched against the configured calendars:
// case does not matter, nor the # of a channel or the @ of a user group.
func TeamKey(name string) string {
	return strings.ToLower(strings.TrimLeft(strings.TrimSpace(name), "#@"))
}

// HoursFor is the calendar a conversation with team counts in.
func (p *SLAPolicy) HoursFor(team string) *businesshours.Schedule {
	if p == nil {
		return businesshours.Always()
	}
	if key := p.calendarOf(team); key != "" {
		return p.Teams[key]
	}
	if p.Hours == nil {
		return businesshours.Always()
	}
	return p.Hours
}

// calendarOf is the key of team's own calendar; empty when it counts in
// the global one.
func (p *SLAPolicy) calendarOf(team string) string {
	if team == "" {
		return ""
	}
	if _, ok := p.Teams[TeamKey(team)]; ok {
		return TeamKey(team)
	}
	return ""
}

// LocationFor is where a conversation with team shows its due times.
func (p *SLAPolicy) LocationFor(team string) *time.Location {
	return p.HoursFor(team).Location()
}

// rehome moves the running clocks to the calendar of the conversation's new
// team: the business time used so far is counted in the old calendar, the
// rest in the new one.
func (cs *slaClocks) rehome(old *businesshours.Schedule) {
	for _, k := range SLAClockKinds {
		c := cs.byKey[k]
		if c == nil || c.State != SLARunning || c.SegmentAt == nil {
			continue
		}
		c.Consumed += old.Between(*c.SegmentAt, cs.now)
		now := cs.now
		c.SegmentAt = &now
		cs.reschedule(c)
	}
}
