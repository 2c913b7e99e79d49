package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/threadline/threadline/bridge"
	tlslack "github.com/threadline/threadline/chatops/slack"
)

// digestLoop keeps the inbox channel's backlog digest: one replica at a time
// (a lease in the store), its message remembered in a cursor so a restart
// updates the same message instead of posting another.
func (a *App) digestLoop(ctx context.Context) error {
	var b [8]byte
	_, _ = rand.Read(b[:])
	owner := hex.EncodeToString(b[:])
	every := a.cfg.Slack.DigestInterval
	cursor := "slack:backlog-digest:" + a.cfg.Slack.Channel
	clock := a.clock
	return tlslack.RunDigest(ctx, tlslack.DigestOptions{
		Surface: a.slack, Threshold: a.cfg.Slack.BacklogDigest, Every: every, Clock: clock, Logger: a.log,
		Backlog: func(ctx context.Context) (int, time.Time, error) {
			backlog, err := a.bridge.Backlog(ctx)
			for _, b := range backlog {
				if b.Target == bridge.ChatTarget(bridge.SurfaceSlack) {
					return b.Conversations, b.Oldest, err
				}
			}
			return 0, time.Time{}, err
		},
		Leader: func(ctx context.Context) (bool, error) {
			var lead bool
			err := a.store.InTx(ctx, func(ctx context.Context, tx bridge.Tx) error {
				now := clock.Now()
				var err error
				lead, err = tx.ClaimLease(ctx, "slack-backlog-digest", owner, now, now.Add(3*every))
				return err
			})
			return lead, err
		},
		Load: func(ctx context.Context) (tlslack.DigestState, error) {
			var st tlslack.DigestState
			err := a.store.InTx(ctx, func(ctx context.Context, tx bridge.Tx) error {
				v, err := tx.GetCursor(ctx, cursor)
				if errors.Is(err, bridge.ErrNotFound) || (err == nil && v == "") {
					return nil
				}
				if err != nil {
					return err
				}
				return json.Unmarshal([]byte(v), &st)
			})
			return st, err
		},
		Save: func(ctx context.Context, st tlslack.DigestState) error {
			v, err := json.Marshal(st)
			if err != nil {
				return err
			}
			return a.store.InTx(ctx, func(ctx context.Context, tx bridge.Tx) error { return tx.SetCursor(ctx, cursor, string(v)) })
		},
	})
}
