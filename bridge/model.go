package bridge

import "time"

// Status is where a conversation stands in its life cycle.
type Status string

const (
	StatusOpen     Status = "open"     // waiting for an agent
	StatusPending  Status = "pending"  // agent answered, waiting for the customer
	StatusResolved Status = "resolved" // done, reopens on a customer message within the reopen window
	StatusClosed   Status = "closed"   // done for good; a new customer message starts a new conversation
)

// Priority orders work: P1 is urgent, P3 the default.
type Priority int

const (
	P1 Priority = 1
	P2 Priority = 2
	P3 Priority = 3
	P4 Priority = 4
)

func (p Priority) String() string {
	switch p {
	case P1, P2, P3, P4:
		return "P" + string(rune('0'+int(p)))
	}
	return "P?"
}

// Source says what kind of customer contact started a platform thread.
type Source string

const (
	SourceDM      Source = "dm"
	SourceComment Source = "comment"
	SourceMention Source = "mention"
	SourceReview  Source = "review"
)

// Direction says who a message is from and who may see it.
type Direction string

const (
	Inbound  Direction = "inbound"  // from the customer
	Outbound Direction = "outbound" // from an agent to the customer
	Note     Direction = "note"     // internal, never sent to the customer
)

// Role grants permissions to an agent. Roles are ordered: each may do what
// the ones before it may.
type Role string

const (
	RoleAgent      Role = "agent"
	RoleSupervisor Role = "supervisor"
	RoleManager    Role = "manager"
	RoleAdmin      Role = "admin"
)

func (r Role) rank() int {
	switch r {
	case RoleSupervisor:
		return 1
	case RoleManager:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// AtLeast reports whether r has every permission of min.
func (r Role) AtLeast(min Role) bool { return r.rank() >= min.rank() }

// DeliveryStatus tracks one message on its way to one target.
type DeliveryStatus string

const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliverySending   DeliveryStatus = "sending" // a send was started and its outcome not yet recorded
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryFailed    DeliveryStatus = "failed"
)

// Account is a connected brand account on a platform (a Telegram bot, a
// Facebook page, an Instagram business account).
type Account struct {
	ID          AccountID
	Platform    Platform
	ExternalID  string
	DisplayName string
	CreatedAt   time.Time
}

// Contact is a customer: one person, possibly known on several platforms.
type Contact struct {
	ID          ContactID
	DisplayName string
	CreatedAt   time.Time
}

// Identity is a contact as seen by one account. Meta scopes user ids to a
// page, so the key is (account, external user id), not (platform, user id).
type Identity struct {
	ID             IdentityID
	ContactID      ContactID
	AccountID      AccountID
	Platform       Platform
	ExternalUserID string
	Name           string
	Handle         string
	AvatarURL      string
}

// HasProfile reports whether the identity already shows every profile
// field p gives, so that an upsert of p would change nothing.
func (i Identity) HasProfile(p UpsertIdentityParams) bool {
	return (p.Name == "" || p.Name == i.Name) && (p.Handle == "" || p.Handle == i.Handle) && (p.AvatarURL == "" || p.AvatarURL == i.AvatarURL)
}

// Agent is a person who works conversations. Chat surfaces identify agents by
// their own user ids; the bridge only ever refers to AgentID.
type Agent struct {
	ID        AgentID
	Name      string
	Email     string
	Role      Role
	Skills    []string
	Capacity  int
	Available bool
	CreatedAt time.Time
}

// AgentChatIdentity is an agent's user on one chat surface workspace (a Slack
// team, a Teams tenant).
type AgentChatIdentity struct {
	AgentID   AgentID
	Surface   Surface
	Workspace string
	UserID    string
}

// PlatformThread is the customer's chat, comment thread or review on the
// platform. It outlives conversations.
type PlatformThread struct {
	ID         PlatformThreadID
	AccountID  AccountID
	ExternalID string
	Source     Source
	IdentityID IdentityID
	CreatedAt  time.Time
}

// Conversation is one episode of work on a platform thread.
type Conversation struct {
	ID               ConversationID
	Number           ConversationNumber
	PlatformThreadID PlatformThreadID
	AccountID        AccountID
	Platform         Platform
	IdentityID       IdentityID
	Status           Status
	Priority         Priority
	Source           Source
	AssigneeID       AgentID // zero when unassigned
	Tags             []string
	// Team is the team a conversation was transferred to (a label, or the
	// name of a channel or user group); empty when none.
	Team string
	// Escalation is how far the conversation was escalated; empty when not.
	Escalation EscalationLevel
	// SnoozedUntil is when a snoozed conversation returns to the queue.
	SnoozedUntil *time.Time
	LastSeq      int64
	// Version increases with every change shown on the card, so card updates
	// can be coalesced to the latest one.
	Version         int64
	CreatedAt       time.Time
	UpdatedAt       time.Time
	FirstResponseAt *time.Time
	ResolvedAt      *time.Time
	ClosedAt        *time.Time
}

// ChatThread is where a conversation is shown on one chat surface.
type ChatThread struct {
	ID             ChatThreadID
	ConversationID ConversationID
	Surface        Surface
	Workspace      string
	Channel        string
	ThreadRef      string // Slack: the parent message ts; Teams: the activity id
	CreatedAt      time.Time
}

// Attachment is a file the customer or agent sent. PlatformRef is the
// platform's handle to fetch it (a Telegram file_id), never a URL carrying
// credentials.
type Attachment struct {
	Kind        string `json:"kind"` // photo, document, video, audio, sticker
	Name        string `json:"name,omitempty"`
	MIMEType    string `json:"mime_type,omitempty"`
	Size        int64  `json:"size,omitempty"`
	PlatformRef string `json:"platform_ref,omitempty"`
}

// Message is one customer message, agent reply or internal note.
type Message struct {
	ID                MessageID
	ConversationID    ConversationID
	PlatformThreadID  PlatformThreadID
	Seq               int64
	Direction         Direction
	PlatformMessageID string // empty for notes and for replies not yet delivered
	SenderIdentityID  IdentityID
	SenderAgentID     AgentID
	Text              string
	Attachments       []Attachment
	PlatformTime      time.Time
	CreatedAt         time.Time
	EditedAt          *time.Time
	// DeliveryStatus and DeliveryError describe delivery to the customer for
	// outbound messages.
	DeliveryStatus DeliveryStatus
	DeliveryError  string
}

// ChatMessageRef records a chat message that shows a Threadline message, so
// edits, reactions and delivery marks find it again after a restart.
type ChatMessageRef struct {
	MessageID MessageID
	Surface   Surface
	Channel   string
	Ref       string // Slack ts, Teams activity id
}

// DeliveryKind says what a delivery row carries to its target.
type DeliveryKind string

const (
	// KindMessage shows or sends a message.
	KindMessage DeliveryKind = "message"
	// KindEdit updates an already shown message after the customer edited it.
	KindEdit DeliveryKind = "edit"
	// KindNotice posts a bridge notice into the chat thread (e.g. a reply
	// that could not be delivered).
	KindNotice DeliveryKind = "notice"
	// KindDelivered marks an agent's chat message as delivered to the customer.
	KindDelivered DeliveryKind = "delivered"
	// KindEscalation raises a critical escalation where the surface sends
	// them (EscalationPoster); surfaces without one post a notice.
	KindEscalation DeliveryKind = "escalation"
)

// Delivery is one item in a conversation's ordered outbox towards a target.
type Delivery struct {
	ID             DeliveryID
	ConversationID ConversationID
	Target         Target
	Kind           DeliveryKind
	MessageID      MessageID
	Seq            int64
	Text           string // notices carry their own text
	Status         DeliveryStatus
	Attempts       int
	NextAttemptAt  time.Time
	LastError      string
	ExternalRef    string
	CreatedAt      time.Time
}

// AuditEntry is one append-only record of who did what.
type AuditEntry struct {
	ID             int64
	ActorAgentID   AgentID // zero for the system or a customer
	Action         string
	ConversationID ConversationID
	Before         string
	After          string
	At             time.Time
}
