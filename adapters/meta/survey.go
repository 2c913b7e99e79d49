package meta

import (
	"context"
	"fmt"
	"strings"

	"github.com/threadline/threadline/bridge"
)

// Satisfaction surveys go out as a DM with one quick reply per rating
// (Messenger and Instagram both have them); a tap comes back as a message
// whose quick_reply.payload is the option's data, and is handed to the
// bridge as a survey answer, not as a customer message.

var _ bridge.Surveyor = Sender{}

// surveyMetadata tags the survey's send, so its echo is not taken for a
// reply typed in Meta's inbox.
const surveyMetadata = "threadline:survey"

// surveyPayload is how survey options' data starts (see bridge.SurveyOption).
const surveyPayload = "csat:"

// SendSurvey implements bridge.Surveyor within the messaging window, as
// Send does.
func (s Sender) SendSurvey(ctx context.Context, sv bridge.OutboundSurvey) (bridge.SendResult, error) {
	m := sv.OutboundMessage
	acc, ok := s.a.account(m.Account.ExternalID)
	if !ok {
		return bridge.SendResult{}, bridge.Permanent(fmt.Errorf("%s: account %s is not connected (THREADLINE_META_ACCOUNTS)", s.platform, m.Account.ExternalID))
	}
	if s.platform == bridge.PlatformFacebook || strings.HasPrefix(m.ThreadExternalID, commentPrefix) || strings.HasPrefix(m.ThreadExternalID, mentionPrefix) {
		return bridge.SendResult{}, bridge.Permanent(fmt.Errorf("%s: %w: surveys go to direct messages, not comments", s.platform, bridge.ErrInvalidInput))
	}
	if strings.TrimSpace(m.Text) == "" || len(sv.Options) == 0 || len(sv.Options) > 13 {
		return bridge.SendResult{}, bridge.Permanent(fmt.Errorf("%s: %w: a survey needs a question and 1 to 13 options", s.platform, bridge.ErrInvalidInput))
	}
	if err := s.checkText(m.Text); err != nil {
		return bridge.SendResult{}, err
	}
	var req sendRequest
	req.Recipient.ID = m.ThreadExternalID
	req.Message.Text = m.Text
	req.Message.Metadata = surveyMetadata
	for _, o := range sv.Options {
		title := o.Label
		if r := []rune(title); len(r) > quickReplyTitle {
			title = string(r[:quickReplyTitle])
		}
		if !strings.HasPrefix(o.Data, surveyPayload) || title == "" {
			return bridge.SendResult{}, bridge.Permanent(fmt.Errorf("%s: %w: survey option %q", s.platform, bridge.ErrInvalidInput, o.Label))
		}
		req.Message.QuickReplies = append(req.Message.QuickReplies, quickReply{ContentType: "text", Title: title, Payload: o.Data})
	}
	return s.sendDM(ctx, acc, m, req)
}

// surveyAnswer turns a tapped survey quick reply into the bridge's event.
func surveyAnswer(in bridge.InboundEvent, payload string) bridge.InboundEvent {
	in.Kind = bridge.EventSurveyAnswer
	// A redelivered tap changes nothing; a new tap (another rating) is a
	// new message with a new mid.
	in.DeliveryID = "csat:" + in.PlatformMessageID
	in.Survey = &bridge.SurveyAnswer{Data: payload}
	return in
}
