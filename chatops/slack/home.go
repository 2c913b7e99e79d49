package slack

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slack-go/slack"

	"github.com/threadline/threadline/bridge"
)

// HomePublisher shows a user's App Home tab (the Surface).
type HomePublisher interface {
	PublishHome(ctx context.Context, userID string, blocks []slack.Block) error
}

// homeOpened answers app_home_opened: supervisors (and managers and admins)
// see the team's figures of the last 7 days, agents their own, anyone else
// how to start. The view is built after the event is acknowledged.
func (h *Handler) homeOpened(ctx context.Context, team string, ev MessageEvent) (string, error) {
	r := h.opts.Reports
	if r == nil || r.Home == nil || ev.User == "" || (ev.Tab != "" && ev.Tab != "home") {
		return "ignored", nil
	}
	actor := h.actor(ctx, team, ev.User, "")
	r.running.Add(1)
	go func() {
		defer r.running.Done()
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		blocks, err := r.homeBlocks(hctx, actor)
		if err == nil {
			err = r.Home.PublishHome(hctx, ev.User, blocks)
		}
		if err != nil {
			h.log.Warn("app home", "user", ev.User, "err", err)
		}
	}()
	return "home", nil
}

func (r *Reports) homeBlocks(ctx context.Context, actor bridge.Actor) ([]slack.Block, error) {
	now := time.Now()
	if r.Clock != nil {
		now = r.Clock.Now()
	}
	from, to, label, err := bridge.ParseReportPeriod("7d", now, r.Location)
	if err != nil {
		return nil, err
	}
	q := bridge.ReportQuery{From: from, To: to, Label: label, Location: r.Location}
	intro := "*Threadline* · your team's figures, refreshed each time you open this tab. Ask in any channel with `/threadline report 30d` (or `today`, `2026-11-01..2026-11-30`, a platform, an @agent, `csv`)."
	agent, err := r.Source.FindAgent(ctx, bridge.SurfaceSlack, actor.Workspace, actor.UserID)
	switch {
	case actor.Role.AtLeast(bridge.RoleSupervisor) || (err == nil && agent.Role.AtLeast(bridge.RoleSupervisor)):
	case err == nil:
		q.Agent, q.Label = agent.ID, label+" · "+agent.Name
		intro = "*Threadline* · your own figures. Supervisors see the team's here."
	case errors.Is(err, bridge.ErrNotFound):
		return []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType,
			"*Threadline* brings customer conversations from social media into this workspace. Claim one in the inbox channel and reply in its thread; your figures appear here.", false, false), nil, nil)}, nil
	default:
		return nil, err
	}
	rep, err := r.Source.Report(ctx, q)
	if err != nil {
		return nil, err
	}
	blocks := []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, intro, false, false), nil, nil)}
	blocks = append(blocks, ReportBlocks(rep)...)
	blocks = append(blocks, slack.NewContextBlock("home_updated", slack.NewTextBlockObject(slack.MarkdownType,
		fmt.Sprintf("Updated %s", slackDate(now)), false, false)))
	return blocks, nil
}

var _ HomePublisher = (*Surface)(nil)

// PublishHome implements HomePublisher with views.publish.
func (s *Surface) PublishHome(ctx context.Context, userID string, blocks []slack.Block) error {
	_, err := s.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: userID,
		View: slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: blocks}}})
	return s.classify("views.publish", err)
}
