package bridge

import (
	"context"
	"time"
	"unicode/utf8"
)

// coalesceTx takes the customer messages waiting right behind d in its lane
// into the same chat message, when the surface can show several in one and
// the conversation's thread exists (the thread's parent is the card, which
// shows the first message alone). It marks them sending with d, in d's
// transaction, and returns them. Under normal load a lane holds one item
// and nothing is coalesced; in a flood into a paced channel the backlog of
// a conversation goes out in one post instead of one per message. behind
// is the lane after d, read with it (laneLookahead).
func (b *Bridge) coalesceTx(ctx context.Context, tx Tx, d Delivery, behind []Delivery, l *loaded, now time.Time) ([]Delivery, error) {
	surface, ok := d.Target.Surface()
	if !ok || d.Kind != KindMessage || l.chat == nil || !coalescable(l.msg) {
		return nil, nil
	}
	c, ok := b.surfaces[surface].(Coalescer)
	if !ok {
		return nil, nil
	}
	_, maxChars := c.CoalesceLimit()
	chars := utf8.RuneCountInString(l.msg.Text)
	var extra []Delivery
	for _, e := range behind {
		// Only fresh items ride along: one left "sending" by a dead
		// worker must first be looked for on the surface on its own.
		if e.Kind != KindMessage || e.Status != DeliveryPending || e.NextAttemptAt.After(now) || e.MessageID == 0 {
			break
		}
		m, err := tx.GetMessage(ctx, e.MessageID)
		if err != nil {
			return nil, err
		}
		if !coalescable(m) || m.SenderIdentityID != l.msg.SenderIdentityID {
			break
		}
		if chars += utf8.RuneCountInString(m.Text); chars > maxChars {
			break
		}
		e.Status = DeliverySending
		e.Attempts++
		if err := tx.UpdateDelivery(ctx, e); err != nil {
			return nil, err
		}
		extra = append(extra, e)
		l.more = append(l.more, m)
	}
	return extra, nil
}

// laneLookahead is how many items of a lane a delivery reads: the head,
// and on a surface that coalesces, those that may ride along with it.
func (b *Bridge) laneLookahead(target Target) int {
	surface, ok := target.Surface()
	if !ok || target.IsCard() {
		return 1
	}
	if c, ok := b.surfaces[surface].(Coalescer); ok {
		if n, _ := c.CoalesceLimit(); n > 1 {
			return n
		}
	}
	return 1
}

// coalescable: customer text without files (files are uploaded per message).
func coalescable(m Message) bool {
	return m.ID != 0 && m.Direction == Inbound && len(m.Attachments) == 0
}

// coalescedView is the view an edit re-renders: when the edited message
// shares its chat message with others, all of them, so the update keeps
// the others' text.
func (b *Bridge) coalescedView(ctx context.Context, s ChatSurface, t ChatThread, ref string, view MessageView) (MessageView, error) {
	if _, ok := s.(Coalescer); !ok {
		return view, nil
	}
	var msgs []Message
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		msgs, err = tx.ListMessagesByChatRef(ctx, s.Surface(), t.Channel, ref)
		return err
	})
	if err != nil || len(msgs) < 2 {
		return view, err
	}
	view.Message, view.More = msgs[0], msgs[1:]
	return view, nil
}
