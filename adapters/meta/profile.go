package meta

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/threadline/threadline/bridge"
)

// Profile is what the Graph API tells about a customer.
type Profile struct {
	Name       string `json:"name"`
	FirstName  string `json:"first_name"`
	LastName   string `json:"last_name"`
	Username   string `json:"username"` // Instagram
	ProfilePic string `json:"profile_pic"`
}

type cachedProfile struct {
	p       Profile
	ok      bool
	expires time.Time
}

// maxProfiles bounds the cache; a full cache drops expired entries, then
// everything (lookups are cheap, memory is not unbounded).
const maxProfiles = 50_000

// failedProfileTTL keeps a failed lookup from being retried on every
// message of a busy customer.
const failedProfileTTL = 10 * time.Minute

// Profile looks up a customer's name and picture, cached per account.
func (a *Adapter) Profile(ctx context.Context, platform bridge.Platform, accountID, userID string) (Profile, bool) {
	acc, ok := a.account(accountID)
	if !ok || userID == "" {
		return Profile{}, false
	}
	key := accountID + "/" + userID
	now := a.opts.Clock.Now()
	a.mu.Lock()
	c, hit := a.profiles[key]
	a.mu.Unlock()
	if hit && now.Before(c.expires) {
		return c.p, c.ok
	}
	fields := "name,first_name,last_name,profile_pic"
	if platform == bridge.PlatformInstagram {
		fields = "name,username,profile_pic"
	}
	cctx, cancel := context.WithTimeout(ctx, profileTimeout)
	defer cancel()
	var p Profile
	err := a.call(cctx, acc, "GET", "/"+url.PathEscape(userID)+"?fields="+fields, nil, &p)
	if err != nil && ctx.Err() != nil {
		// The webhook's budget for lookups ran out, not Meta: look again
		// with the customer's next message.
		return Profile{}, false
	}
	c = cachedProfile{p: p, ok: err == nil, expires: now.Add(a.opts.ProfileTTL)}
	if err != nil {
		// The message is stored without a name rather than not at all.
		a.log.Info("meta: profile lookup failed", "account", accountID, "err", err)
		c.expires = now.Add(failedProfileTTL)
	}
	a.mu.Lock()
	if len(a.profiles) >= maxProfiles {
		for k, v := range a.profiles {
			if !now.Before(v.expires) {
				delete(a.profiles, k)
			}
		}
		if len(a.profiles) >= maxProfiles {
			a.profiles = map[string]cachedProfile{}
		}
	}
	a.profiles[key] = c
	a.mu.Unlock()
	return c.p, c.ok
}

// enrich fills in the sender's name, handle and picture.
func (a *Adapter) enrich(ctx context.Context, ev *bridge.InboundEvent) {
	p, ok := a.Profile(ctx, ev.Platform, ev.Account.ExternalID, ev.Sender.ExternalUserID)
	if !ok {
		return
	}
	name := p.Name
	if name == "" {
		name = strings.TrimSpace(p.FirstName + " " + p.LastName)
	}
	ev.Sender.Name, ev.Sender.Handle, ev.Sender.AvatarURL = name, p.Username, p.ProfilePic
}
