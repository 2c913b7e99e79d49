package bridge

import "context"

// Work says on whose behalf an outside call is made. The bridge puts it in
// the context of every delivery, so a surface that paces its calls can
// order them (urgent conversations first) and logs can name the
// conversation.
type Work struct {
	ConversationID ConversationID
	Number         ConversationNumber
	Priority       Priority
}

type workKey struct{}

// WithWork returns ctx carrying w.
func WithWork(ctx context.Context, w Work) context.Context {
	return context.WithValue(ctx, workKey{}, w)
}

// WorkFrom returns the work ctx carries, if any.
func WorkFrom(ctx context.Context) (Work, bool) {
	w, ok := ctx.Value(workKey{}).(Work)
	return w, ok
}
