package slack

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/threadline/threadline/bridge"
)

// Roles are the role settings: Slack user ids (U..., W...) or user group
// ids (S...) per role. Everyone not named is an agent.
type Roles struct {
	Supervisors, Managers, Admins []string
}

// GroupMembers lists a user group's members (usergroups.users.list).
type GroupMembers interface {
	GroupMembers(ctx context.Context, group string) ([]string, error)
}

// RoleDirectory answers which role a Slack user has, expanding user groups
// through the Web API with a short cache.
type RoleDirectory struct {
	roles  Roles
	groups GroupMembers
	ttl    time.Duration
	clock  bridge.Clock
	log    *slog.Logger

	mu    sync.Mutex
	cache map[string]groupEntry
}

type groupEntry struct {
	members map[string]bool
	at      time.Time
}

// NewRoleDirectory returns a directory; groups may be nil when no role
// setting names a group.
func NewRoleDirectory(roles Roles, groups GroupMembers, clock bridge.Clock, log *slog.Logger) *RoleDirectory {
	if clock == nil {
		clock = bridge.SystemClock{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &RoleDirectory{roles: roles, groups: groups, ttl: 5 * time.Minute, clock: clock, log: log, cache: map[string]groupEntry{}}
}

func isGroup(id string) bool { return strings.HasPrefix(id, "S") }

func (d *RoleDirectory) ordered() []struct {
	role bridge.Role
	ids  []string
} {
	return []struct {
		role bridge.Role
		ids  []string
	}{{bridge.RoleAdmin, d.roles.Admins}, {bridge.RoleManager, d.roles.Managers}, {bridge.RoleSupervisor, d.roles.Supervisors}}
}

// RoleOf returns the highest role the settings give a user.
func (d *RoleDirectory) RoleOf(ctx context.Context, userID string) bridge.Role {
	for _, r := range d.ordered() {
		for _, id := range r.ids {
			if id == userID {
				return r.role
			}
			if !isGroup(id) {
				continue
			}
			if m, _ := d.members(ctx, id); m[userID] {
				return r.role
			}
		}
	}
	return bridge.RoleAgent
}

// members returns a group's members, cached; on a failed lookup the last
// known members, else none and an error (a role is never granted on an
// error).
func (d *RoleDirectory) members(ctx context.Context, group string) (map[string]bool, error) {
	d.mu.Lock()
	e, ok := d.cache[group]
	d.mu.Unlock()
	if ok && d.clock.Now().Sub(e.at) < d.ttl {
		return e.members, nil
	}
	if d.groups == nil {
		return nil, fmt.Errorf("user group %s: no way to list members", group)
	}
	ids, err := d.groups.GroupMembers(ctx, group)
	if err != nil {
		d.log.Warn("slack user group members", "group", group, "err", err)
		if ok {
			return e.members, nil
		}
		return nil, err
	}
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	d.mu.Lock()
	d.cache[group] = groupEntry{members: m, at: d.clock.Now()}
	d.mu.Unlock()
	return m, nil
}

// Members lists every user the settings give a role, with the highest one.
// It fails when a group cannot be listed: an incomplete list would demote
// its members.
func (d *RoleDirectory) Members(ctx context.Context) ([]bridge.Member, error) {
	seen := map[string]bool{}
	var out []bridge.Member
	for _, r := range d.ordered() {
		for _, id := range r.ids {
			users := []string{id}
			if isGroup(id) {
				m, err := d.members(ctx, id)
				if err != nil {
					return nil, err
				}
				users = slices.Sorted(maps.Keys(m))
			}
			for _, u := range users {
				if !seen[u] {
					seen[u] = true
					out = append(out, bridge.Member{UserID: u, Role: r.role})
				}
			}
		}
	}
	return out, nil
}
