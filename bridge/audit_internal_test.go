package bridge

import (
	"context"
	"fmt"
	"reflect"
	"testing"
)

func TestAuditChangesNameAgents(t *testing.T) {
	names := map[AgentID]string{3: "Ann", 7: "Sue"}
	name := func(_ context.Context, id AgentID) (string, error) {
		if n, ok := names[id]; ok {
			return n, nil
		}
		return "", fmt.Errorf("agent %d: %w", id, ErrNotFound)
	}
	tests := []struct {
		before, after string
		want          []AuditChange
		wantErr       bool
	}{
		{"status=open priority=P3 assignee=0", "status=open priority=P3 assignee=3",
			[]AuditChange{{"assignee", "nobody", "Ann"}}, false},
		{"status=open priority=P3 assignee=3 tags=refund", "status=pending priority=P2 assignee=7 tags=refund,vip escalation=supervisor",
			[]AuditChange{{"status", "open", "pending"}, {"priority", "P3", "P2"}, {"assignee", "Ann", "Sue"}, {"tags", "refund", "refund,vip"}, {"escalation", "", "supervisor"}}, false},
		// A team name with a space stays one value.
		{"status=open priority=P3 assignee=0", "status=open priority=P3 assignee=0 team=Tier two",
			[]AuditChange{{"team", "", "Tier two"}}, false},
		// Not states: shown as written.
		{"", "open", nil, false},
		{`{"name":"x"}`, "", nil, false},
		{"available=false", "available=true", nil, false},
		// An agent that is gone is an error, not a silent id.
		{"status=open priority=P3 assignee=0", "status=open priority=P3 assignee=9", nil, true},
	}
	for _, tc := range tests {
		got, err := auditChanges(context.Background(), AuditEntry{Before: tc.before, After: tc.after}, name)
		if (err != nil) != tc.wantErr || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("auditChanges(%q, %q) = %+v, %v; want %+v", tc.before, tc.after, got, err, tc.want)
		}
	}
}

func TestAuditChangeText(t *testing.T) {
	tests := []struct {
		v    AuditView
		want string
	}{
		{AuditView{Changes: []AuditChange{{"assignee", "nobody", "Ann"}, {"team", "", "billing"}}}, "assignee nobody → Ann; team none → billing"},
		{AuditView{AuditEntry: AuditEntry{Before: "", After: "open"}}, "open"},
		{AuditView{AuditEntry: AuditEntry{Before: "5", After: ""}}, "5 → none"},
		{AuditView{AuditEntry: AuditEntry{Before: "available=false", After: "available=true"}}, "available=false → available=true"},
		{AuditView{AuditEntry: AuditEntry{Before: "x", After: "x"}}, ""},
	}
	for _, tc := range tests {
		if got := tc.v.ChangeText(nil); got != tc.want {
			t.Errorf("ChangeText(%+v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
