package bridge

import (
	"context"
	"errors"
	"time"
)

// Errors the store and the bridge return; check them with errors.Is.
var (
	ErrNotFound       = errors.New("not found")
	ErrInvalidInput   = errors.New("invalid input")
	ErrConflict       = errors.New("conflict")
	ErrForbidden      = errors.New("forbidden")
	ErrIllegalState   = errors.New("illegal state transition")
	ErrDuplicateEvent = errors.New("duplicate event")
)

// Store is what the bridge needs from persistence. Every write goes through a
// transaction so that rows and the jobs that act on them commit together.
type Store interface {
	// InTx runs fn in one read-write transaction and commits when fn returns
	// nil. fn may be called again when the backend reports a serialization
	// conflict, so it must not have side effects outside the transaction.
	InTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	Ping(ctx context.Context) error
}

// Tx is one open transaction. Methods follow noun-verb naming and take
// parameter structs where there is more than one value to pass.
type Tx interface {
	SLATx
	SLAStandingTx
	ReportTx
	CSATTx
	MacroTx
	DraftTx
	WorkingHoursTx
	ReceiptTx
	BatchIngestTx

	// MarkProcessed records an inbound delivery id (a Slack event_id, a
	// Telegram update_id) and reports whether it was seen for the first time.
	MarkProcessed(ctx context.Context, source, deliveryID string, at time.Time) (isNew bool, err error)

	UpsertAccount(ctx context.Context, p UpsertAccountParams) (Account, error)
	GetAccount(ctx context.Context, id AccountID) (Account, error)

	// UpsertIdentity finds or creates the identity (and, when new, its
	// contact), refreshing profile fields that were given.
	UpsertIdentity(ctx context.Context, p UpsertIdentityParams) (Identity, error)
	GetIdentity(ctx context.Context, id IdentityID) (Identity, error)

	// UpsertPlatformThread finds or creates the thread and locks it for the
	// rest of the transaction, so concurrent ingests of one thread serialize.
	UpsertPlatformThread(ctx context.Context, p UpsertPlatformThreadParams) (PlatformThread, error)
	GetPlatformThread(ctx context.Context, id PlatformThreadID) (PlatformThread, error)

	CreateAgent(ctx context.Context, p CreateAgentParams) (Agent, error)
	GetAgent(ctx context.Context, id AgentID) (Agent, error)
	// FindAgentByChatIdentity returns ErrNotFound when the chat user is unknown.
	FindAgentByChatIdentity(ctx context.Context, surface Surface, workspace, userID string) (Agent, error)
	LinkAgentChatIdentity(ctx context.Context, id AgentChatIdentity) error

	// LoadConversation reads a conversation with its platform thread,
	// account and customer identity, message msg when not zero and its
	// chat thread on surface when not empty, in one statement and without
	// locking: what a delivery needs to render.
	LoadConversation(ctx context.Context, id ConversationID, msg MessageID, surface Surface) (ConversationView, error)

	CreateConversation(ctx context.Context, p CreateConversationParams) (Conversation, error)
	// GetConversation and GetConversationByNumber lock the row for the rest
	// of the transaction: state changes read, check and write it.
	GetConversation(ctx context.Context, id ConversationID) (Conversation, error)
	GetConversationByNumber(ctx context.Context, n ConversationNumber) (Conversation, error)
	// LatestConversation returns the conversation of a platform thread that
	// is not closed, or else the newest one, and locks it.
	LatestConversation(ctx context.Context, thread PlatformThreadID) (Conversation, error)
	// LatestConversationNextSeq is LatestConversation with the next
	// sequence number allocated in the same statement (the returned LastSeq):
	// ingest adds a message to that conversation unless it starts a new one,
	// which leaves a harmless gap in the old one's numbers.
	LatestConversationNextSeq(ctx context.Context, thread PlatformThreadID) (Conversation, error)
	// UpdateConversation writes the mutable fields of c (status, priority,
	// assignee, tags, times, version).
	UpdateConversation(ctx context.Context, c Conversation) error
	// NextSeq allocates the next per-conversation sequence number.
	NextSeq(ctx context.Context, id ConversationID) (int64, error)
	ListConversations(ctx context.Context, f ConversationFilter) (ConversationPage, error)

	// InsertMessage stores a message. When PlatformMessageID is set and the
	// platform thread already has it, nothing is written and created is false.
	InsertMessage(ctx context.Context, p InsertMessageParams) (m Message, created bool, err error)
	GetMessage(ctx context.Context, id MessageID) (Message, error)
	FindMessageByPlatformID(ctx context.Context, thread PlatformThreadID, platformMessageID string) (Message, error)
	UpdateMessageText(ctx context.Context, id MessageID, text string, editedAt time.Time) error
	SetMessageDelivery(ctx context.Context, p SetMessageDeliveryParams) error
	ListMessages(ctx context.Context, conv ConversationID) ([]Message, error)
	// FirstInboundMessage returns the customer's first message of a conversation.
	FirstInboundMessage(ctx context.Context, conv ConversationID) (Message, error)

	UpsertChatThread(ctx context.Context, t ChatThread) (ChatThread, error)
	GetChatThread(ctx context.Context, conv ConversationID, surface Surface) (ChatThread, error)
	FindChatThread(ctx context.Context, surface Surface, channel, threadRef string) (ChatThread, error)
	AddChatMessageRef(ctx context.Context, ref ChatMessageRef) error
	ListChatMessageRefs(ctx context.Context, id MessageID) ([]ChatMessageRef, error)
	// FindMessageByChatRef returns the first message a chat message shows.
	FindMessageByChatRef(ctx context.Context, surface Surface, channel, ref string) (Message, error)
	// ListMessagesByChatRef returns every message a chat message shows (more
	// than one when a flood was coalesced into one post), in sequence order.
	ListMessagesByChatRef(ctx context.Context, surface Surface, channel, ref string) ([]Message, error)

	// InsertDelivery appends to a conversation's outbox lane. Callers also
	// enqueue a drain job for the lane in the same transaction.
	InsertDelivery(ctx context.Context, d Delivery) (Delivery, error)
	// NextDelivery returns the lowest-sequence undelivered item of a lane
	// (pending or sending), or ErrNotFound.
	NextDelivery(ctx context.Context, conv ConversationID, target Target) (Delivery, error)
	// ListLaneDeliveries returns up to limit undelivered items of a lane
	// (pending or sending) in sequence order, the head first.
	ListLaneDeliveries(ctx context.Context, conv ConversationID, target Target, limit int) ([]Delivery, error)
	// PostponeLane moves the lane's undelivered items due before until to
	// until (its job waits its turn in a queue), so the lane is not taken
	// for stalled meanwhile.
	PostponeLane(ctx context.Context, conv ConversationID, target Target, until time.Time) error
	UpdateDelivery(ctx context.Context, d Delivery) error
	CountDeliveries(ctx context.Context, f DeliveryFilter) (int, error)
	// DeliveryBacklog sums undelivered items per target, with the oldest.
	DeliveryBacklog(ctx context.Context) ([]Backlog, error)
	// ListStalledLanes returns lanes with undelivered items due before the
	// given time whose lease is free or expired at now: their drain job was
	// lost (discarded after an outage), so nothing would deliver them.
	ListStalledLanes(ctx context.Context, dueBefore, now time.Time, limit int) ([]Job, error)

	// ClaimLane takes the lane's lease for owner until the given time when it
	// is free or its lease has expired, and reports whether it did.
	ClaimLane(ctx context.Context, p ClaimLaneParams) (bool, error)
	// ReleaseLane gives the lease back when owner still holds it.
	ReleaseLane(ctx context.Context, conv ConversationID, target Target, owner string) error
	// ReleaseLaneIfEmpty gives the lease back when owner still holds it and
	// the lane has nothing undelivered, and reports whether it did.
	ReleaseLaneIfEmpty(ctx context.Context, conv ConversationID, target Target, owner string) (bool, error)
	// LaneCardVersion returns the conversation version last shown on a card lane.
	LaneCardVersion(ctx context.Context, conv ConversationID, target Target) (int64, error)
	SetLaneCardVersion(ctx context.Context, conv ConversationID, target Target, version int64) error

	AppendAudit(ctx context.Context, e AuditEntry) error
	ListAudit(ctx context.Context, conv ConversationID) ([]AuditEntry, error)

	// Enqueue schedules a job in this transaction: it runs only if the
	// transaction commits.
	Enqueue(ctx context.Context, j Job) error

	// ClaimLease takes a named lease for owner until the given time when it is
	// free, expired, or already owner's (renewal), and reports whether it did.
	ClaimLease(ctx context.Context, name, owner string, now, until time.Time) (bool, error)
	ReleaseLease(ctx context.Context, name, owner string) error

	// GetCursor and SetCursor keep small named positions durable, such as a
	// poller's offset.
	GetCursor(ctx context.Context, name string) (string, error)
	SetCursor(ctx context.Context, name, value string) error

	// LastInboundTime returns the platform time of the newest customer
	// message of a platform thread (across its conversations), or
	// ErrNotFound. Platforms with a reply window (Meta's 24 hours) need it.
	LastInboundTime(ctx context.Context, thread PlatformThreadID) (time.Time, error)

	WorkTx
}

// WorkTx is what agent commands need beyond the core: roles, availability,
// load and the lists agents ask for.
type WorkTx interface {
	SetAgentRole(ctx context.Context, id AgentID, role Role) error
	SetAgentAvailable(ctx context.Context, id AgentID, available bool) error
	// ListAgentLoads returns the agents with exactly this role, each with
	// the number of open or pending conversations assigned to them, by id.
	ListAgentLoads(ctx context.Context, role Role) ([]AgentLoad, error)
	ListAgentChatIdentities(ctx context.Context, surface Surface, workspace string) ([]AgentChatIdentity, error)
	// ListQueue returns unassigned open conversations, most urgent first,
	// then oldest first.
	ListQueue(ctx context.Context, limit int) ([]Conversation, error)
	// ListContactConversations returns the conversations of every identity
	// of a contact, newest first.
	ListContactConversations(ctx context.Context, contact ContactID, limit int) ([]Conversation, error)
	// ListDueSnoozes returns pending conversations snoozed until now or before.
	ListDueSnoozes(ctx context.Context, now time.Time, limit int) ([]ConversationID, error)
}

// AgentLoad is an agent with their number of open or pending conversations.
type AgentLoad struct {
	Agent Agent
	Open  int
}

type UpsertAccountParams struct {
	Platform    Platform
	ExternalID  string
	DisplayName string
}

type UpsertIdentityParams struct {
	AccountID      AccountID
	Platform       Platform
	ExternalUserID string
	Name           string
	Handle         string
	AvatarURL      string
}

type UpsertPlatformThreadParams struct {
	AccountID  AccountID
	ExternalID string
	Source     Source
	IdentityID IdentityID
}

type CreateAgentParams struct {
	Email     string // unique when set
	Name      string
	Role      Role
	Skills    []string
	Capacity  int
	Available bool
}

type CreateConversationParams struct {
	PlatformThreadID PlatformThreadID
	AccountID        AccountID
	Platform         Platform
	IdentityID       IdentityID
	Priority         Priority
	Source           Source
	CreatedAt        time.Time
	// LastSeq counts the sequence numbers taken at creation, for the
	// messages that start the conversation.
	LastSeq int64
}

// ConversationFilter selects conversations; zero fields match everything.
// Results are ordered newest first by id, and After continues a previous page.
type ConversationFilter struct {
	Statuses []Status
	Platform Platform
	Assignee AgentID
	Account  AccountID
	Priority Priority
	After    string // cursor from ConversationPage.Next
	Limit    int
}

type ConversationPage struct {
	Conversations []Conversation
	Next          string // empty on the last page
}

type InsertMessageParams struct {
	ConversationID    ConversationID
	PlatformThreadID  PlatformThreadID
	Seq               int64
	Direction         Direction
	PlatformMessageID string
	SenderIdentityID  IdentityID
	SenderAgentID     AgentID
	Text              string
	Attachments       []Attachment
	PlatformTime      time.Time
	CreatedAt         time.Time
	DeliveryStatus    DeliveryStatus
}

type SetMessageDeliveryParams struct {
	ID                MessageID
	Status            DeliveryStatus
	Error             string
	PlatformMessageID string // set when delivered
}

type DeliveryFilter struct {
	ConversationID ConversationID
	Target         Target
	Status         DeliveryStatus
}

// Backlog is the undelivered work of one target.
type Backlog struct {
	Target Target
	Count  int
	// Conversations is how many conversations have undelivered items.
	Conversations int
	Oldest        time.Time
}

type ClaimLaneParams struct {
	ConversationID ConversationID
	Target         Target
	Owner          string
	Now            time.Time
	Until          time.Time
}

// ConversationView is a conversation with the rows around it that a
// delivery reads (see Tx.LoadConversation).
type ConversationView struct {
	Conversation Conversation
	Thread       PlatformThread
	Account      Account
	Customer     Identity
	// Message is zero when none was asked for.
	Message Message
	// Chat is the conversation's thread on the surface asked for; nil when
	// none was asked for or the thread is not open there yet.
	Chat *ChatThread
}
