package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
)

func testSLA(t *testing.T, s Backend) {
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		var convs []bridge.Conversation
		for _, chat := range []string{"s1", "s2", "s3"} {
			f, err := newFixture(ctx, tx, chat)
			if err != nil {
				return err
			}
			c, err := f.newConv(ctx, tx, bridge.P3)
			if err != nil {
				return err
			}
			convs = append(convs, c)
		}
		at := func(m int) *time.Time { v := t0.Add(time.Duration(m) * time.Minute); return &v }
		// Conversation 0 is due at +30 (its earliest clock), 1 at +10, 2 never.
		clocks := []bridge.SLAClock{
			{ConversationID: convs[0].ID, Kind: bridge.ClockFirstResponse, Cycle: 1, State: bridge.SLARunning, Target: 40 * time.Minute,
				StartedAt: t0, Consumed: 1500 * time.Microsecond, SegmentAt: at(0), DueAt: at(40), WarnAt: at(30), NextCheckAt: at(30)},
			{ConversationID: convs[0].ID, Kind: bridge.ClockResolution, Cycle: 1, State: bridge.SLARunning, Target: 2 * time.Hour,
				StartedAt: t0, SegmentAt: at(0), DueAt: at(120), NextCheckAt: at(120)},
			{ConversationID: convs[1].ID, Kind: bridge.ClockNextResponse, Cycle: 3, State: bridge.SLARunning, Target: 20 * time.Minute,
				StartedAt: t0, SegmentAt: at(0), DueAt: at(10), NextCheckAt: at(10), WarnedAt: at(5)},
			{ConversationID: convs[2].ID, Kind: bridge.ClockResolution, Cycle: 1, State: bridge.SLAPaused, Target: time.Hour,
				StartedAt: t0, Consumed: 10 * time.Minute},
		}
		for _, c := range clocks {
			if err := tx.SaveSLAClock(ctx, c); err != nil {
				return err
			}
		}
		got, err := tx.ListSLAClocks(ctx, convs[0].ID)
		if err != nil {
			return err
		}
		if len(got) != 2 {
			t.Fatalf("clocks of conversation 0: %+v", got)
		}
		for _, c := range got {
			if c.Kind == bridge.ClockFirstResponse && (c.Consumed != 1500*time.Microsecond || !c.WarnAt.Equal(*at(30)) || c.BreachedAt != nil || c.Cycle != 1) {
				t.Errorf("round trip: %+v", c)
			}
		}
		due, err := tx.ListDueSLAConversations(ctx, t0.Add(time.Hour), 10)
		if err != nil {
			return err
		}
		if len(due) != 2 || due[0] != convs[1].ID || due[1] != convs[0].ID {
			t.Errorf("due at +60: %v, want [%d %d]", due, convs[1].ID, convs[0].ID)
		}
		if due, _ := tx.ListDueSLAConversations(ctx, t0.Add(time.Hour), 1); len(due) != 1 {
			t.Errorf("limit 1: %v", due)
		}
		if due, _ := tx.ListDueSLAConversations(ctx, t0.Add(5*time.Minute), 10); len(due) != 0 {
			t.Errorf("due at +5: %v", due)
		}
		// Replacing a clock moves it off the index.
		c := clocks[1]
		c.State, c.NextCheckAt, c.DueAt, c.SegmentAt, c.StoppedAt = bridge.SLAStopped, nil, nil, nil, at(50)
		c.Consumed = 50 * time.Minute
		if err := tx.SaveSLAClock(ctx, c); err != nil {
			return err
		}
		if due, _ := tx.ListDueSLAConversations(ctx, t0.Add(10*time.Hour), 10); len(due) != 2 {
			t.Errorf("after stop: %v", due)
		}
		for i, want := range []bool{true, false} {
			isNew, err := tx.InsertSLAAlert(ctx, bridge.SLAAlert{ConversationID: convs[1].ID, Clock: bridge.ClockNextResponse, Cycle: 3, Kind: bridge.SLABreach, DueAt: *at(10), At: *at(11)})
			if err != nil || isNew != want {
				t.Errorf("alert insert %d: new=%v err=%v", i, isNew, err)
			}
		}
		if isNew, err := tx.InsertSLAAlert(ctx, bridge.SLAAlert{ConversationID: convs[1].ID, Clock: bridge.ClockNextResponse, Cycle: 4, Kind: bridge.SLABreach, DueAt: *at(10), At: *at(11)}); err != nil || !isNew {
			t.Errorf("next cycle's alert: new=%v err=%v", isNew, err)
		}

		sup, err := tx.CreateAgent(ctx, bridge.CreateAgentParams{Name: "Sue", Role: bridge.RoleSupervisor})
		if err != nil {
			return err
		}
		agent, err := tx.CreateAgent(ctx, bridge.CreateAgentParams{Name: "Al", Role: bridge.RoleAgent})
		if err != nil {
			return err
		}
		for _, id := range []bridge.AgentChatIdentity{
			{AgentID: sup.ID, Surface: bridge.SurfaceSlack, Workspace: "T1", UserID: "USUE"},
			{AgentID: agent.ID, Surface: bridge.SurfaceSlack, Workspace: "T1", UserID: "UAL"},
		} {
			if err := tx.LinkAgentChatIdentity(ctx, id); err != nil {
				return err
			}
		}
		if id, err := tx.GetAgentChatIdentity(ctx, agent.ID, bridge.SurfaceSlack); err != nil || id.UserID != "UAL" {
			t.Errorf("agent chat identity: %+v %v", id, err)
		}
		if _, err := tx.GetAgentChatIdentity(ctx, agent.ID, bridge.SurfaceTeams); !errors.Is(err, bridge.ErrNotFound) {
			t.Errorf("other surface: %v", err)
		}
		sups, err := tx.ListChatIdentitiesByRole(ctx, bridge.SurfaceSlack, []bridge.Role{bridge.RoleSupervisor, bridge.RoleManager})
		if err != nil || len(sups) != 1 || sups[0].UserID != "USUE" {
			t.Errorf("supervisors: %+v %v", sups, err)
		}
		return nil
	})
}
