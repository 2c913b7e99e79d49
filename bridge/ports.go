package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Clock is injected so tests control time and never sleep.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }

// Job asks a worker to drain one delivery lane of a conversation. Jobs run at
// least once and may run concurrently; the lane lease in the store keeps one
// delivery in flight per lane.
type Job struct {
	ConversationID ConversationID `json:"conversation_id"`
	Target         Target         `json:"target"`
	// Priority orders jobs when workers are scarce (a flood): P1 first.
	Priority Priority `json:"priority,omitempty"`
	// RequestID names the request that enqueued the job, for the logs of
	// its run.
	RequestID string `json:"request_id,omitempty"`
	// TraceParent is the W3C traceparent of the span that enqueued the job
	// (see WithTraceParent), so the job's span joins that trace.
	TraceParent string `json:"traceparent,omitempty"`
}

// PlatformAdapter is the small required interface of a social platform.
// Extra abilities (webhook receiver, poller) are separate interfaces the
// wiring checks for.
type PlatformAdapter interface {
	Platform() Platform
	// Send delivers an agent reply to the customer. Errors may wrap
	// *RetryAfterError (rate limited) or be marked with Permanent.
	Send(ctx context.Context, m OutboundMessage) (SendResult, error)
	Limits() Limits
}

// OutboundMessage is everything an adapter needs to send one reply.
type OutboundMessage struct {
	Account          Account
	ThreadExternalID string
	Recipient        Identity
	MessageID        MessageID
	Text             string
	Attachments      []Attachment
	// LastInboundAt is when the customer last wrote in this platform thread
	// (zero when never): platforms with a messaging window check it before
	// sending.
	LastInboundAt time.Time
}

type SendResult struct{ PlatformMessageID string }

// Limits describes what a platform accepts.
type Limits struct {
	MaxTextLength int
}

// ChatSurface is where agents see and work conversations (Slack, Teams).
type ChatSurface interface {
	Surface() Surface
	// OpenThread shows a new conversation with its first message and returns
	// where it lives.
	OpenThread(ctx context.Context, card Card, first MessageView) (ChatThread, error)
	// PostMessage adds a message to the thread and returns its chat-side id.
	PostMessage(ctx context.Context, t ChatThread, m MessageView) (string, error)
	// UpdateMessage replaces the text of an already shown message.
	UpdateMessage(ctx context.Context, t ChatThread, ref string, m MessageView) error
	// UpdateCard re-renders the conversation's parent message.
	UpdateCard(ctx context.Context, t ChatThread, card Card) error
	// PostNotice posts a bridge notice (e.g. a failed delivery) into the thread.
	PostNotice(ctx context.Context, t ChatThread, text string) (string, error)
	// MarkDelivered shows that an agent's message reached the customer.
	MarkDelivered(ctx context.Context, t ChatThread, ref string) error
}

// Reconciler is an optional ability of a chat surface: finding a message it
// already posted for a Threadline message (tagged with our id), so a post
// whose outcome a crash left unknown is recorded instead of repeated.
type Reconciler interface {
	// FindPosted returns the chat id of the post showing messageID in the
	// thread (threadRef empty: among the channel's parents), if any.
	FindPosted(ctx context.Context, channel, threadRef string, messageID MessageID) (ref string, found bool, err error)
}

// Coalescer is an optional ability of a chat surface: showing several
// customer messages of one conversation in one chat message. When messages
// wait together in a lane (a flood into a paced channel), the bridge hands
// them over in one MessageView (More), so the channel drains in fewer posts.
// Every coalesced message gets the post's chat ref, so edits still find it.
type Coalescer interface {
	// CoalesceLimit bounds one chat message: how many messages, and how many
	// characters of text in all.
	CoalesceLimit() (messages, chars int)
}

// Admitter is an optional ability of a chat surface that queues its paced
// calls (a channel backed up by a flood): it tells, before the bridge
// touches the store, how long a conversation's work must wait for its turn
// (0: go ahead), so a queued job steps aside at the cost of the queue's own
// bookkeeping only.
type Admitter interface {
	Admit(ctx context.Context, w Work) time.Duration
}

// EscalationPoster is an optional ability of a chat surface: raising a
// critical escalation outside the conversation's thread (Slack: the
// escalation channel).
type EscalationPoster interface {
	PostEscalation(ctx context.Context, t ChatThread, text string) (string, error)
}

// Card is the neutral model of a conversation's parent message; each surface
// renders it in its own format.
type Card struct {
	Conversation Conversation
	Customer     Identity
	AccountName  string
	FirstMessage string
	Assignee     *Agent
	// SLA lists the running, paused and breached clocks, for the due time
	// and a breach marker.
	SLA []CardClock
	// MoveToDM offers the dm command: an active public comment on a
	// platform with private replies, not moved yet.
	MoveToDM bool
	// Channel is where OpenThread opens the thread; empty: the surface's
	// inbox channel. Set only for a thread still to be opened.
	Channel string
}

// MessageView is a message with what a surface needs to show its sender.
type MessageView struct {
	Message    Message
	SenderName string
	// Platform is where the conversation's customer is, for fetching
	// attachments.
	Platform Platform
	// More holds further customer messages shown in the same chat message,
	// in sequence order (set only for surfaces that are Coalescers).
	More []Message
}

// RetryAfterError says the call may be retried, not before After. Adapters
// return it for rate limits (HTTP 429 Retry-After, Telegram retry_after).
type RetryAfterError struct {
	After time.Duration
	Err   error
	// Queued says the wait is a place in a queue (other conversations go
	// first), not a budget about to refill: the job steps aside at once
	// instead of waiting in its worker, which stays free for urgent work.
	Queued bool
}

func (e *RetryAfterError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("retry after %s", e.After)
	}
	return fmt.Sprintf("retry after %s: %v", e.After, e.Err)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks an error as not worth retrying (the customer blocked the
// bot, the message is too long, the token is revoked).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
