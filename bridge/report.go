package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Reports answer a supervisor's questions about a period: volume, speed,
// SLA compliance, per platform and per agent, and per day for the chart.
//
// Over the period [From, To):
//   - Conversations: created in the period.
//   - Resolved: resolve actions in the period (a conversation resolved,
//     reopened and resolved again counts twice).
//   - Backlog: conversations created before To that are not resolved or
//     closed now.
//   - First response (median, 90th percentile): elapsed time from creation to
//     the first agent reply, over conversations created in the period.
//   - Resolution (median): elapsed time from creation to resolve, over
//     conversations whose current resolve falls in the period.
//   - SLA compliance: the share of SLA clock cycles (first response, each next
//     response, resolution) of conversations created in the period that ended
//     without a breach; cycles still running and not breached are left out.
//   - Reopen rate: reopens in the period per resolve in the period.
//   - CSAT: survey answers given in the period: average rating (1-5) and the
//     share of 4s and 5s.
// Per agent means per current assignee.

// ReportQuery selects what a report covers.
type ReportQuery struct {
	From, To time.Time
	// Label names the period as the user asked for it ("last 7 days").
	Label    string
	Platform Platform // empty: all
	Agent    AgentID  // zero: all
	// Location buckets days (the SLA time zone).
	Location *time.Location
}

// ReportFilter is what the store selects for a report.
type ReportFilter struct {
	From, To time.Time
	Platform Platform
	Assignee AgentID
}

// ReportRow is one conversation as a report sees it.
type ReportRow struct {
	ConversationID  ConversationID
	Platform        Platform
	AssigneeID      AgentID
	Status          Status
	CreatedAt       time.Time
	FirstResponseAt *time.Time
	ResolvedAt      *time.Time
	// Resolves and Reopens count audit actions within the filter's period.
	Resolves, Reopens int
	// SLACycles counts clock cycles that ended or breached (running and paused
	// ones without a breach are left out); SLABreaches the
	// breaches among all cycles.
	SLACycles, SLABreaches int
	// CSATRating is the survey answer given in the period, zero for none.
	CSATRating int
}

// ReportTx is the part of Tx that reads reports.
type ReportTx interface {
	// ListReportRows returns the conversations created in the period,
	// resolved in it, or not yet resolved, with the filter's platform and
	// assignee.
	ListReportRows(ctx context.Context, f ReportFilter) ([]ReportRow, error)
}

// ReportFigures are the numbers of one slice of a report.
type ReportFigures struct {
	Conversations, Resolved, Backlog, Reopens int
	FirstResponseMedian, FirstResponseP90     time.Duration
	FirstResponses                            int // conversations the first-response figures cover
	ResolutionMedian                          time.Duration
	Resolutions                               int
	SLACycles, SLABreaches                    int
	// CSAT: answers given in the period, the sum of their ratings (1-5), and
	// how many were 4 or 5.
	CSATAnswers, CSATSum, CSATSatisfied int
}

// CSAT is the average rating and the share of satisfied answers (4 or 5);
// ok is false without answers.
func (f ReportFigures) CSAT() (average, satisfied float64, ok bool) {
	if f.CSATAnswers == 0 {
		return 0, 0, false
	}
	return float64(f.CSATSum) / float64(f.CSATAnswers), float64(f.CSATSatisfied) / float64(f.CSATAnswers), true
}

// Compliance is the share of SLA cycles met; ok is false without cycles.
func (f ReportFigures) Compliance() (share float64, ok bool) {
	if f.SLACycles == 0 {
		return 0, false
	}
	return 1 - float64(min(f.SLABreaches, f.SLACycles))/float64(f.SLACycles), true
}

// ReopenRate is reopens per resolve; ok is false without resolves.
func (f ReportFigures) ReopenRate() (rate float64, ok bool) {
	if f.Resolved == 0 {
		return 0, false
	}
	return float64(f.Reopens) / float64(f.Resolved), true
}

// ReportGroup is the figures of one platform or one agent.
type ReportGroup struct {
	Platform Platform
	Agent    *Agent // nil for unassigned (in ByAgent)
	ReportFigures
}

// ReportDay is one day of the chart.
type ReportDay struct {
	Day                 time.Time // local midnight
	Conversations       int
	Resolved            int
	FirstResponseMedian time.Duration
	FirstResponses      int
}

// Report is the answer to a ReportQuery.
type Report struct {
	Query      ReportQuery
	Total      ReportFigures
	ByPlatform []ReportGroup
	ByAgent    []ReportGroup
	Days       []ReportDay
}

// ParseReportPeriod reads today, yesterday, 7d, 30d, Nd, or
// YYYY-MM-DD..YYYY-MM-DD (both days included), in loc relative to now.
// Empty is 7d.
func ParseReportPeriod(s string, now time.Time, loc *time.Location) (from, to time.Time, label string, err error) {
	if loc == nil {
		loc = time.UTC
	}
	local := now.In(loc)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "" || s == "7d" || s == "week":
		return midnight.AddDate(0, 0, -6), now, "last 7 days", nil
	case s == "today":
		return midnight, now, "today", nil
	case s == "yesterday":
		return midnight.AddDate(0, 0, -1), midnight, "yesterday", nil
	case strings.Contains(s, ".."):
		a, b, _ := strings.Cut(s, "..")
		fa, errA := time.ParseInLocation("2006-01-02", strings.TrimSpace(a), loc)
		fb, errB := time.ParseInLocation("2006-01-02", strings.TrimSpace(b), loc)
		if errA != nil || errB != nil || fb.Before(fa) {
			return from, to, "", fmt.Errorf("%w: period %q: want YYYY-MM-DD..YYYY-MM-DD, the first day not after the last", ErrInvalidInput, s)
		}
		if fb.Sub(fa) > 366*24*time.Hour {
			return from, to, "", fmt.Errorf("%w: period %q is longer than a year", ErrInvalidInput, s)
		}
		return fa, fb.AddDate(0, 0, 1), fa.Format("2 Jan 2006") + " – " + fb.Format("2 Jan 2006"), nil
	case strings.HasSuffix(s, "d"):
		var n int
		if _, err := fmt.Sscanf(s, "%dd", &n); err == nil && n >= 1 && n <= 366 && fmt.Sprintf("%dd", n) == s {
			return midnight.AddDate(0, 0, -(n - 1)), now, fmt.Sprintf("last %d days", n), nil
		}
	}
	return from, to, "", fmt.Errorf("%w: period %q: use today, yesterday, 7d, 30d or 2026-11-01..2026-11-30", ErrInvalidInput, s)
}

// Report computes the figures of a period.
func (b *Bridge) Report(ctx context.Context, q ReportQuery) (Report, error) {
	if q.Location == nil {
		q.Location = b.opts.SLA.Location()
	}
	if !q.To.After(q.From) {
		return Report{}, fmt.Errorf("%w: report period is empty", ErrInvalidInput)
	}
	rep := Report{Query: q}
	var rows []ReportRow
	agents := map[AgentID]*Agent{}
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		rows, err = tx.ListReportRows(ctx, ReportFilter{From: q.From, To: q.To, Platform: q.Platform, Assignee: q.Agent})
		if err != nil {
			return err
		}
		for _, r := range rows {
			if r.AssigneeID == 0 || agents[r.AssigneeID] != nil {
				continue
			}
			a, err := tx.GetAgent(ctx, r.AssigneeID)
			if err != nil {
				return err
			}
			agents[r.AssigneeID] = &a
		}
		return nil
	})
	if err != nil {
		return Report{}, fmt.Errorf("report: %w", err)
	}
	rep.Total = figures(rows, q)
	byPlatform := map[Platform][]ReportRow{}
	byAgent := map[AgentID][]ReportRow{}
	for _, r := range rows {
		byPlatform[r.Platform] = append(byPlatform[r.Platform], r)
		byAgent[r.AssigneeID] = append(byAgent[r.AssigneeID], r)
	}
	for p, rs := range byPlatform {
		rep.ByPlatform = append(rep.ByPlatform, ReportGroup{Platform: p, ReportFigures: figures(rs, q)})
	}
	for id, rs := range byAgent {
		rep.ByAgent = append(rep.ByAgent, ReportGroup{Agent: agents[id], ReportFigures: figures(rs, q)})
	}
	busiest := func(gs []ReportGroup) {
		sort.SliceStable(gs, func(i, j int) bool {
			if gs[i].Conversations != gs[j].Conversations {
				return gs[i].Conversations > gs[j].Conversations
			}
			return groupName(gs[i]) < groupName(gs[j])
		})
	}
	busiest(rep.ByPlatform)
	busiest(rep.ByAgent)
	rep.Days = days(rows, q)
	return rep, nil
}

func groupName(g ReportGroup) string {
	if g.Agent != nil {
		return g.Agent.Name
	}
	return string(g.Platform)
}

func within(t time.Time, q ReportQuery) bool { return !t.Before(q.From) && t.Before(q.To) }

func figures(rows []ReportRow, q ReportQuery) ReportFigures {
	var f ReportFigures
	var firsts, resolutions []time.Duration
	for _, r := range rows {
		created := within(r.CreatedAt, q)
		if created {
			f.Conversations++
			f.SLACycles += r.SLACycles
			f.SLABreaches += r.SLABreaches
			if r.FirstResponseAt != nil {
				firsts = append(firsts, r.FirstResponseAt.Sub(r.CreatedAt))
			}
		}
		if r.ResolvedAt != nil && within(*r.ResolvedAt, q) {
			resolutions = append(resolutions, r.ResolvedAt.Sub(r.CreatedAt))
		}
		f.Resolved += r.Resolves
		f.Reopens += r.Reopens
		if r.CSATRating > 0 {
			f.CSATAnswers++
			f.CSATSum += r.CSATRating
			if r.CSATRating >= 4 {
				f.CSATSatisfied++
			}
		}
		if isActive(r.Status) && r.CreatedAt.Before(q.To) {
			f.Backlog++
		}
	}
	f.FirstResponses, f.Resolutions = len(firsts), len(resolutions)
	f.FirstResponseMedian = Percentile(firsts, 50)
	f.FirstResponseP90 = Percentile(firsts, 90)
	f.ResolutionMedian = Percentile(resolutions, 50)
	return f
}

func days(rows []ReportRow, q ReportQuery) []ReportDay {
	loc := q.Location
	day := func(t time.Time) time.Time {
		l := t.In(loc)
		return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	}
	var out []ReportDay
	index := map[time.Time]int{}
	for d := day(q.From); d.Before(q.To); d = d.AddDate(0, 0, 1) {
		index[d] = len(out)
		out = append(out, ReportDay{Day: d})
	}
	firsts := make([][]time.Duration, len(out))
	for _, r := range rows {
		if within(r.CreatedAt, q) {
			if i, ok := index[day(r.CreatedAt)]; ok {
				out[i].Conversations++
				if r.FirstResponseAt != nil {
					firsts[i] = append(firsts[i], r.FirstResponseAt.Sub(r.CreatedAt))
				}
			}
		}
		if r.ResolvedAt != nil && within(*r.ResolvedAt, q) {
			if i, ok := index[day(*r.ResolvedAt)]; ok {
				out[i].Resolved++
			}
		}
	}
	for i := range out {
		out[i].FirstResponses = len(firsts[i])
		out[i].FirstResponseMedian = Percentile(firsts[i], 50)
	}
	return out
}

// Percentile is the nearest-rank percentile p (0-100) of ds; zero for none.
func Percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := (p*len(s) + 99) / 100 // ceil(p/100 * n)
	return s[max(rank, 1)-1]
}

// FindAgent returns the agent behind a chat user, or ErrNotFound when the
// user has never acted.
func (b *Bridge) FindAgent(ctx context.Context, surface Surface, workspace, userID string) (Agent, error) {
	var a Agent
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		a, err = tx.FindAgentByChatIdentity(ctx, surface, workspace, userID)
		return err
	})
	return a, err
}

// KnownPlatforms lists the platforms a report may be narrowed to.
var KnownPlatforms = []Platform{PlatformTelegram, PlatformMessenger, PlatformInstagram, PlatformFacebook, PlatformX,
	PlatformBluesky, PlatformReddit, PlatformLinkedIn, PlatformYouTube, PlatformGoogle}

// ReportArgs are the report verb's arguments as typed.
type ReportArgs struct {
	Period   string // as ParseReportPeriod reads it; empty: 7 days
	Platform Platform
	Agent    Mention // a user; zero: everyone
	CSV      bool
}

// ReportRequest is a checked report command: the query to run and how the
// actor wants it.
type ReportRequest struct {
	Query ReportQuery
	CSV   bool
}

// doReport checks a report command (role, period, agent) and hands the
// query back for the surface to run: a report changes nothing, and may take
// longer to compute than a chat tool waits for an answer.
func (b *Bridge) doReport(ctx context.Context, o *op) error {
	a := o.cmd.Report
	loc := b.opts.SLA.Location()
	q := ReportQuery{Location: loc, Platform: a.Platform}
	var err error
	if q.From, q.To, q.Label, err = ParseReportPeriod(a.Period, o.now, loc); err != nil {
		return err
	}
	if a.Agent.Kind != 0 {
		if a.Agent.ID == "" {
			return fmt.Errorf("%w: %q is not a mention of a teammate; pick them from the @ menu", ErrInvalidInput, a.Agent.Raw)
		}
		agent, err := o.tx.FindAgentByChatIdentity(ctx, o.actor.Surface, o.actor.Workspace, a.Agent.ID)
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: %s has not worked a conversation yet", ErrNotFound, a.Agent.Label())
		}
		if err != nil {
			return err
		}
		q.Agent = agent.ID
		q.Label += " · " + agent.Name
	}
	if q.Platform != "" {
		q.Label += " · " + q.Platform.DisplayName()
	}
	o.res.Report = &ReportRequest{Query: q, CSV: a.CSV}
	o.res.Text = fmt.Sprintf("Preparing the report for %s…", q.Label)
	return nil
}

// ParsePlatform reads a platform by its id or display name (any case);
// empty when s names none of KnownPlatforms.
func ParsePlatform(s string) Platform {
	low := strings.ToLower(s)
	for _, p := range KnownPlatforms {
		if low == string(p) || low == strings.ToLower(p.DisplayName()) {
			return p
		}
	}
	return ""
}

// The texts of figures, as every surface shows them; "–" when there is
// nothing to measure.

// FirstResponseText reads like "median 10m · p90 20m".
func (f ReportFigures) FirstResponseText() string {
	if f.FirstResponses == 0 {
		return "–"
	}
	return fmt.Sprintf("median %s · p90 %s", roundDuration(f.FirstResponseMedian), roundDuration(f.FirstResponseP90))
}

// ResolutionText reads like "median 2h 10m".
func (f ReportFigures) ResolutionText() string {
	if f.Resolutions == 0 {
		return "–"
	}
	return "median " + roundDuration(f.ResolutionMedian)
}

// ComplianceText reads like "90 % (9 of 10 met)".
func (f ReportFigures) ComplianceText() string {
	share, ok := f.Compliance()
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.0f %% (%d of %d met)", 100*share, f.SLACycles-f.SLABreaches, f.SLACycles)
}

// CSATText reads like "4.5 / 5 · 90 % satisfied (10 answers)".
func (f ReportFigures) CSATText() string {
	avg, sat, ok := f.CSAT()
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.1f / 5 · %.0f %% satisfied (%d answers)", avg, 100*sat, f.CSATAnswers)
}

// ReopenText reads like "5 % (1 reopens)".
func (f ReportFigures) ReopenText() string {
	rate, ok := f.ReopenRate()
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.0f %% (%d reopens)", 100*rate, f.Reopens)
}
