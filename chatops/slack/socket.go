package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// socketWorkers bounds how many Socket Mode requests are handled at once.
const socketWorkers = 8

// SocketClient opens Socket Mode with the app-level token (xapp-...), for a
// workspace without a public URL.
func (s *Surface) SocketClient(appToken string) *socketmode.Client {
	api := slack.New(s.opts.Token, slack.OptionAPIURL(s.opts.APIURL), slack.OptionHTTPClient(s.opts.HTTPClient),
		slack.OptionAppLevelToken(appToken))
	return socketmode.New(api, socketmode.OptionLog(slogAdapter{s.log}))
}

type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) Output(_ int, msg string) error {
	a.log.Debug("slack socket mode", "detail", msg)
	return nil
}

// RunSocketMode receives events, button presses and commands over Slack's
// WebSocket and feeds them to the same handlers as HTTP. Frames carry no
// signature (the connection is authenticated by the app token); each request
// is acknowledged only after it is stored, so Slack redelivers what a crash
// interrupted, flagged by retry_attempt and recognised by event_id.
func (h *Handler) RunSocketMode(ctx context.Context, client *socketmode.Client) error {
	runErr := make(chan error, 1)
	go func() { runErr <- client.RunContext(ctx) }()
	sem := make(chan struct{}, socketWorkers)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-runErr:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("slack socket mode: %w", err)
		case evt := <-client.Events:
			switch evt.Type {
			case socketmode.EventTypeConnected:
				h.log.Info("slack socket mode connected")
			case socketmode.EventTypeConnectionError, socketmode.EventTypeIncomingError, socketmode.EventTypeInvalidAuth:
				h.log.Warn("slack socket mode", "event", evt.Type, "detail", fmt.Sprint(evt.Data))
			case socketmode.EventTypeEventsAPI, socketmode.EventTypeInteractive, socketmode.EventTypeSlashCommand:
				if evt.Request == nil {
					continue
				}
				sem <- struct{}{}
				wg.Add(1)
				go func() {
					defer func() { <-sem; wg.Done() }()
					h.handleSocketRequest(ctx, client, evt.Type, *evt.Request)
				}()
			}
		}
	}
}

func (h *Handler) handleSocketRequest(ctx context.Context, client *socketmode.Client, typ socketmode.EventType, req socketmode.Request) {
	var (
		source  string
		outcome string
		ack     any
		err     error
	)
	switch typ {
	case socketmode.EventTypeEventsAPI:
		source = "slack_events"
		env, msg, derr := DecodeEvent(req.Payload)
		if derr != nil {
			outcome, err = "bad_request", nil // a bad frame will not get better: ack it
			h.log.Warn("slack socket event: malformed", "err", derr)
			break
		}
		outcome, err = h.HandleEvent(ctx, env, msg)
	case socketmode.EventTypeInteractive:
		source = "slack_interactions"
		var cb slack.InteractionCallback
		if jerr := json.Unmarshal(req.Payload, &cb); jerr != nil {
			outcome = "bad_request"
			break
		}
		var answer *slack.ViewSubmissionResponse
		outcome, answer, err = h.HandleInteraction(ctx, cb)
		if answer != nil {
			ack = answer
		}
	case socketmode.EventTypeSlashCommand:
		source = "slack_commands"
		var c struct {
			Command   string `json:"command"`
			Text      string `json:"text"`
			TeamID    string `json:"team_id"`
			UserID    string `json:"user_id"`
			UserName  string `json:"user_name"`
			ChannelID string `json:"channel_id"`
			TriggerID string `json:"trigger_id"`
		}
		if jerr := json.Unmarshal(req.Payload, &c); jerr != nil {
			outcome = "bad_request"
			break
		}
		var text string
		text, err = h.HandleCommand(ctx, SlashCommand(c))
		outcome = "ok"
		if text != "" {
			ack = map[string]string{"response_type": "ephemeral", "text": text}
		}
	}
	if err != nil {
		// No ack: Slack delivers the request again.
		if !errors.Is(err, ErrThreadNotReady) {
			h.log.Error("slack socket request failed", "type", typ, "retry_attempt", req.RetryAttempt, "err", err)
		}
		h.opts.Observe(source, "error", 0)
		return
	}
	h.log.Debug("slack socket request handled", "type", typ, "outcome", outcome, "retry_attempt", req.RetryAttempt)
	if ackErr := client.AckCtx(ctx, req.EnvelopeID, ack); ackErr != nil {
		h.log.Warn("slack socket ack", "err", ackErr)
	}
	h.opts.Observe(source, outcome, 0)
}
