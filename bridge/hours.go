package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/threadline/threadline/internal/businesshours"
)

// Working hours are when an agent takes work. Outside them an agent counts
// as unavailable, as when away: escalation passes them over, and an assign
// or transfer to them says so. Away wins over working hours; an agent
// without working hours is available whenever they are not away.

// AgentHours is an agent's weekly working time as stored.
type AgentHours struct {
	AgentID AgentID
	// Schedule is a businesshours spec such as "mon-fri 09:00-17:00".
	Schedule string
	// Zone is the IANA time zone the schedule is in.
	Zone      string
	SetBy     AgentID
	UpdatedAt time.Time
}

// String reads like "mon-fri 09:00-17:00 Europe/Berlin".
func (h AgentHours) String() string { return h.Schedule + " " + h.Zone }

func (h AgentHours) schedule() (*businesshours.Schedule, error) {
	loc, err := time.LoadLocation(h.Zone)
	if err != nil {
		return nil, err
	}
	return businesshours.Parse(h.Schedule, loc)
}

// WorkingHoursTx stores agents' working hours.
type WorkingHoursTx interface {
	// GetAgentHours returns ErrNotFound for an agent without working hours.
	GetAgentHours(ctx context.Context, id AgentID) (AgentHours, error)
	SetAgentHours(ctx context.Context, h AgentHours) error
	// DeleteAgentHours reports whether there were hours to delete.
	DeleteAgentHours(ctx context.Context, id AgentID) (bool, error)
}

// HoursArgs is what the hours verb says; the agent is Command.Target, or
// the actor when none is named. Neither Off nor Schedule: show them.
type HoursArgs struct {
	Off      bool
	Schedule string // validated businesshours spec
	Zone     string // IANA name; empty: the SLA time zone
}

// parseHours reads "hours [@agent] (off | schedule [zone])".
func parseHours(p *parser, cmd *Command) error {
	if m, ok := p.syn.Mention(p.peek()); ok {
		if m.Kind != MentionUser {
			return fmt.Errorf("%q is a team; name one teammate", truncateRunes(m.Raw, 40))
		}
		cmd.Target = m
		p.next()
	}
	rest := strings.Fields(p.text())
	switch {
	case len(rest) == 0:
		return nil
	case len(rest) == 1 && strings.EqualFold(rest[0], "off"):
		cmd.Hours.Off = true
		return nil
	}
	var loc *time.Location
	if last := rest[len(rest)-1]; strings.Contains(last, "/") && last != "24/7" || strings.EqualFold(last, "utc") {
		l, err := time.LoadLocation(last)
		if err != nil {
			l, err = time.LoadLocation(zoneName(strings.ToLower(last)))
		}
		if err != nil {
			return fmt.Errorf("%q is not a time zone; use an IANA name such as Europe/Berlin", truncateRunes(last, 40))
		}
		loc, cmd.Hours.Zone, rest = l, l.String(), rest[:len(rest)-1]
	}
	spec := strings.ToLower(strings.Join(rest, " "))
	if spec == "" || spec == "24/7" || spec == "always" {
		return errors.New("Give days and times such as mon-fri 09:00-17:00, or off")
	}
	if _, err := businesshours.Parse(spec, loc); err != nil {
		return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "business hours: "))
	}
	cmd.Hours.Schedule = spec
	return nil
}

// zoneName restores the usual case of a lower-cased IANA name
// (europe/berlin -> Europe/Berlin, america/new_york -> America/New_York,
// utc -> UTC): time zone names are file names, and case matters to them.
func zoneName(s string) string {
	if s == "utc" {
		return "UTC"
	}
	parts := strings.Split(s, "/")
	for i, p := range parts {
		words := strings.Split(p, "_")
		for j, w := range words {
			if w != "" {
				words[j] = strings.ToUpper(w[:1]) + w[1:]
			}
		}
		parts[i] = strings.Join(words, "_")
	}
	return strings.Join(parts, "/")
}

// offDuty says why an agent cannot take work at now ("away", "off hours
// until Mon 09:00 CET"); empty when they can.
func (b *Bridge) offDuty(ctx context.Context, tx Tx, a Agent, now time.Time) (string, error) {
	if !a.Available {
		return "away", nil
	}
	h, err := tx.GetAgentHours(ctx, a.ID)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	s, err := h.schedule()
	if err != nil {
		// Stored hours that no longer read (a time zone gone from the
		// system's database) must not hide an agent from escalation.
		b.log.Warn("working hours unreadable", "agent_id", a.ID, "err", err)
		return "", nil
	}
	if s.Open(now) {
		return "", nil
	}
	next, err := s.NextOpen(now)
	if err != nil {
		return "off hours", nil
	}
	return "off hours until " + next.In(s.Location()).Format("Mon 15:04 MST"), nil
}

func (b *Bridge) doHours(ctx context.Context, o *op) error {
	who, self := o.agent, true
	if o.cmd.Target.Kind == MentionUser {
		a, err := b.target(ctx, o)
		if err != nil {
			return err
		}
		who, self = a, a.ID == o.agent.ID
	}
	args := o.cmd.Hours
	changes := args.Off || args.Schedule != ""
	if changes && !self && !o.role().AtLeast(RoleSupervisor) {
		return fmt.Errorf("%w: only supervisors, managers and admins set someone else's working hours", ErrForbidden)
	}
	whose, has := who.Name+"'s", who.Name+" has"
	if self {
		whose, has = "Your", "You have"
	}
	old, err := o.tx.GetAgentHours(ctx, who.ID)
	found := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	audit := func(action, after string) error {
		before := "hours=none"
		if found {
			before = "hours=" + old.String()
		}
		return o.tx.AppendAudit(ctx, AuditEntry{ActorAgentID: o.agent.ID, Action: action, Before: before, After: after, At: o.now})
	}
	switch {
	case args.Off:
		if _, err := o.tx.DeleteAgentHours(ctx, who.ID); err != nil {
			return err
		}
		o.res.Text = fmt.Sprintf("%s working hours are cleared: assignments and escalations reach %s whenever not away.", whose, pronoun(self, who))
		if !found {
			return nil
		}
		return audit("hours_cleared", "hours=none")
	case args.Schedule != "":
		h := AgentHours{AgentID: who.ID, Schedule: args.Schedule, Zone: args.Zone, SetBy: o.agent.ID, UpdatedAt: o.now}
		if h.Zone == "" {
			h.Zone = b.opts.SLA.Location().String()
		}
		if err := o.tx.SetAgentHours(ctx, h); err != nil {
			return err
		}
		o.res.Text = fmt.Sprintf("%s working hours: %s. Outside them no assignments or escalations reach %s (away still wins).", whose, h, pronoun(self, who))
		if found && old.String() == h.String() {
			return nil
		}
		if err := audit("hours_set", "hours="+h.String()); err != nil {
			return err
		}
	default:
		if !found {
			o.res.Text = fmt.Sprintf("%s no working hours: available whenever not away.", has)
			return nil
		}
		o.res.Text = fmt.Sprintf("%s working hours: %s.", whose, old)
	}
	why, err := b.offDuty(ctx, o.tx, who, o.now)
	if err != nil {
		return err
	}
	if why != "" {
		o.res.Text += fmt.Sprintf(" Now: %s.", why)
	}
	return nil
}

func pronoun(self bool, a Agent) string {
	if self {
		return "you"
	}
	return a.Name
}

// changesNothing says a command only reads, so a redelivered request is
// answered again rather than taken for a duplicate.
func (c Command) changesNothing() bool {
	return readOnly[c.Verb] || c.Verb == VerbHours && !c.Hours.Off && c.Hours.Schedule == ""
}

// noteOffDuty tells the actor that the agent they hand work to is away or
// off hours: the handover stands, someone may want to pick another.
func (b *Bridge) noteOffDuty(ctx context.Context, o *op, a Agent) error {
	why, err := b.offDuty(ctx, o.tx, a, o.now)
	if err != nil || why == "" {
		return err
	}
	o.res.Text += fmt.Sprintf(" Note: %s is %s.", a.Name, why)
	o.res.Attention = true
	return nil
}
