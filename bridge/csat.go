package bridge

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CSAT: when a conversation is resolved the first time, the customer gets a
// one-question survey with buttons (on platforms that have them); the answer
// is stored, shown in the thread and counted in reports, and never reopens
// the conversation.

// CSATOptions turns the survey on.
type CSATOptions struct {
	// Question is sent with the rating buttons.
	Question string
}

// KindSurvey sends the satisfaction survey to the customer.
const KindSurvey DeliveryKind = "survey"

// EventSurveyAnswer is a customer's tap on a survey button.
const EventSurveyAnswer InboundEventKind = 100

// SurveyAnswer is what a platform reports about a tap on a survey button.
type SurveyAnswer struct {
	// Data is the button's payload as sent (see SurveyOption.Data).
	Data string
	// AckToken is the platform's handle to acknowledge the tap (a Telegram
	// callback query id), passed back to the adapter after storing.
	AckToken string
}

// SurveyOption is one button of the survey.
type SurveyOption struct {
	Label string
	// Data comes back in SurveyAnswer.Data when tapped: "csat:<conversation id>:<rating>".
	Data string
}

// OutboundSurvey is a survey to send.
type OutboundSurvey struct {
	OutboundMessage
	Options []SurveyOption
}

// Surveyor is an optional ability of a platform adapter: a question with
// buttons whose answers come back as SurveyAnswer events.
type Surveyor interface {
	SendSurvey(ctx context.Context, s OutboundSurvey) (SendResult, error)
}

// Survey is a conversation's survey.
type Survey struct {
	ConversationID ConversationID
	SentAt         time.Time
	Rating         int // 1-5, zero while unanswered
	AnsweredAt     *time.Time
}

// CSATTx is the part of Tx that keeps surveys.
type CSATTx interface {
	// InsertSurvey records that a conversation's survey is queued, and
	// reports whether it was the first time.
	InsertSurvey(ctx context.Context, conv ConversationID, at time.Time) (bool, error)
	GetSurvey(ctx context.Context, conv ConversationID) (Survey, error)
	// SetSurveyRating stores (or replaces) the answer.
	SetSurveyRating(ctx context.Context, conv ConversationID, rating int, at time.Time) error
}

// DefaultCSATQuestion is asked when none is configured.
const DefaultCSATQuestion = "How would you rate the help you got? Tap 1 (poor) to 5 (great)."

func surveyOptions(conv ConversationID) []SurveyOption {
	out := make([]SurveyOption, 0, 5)
	for r := 1; r <= 5; r++ {
		out = append(out, SurveyOption{Label: strconv.Itoa(r) + " " + strings.Repeat("★", r), Data: fmt.Sprintf("csat:%d:%d", conv, r)})
	}
	return out
}

// parseSurveyData reads "csat:<conversation id>:<rating>".
func parseSurveyData(s string) (ConversationID, int, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 || parts[0] != "csat" {
		return 0, 0, fmt.Errorf("%w: survey answer %q", ErrInvalidInput, s)
	}
	id, err1 := strconv.ParseInt(parts[1], 10, 64)
	r, err2 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || id <= 0 || r < 1 || r > 5 {
		return 0, 0, fmt.Errorf("%w: survey answer %q", ErrInvalidInput, s)
	}
	return ConversationID(id), r, nil
}

// csatResolved queues the survey the first time a conversation is resolved,
// when its platform can ask with buttons.
func (b *Bridge) csatResolved(ctx context.Context, tx Tx, conv Conversation, now time.Time) error {
	if b.opts.CSAT == nil {
		return nil
	}
	if _, ok := b.platforms[conv.Platform].(Surveyor); !ok || conv.Source != SourceDM {
		// Asked in private only: a public comment thread is no place for it.
		return nil
	}
	isNew, err := tx.InsertSurvey(ctx, conv.ID, now)
	if err != nil || !isNew {
		return err
	}
	seq, err := tx.NextSeq(ctx, conv.ID)
	if err != nil {
		return err
	}
	question := b.opts.CSAT.Question
	if strings.TrimSpace(question) == "" {
		question = DefaultCSATQuestion
	}
	return b.enqueueDelivery(ctx, tx, conv.Priority, Delivery{ConversationID: conv.ID, Target: TargetPlatform, Kind: KindSurvey, Seq: seq, Text: question})
}

// sendSurvey performs the survey delivery.
func (b *Bridge) sendSurvey(ctx context.Context, d Delivery, l loaded) (string, recordFunc, error) {
	s, ok := b.platforms[l.conv.Platform].(Surveyor)
	if !ok {
		return "", nil, Permanent(fmt.Errorf("platform %q cannot send surveys", l.conv.Platform))
	}
	res, err := s.SendSurvey(ctx, OutboundSurvey{
		OutboundMessage: OutboundMessage{Account: l.account, ThreadExternalID: l.thread.ExternalID, Recipient: l.customer, Text: d.Text,
			LastInboundAt: l.lastInbound},
		Options: surveyOptions(l.conv.ID),
	})
	return res.PlatformMessageID, nil, err
}

// answerSurvey stores a survey answer in the ingest transaction. The tap
// must come from the conversation's own thread, and changes nothing about
// the conversation's state: a rating never reopens it.
func (b *Bridge) answerSurvey(ctx context.Context, tx Tx, ev InboundEvent, now time.Time) (IngestResult, error) {
	if ev.Survey == nil {
		return IngestResult{}, fmt.Errorf("%w: survey event without an answer", ErrInvalidInput)
	}
	convID, rating, err := parseSurveyData(ev.Survey.Data)
	if err != nil {
		return IngestResult{}, err
	}
	conv, err := tx.GetConversation(ctx, convID)
	if errors.Is(err, ErrNotFound) {
		return IngestResult{}, fmt.Errorf("%w: survey of unknown conversation %d", ErrInvalidInput, convID)
	}
	if err != nil {
		return IngestResult{}, err
	}
	thread, err := tx.GetPlatformThread(ctx, conv.PlatformThreadID)
	if err != nil {
		return IngestResult{}, err
	}
	account, err := tx.GetAccount(ctx, conv.AccountID)
	if err != nil {
		return IngestResult{}, err
	}
	if conv.Platform != ev.Platform || account.ExternalID != ev.Account.ExternalID || thread.ExternalID != ev.Thread {
		return IngestResult{}, fmt.Errorf("%w: survey answer for %s from another chat", ErrForbidden, conv.Number)
	}
	survey, err := tx.GetSurvey(ctx, convID)
	if errors.Is(err, ErrNotFound) {
		return IngestResult{}, fmt.Errorf("%w: %s was sent no survey", ErrInvalidInput, conv.Number)
	}
	if err != nil {
		return IngestResult{}, err
	}
	if survey.Rating == rating {
		return IngestResult{ConversationID: conv.ID, Number: conv.Number, Duplicate: true}, nil
	}
	if err := tx.SetSurveyRating(ctx, convID, rating, now); err != nil {
		return IngestResult{}, err
	}
	if err := tx.AppendAudit(ctx, AuditEntry{Action: "csat_answered", ConversationID: conv.ID, After: strconv.Itoa(rating), At: now}); err != nil {
		return IngestResult{}, err
	}
	seq, err := tx.NextSeq(ctx, conv.ID)
	if err != nil {
		return IngestResult{}, err
	}
	text := fmt.Sprintf("Customer satisfaction: %d/5 %s", rating, strings.Repeat("★", rating)+strings.Repeat("☆", 5-rating))
	if survey.Rating != 0 {
		text += fmt.Sprintf(" (changed from %d/5)", survey.Rating)
	}
	if err := b.enqueueChat(ctx, tx, conv, KindNotice, Message{Seq: seq}, text, ""); err != nil {
		return IngestResult{}, err
	}
	return IngestResult{ConversationID: conv.ID, Number: conv.Number}, nil
}
