package bridge

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"
)

// csvHeader names the export's columns; durations are in seconds, shares
// between 0 and 1, empty where there is nothing to measure.
var csvHeader = []string{"scope", "name", "from", "to", "conversations", "resolved", "backlog",
	"first_response_median_s", "first_response_p90_s", "first_responses", "resolution_median_s", "resolutions",
	"sla_cycles", "sla_breaches", "sla_compliance", "reopens", "reopen_rate", "csat_answers", "csat_average", "csat_satisfied"}

// WriteCSV exports the report: the total, each platform, each agent and
// each day, one row each.
func (r Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	from, to := r.Query.From.Format(time.RFC3339), r.Query.To.Format(time.RFC3339)
	row := func(scope, name, from, to string, f ReportFigures) []string {
		secs := func(d time.Duration, n int) string {
			if n == 0 {
				return ""
			}
			return strconv.FormatInt(int64(d.Round(time.Second)/time.Second), 10)
		}
		share := func(v float64, ok bool) string {
			if !ok {
				return ""
			}
			return strconv.FormatFloat(v, 'f', 4, 64)
		}
		comp, okC := f.Compliance()
		rate, okR := f.ReopenRate()
		avg, sat, okS := f.CSAT()
		return []string{scope, name, from, to, strconv.Itoa(f.Conversations), strconv.Itoa(f.Resolved), strconv.Itoa(f.Backlog),
			secs(f.FirstResponseMedian, f.FirstResponses), secs(f.FirstResponseP90, f.FirstResponses), strconv.Itoa(f.FirstResponses),
			secs(f.ResolutionMedian, f.Resolutions), strconv.Itoa(f.Resolutions),
			strconv.Itoa(f.SLACycles), strconv.Itoa(f.SLABreaches), share(comp, okC), strconv.Itoa(f.Reopens), share(rate, okR),
			strconv.Itoa(f.CSATAnswers), share(avg, okS), share(sat, okS)}
	}
	rows := [][]string{csvHeader, row("total", r.Query.Label, from, to, r.Total)}
	for _, g := range r.ByPlatform {
		rows = append(rows, row("platform", string(g.Platform), from, to, g.ReportFigures))
	}
	for _, g := range r.ByAgent {
		name := "(unassigned)"
		if g.Agent != nil {
			name = g.Agent.Name
		}
		rows = append(rows, row("agent", name, from, to, g.ReportFigures))
	}
	for _, d := range r.Days {
		f := ReportFigures{Conversations: d.Conversations, Resolved: d.Resolved, FirstResponseMedian: d.FirstResponseMedian, FirstResponses: d.FirstResponses}
		out := row("day", d.Day.Format("2006-01-02"), d.Day.Format(time.RFC3339), d.Day.AddDate(0, 0, 1).Format(time.RFC3339), f)
		out[6], out[8] = "", "" // backlog and p90 are not kept per day
		rows = append(rows, out)
	}
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("write report CSV: %w", err)
	}
	return nil
}
