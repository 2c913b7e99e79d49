package teams

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/threadline/threadline/bridge"
)

// ReportSource computes reports (the bridge).
type ReportSource interface {
	Report(ctx context.Context, q bridge.ReportQuery) (bridge.Report, error)
}

// report answers a report command the grammar checked: it is computed
// after the activity is acknowledged and told in the thread as text (bots
// upload files only in personal chats, so there is no chart or CSV here).
func (h *Handler) report(act Activity, req bridge.ReportRequest) {
	if h.opts.Reports == nil {
		h.tell(act, "Reports are not available here.")
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		rep, err := h.opts.Reports.Report(ctx, req.Query)
		if err != nil {
			h.log.Warn("teams: report", "err", err)
			h.tell(act, "The report could not be prepared: "+explain(err))
			return
		}
		h.tell(act, ReportText(rep))
	}()
}

// ReportText is a report as a Teams message: the totals, then the busiest
// platforms and agents.
func ReportText(r bridge.Report) string {
	q := r.Query
	loc := q.Location
	if loc == nil {
		loc = time.UTC
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**Threadline report · %s** (%s – %s, %s)\n\n", q.Label,
		q.From.In(loc).Format("2 Jan 2006 15:04"), q.To.In(loc).Format("2 Jan 2006 15:04"), loc)
	b.WriteString(figuresText(r.Total))
	group := func(title string, gs []bridge.ReportGroup, name func(bridge.ReportGroup) string) {
		if len(gs) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n\n**%s**", title)
		for i, g := range gs {
			if i == 15 {
				fmt.Fprintf(&b, "\n- … and %d more", len(gs)-15)
				break
			}
			fmt.Fprintf(&b, "\n- %s: %s", name(g), figuresText(g.ReportFigures))
		}
	}
	group("By platform", r.ByPlatform, func(g bridge.ReportGroup) string { return g.Platform.DisplayName() })
	group("By agent", r.ByAgent, func(g bridge.ReportGroup) string {
		if g.Agent == nil {
			return "Unassigned"
		}
		return g.Agent.Name
	})
	return b.String()
}

func figuresText(f bridge.ReportFigures) string {
	s := fmt.Sprintf("%d conversations, %d resolved, %d open · first response %s · resolution %s · SLA %s · reopen rate %s",
		f.Conversations, f.Resolved, f.Backlog, f.FirstResponseText(), f.ResolutionText(), f.ComplianceText(), f.ReopenText())
	if _, _, ok := f.CSAT(); ok {
		s += " · CSAT " + f.CSATText()
	}
	return s
}
