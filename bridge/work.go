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

type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of the request that caused the
// work (an HTTP request id), so logs and the jobs it enqueues name it.
func WithRequestID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id ctx carries, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
