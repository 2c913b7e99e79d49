package bridge

import "context"

// CardOf renders the neutral card of a conversation as it stands, for a
// surface that answers an action with the updated card (a Teams
// Action.Execute).
func (b *Bridge) CardOf(ctx context.Context, ref ConversationRef) (Card, error) {
	var c Card
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		conv, err := ref.load(ctx, tx)
		if err != nil {
			return err
		}
		l, err := b.loadTx(ctx, tx, Delivery{ConversationID: conv.ID}, "")
		if err != nil {
			return err
		}
		c, err = b.card(ctx, tx, l)
		return err
	})
	return c, err
}
