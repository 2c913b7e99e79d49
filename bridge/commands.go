package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Actor is the chat user behind a command, as the surface identified them.
type Actor struct {
	Surface   Surface
	Workspace string
	UserID    string
	Name      string
	// Role is what the surface's role settings say this user is; empty
	// keeps the role stored for the agent.
	Role Role
}

// DeliveryKey identifies the chat request that carried a command (a Slack
// event_id). A redelivered request with the same key changes nothing.
type DeliveryKey struct {
	Source string
	ID     string
}

// ClaimedError says another agent owns the conversation.
type ClaimedError struct {
	Number ConversationNumber
	Owner  Agent
}

func (e *ClaimedError) Error() string {
	return fmt.Sprintf("%s is already claimed by %s", e.Number, e.Owner.Name)
}

func (e *ClaimedError) Is(target error) bool { return target == ErrConflict }

// StaleReplyError says other agents replied after the conversation state
// the reply was written against (Command.ExpectLastSeq). Nothing was sent.
type StaleReplyError struct {
	Number  ConversationNumber
	Replies []MessageView
	// LastSeq is the conversation's latest sequence number: sending again
	// with it confirms the reply.
	LastSeq int64
}

func (e *StaleReplyError) Error() string {
	return fmt.Sprintf("%s got %d agent replies since you opened it", e.Number, len(e.Replies))
}

func (e *StaleReplyError) Is(target error) bool { return target == ErrConflict }

// ConversationRef names a conversation by id or by its human number.
type ConversationRef struct {
	ID     ConversationID
	Number ConversationNumber
}

// IsZero reports whether the reference names nothing.
func (r ConversationRef) IsZero() bool { return r.ID == 0 && r.Number == 0 }

func (r ConversationRef) load(ctx context.Context, tx Tx) (Conversation, error) {
	var c Conversation
	var err error
	switch {
	case r.ID != 0:
		c, err = tx.GetConversation(ctx, r.ID)
	case r.Number != 0:
		c, err = tx.GetConversationByNumber(ctx, r.Number)
		if errors.Is(err, ErrNotFound) {
			return c, fmt.Errorf("%w: there is no conversation %s", ErrNotFound, r.Number)
		}
	default:
		return c, fmt.Errorf("%w: say which conversation, e.g. resolve 1042", ErrInvalidInput)
	}
	return c, err
}

// CommandResult is what a command left behind, for the surface to answer with.
type CommandResult struct {
	Conversation Conversation
	MessageID    MessageID
	Duplicate    bool
	// Text tells the actor what happened, in plain sentences (no markup).
	Text string
	// Attention says Text matters even where the change shows for itself
	// (a button whose effect is on the card): nobody to escalate to, a
	// reply kept as a note.
	Attention bool
	// Demoted says a reply was kept as an internal note (NoteIfForbidden).
	Demoted bool
	// Conversations lists the answer of mine, queue and history.
	Conversations []ConversationSummary
	// Audit is the answer of audit, oldest first.
	Audit []AuditView
	// Report is the checked query of report, for the surface to run (a
	// report may take longer than a chat tool waits for an answer).
	Report *ReportRequest
}

// ConversationSummary is a conversation in a list, with what a surface needs
// to show and link it.
type ConversationSummary struct {
	Conversation Conversation
	Customer     Identity
	Assignee     string // name; empty when unassigned
	Chats        []ChatThread
}

// AuditView is an audit entry with the actor's name.
type AuditView struct {
	AuditEntry
	Actor string // empty for the system or the customer
	// Changes are the fields the action changed, for entries that record
	// the conversation's state before and after; nil for others, whose
	// Before and After are shown as written.
	Changes []AuditChange
}

// op is one command being applied inside its transaction.
type op struct {
	tx     Tx
	actor  Actor
	agent  Agent
	cmd    Command
	conv   Conversation
	before Conversation
	now    time.Time
	res    CommandResult
}

// role is the actor's effective role: the surface's word, else the stored one.
func (o *op) role() Role {
	if o.actor.Role != "" {
		return o.actor.Role
	}
	return o.agent.Role
}

type verbFunc func(b *Bridge, ctx context.Context, o *op) error

// conversationVerbs apply a verb to one loaded, locked conversation. Each
// lives in its own function below so that features hooking into one verb
// (SLA on reply, resolve and pending) touch only that function.
var conversationVerbs = map[Verb]verbFunc{
	VerbClaim:    (*Bridge).doClaim,
	VerbAssign:   (*Bridge).doAssign,
	VerbUnassign: (*Bridge).doUnassign,
	VerbReply:    (*Bridge).doReply,
	VerbNote:     (*Bridge).doNote,
	VerbTransfer: (*Bridge).doTransfer,
	VerbEscalate: (*Bridge).doEscalate,
	VerbPriority: (*Bridge).doPriority,
	VerbTag:      (*Bridge).doTag,
	VerbPending:  (*Bridge).doPending,
	VerbSnooze:   (*Bridge).doSnooze,
	VerbResolve:  (*Bridge).doResolve,
	VerbReopen:   (*Bridge).doReopen,
	VerbHide:     (*Bridge).doHide,
	VerbUnhide:   (*Bridge).doUnhide,
	VerbDelete:   (*Bridge).doDelete,
	VerbDM:       (*Bridge).doDM,
	VerbHistory:  (*Bridge).doHistory,
	VerbAudit:    (*Bridge).doAudit,
}

// agentVerbs act on the actor alone.
var agentVerbs = map[Verb]verbFunc{
	VerbMine:   (*Bridge).doMine,
	VerbQueue:  (*Bridge).doQueue,
	VerbAway:   (*Bridge).doAway,
	VerbBack:   (*Bridge).doBack,
	VerbHelp:   (*Bridge).doHelp,
	VerbMacro:  (*Bridge).doMacro,
	VerbReport: (*Bridge).doReport,
	VerbHours:  (*Bridge).doHours,
}

// readOnly verbs change nothing, so a redelivered request is answered again
// instead of being reported as a duplicate.
var readOnly = map[Verb]bool{VerbHistory: true, VerbAudit: true, VerbMine: true, VerbQueue: true, VerbHelp: true, VerbReport: true}

// Dispatch runs one command for actor: every way agents act (slash
// commands, buttons, shortcuts, modals, thread messages, Teams text) ends
// here. It checks the actor's role and the conversation's state, applies
// the change with its audit entry and chat updates in one transaction, and
// returns what to tell the actor. A refusal changes nothing and returns an
// error matching ErrForbidden, ErrIllegalState, ErrInvalidInput, ErrNotFound
// or ErrConflict whose message (after the sentinel's) is fit to show.
func (b *Bridge) Dispatch(ctx context.Context, key DeliveryKey, actor Actor, cmd Command) (CommandResult, error) {
	spec, ok := cmd.Verb.Spec()
	if !ok {
		return CommandResult{}, fmt.Errorf("%w: unknown command %q", ErrInvalidInput, cmd.Verb)
	}
	if spec.Conversation && cmd.Conversation.IsZero() {
		return CommandResult{}, fmt.Errorf("%w: say which conversation, e.g. %s 1042", ErrInvalidInput, cmd.Verb)
	}
	if len(cmd.Text) > MaxCommandText {
		return CommandResult{}, fmt.Errorf("%w: the text is longer than %d bytes", ErrInvalidInput, MaxCommandText)
	}
	if cmd.changesNothing() {
		key = DeliveryKey{}
	}
	fn := conversationVerbs[cmd.Verb]
	if fn == nil {
		fn = agentVerbs[cmd.Verb]
	}
	var res CommandResult
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		now := b.opts.Clock.Now()
		if key.ID != "" {
			isNew, err := tx.MarkProcessed(ctx, key.Source, key.ID, now)
			if err != nil {
				return err
			}
			if !isNew {
				return ErrDuplicateEvent
			}
		}
		agent, err := b.agentFor(ctx, tx, actor)
		if err != nil {
			return err
		}
		o := &op{tx: tx, actor: actor, agent: agent, cmd: cmd, now: now}
		if !o.role().AtLeast(spec.MinRole) {
			return fmt.Errorf("%w: %s is for %s", ErrForbidden, cmd.Verb, rolesFrom(spec.MinRole))
		}
		if spec.Conversation {
			if o.conv, err = cmd.Conversation.load(ctx, tx); err != nil {
				return err
			}
			o.before = o.conv
			o.res.Conversation = o.conv
		}
		if err := fn(b, ctx, o); err != nil {
			return err
		}
		res = o.res
		return nil
	})
	if errors.Is(err, ErrDuplicateEvent) {
		return CommandResult{Duplicate: true}, nil
	}
	return res, err
}

func rolesFrom(min Role) string {
	switch min {
	case RoleSupervisor:
		return "supervisors, managers and admins"
	case RoleManager:
		return "managers and admins"
	case RoleAdmin:
		return "admins"
	}
	return "everyone"
}

// agentFor finds the agent behind a chat user, creating one the first time
// a user acts, and keeps the stored role in step with the surface's.
func (b *Bridge) agentFor(ctx context.Context, tx Tx, a Actor) (Agent, error) {
	if a.Surface == "" || a.UserID == "" {
		return Agent{}, fmt.Errorf("%w: command without an actor", ErrInvalidInput)
	}
	agent, err := b.chatAgent(ctx, tx, a.Surface, a.Workspace, a.UserID, a.Name)
	if err != nil {
		return Agent{}, err
	}
	if a.Role != "" && agent.Role != a.Role {
		if err := tx.SetAgentRole(ctx, agent.ID, a.Role); err != nil {
			return Agent{}, err
		}
		agent.Role = a.Role
	}
	return agent, nil
}

// chatAgent finds or creates the agent of a chat user.
func (b *Bridge) chatAgent(ctx context.Context, tx Tx, surface Surface, workspace, userID, name string) (Agent, error) {
	agent, err := tx.FindAgentByChatIdentity(ctx, surface, workspace, userID)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return agent, err
	}
	if name == "" {
		name = userID
	}
	agent, err = tx.CreateAgent(ctx, CreateAgentParams{Name: name, Role: RoleAgent, Capacity: 10, Available: true})
	if err != nil {
		return Agent{}, err
	}
	return agent, tx.LinkAgentChatIdentity(ctx, AgentChatIdentity{AgentID: agent.ID, Surface: surface, Workspace: workspace, UserID: userID})
}

// Member is a chat user the surface's role settings name.
type Member struct {
	UserID string
	Name   string
	Role   Role
}

// SyncRoles makes the stored roles of a surface workspace's agents match
// the role settings: members get their role (and an agent row, so that
// escalation finds them before they ever act), everyone else who had a
// role is an agent again.
func (b *Bridge) SyncRoles(ctx context.Context, surface Surface, workspace string, members []Member) error {
	return b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		named := map[string]bool{}
		for _, m := range members {
			named[m.UserID] = true
			a, err := b.chatAgent(ctx, tx, surface, workspace, m.UserID, m.Name)
			if err != nil {
				return err
			}
			if a.Role != m.Role {
				if err := tx.SetAgentRole(ctx, a.ID, m.Role); err != nil {
					return err
				}
			}
		}
		ids, err := tx.ListAgentChatIdentities(ctx, surface, workspace)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if named[id.UserID] {
				continue
			}
			a, err := tx.GetAgent(ctx, id.AgentID)
			if err != nil {
				return err
			}
			if a.Role != RoleAgent {
				if err := tx.SetAgentRole(ctx, a.ID, RoleAgent); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// --- permission and state checks -------------------------------------------

// mayWork refuses when someone else owns the conversation and the actor is
// not a supervisor or above.
func (o *op) mayWork(ctx context.Context, what string) error {
	if o.conv.AssigneeID == 0 || o.conv.AssigneeID == o.agent.ID || o.role().AtLeast(RoleSupervisor) {
		return nil
	}
	return fmt.Errorf("%w: %s is assigned to %s; only they or a supervisor, manager or admin may %s it",
		ErrForbidden, o.conv.Number, o.assigneeName(ctx), what)
}

func (o *op) assigneeName(ctx context.Context) string {
	if o.conv.AssigneeID == 0 {
		return "nobody"
	}
	a, err := o.tx.GetAgent(ctx, o.conv.AssigneeID)
	if err != nil {
		return "another agent"
	}
	return a.Name
}

// active refuses on a resolved or closed conversation.
func (o *op) active(what string) error {
	if o.conv.Status == StatusResolved || o.conv.Status == StatusClosed {
		return fmt.Errorf("%w: %s is %s; reopen it before you %s", ErrIllegalState, o.conv.Number, o.conv.Status, what)
	}
	return nil
}

func (b *Bridge) save(ctx context.Context, o *op, action string) error {
	o.res.Conversation = o.conv
	return b.saveChange(ctx, o.tx, o.agent.ID, action, o.before, o.conv, o.now)
}

// notice posts a bridge notice into the conversation's chat threads.
func (b *Bridge) notice(ctx context.Context, tx Tx, conv Conversation, kind DeliveryKind, text string) error {
	seq, err := tx.NextSeq(ctx, conv.ID)
	if err != nil {
		return err
	}
	return b.enqueueChat(ctx, tx, conv, kind, Message{Seq: seq}, text, "")
}

// target resolves the user a command hands over to. Only a surface id
// identifies a person; a bare name is refused.
func (b *Bridge) target(ctx context.Context, o *op) (Agent, error) {
	m := o.cmd.Target
	if m.Kind != MentionUser {
		return Agent{}, fmt.Errorf("%w: %s needs a teammate", ErrInvalidInput, o.cmd.Verb)
	}
	if m.ID == "" {
		return Agent{}, fmt.Errorf("%w: %q is only a name; mention the teammate (pick them from the @ menu) so Threadline knows exactly who", ErrInvalidInput, m.Raw)
	}
	return b.chatAgent(ctx, o.tx, o.actor.Surface, o.actor.Workspace, m.ID, m.Name)
}

// --- conversation verbs -----------------------------------------------------

// doClaim assigns the conversation to the actor. Exactly one of several
// simultaneous claims wins; the others get a *ClaimedError naming the owner.
func (b *Bridge) doClaim(ctx context.Context, o *op) error {
	if err := o.active("claim it"); err != nil {
		return err
	}
	if o.conv.AssigneeID == o.agent.ID {
		o.res.Text = fmt.Sprintf("%s is already yours.", o.conv.Number)
		return nil
	}
	if o.conv.AssigneeID != 0 {
		owner, err := o.tx.GetAgent(ctx, o.conv.AssigneeID)
		if err != nil {
			return err
		}
		return &ClaimedError{Number: o.conv.Number, Owner: owner}
	}
	o.conv.AssigneeID = o.agent.ID
	o.res.Text = fmt.Sprintf("You claimed %s.", o.conv.Number)
	return b.save(ctx, o, "claimed")
}

func (b *Bridge) doAssign(ctx context.Context, o *op) error {
	if err := o.active("assign it"); err != nil {
		return err
	}
	if err := o.mayWork(ctx, "assign"); err != nil {
		return err
	}
	to, err := b.target(ctx, o)
	if err != nil {
		return err
	}
	if o.conv.AssigneeID == to.ID {
		o.res.Text = fmt.Sprintf("%s is already assigned to %s.", o.conv.Number, to.Name)
		return nil
	}
	o.conv.AssigneeID = to.ID
	o.res.Text = fmt.Sprintf("%s is assigned to %s.", o.conv.Number, to.Name)
	if err := b.noteOffDuty(ctx, o, to); err != nil {
		return err
	}
	return b.save(ctx, o, "assigned")
}

func (b *Bridge) doUnassign(ctx context.Context, o *op) error {
	if o.conv.AssigneeID == 0 {
		return fmt.Errorf("%w: %s is not assigned", ErrIllegalState, o.conv.Number)
	}
	if err := o.mayWork(ctx, "unassign"); err != nil {
		return err
	}
	o.conv.AssigneeID = 0
	o.res.Text = fmt.Sprintf("%s is back in the queue.", o.conv.Number)
	return b.save(ctx, o, "unassigned")
}

// doReply stores an agent's reply and queues it for the customer's
// platform. An unassigned conversation is assigned to the replying agent
// when Options.ClaimOnReply says so.
func (b *Bridge) doReply(ctx context.Context, o *op) error {
	if strings.TrimSpace(o.cmd.Text) == "" {
		return fmt.Errorf("%w: empty reply", ErrInvalidInput)
	}
	if err := o.active("reply"); err != nil {
		return err
	}
	if err := o.mayWork(ctx, "reply to"); err != nil {
		if !o.cmd.NoteIfForbidden {
			return err
		}
		msg, nerr := b.addAgentMessage(ctx, o.tx, o.agent, o.conv, Note, o.cmd.Text, o.cmd.ChatRef, o.now)
		if nerr != nil {
			return nerr
		}
		o.res.MessageID, o.res.Demoted, o.res.Attention = msg.ID, true, true
		o.res.Text = fmt.Sprintf("Kept as an internal note, not sent: %s is assigned to %s. Ask them, or a supervisor, to reply or transfer it to you.",
			o.conv.Number, o.assigneeName(ctx))
		return o.tx.AppendAudit(ctx, AuditEntry{ActorAgentID: o.agent.ID, Action: "noted_instead_of_reply", ConversationID: o.conv.ID, At: o.now})
	}
	if o.cmd.ExpectLastSeq > 0 {
		if err := b.checkNoNewerReplies(ctx, o); err != nil {
			return err
		}
	}
	msg, err := b.queueReply(ctx, o, o.cmd.Text, KindMessage, o.cmd.ChatRef)
	if err != nil {
		return err
	}
	if err := b.replied(ctx, o); err != nil {
		return err
	}
	o.res.MessageID = msg.ID
	o.res.Text = fmt.Sprintf("Reply to %s queued for the customer.", o.conv.Number)
	return b.save(ctx, o, "replied")
}

// queueReply stores an agent's message to the customer and queues it in
// the platform lane as kind.
func (b *Bridge) queueReply(ctx context.Context, o *op, text string, kind DeliveryKind, chatRef *ChatMessageRef) (Message, error) {
	msg, err := b.addAgentMessage(ctx, o.tx, o.agent, o.conv, Outbound, text, chatRef, o.now)
	if err != nil {
		return Message{}, err
	}
	return msg, b.enqueueDelivery(ctx, o.tx, o.conv.Priority, Delivery{
		ConversationID: o.conv.ID, Target: TargetPlatform, Kind: kind, MessageID: msg.ID, Seq: msg.Seq,
	})
}

// replied is what an agent's answer does to the conversation: its SLA
// clocks, waiting on the customer, the claim and the first response time.
func (b *Bridge) replied(ctx context.Context, o *op) error {
	if err := b.slaReplied(ctx, o.tx, o.conv, o.now); err != nil {
		return err
	}
	o.conv.Status = StatusPending
	o.conv.SnoozedUntil = nil
	if o.conv.AssigneeID == 0 && !b.opts.KeepUnassignedOnReply {
		o.conv.AssigneeID = o.agent.ID
	}
	if o.conv.FirstResponseAt == nil {
		o.conv.FirstResponseAt = &o.now
	}
	return nil
}

// checkNoNewerReplies fails with *StaleReplyError when other agents replied
// after ExpectLastSeq.
func (b *Bridge) checkNoNewerReplies(ctx context.Context, o *op) error {
	msgs, err := o.tx.ListMessages(ctx, o.conv.ID)
	if err != nil {
		return err
	}
	stale := &StaleReplyError{Number: o.conv.Number}
	for _, m := range msgs {
		stale.LastSeq = max(stale.LastSeq, m.Seq)
		if m.Seq <= o.cmd.ExpectLastSeq || m.Direction != Outbound || m.SenderAgentID == o.agent.ID {
			continue
		}
		name := "another agent"
		if a, err := o.tx.GetAgent(ctx, m.SenderAgentID); err == nil {
			name = a.Name
		}
		stale.Replies = append(stale.Replies, MessageView{Message: m, SenderName: name, Platform: o.conv.Platform})
	}
	if len(stale.Replies) > 0 {
		return stale
	}
	return nil
}

// doNote stores an internal note; it is never sent to the customer.
func (b *Bridge) doNote(ctx context.Context, o *op) error {
	if strings.TrimSpace(o.cmd.Text) == "" {
		return fmt.Errorf("%w: empty note", ErrInvalidInput)
	}
	msg, err := b.addAgentMessage(ctx, o.tx, o.agent, o.conv, Note, o.cmd.Text, o.cmd.ChatRef, o.now)
	if err != nil {
		return err
	}
	o.res.MessageID = msg.ID
	o.res.Text = fmt.Sprintf("Note added to %s.", o.conv.Number)
	return o.tx.AppendAudit(ctx, AuditEntry{ActorAgentID: o.agent.ID, Action: "noted", ConversationID: o.conv.ID, At: o.now})
}

func (b *Bridge) addAgentMessage(ctx context.Context, tx Tx, agent Agent, conv Conversation, dir Direction, text string, chatRef *ChatMessageRef, now time.Time) (Message, error) {
	seq, err := tx.NextSeq(ctx, conv.ID)
	if err != nil {
		return Message{}, err
	}
	status := DeliveryDelivered
	if dir == Outbound {
		status = DeliveryPending
	}
	msg, _, err := tx.InsertMessage(ctx, InsertMessageParams{
		ConversationID: conv.ID, PlatformThreadID: conv.PlatformThreadID, Seq: seq, Direction: dir,
		SenderAgentID: agent.ID, Text: text, PlatformTime: now, CreatedAt: now, DeliveryStatus: status,
	})
	if err != nil {
		return Message{}, err
	}
	var skip Surface
	if chatRef != nil {
		ref := *chatRef
		ref.MessageID = msg.ID
		if err := tx.AddChatMessageRef(ctx, ref); err != nil {
			return Message{}, err
		}
		skip = ref.Surface
	}
	return msg, b.enqueueChat(ctx, tx, conv, KindMessage, msg, "", skip)
}

func (b *Bridge) doTransfer(ctx context.Context, o *op) error {
	if err := o.active("transfer it"); err != nil {
		return err
	}
	if err := o.mayWork(ctx, "transfer"); err != nil {
		return err
	}
	reason := strings.TrimSpace(o.cmd.Text)
	if reason == "" {
		return fmt.Errorf("%w: say why you transfer %s, so the next person knows", ErrInvalidInput, o.conv.Number)
	}
	var to string
	switch o.cmd.Target.Kind {
	case MentionTeam:
		o.conv.Team = o.cmd.Target.Label()
		o.conv.AssigneeID = 0
		to = "team " + o.conv.Team
	default:
		a, err := b.target(ctx, o)
		if err != nil {
			return err
		}
		if a.ID == o.conv.AssigneeID {
			return fmt.Errorf("%w: %s is already assigned to %s", ErrIllegalState, o.conv.Number, a.Name)
		}
		o.conv.AssigneeID = a.ID
		to = a.Name
		if err := b.noteOffDuty(ctx, o, a); err != nil {
			return err
		}
	}
	o.res.Text = fmt.Sprintf("%s is transferred to %s.", o.conv.Number, to) + o.res.Text
	if err := b.notice(ctx, o.tx, o.conv, KindNotice, fmt.Sprintf("Transferred to %s by %s: %s", to, o.agent.Name, reason)); err != nil {
		return err
	}
	return b.save(ctx, o, "transferred")
}

// doEscalate raises the priority and hands the conversation to the
// least-loaded available agent of the level's role. With nobody available
// the priority still rises and the actor is told whom to find.
func (b *Bridge) doEscalate(ctx context.Context, o *op) error {
	if err := o.active("escalate it"); err != nil {
		return err
	}
	role, prio := RoleSupervisor, P2
	if o.cmd.Level == EscalateManager || o.cmd.Level == EscalateCritical {
		role, prio = RoleManager, P1
	}
	if o.cmd.Level != EscalateSupervisor && o.cmd.Level != EscalateManager && o.cmd.Level != EscalateCritical {
		return fmt.Errorf("%w: escalate to supervisor, manager or critical", ErrInvalidInput)
	}
	o.conv.Priority = min(o.conv.Priority, prio)
	o.conv.Escalation = o.cmd.Level
	// An escalation needs someone now: it ends a snooze or a wait.
	o.conv.Status, o.conv.SnoozedUntil = StatusOpen, nil
	loads, err := o.tx.ListAgentLoads(ctx, role)
	if err != nil {
		return err
	}
	var pick *AgentLoad
	var away []string
	for i, l := range loads {
		if l.Agent.ID == o.agent.ID {
			continue
		}
		why, err := b.offDuty(ctx, o.tx, l.Agent, o.now)
		if err != nil {
			return err
		}
		if why != "" {
			away = append(away, fmt.Sprintf("%s (%s)", l.Agent.Name, why))
			continue
		}
		if pick == nil || l.Open < pick.Open {
			pick = &loads[i]
		}
	}
	reason := strings.TrimSpace(o.cmd.Text)
	what := fmt.Sprintf("Escalated (%s, %s) by %s", o.cmd.Level, o.conv.Priority, o.agent.Name)
	if pick != nil {
		o.conv.AssigneeID = pick.Agent.ID
		what += ", now with " + pick.Agent.Name
		o.res.Text = fmt.Sprintf("%s is escalated to %s and %s.", o.conv.Number, pick.Agent.Name, o.conv.Priority)
	} else {
		find := fmt.Sprintf("nobody has the %s role", role)
		if len(away) > 0 {
			find = "find " + strings.Join(away, " or ")
		}
		what += fmt.Sprintf(". No %s is available: %s", role, find)
		o.res.Text = fmt.Sprintf("%s is now %s, but no %s is available: %s.", o.conv.Number, o.conv.Priority, role, find)
		o.res.Attention = true
	}
	if reason != "" {
		what += ": " + reason
	}
	if err := b.notice(ctx, o.tx, o.conv, KindNotice, what); err != nil {
		return err
	}
	if o.cmd.Level == EscalateCritical {
		if err := b.notice(ctx, o.tx, o.conv, KindEscalation, fmt.Sprintf("Critical: %s %s", o.conv.Number, what)); err != nil {
			return err
		}
	}
	return b.save(ctx, o, "escalated_"+string(o.cmd.Level))
}

func (b *Bridge) doPriority(ctx context.Context, o *op) error {
	if err := o.active("change its priority"); err != nil {
		return err
	}
	p := o.cmd.Priority
	if p < P1 || p > P4 {
		return fmt.Errorf("%w: priority is p1 to p4", ErrInvalidInput)
	}
	if p == o.conv.Priority {
		o.res.Text = fmt.Sprintf("%s is already %s.", o.conv.Number, p)
		return nil
	}
	if p > o.conv.Priority { // anyone may raise it; lowering is the owner's call
		if err := o.mayWork(ctx, "lower the priority of"); err != nil {
			return err
		}
	}
	o.conv.Priority = p
	o.res.Text = fmt.Sprintf("%s is now %s.", o.conv.Number, p)
	return b.save(ctx, o, "priority_set")
}

func (b *Bridge) doTag(ctx context.Context, o *op) error {
	tags := slices.Clone(o.conv.Tags)
	for _, t := range o.cmd.AddTags {
		tags = appendUnique(tags, t)
	}
	tags = slices.DeleteFunc(tags, func(t string) bool { return slices.Contains(o.cmd.RemoveTags, t) })
	if len(tags) > MaxTags {
		return fmt.Errorf("%w: a conversation has at most %d tags", ErrInvalidInput, MaxTags)
	}
	slices.Sort(tags)
	if slices.Equal(tags, sortedCopy(o.conv.Tags)) {
		o.res.Text = fmt.Sprintf("Tags of %s unchanged.", o.conv.Number)
		return nil
	}
	o.conv.Tags = tags
	o.res.Text = fmt.Sprintf("Tags of %s: %s.", o.conv.Number, tagList(tags))
	return b.save(ctx, o, "tagged")
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func tagList(tags []string) string {
	if len(tags) == 0 {
		return "none"
	}
	return strings.Join(tags, ", ")
}

// doPending marks the conversation as waiting on the customer; their next
// message opens it again.
func (b *Bridge) doPending(ctx context.Context, o *op) error {
	if err := o.active("set it pending"); err != nil {
		return err
	}
	if err := o.mayWork(ctx, "set pending"); err != nil {
		return err
	}
	if o.conv.Status == StatusPending && o.conv.SnoozedUntil == nil {
		o.res.Text = fmt.Sprintf("%s is already waiting on the customer.", o.conv.Number)
		return nil
	}
	o.conv.Status, o.conv.SnoozedUntil = StatusPending, nil
	o.res.Text = fmt.Sprintf("%s is waiting on the customer.", o.conv.Number)
	return b.save(ctx, o, "pending")
}

// doSnooze sets the conversation aside until the duration passes or the
// customer writes, whichever comes first (WakeSnoozed).
func (b *Bridge) doSnooze(ctx context.Context, o *op) error {
	if err := o.active("snooze it"); err != nil {
		return err
	}
	if err := o.mayWork(ctx, "snooze"); err != nil {
		return err
	}
	d := o.cmd.Duration
	if d < MinSnooze || d > MaxSnooze {
		return fmt.Errorf("%w: snooze between %s and %s", ErrInvalidInput, FormatDuration(MinSnooze), FormatDuration(MaxSnooze))
	}
	until := o.now.Add(d)
	o.conv.Status, o.conv.SnoozedUntil = StatusPending, &until
	o.res.Text = fmt.Sprintf("%s is snoozed for %s.", o.conv.Number, FormatDuration(d))
	return b.save(ctx, o, "snoozed")
}

// doResolve marks the conversation done.
func (b *Bridge) doResolve(ctx context.Context, o *op) error {
	if o.conv.Status == StatusResolved || o.conv.Status == StatusClosed {
		return fmt.Errorf("%w: %s is already %s", ErrIllegalState, o.conv.Number, o.conv.Status)
	}
	if err := o.mayWork(ctx, "resolve"); err != nil {
		return err
	}
	o.conv.Status, o.conv.ResolvedAt, o.conv.SnoozedUntil = StatusResolved, &o.now, nil
	o.res.Text = fmt.Sprintf("%s is resolved.", o.conv.Number)
	return b.save(ctx, o, "resolved")
}

// doReopen puts a resolved or closed conversation back to open. A closed one
// can be reopened only while no newer conversation is open on its thread.
func (b *Bridge) doReopen(ctx context.Context, o *op) error {
	if o.conv.Status != StatusResolved && o.conv.Status != StatusClosed {
		return fmt.Errorf("%w: %s is %s, not resolved", ErrIllegalState, o.conv.Number, o.conv.Status)
	}
	if o.conv.Status == StatusClosed {
		latest, err := o.tx.LatestConversation(ctx, o.conv.PlatformThreadID)
		if err != nil {
			return err
		}
		if latest.ID != o.conv.ID && latest.Status != StatusClosed {
			return fmt.Errorf("%w: %s has a newer open conversation %s", ErrIllegalState, o.conv.Number, latest.Number)
		}
	}
	o.conv.Status, o.conv.ResolvedAt, o.conv.ClosedAt = StatusOpen, nil, nil
	o.res.Text = fmt.Sprintf("%s is open again.", o.conv.Number)
	return b.save(ctx, o, "reopened")
}

// doHistory lists the customer's conversations on every platform their
// contact is known on, newest first.
func (b *Bridge) doHistory(ctx context.Context, o *op) error {
	who, err := o.tx.GetIdentity(ctx, o.conv.IdentityID)
	if err != nil {
		return err
	}
	convs, err := o.tx.ListContactConversations(ctx, who.ContactID, 20)
	if err != nil {
		return err
	}
	if o.res.Conversations, err = b.summarize(ctx, o.tx, convs); err != nil {
		return err
	}
	o.res.Text = fmt.Sprintf("%d conversations with this customer.", len(convs))
	return nil
}

func (b *Bridge) doAudit(ctx context.Context, o *op) error {
	entries, err := o.tx.ListAudit(ctx, o.conv.ID)
	if err != nil {
		return err
	}
	names := map[AgentID]string{}
	name := func(ctx context.Context, id AgentID) (string, error) {
		if n, ok := names[id]; ok {
			return n, nil
		}
		a, err := o.tx.GetAgent(ctx, id)
		if err != nil {
			return "", err
		}
		names[id] = a.Name
		return a.Name, nil
	}
	for _, e := range entries {
		v := AuditView{AuditEntry: e}
		if e.ActorAgentID != 0 {
			if v.Actor, err = name(ctx, e.ActorAgentID); err != nil {
				return err
			}
		}
		if v.Changes, err = auditChanges(ctx, e, name); err != nil {
			return err
		}
		o.res.Audit = append(o.res.Audit, v)
	}
	o.res.Text = fmt.Sprintf("Audit trail of %s: %d entries.", o.conv.Number, len(entries))
	return nil
}

// --- agent verbs ---------------------------------------------------------

const listLimit = 50

func (b *Bridge) doMine(ctx context.Context, o *op) error {
	page, err := o.tx.ListConversations(ctx, ConversationFilter{Assignee: o.agent.ID, Statuses: []Status{StatusOpen, StatusPending}, Limit: listLimit})
	if err != nil {
		return err
	}
	if o.res.Conversations, err = b.summarize(ctx, o.tx, page.Conversations); err != nil {
		return err
	}
	o.res.Text = fmt.Sprintf("You have %d open conversations.", len(page.Conversations))
	return nil
}

func (b *Bridge) doQueue(ctx context.Context, o *op) error {
	convs, err := o.tx.ListQueue(ctx, listLimit)
	if err != nil {
		return err
	}
	if o.res.Conversations, err = b.summarize(ctx, o.tx, convs); err != nil {
		return err
	}
	o.res.Text = fmt.Sprintf("%d unassigned conversations waiting.", len(convs))
	return nil
}

func (b *Bridge) doAway(ctx context.Context, o *op) error { return b.setAvailable(ctx, o, false) }
func (b *Bridge) doBack(ctx context.Context, o *op) error { return b.setAvailable(ctx, o, true) }
func (b *Bridge) doHelp(ctx context.Context, o *op) error {
	o.res.Text = HelpText("", o.cmd.HelpVerb)
	return nil
}

func (b *Bridge) setAvailable(ctx context.Context, o *op, available bool) error {
	action, text := "away", "You are away: no assignments or escalations reach you until you are back."
	if available {
		action, text = "back", "You are back: assignments and escalations reach you again."
	}
	o.res.Text = text
	if o.agent.Available == available {
		return nil
	}
	if err := o.tx.SetAgentAvailable(ctx, o.agent.ID, available); err != nil {
		return err
	}
	return o.tx.AppendAudit(ctx, AuditEntry{ActorAgentID: o.agent.ID, Action: action,
		Before: fmt.Sprintf("available=%t", !available), After: fmt.Sprintf("available=%t", available), At: o.now})
}

// summarize adds customers, assignees and chat threads to a list.
func (b *Bridge) summarize(ctx context.Context, tx Tx, convs []Conversation) ([]ConversationSummary, error) {
	out := make([]ConversationSummary, 0, len(convs))
	for _, c := range convs {
		s := ConversationSummary{Conversation: c}
		var err error
		if s.Customer, err = tx.GetIdentity(ctx, c.IdentityID); err != nil {
			return nil, err
		}
		if c.AssigneeID != 0 {
			a, err := tx.GetAgent(ctx, c.AssigneeID)
			if err != nil {
				return nil, err
			}
			s.Assignee = a.Name
		}
		for _, surface := range b.opts.Surfaces {
			t, err := tx.GetChatThread(ctx, c.ID, surface)
			switch {
			case err == nil:
				s.Chats = append(s.Chats, t)
			case !errors.Is(err, ErrNotFound):
				return nil, err
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// WakeSnoozed returns conversations whose snooze has ended to the queue.
func (b *Bridge) WakeSnoozed(ctx context.Context) (int, error) {
	var woken int
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		woken = 0
		now := b.opts.Clock.Now()
		ids, err := tx.ListDueSnoozes(ctx, now, 100)
		if err != nil {
			return err
		}
		for _, id := range ids {
			conv, err := tx.GetConversation(ctx, id)
			if err != nil {
				return err
			}
			if conv.SnoozedUntil == nil || conv.SnoozedUntil.After(now) || conv.Status != StatusPending {
				continue // the customer wrote or someone acted meanwhile
			}
			before := conv
			conv.Status, conv.SnoozedUntil = StatusOpen, nil
			if err := b.notice(ctx, tx, conv, KindNotice, "Snooze ended: back in the queue"); err != nil {
				return err
			}
			if err := b.saveChange(ctx, tx, 0, "snooze_ended", before, conv, now); err != nil {
				return err
			}
			woken++
		}
		return nil
	})
	return woken, err
}

// --- the first slice's methods, kept as shorthands for Dispatch -------------

// Claim assigns the conversation to the acting agent.
func (b *Bridge) Claim(ctx context.Context, key DeliveryKey, actor Actor, ref ConversationRef) (CommandResult, error) {
	return b.Dispatch(ctx, key, actor, Command{Verb: VerbClaim, Conversation: ref})
}

// Resolve marks the conversation done.
func (b *Bridge) Resolve(ctx context.Context, key DeliveryKey, actor Actor, ref ConversationRef) (CommandResult, error) {
	return b.Dispatch(ctx, key, actor, Command{Verb: VerbResolve, Conversation: ref})
}

// Reopen puts a resolved or closed conversation back to open.
func (b *Bridge) Reopen(ctx context.Context, key DeliveryKey, actor Actor, ref ConversationRef) (CommandResult, error) {
	return b.Dispatch(ctx, key, actor, Command{Verb: VerbReopen, Conversation: ref})
}

// ReplyParams is an agent's reply or note.
type ReplyParams struct {
	Key     DeliveryKey
	Actor   Actor
	Ref     ConversationRef
	Text    string
	ChatRef *ChatMessageRef // the agent's own chat message, to mark delivery on
}

// Reply stores an agent's reply and queues it for the customer's platform.
func (b *Bridge) Reply(ctx context.Context, p ReplyParams) (CommandResult, error) {
	return b.Dispatch(ctx, p.Key, p.Actor, Command{Verb: VerbReply, Conversation: p.Ref, Text: p.Text, ChatRef: p.ChatRef})
}

// AddNote stores an internal note; it is never sent to the customer.
func (b *Bridge) AddNote(ctx context.Context, p ReplyParams) (CommandResult, error) {
	return b.Dispatch(ctx, p.Key, p.Actor, Command{Verb: VerbNote, Conversation: p.Ref, Text: p.Text, ChatRef: p.ChatRef})
}

// ConversationByChatThread finds the conversation a chat thread shows.
func (b *Bridge) ConversationByChatThread(ctx context.Context, surface Surface, channel, threadRef string) (Conversation, error) {
	var conv Conversation
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		t, err := tx.FindChatThread(ctx, surface, channel, threadRef)
		if err != nil {
			return err
		}
		conv, err = tx.GetConversation(ctx, t.ConversationID)
		return err
	})
	return conv, err
}
