package bridge

import (
	"context"
	"slices"
	"strconv"
	"strings"
)

// AuditChange is one field of a conversation an audited action changed,
// as people read it: agents by name, not id.
type AuditChange struct {
	Field, Before, After string
}

// stateFields are the fields describe writes, in its order.
var stateFields = []string{"status", "priority", "assignee", "tags", "team", "escalation", "snoozed_until"}

// parseState reads a describe string back into its fields; ok is false for
// audit values of another form (a macro's JSON, a rating).
func parseState(s string) (fields map[string]string, ok bool) {
	if s == "" {
		return map[string]string{}, true
	}
	fields = map[string]string{}
	last := ""
	for _, tok := range strings.Split(s, " ") {
		k, v, isField := strings.Cut(tok, "=")
		if isField && isStateField(k) {
			fields[k], last = v, k
			continue
		}
		if last == "" {
			return nil, false
		}
		// A value with a space (a team name) continues the previous field.
		fields[last] += " " + tok
	}
	_, hasStatus := fields["status"]
	return fields, hasStatus
}

func isStateField(k string) bool { return slices.Contains(stateFields, k) }

// auditChanges lists the fields that differ between an entry's before and
// after states, with assignees named; nil when the entry holds no states.
func auditChanges(ctx context.Context, e AuditEntry, name func(context.Context, AgentID) (string, error)) ([]AuditChange, error) {
	before, ok1 := parseState(e.Before)
	after, ok2 := parseState(e.After)
	if !ok1 || !ok2 || (e.Before == "" && e.After == "") {
		return nil, nil
	}
	var out []AuditChange
	for _, f := range stateFields {
		b, a := before[f], after[f]
		if b == a {
			continue
		}
		if f == "assignee" {
			var err error
			if b, err = assigneeName(ctx, b, name); err != nil {
				return nil, err
			}
			if a, err = assigneeName(ctx, a, name); err != nil {
				return nil, err
			}
		}
		out = append(out, AuditChange{Field: f, Before: b, After: a})
	}
	return out, nil
}

func assigneeName(ctx context.Context, v string, name func(context.Context, AgentID) (string, error)) (string, error) {
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id == 0 {
		return "nobody", nil
	}
	return name(ctx, AgentID(id))
}

// ChangeText is a plain-text summary of an entry's changes ("assignee:
// nobody → Ann; status: open → pending"), or its raw before and after
// when it records no states; empty when nothing changed.
func (v AuditView) ChangeText(quote func(string) string) string {
	if quote == nil {
		quote = func(s string) string { return s }
	}
	var parts []string
	for _, c := range v.Changes {
		b, a := c.Before, c.After
		if b == "" {
			b = "none"
		}
		if a == "" {
			a = "none"
		}
		parts = append(parts, c.Field+" "+quote(b)+" → "+quote(a))
	}
	switch {
	case v.Changes != nil || v.Before == v.After:
	case v.Before == "":
		parts = append(parts, quote(v.After))
	case v.After == "":
		parts = append(parts, quote(v.Before)+" → none")
	default:
		parts = append(parts, quote(v.Before)+" → "+quote(v.After))
	}
	return strings.Join(parts, "; ")
}
