package slack

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/internal/chart"
)

// ReportSource computes reports (the bridge).
type ReportSource interface {
	Report(ctx context.Context, q bridge.ReportQuery) (bridge.Report, error)
	FindAgent(ctx context.Context, surface bridge.Surface, workspace, userID string) (bridge.Agent, error)
}

// ReportPoster shows a finished report in a channel (the Surface).
type ReportPoster interface {
	PostReport(ctx context.Context, channel string, r bridge.Report, withCSV bool) error
}

// Reports runs the report command's reports and the App Home's figures.
type Reports struct {
	Source ReportSource
	Poster ReportPoster
	// Location (the SLA time zone) and Clock place the App Home's 7 days;
	// the report command takes the bridge's.
	Location *time.Location
	Clock    bridge.Clock
	// Home publishes the App Home tab; nil leaves it alone.
	Home HomePublisher
	// running lets tests and shutdown wait for reports being prepared.
	running sync.WaitGroup
}

// Wait blocks until every report being prepared is posted.
func (r *Reports) Wait() { r.running.Wait() }

// startReport prepares a report the grammar checked (report verb) in the
// background, since a slash command must be answered within three seconds,
// and posts it to the channel it was asked in.
func (h *Handler) startReport(ctx context.Context, c SlashCommand, req bridge.ReportRequest) string {
	r := h.opts.Reports
	if r == nil {
		return "Reports are not available here."
	}
	r.running.Add(1)
	go func() {
		defer r.running.Done()
		// The request is answered; the report outlives it, not the process.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		rep, err := r.Source.Report(rctx, req.Query)
		if err == nil {
			err = r.Poster.PostReport(rctx, c.ChannelID, rep, req.CSV)
		}
		if err != nil {
			h.log.Warn("report failed", "channel", c.ChannelID, "err", err)
			h.tell(c.ChannelID, "", c.UserID, "The report could not be posted here: "+explain(err))
		}
	}()
	return fmt.Sprintf("Preparing the report for %s…", escape(req.Query.Label))
}

// ReportBlocks renders a report as Block Kit.
func ReportBlocks(r bridge.Report) []slack.Block {
	q := r.Query
	loc := q.Location
	if loc == nil {
		loc = time.UTC
	}
	t := r.Total
	field := func(name, value string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.MarkdownType, "*"+name+"*\n"+value, false, false)
	}
	fields := []*slack.TextBlockObject{
		field("Conversations", fmt.Sprint(t.Conversations)),
		field("Resolved", fmt.Sprint(t.Resolved)),
		field("Backlog", fmt.Sprint(t.Backlog)),
		field("First response", t.FirstResponseText()),
		field("Resolution", t.ResolutionText()),
		field("SLA compliance", t.ComplianceText()),
		field("Reopen rate", t.ReopenText()),
	}
	if _, _, ok := t.CSAT(); ok {
		fields = append(fields, field("CSAT", t.CSATText()))
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, truncate("Threadline report · "+q.Label, 150), false, false)),
		slack.NewContextBlock("period", slack.NewTextBlockObject(slack.MarkdownType,
			fmt.Sprintf("%s – %s (%s)", q.From.In(loc).Format("Mon 2 Jan 2006 15:04"), q.To.In(loc).Format("Mon 2 Jan 2006 15:04"), loc), false, false)),
		slack.NewSectionBlock(nil, fields, nil),
	}
	group := func(title string, gs []bridge.ReportGroup, name func(bridge.ReportGroup) string) {
		if len(gs) == 0 {
			return
		}
		var b strings.Builder
		b.WriteString("*" + title + "*")
		for i, g := range gs {
			if i == 15 {
				fmt.Fprintf(&b, "\n… and %d more: add `csv` to the command for all of them", len(gs)-15)
				break
			}
			f := g.ReportFigures
			fmt.Fprintf(&b, "\n• *%s*: %d conversations, %d resolved, %d open · first response %s · SLA %s",
				escape(name(g)), f.Conversations, f.Resolved, f.Backlog, f.FirstResponseText(), f.ComplianceText())
			if _, _, ok := f.CSAT(); ok {
				b.WriteString(" · CSAT " + f.CSATText())
			}
		}
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, truncate(b.String(), 2900), false, false), nil, nil))
	}
	blocks = append(blocks, slack.NewDividerBlock())
	group("By platform", r.ByPlatform, func(g bridge.ReportGroup) string { return g.Platform.DisplayName() })
	group("By agent", r.ByAgent, func(g bridge.ReportGroup) string {
		if g.Agent == nil {
			return "Unassigned"
		}
		return g.Agent.Name
	})
	blocks = append(blocks, slack.NewContextBlock("definitions", slack.NewTextBlockObject(slack.MarkdownType,
		"Times are elapsed time from the customer's first message. SLA compliance: clock cycles (first response, next responses, resolution) of conversations created in the period that ended without a breach. Reopen rate: reopens per resolve.", false, false)))
	return blocks
}

// ReportText is the notification and fallback text of a report.
func ReportText(r bridge.Report) string {
	return fmt.Sprintf("Threadline report, %s: %d conversations, %d resolved, %d in backlog", r.Query.Label, r.Total.Conversations, r.Total.Resolved, r.Total.Backlog)
}

var _ ReportPoster = (*Surface)(nil)

// PostReport implements ReportPoster: the report as a message, and in its
// thread the chart (and the CSV), uploaded with files.getUploadURLExternal
// and files.completeUploadExternal.
func (s *Surface) PostReport(ctx context.Context, channel string, r bridge.Report, withCSV bool) error {
	_, ts, err := s.api.PostMessageContext(ctx, channel, slack.MsgOptionText(ReportText(r), false), slack.MsgOptionBlocks(ReportBlocks(r)...))
	if err != nil {
		return s.classify("chat.postMessage", err)
	}
	days := make([]chart.Day, 0, len(r.Days))
	for _, d := range r.Days {
		days = append(days, chart.Day{Day: d.Day, Conversations: d.Conversations, FirstResponse: d.FirstResponseMedian, Answered: d.FirstResponses > 0})
	}
	png, err := chart.PNG(days, chart.Options{Title: "Conversations and median first response per day, " + r.Query.Label})
	if err != nil {
		return err
	}
	stamp := r.Query.To.In(r.Query.Location).Format("2006-01-02")
	if err := s.upload(ctx, channel, ts, "threadline-report-"+stamp+".png", "Volume and response time per day", png); err != nil {
		return err
	}
	if !withCSV {
		return nil
	}
	var buf bytes.Buffer
	if err := r.WriteCSV(&buf); err != nil {
		return err
	}
	return s.upload(ctx, channel, ts, "threadline-report-"+stamp+".csv", "Report figures (CSV)", buf.Bytes())
}

func (s *Surface) upload(ctx context.Context, channel, threadTS, name, title string, data []byte) error {
	_, err := s.api.UploadFileContext(ctx, slack.UploadFileParameters{
		Reader: bytes.NewReader(data), FileSize: len(data), Filename: name, Title: title,
		Channel: channel, ThreadTimestamp: threadTS,
	})
	return s.classify("files.completeUploadExternal", err)
}
