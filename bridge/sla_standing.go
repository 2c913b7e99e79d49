package bridge

import (
	"context"
	"time"
)

// SLAStandings counts the conversations not yet resolved (open or pending)
// by where their SLA clocks stand, for the SLA state gauge:
//   - Breached: a clock not stopped is past its target (the checker recorded
//     the breach, or a running clock's due time has passed);
//   - Warning: not breached, and a clock not stopped is past its warning
//     share;
//   - OK: the rest, including conversations without clocks.
//
// A clock stopped late (an answer after the breach) no longer counts: the
// gauge says what needs attention now; the alerts counter keeps the history.
type SLAStandings struct {
	OK, Warning, Breached int
}

// SLAStandingTx is the part of Tx that counts SLA standings.
type SLAStandingTx interface {
	// CountSLAStandings reads the open and pending conversations' clocks as
	// of now. Its cost grows with unresolved conversations, not history.
	CountSLAStandings(ctx context.Context, now time.Time) (SLAStandings, error)
}

// SLAStandings counts the unresolved conversations by SLA standing now.
func (b *Bridge) SLAStandings(ctx context.Context) (SLAStandings, error) {
	var out SLAStandings
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		out, err = tx.CountSLAStandings(ctx, b.opts.Clock.Now())
		return err
	})
	return out, err
}
