package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/threadline/threadline/internal/businesshours"
)

// SLA clocks are stored deadlines, never in-memory timers: each clock of a
// conversation is a row with its due time, and the next instant it needs
// looking at (a warning or a breach) is an indexed column. CheckSLA reads
// only the rows that are due, so its cost grows with deadlines due, not with
// open conversations; a restart, a crash or a second replica finds the same
// rows. An alert is recorded as a unique (conversation, clock, cycle, kind)
// row in the same transaction that queues its notices, so it is sent once.
//
// Definitions:
//   - first response: from the conversation's first customer message to the
//     first agent reply accepted for delivery (notes do not count);
//   - next response: from a customer message after an agent reply to the
//     next agent reply; a reopen starts it again;
//   - resolution: from creation to resolve, paused while the conversation is
//     pending on the customer (or snoozed); a reopen continues it.
// Times count in business hours when a schedule is set: the calendar of the
// conversation's team, else the global one.

// SLAClockKind names one of a conversation's clocks.
type SLAClockKind string

const (
	ClockFirstResponse SLAClockKind = "first_response"
	ClockNextResponse  SLAClockKind = "next_response"
	ClockResolution    SLAClockKind = "resolution"
)

// SLAClockKinds lists the clocks in the order cards show them.
var SLAClockKinds = []SLAClockKind{ClockFirstResponse, ClockNextResponse, ClockResolution}

func (k SLAClockKind) Label() string {
	switch k {
	case ClockFirstResponse:
		return "First response"
	case ClockNextResponse:
		return "Next response"
	case ClockResolution:
		return "Resolution"
	}
	return string(k)
}

// SLAState is where a clock stands.
type SLAState string

const (
	SLARunning SLAState = "running"
	SLAPaused  SLAState = "paused"  // resolution while pending on the customer
	SLAStopped SLAState = "stopped" // answered or resolved; resolution resumes on reopen
)

// SLAClock is one stored clock of a conversation. A clock that restarts
// (next response, after each answer) starts a new cycle.
type SLAClock struct {
	ConversationID ConversationID
	Kind           SLAClockKind
	Cycle          int
	State          SLAState
	Target         time.Duration // business time allowed
	StartedAt      time.Time     // start of this cycle
	Consumed       time.Duration // business time used before SegmentAt
	SegmentAt      *time.Time    // running since; nil unless running
	DueAt          *time.Time    // when running: the instant the target is used up
	WarnAt         *time.Time    // when running and not yet warned
	NextCheckAt    *time.Time    // the next warning or breach to look at; nil when none
	WarnedAt       *time.Time
	BreachedAt     *time.Time
	StoppedAt      *time.Time
}

// SLAAlertKind is a warning before a breach, or the breach.
type SLAAlertKind string

const (
	SLAWarning SLAAlertKind = "warning"
	SLABreach  SLAAlertKind = "breach"
)

// SLAAlert records that an alert was raised, once per clock cycle and kind.
type SLAAlert struct {
	ConversationID ConversationID
	Clock          SLAClockKind
	Cycle          int
	Kind           SLAAlertKind
	DueAt          time.Time
	At             time.Time
}

// SLATx is the part of Tx that keeps SLA clocks.
type SLATx interface {
	// ListSLAClocks returns a conversation's clocks. Callers hold the
	// conversation's row lock, which guards its clocks too.
	ListSLAClocks(ctx context.Context, conv ConversationID) ([]SLAClock, error)
	// SaveSLAClock inserts or replaces the clock (conversation, kind).
	SaveSLAClock(ctx context.Context, c SLAClock) error
	// ListDueSLAConversations returns conversations with a clock whose next
	// check is at or before now, earliest first, from the due-time index.
	ListDueSLAConversations(ctx context.Context, now time.Time, limit int) ([]ConversationID, error)
	// InsertSLAAlert records an alert and reports whether it is new.
	InsertSLAAlert(ctx context.Context, a SLAAlert) (bool, error)
	// GetAgentChatIdentity returns an agent's user on a surface, or ErrNotFound.
	GetAgentChatIdentity(ctx context.Context, agent AgentID, surface Surface) (AgentChatIdentity, error)
	// ListChatIdentitiesByRole returns the surface users of agents with one of the roles.
	ListChatIdentitiesByRole(ctx context.Context, surface Surface, roles []Role) ([]AgentChatIdentity, error)
}

// SLAPolicy holds the targets and the calendar they count in.
type SLAPolicy struct {
	FirstResponse, NextResponse, Resolution SLATargets
	// WarnAt is the share of a target after which a warning goes out
	// (0.75: at 75 %); zero sends none.
	WarnAt float64
	// Hours is the business-hours calendar; nil counts around the clock in UTC.
	Hours *businesshours.Schedule
	// Teams are the calendars of teams that keep their own, by TeamKey.
	Teams map[string]*businesshours.Schedule
	// EscalateOnBreach, when set, escalates a conversation at its first
	// breach as the escalate command would (raised priority, handed to the
	// least busy available supervisor or manager).
	EscalateOnBreach EscalationLevel
}

func (p *SLAPolicy) targets(k SLAClockKind) SLATargets {
	switch k {
	case ClockFirstResponse:
		return p.FirstResponse
	case ClockNextResponse:
		return p.NextResponse
	}
	return p.Resolution
}

// Location is where due times are shown.
func (p *SLAPolicy) Location() *time.Location {
	if p == nil || p.Hours == nil {
		return time.UTC
	}
	return p.Hours.Location()
}

// SLATargets maps priorities, optionally per platform or source, to targets.
type SLATargets struct {
	entries []slaTarget
}

type slaTarget struct {
	qualifier string // "", a platform or a source
	priority  Priority
	d         time.Duration
}

// ParseSLATargets reads "p1=15m,p2=1h,p3=4h,p4=24h"; an entry may be
// qualified by a platform or a source ("review:p3=24h", "telegram:p1=10m"),
// which wins over the plain one. "off" (or empty) sets no targets.
func ParseSLATargets(s string) (SLATargets, error) {
	var t SLATargets
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" || s == "off" {
		return t, nil
	}
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		key, val, ok := strings.Cut(e, "=")
		if !ok {
			return t, fmt.Errorf("%w: SLA target %q: want p1=15m", ErrInvalidInput, e)
		}
		qual, pr, hasQual := strings.Cut(key, ":")
		if !hasQual {
			qual, pr = "", key
		}
		var p Priority
		switch pr {
		case "p1":
			p = P1
		case "p2":
			p = P2
		case "p3":
			p = P3
		case "p4":
			p = P4
		default:
			return t, fmt.Errorf("%w: SLA target %q: priority must be p1..p4", ErrInvalidInput, e)
		}
		d, err := time.ParseDuration(val)
		if err != nil || d <= 0 {
			return t, fmt.Errorf("%w: SLA target %q: want a positive duration such as 15m or 4h", ErrInvalidInput, e)
		}
		t.entries = append(t.entries, slaTarget{qualifier: qual, priority: p, d: d})
	}
	return t, nil
}

// For returns the target for a conversation: platform-qualified first, then
// source-qualified, then plain.
func (t SLATargets) For(p Priority, platform Platform, source Source) (time.Duration, bool) {
	for _, q := range []string{string(platform), string(source), ""} {
		for _, e := range t.entries {
			if e.priority == p && e.qualifier == q {
				return e.d, true
			}
		}
	}
	return 0, false
}

// IsZero reports whether no target is set.
func (t SLATargets) IsZero() bool { return len(t.entries) == 0 }

// pausesResolution says the customer holds the ball: the resolution clock waits.
func pausesResolution(s Status) bool { return s == StatusPending || s == "snoozed" }

func isActive(s Status) bool { return s != StatusResolved && s != StatusClosed }

// slaClocks is a conversation's clocks loaded for changing.
type slaClocks struct {
	b     *Bridge
	conv  Conversation
	now   time.Time
	byKey map[SLAClockKind]*SLAClock
	dirty map[SLAClockKind]bool
}

func (b *Bridge) loadClocks(ctx context.Context, tx Tx, conv Conversation, now time.Time) (*slaClocks, error) {
	list, err := tx.ListSLAClocks(ctx, conv.ID)
	if err != nil {
		return nil, err
	}
	return b.clocksOf(conv, list, now), nil
}

// clocksOf holds a conversation's clocks as read from the store.
func (b *Bridge) clocksOf(conv Conversation, list []SLAClock, now time.Time) *slaClocks {
	cs := &slaClocks{b: b, conv: conv, now: now, byKey: map[SLAClockKind]*SLAClock{}, dirty: map[SLAClockKind]bool{}}
	for i := range list {
		cs.byKey[list[i].Kind] = &list[i]
	}
	return cs
}

func (cs *slaClocks) save(ctx context.Context, tx Tx) error {
	for _, c := range cs.changed() {
		if err := tx.SaveSLAClock(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// changed returns the clocks to save, in SLAClockKinds order.
func (cs *slaClocks) changed() []SLAClock {
	var out []SLAClock
	for _, k := range SLAClockKinds {
		if cs.dirty[k] {
			out = append(out, *cs.byKey[k])
		}
	}
	return out
}

func (cs *slaClocks) hours() *businesshours.Schedule {
	return cs.b.opts.SLA.HoursFor(cs.conv.Team)
}

// restart begins a new cycle of k now, when the policy has a target for it.
func (cs *slaClocks) restart(k SLAClockKind) {
	target, ok := cs.b.opts.SLA.targets(k).For(cs.conv.Priority, cs.conv.Platform, cs.conv.Source)
	if !ok {
		return
	}
	c := cs.byKey[k]
	cycle := 1
	if c != nil {
		cycle = c.Cycle + 1
	}
	now := cs.now
	c = &SLAClock{ConversationID: cs.conv.ID, Kind: k, Cycle: cycle, State: SLARunning, Target: target, StartedAt: now, SegmentAt: &now}
	cs.byKey[k] = c
	cs.reschedule(c)
}

// stop ends k's counting; with final false it is a pause.
func (cs *slaClocks) halt(k SLAClockKind, state SLAState) {
	c := cs.byKey[k]
	if c == nil || c.State == state || (state == SLAPaused && c.State == SLAStopped) {
		return
	}
	if c.State == SLARunning && c.SegmentAt != nil {
		c.Consumed += cs.hours().Between(*c.SegmentAt, cs.now)
	}
	c.State, c.SegmentAt = state, nil
	if state == SLAStopped {
		now := cs.now
		c.StoppedAt = &now
	}
	cs.reschedule(c)
}

func (cs *slaClocks) resume(k SLAClockKind) {
	c := cs.byKey[k]
	if c == nil || c.State == SLARunning {
		return
	}
	now := cs.now
	c.State, c.SegmentAt, c.StoppedAt = SLARunning, &now, nil
	cs.reschedule(c)
}

// retarget applies the conversation's (new) priority to every clock.
func (cs *slaClocks) retarget() {
	for _, k := range SLAClockKinds {
		c := cs.byKey[k]
		if c == nil {
			continue
		}
		if target, ok := cs.b.opts.SLA.targets(k).For(cs.conv.Priority, cs.conv.Platform, cs.conv.Source); ok && target != c.Target {
			c.Target = target
			cs.reschedule(c)
		}
	}
}

// reschedule recomputes the due and warning instants of a running clock and
// the next time the checker must look at it.
func (cs *slaClocks) reschedule(c *SLAClock) {
	cs.dirty[c.Kind] = true
	c.DueAt, c.WarnAt, c.NextCheckAt = nil, nil, nil
	if c.State != SLARunning || c.SegmentAt == nil {
		return
	}
	h := cs.hours()
	due, err := h.Add(*c.SegmentAt, c.Target-c.Consumed)
	if err != nil {
		cs.b.log.Warn("SLA clock has no deadline", "conversation_id", c.ConversationID, "clock", c.Kind, "err", err)
		return
	}
	c.DueAt = &due
	if c.WarnedAt == nil && c.BreachedAt == nil && cs.b.opts.SLA.WarnAt > 0 && cs.b.opts.SLA.WarnAt < 1 {
		share := time.Duration(float64(c.Target) * cs.b.opts.SLA.WarnAt)
		if warn, err := h.Add(*c.SegmentAt, share-c.Consumed); err == nil {
			c.WarnAt = &warn
			c.NextCheckAt = &warn
			return
		}
	}
	if c.BreachedAt == nil {
		c.NextCheckAt = &due
	}
}

// slaCustomerMessage runs for every new customer message: a new conversation
// starts its first-response and resolution clocks; a message after an agent
// reply starts the next-response clock unless it already runs.
func (b *Bridge) slaCustomerMessage(ctx context.Context, tx Tx, conv Conversation, isNew bool, now time.Time) error {
	if b.opts.SLA == nil {
		return nil
	}
	cs, err := b.loadClocks(ctx, tx, conv, now)
	if err != nil {
		return err
	}
	cs.customerWrote(isNew)
	return cs.save(ctx, tx)
}

// customerWrote starts what a customer's message starts: every clock of a
// new conversation, else the next response once the first was answered.
// Applying it again for another message of the same moment changes nothing.
func (cs *slaClocks) customerWrote(isNew bool) {
	switch {
	case isNew:
		cs.restart(ClockFirstResponse)
		cs.restart(ClockResolution)
	case cs.conv.FirstResponseAt != nil:
		if c := cs.byKey[ClockNextResponse]; c == nil || c.State != SLARunning {
			cs.restart(ClockNextResponse)
		}
	}
}

// slaReplied runs when an agent reply is accepted for delivery: it answers
// the first or the next response.
func (b *Bridge) slaReplied(ctx context.Context, tx Tx, conv Conversation, now time.Time) error {
	if b.opts.SLA == nil {
		return nil
	}
	cs, err := b.loadClocks(ctx, tx, conv, now)
	if err != nil {
		return err
	}
	for _, k := range []SLAClockKind{ClockFirstResponse, ClockNextResponse} {
		if c := cs.byKey[k]; c != nil && c.State == SLARunning {
			cs.halt(k, SLAStopped)
		}
	}
	return cs.save(ctx, tx)
}

// slaChanged follows a state change: pending pauses resolution, resolve stops
// every clock, reopen continues resolution and restarts the next response,
// a new priority changes the targets, a new team its calendar.
func (b *Bridge) slaChanged(ctx context.Context, tx Tx, before, after Conversation, now time.Time) error {
	if b.opts.SLA == nil || (before.Status == after.Status && before.Priority == after.Priority && before.Team == after.Team) {
		return nil
	}
	cs, err := b.loadClocks(ctx, tx, after, now)
	if err != nil {
		return err
	}
	if len(cs.byKey) == 0 {
		return nil // started before SLAs were kept
	}
	// First, so that what follows counts in the new team's calendar.
	if p := b.opts.SLA; p.calendarOf(before.Team) != p.calendarOf(after.Team) {
		cs.rehome(p.HoursFor(before.Team))
	}
	switch {
	case isActive(before.Status) && !isActive(after.Status):
		for _, k := range SLAClockKinds {
			cs.halt(k, SLAStopped)
		}
	case !isActive(before.Status) && isActive(after.Status):
		cs.resume(ClockResolution)
		if after.FirstResponseAt == nil {
			cs.resume(ClockFirstResponse)
		} else {
			cs.restart(ClockNextResponse)
		}
	}
	if isActive(after.Status) {
		if pausesResolution(after.Status) {
			cs.halt(ClockResolution, SLAPaused)
		} else if c := cs.byKey[ClockResolution]; c != nil && c.State == SLAPaused {
			cs.resume(ClockResolution)
		}
	}
	if before.Priority != after.Priority {
		cs.retarget()
	}
	return cs.save(ctx, tx)
}

// afterChange runs in every state change's transaction (saveChange): the
// SLA clocks follow it, and a first resolve queues the survey.
func (b *Bridge) afterChange(ctx context.Context, tx Tx, before, after Conversation, now time.Time) error {
	if err := b.slaChanged(ctx, tx, before, after, now); err != nil {
		return err
	}
	if isActive(before.Status) && after.Status == StatusResolved {
		return b.csatResolved(ctx, tx, after, now)
	}
	return nil
}

// SLACheckResult counts what one CheckSLA pass did.
type SLACheckResult struct {
	Warnings, Breaches int
}

// CheckSLA raises the warnings and breaches that are due. Any number of
// replicas may run it at once: each conversation is checked under its row
// lock, and an alert row is unique, so nothing is sent twice; one that was
// due while no process ran is raised on the next pass.
func (b *Bridge) CheckSLA(ctx context.Context) (SLACheckResult, error) {
	var res SLACheckResult
	if b.opts.SLA == nil {
		return res, nil
	}
	const batch = 100
	for range 1000 { // bounded: every pass moves each clock's next check on
		now := b.opts.Clock.Now()
		var due []ConversationID
		if err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
			var err error
			due, err = tx.ListDueSLAConversations(ctx, now, batch)
			return err
		}); err != nil {
			return res, fmt.Errorf("list due SLA clocks: %w", err)
		}
		for _, id := range due {
			var r SLACheckResult
			err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
				var err error
				r, err = b.checkConversation(ctx, tx, id, b.opts.Clock.Now())
				return err
			})
			if err != nil {
				return res, fmt.Errorf("check SLA of conversation %d: %w", id, err)
			}
			res.Warnings += r.Warnings
			res.Breaches += r.Breaches
		}
		if len(due) < batch {
			return res, nil
		}
	}
	return res, nil
}

func (b *Bridge) checkConversation(ctx context.Context, tx Tx, id ConversationID, now time.Time) (SLACheckResult, error) {
	var res SLACheckResult
	conv, err := tx.GetConversation(ctx, id)
	if err != nil {
		return res, err
	}
	cs, err := b.loadClocks(ctx, tx, conv, now)
	if err != nil {
		return res, err
	}
	breached := false
	var breaches []string
	for _, k := range SLAClockKinds {
		c := cs.byKey[k]
		if c == nil || c.NextCheckAt == nil || c.NextCheckAt.After(now) {
			continue
		}
		if c.State != SLARunning || c.DueAt == nil {
			cs.reschedule(c) // stale: nothing to check
			continue
		}
		var kind SLAAlertKind
		switch {
		case !c.DueAt.After(now) && c.BreachedAt == nil:
			// A warning not sent before the breach is not worth sending after it.
			kind, c.BreachedAt = SLABreach, c.DueAt
			if c.WarnedAt == nil {
				c.WarnedAt = &now
			}
			breached = true
			breaches = append(breaches, strings.ToLower(k.Label()))
		case c.WarnAt != nil && !c.WarnAt.After(now) && c.WarnedAt == nil:
			kind, c.WarnedAt = SLAWarning, &now
		default:
			cs.reschedule(c)
			continue
		}
		cs.reschedule(c)
		isNew, err := tx.InsertSLAAlert(ctx, SLAAlert{ConversationID: conv.ID, Clock: k, Cycle: c.Cycle, Kind: kind, DueAt: *c.DueAt, At: now})
		if err != nil {
			return res, err
		}
		if !isNew {
			continue
		}
		if kind == SLABreach {
			res.Breaches++
		} else {
			res.Warnings++
		}
		if err := b.enqueueAlert(ctx, tx, conv, *c, kind, now); err != nil {
			return res, err
		}
	}
	if err := cs.save(ctx, tx); err != nil {
		return res, err
	}
	if !breached {
		return res, nil
	}
	if level := b.opts.SLA.EscalateOnBreach; level != "" && conv.Escalation == "" && isActive(conv.Status) {
		o := &op{tx: tx, agent: Agent{Name: "Threadline (SLA)"}, conv: conv, before: conv, now: now,
			cmd: Command{Verb: VerbEscalate, Level: level, Text: strings.Join(breaches, " and ") + " SLA breached"}}
		return res, b.doEscalate(ctx, o) // saves the change: the card shows the breach marker
	}
	// The card shows the breach marker.
	return res, b.saveChange(ctx, tx, 0, "sla_breached", conv, conv, now)
}

// Delivery kinds of SLA alerts outside the conversation's thread.
const (
	// KindSLAChannel posts an alert to the surface's alerts channel.
	KindSLAChannel DeliveryKind = "sla_channel"
	// KindSLADirect tells the conversation's assignee privately.
	KindSLADirect DeliveryKind = "sla_direct"
)

// Alerter is an optional ability of a chat surface: SLA alerts outside the
// conversation's thread.
type Alerter interface {
	// HasAlertChannel reports whether alerts also go to a channel.
	HasAlertChannel() bool
	// PostAlert posts to the alerts channel.
	PostAlert(ctx context.Context, a AlertView) (string, error)
	// NotifyUser tells a.Recipient privately.
	NotifyUser(ctx context.Context, a AlertView) (string, error)
}

// AlertView is an SLA alert as a surface shows it.
type AlertView struct {
	Conversation Conversation
	Text         string
	// Thread is where the conversation is shown, when it is.
	Thread *ChatThread
	// Recipient is the chat user told privately (NotifyUser).
	Recipient string
	// Assignee and Supervisors are chat users to mention in the channel.
	Assignee    string
	Supervisors []string
}

// SupervisorRoles are the roles whose members are mentioned in alerts.
var SupervisorRoles = []Role{RoleSupervisor, RoleManager}

func (b *Bridge) alertText(conv Conversation, c SLAClock, kind SLAAlertKind, now time.Time) string {
	due := c.DueAt.In(b.opts.SLA.LocationFor(conv.Team))
	at := due.Format("Mon 15:04 MST")
	if kind == SLAWarning {
		return fmt.Sprintf("SLA warning: %s of %s (%s) is due in %s, at %s (target %s).",
			strings.ToLower(c.Kind.Label()), conv.Number, conv.Priority, roundDuration(due.Sub(now)), at, roundDuration(c.Target))
	}
	return fmt.Sprintf("SLA breached: %s of %s (%s) was due at %s (target %s).",
		strings.ToLower(c.Kind.Label()), conv.Number, conv.Priority, at, roundDuration(c.Target))
}

// roundDuration reads like "2h 10m", "45m" or "30s".
func roundDuration(d time.Duration) string {
	if d < time.Minute {
		return max(d, 0).Round(time.Second).String()
	}
	d = d.Round(time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh %dm", h, m)
}

// enqueueAlert queues an alert in the thread, in the alerts channel and to
// the assignee, on every surface, in the transaction that recorded it.
func (b *Bridge) enqueueAlert(ctx context.Context, tx Tx, conv Conversation, c SLAClock, kind SLAAlertKind, now time.Time) error {
	text := b.alertText(conv, c, kind, now)
	seq, err := tx.NextSeq(ctx, conv.ID)
	if err != nil {
		return err
	}
	surfaces, err := b.surfacesOf(ctx, tx, conv)
	if err != nil {
		return err
	}
	for _, s := range surfaces {
		lane := ChatTarget(s)
		kinds := []DeliveryKind{KindNotice}
		if a, ok := b.surfaces[s].(Alerter); ok {
			if kind == SLABreach && a.HasAlertChannel() {
				kinds = append(kinds, KindSLAChannel)
			}
			if conv.AssigneeID != 0 {
				kinds = append(kinds, KindSLADirect)
			}
		}
		for _, k := range kinds {
			if err := b.enqueueDelivery(ctx, tx, conv.Priority, Delivery{ConversationID: conv.ID, Target: lane, Kind: k, Seq: seq, Text: text}); err != nil {
				return err
			}
		}
	}
	return nil
}

func isAlertKind(k DeliveryKind) bool { return k == KindSLAChannel || k == KindSLADirect }

// showAlert delivers an alert outside the thread. The assignee is looked up
// when the alert is sent, so a reassignment in between reaches the new one.
func (b *Bridge) showAlert(ctx context.Context, s ChatSurface, d Delivery, l loaded) (string, recordFunc, error) {
	a, ok := s.(Alerter)
	if !ok {
		return "", nil, nil
	}
	view := AlertView{Conversation: l.conv, Text: d.Text, Thread: l.chat}
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		view.Assignee, view.Supervisors = "", nil
		if l.conv.AssigneeID != 0 {
			id, err := tx.GetAgentChatIdentity(ctx, l.conv.AssigneeID, s.Surface())
			switch {
			case err == nil:
				view.Assignee = id.UserID
			case !errors.Is(err, ErrNotFound):
				return err
			}
		}
		if d.Kind != KindSLAChannel {
			return nil
		}
		sups, err := tx.ListChatIdentitiesByRole(ctx, s.Surface(), SupervisorRoles)
		for _, u := range sups {
			view.Supervisors = append(view.Supervisors, u.UserID)
		}
		return err
	})
	if err != nil {
		return "", nil, err
	}
	if d.Kind == KindSLAChannel {
		ref, err := a.PostAlert(ctx, view)
		return ref, nil, err
	}
	if view.Assignee == "" {
		return "", nil, nil // unassigned since, or not on this surface
	}
	view.Recipient = view.Assignee
	ref, err := a.NotifyUser(ctx, view)
	return ref, nil, err
}

// CardClock is one SLA clock as the card shows it.
type CardClock struct {
	Kind     SLAClockKind
	State    SLAState
	Due      time.Time     // when running, in the SLA time zone
	Left     time.Duration // business time left when paused
	Breached bool
}

// cardClocks lists the clocks a card shows: running and paused ones, and
// stopped ones that breached.
func (b *Bridge) cardClocks(ctx context.Context, tx Tx, conv Conversation) ([]CardClock, error) {
	if b.opts.SLA == nil {
		return nil, nil
	}
	loc := b.opts.SLA.LocationFor(conv.Team)
	clocks, err := tx.ListSLAClocks(ctx, conv.ID)
	if err != nil {
		return nil, err
	}
	var out []CardClock
	for _, k := range SLAClockKinds {
		for _, c := range clocks {
			if c.Kind != k || (c.State == SLAStopped && c.BreachedAt == nil) {
				continue
			}
			cc := CardClock{Kind: c.Kind, State: c.State, Breached: c.BreachedAt != nil, Left: max(c.Target-c.Consumed, 0)}
			if c.DueAt != nil {
				cc.Due = c.DueAt.In(loc)
			}
			out = append(out, cc)
		}
	}
	return out, nil
}
