package slack

import (
	"context"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/threadline/threadline/bridge"
)

var _ bridge.Alerter = (*Surface)(nil)

// HasAlertChannel implements bridge.Alerter.
func (s *Surface) HasAlertChannel() bool { return s.opts.AlertChannel != "" }

// Permalink links to a message in the workspace, in the format Slack's own
// "Copy link" gives (archives/<channel>/p<ts without the dot>).
func (s *Surface) Permalink(channel, ts string) string {
	if s.teamURL == "" || channel == "" || ts == "" {
		return ""
	}
	return strings.TrimSuffix(s.teamURL, "/") + "/archives/" + channel + "/p" + strings.Replace(ts, ".", "", 1)
}

func (s *Surface) alertText(a bridge.AlertView, mentions bool) string {
	var b strings.Builder
	b.WriteString(":rotating_light: ")
	b.WriteString(escape(a.Text))
	if a.Thread != nil {
		if link := s.Permalink(a.Thread.Channel, a.Thread.ThreadRef); link != "" {
			fmt.Fprintf(&b, " <%s|Open the thread>", link)
		}
	}
	if mentions {
		if a.Assignee != "" {
			fmt.Fprintf(&b, "\nAssigned to <@%s>.", a.Assignee)
		} else {
			b.WriteString("\nNobody has claimed it.")
		}
		if len(a.Supervisors) > 0 {
			b.WriteString(" Supervisors:")
			for _, u := range a.Supervisors {
				fmt.Fprintf(&b, " <@%s>", u)
			}
		}
	}
	return b.String()
}

// PostAlert implements bridge.Alerter: the alert goes to the alerts channel,
// mentioning the assignee and the supervisors.
func (s *Surface) PostAlert(ctx context.Context, a bridge.AlertView) (string, error) {
	if s.opts.AlertChannel == "" {
		return "", nil
	}
	if err := s.pacePost(ctx, s.opts.AlertChannel); err != nil {
		return "", err
	}
	_, ts, err := s.api.PostMessageContext(ctx, s.opts.AlertChannel, slack.MsgOptionText(s.alertText(a, true), false))
	return ts, s.classify("chat.postMessage", err)
}

// NotifyUser implements bridge.Alerter: a direct message from the app
// (chat.postMessage to a user id opens the app's DM with them).
func (s *Surface) NotifyUser(ctx context.Context, a bridge.AlertView) (string, error) {
	if err := s.pacePost(ctx, a.Recipient); err != nil {
		return "", err
	}
	_, ts, err := s.api.PostMessageContext(ctx, a.Recipient, slack.MsgOptionText(s.alertText(a, false), false))
	return ts, s.classify("chat.postMessage", err)
}
