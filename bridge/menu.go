package bridge

import (
	"fmt"
	"strings"
)

// MenuOption is one entry of a card's "More…" menu: what the agent reads
// and the command text the grammar parses when they pick it.
type MenuOption struct {
	Label, Command string
}

// MoreMenu lists the commands a card's state allows beyond its buttons, in
// the order the chat surfaces show them, so Slack's select and Teams'
// choice set offer the same things.
func MoreMenu(c Card) []MenuOption {
	conv := c.Conversation
	n := fmt.Sprint(int64(conv.Number))
	var out []MenuOption
	opt := func(label, command string) { out = append(out, MenuOption{label, command}) }
	switch conv.Status {
	case StatusOpen, StatusPending:
		if conv.Status == StatusOpen || conv.SnoozedUntil != nil {
			opt("Waiting on customer", "pending "+n)
		}
		opt("Snooze 1 hour", "snooze "+n+" 1h")
		opt("Snooze 1 day", "snooze "+n+" 1d")
		opt("Escalate to a supervisor", "escalate "+n+" supervisor")
		opt("Escalate to a manager", "escalate "+n+" manager")
		opt("Escalate: critical", "escalate "+n+" critical")
		for p := P1; p <= P4; p++ {
			if p != conv.Priority {
				opt("Priority "+p.String(), "priority "+n+" "+strings.ToLower(p.String()))
			}
		}
		if c.Assignee != nil {
			opt("Unassign", "unassign "+n)
		}
	}
	opt("Customer history", "history "+n)
	opt("Audit trail", "audit "+n)
	return out
}
