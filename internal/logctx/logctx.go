// Package logctx adds what a context knows to every log record made with
// it: the id of the request that caused the work and the conversation being
// worked. So one customer message can be followed from its webhook through
// the job that shows it to the Slack call, with `grep request_id=...` or
// `grep conversation_id=...`, without every call site passing them.
package logctx

import (
	"context"
	"log/slog"

	"github.com/threadline/threadline/bridge"
)

type handler struct{ inner slog.Handler }

// Wrap returns a handler that adds request_id and conversation_id (and the
// conversation's number) from the context to records that lack them.
func Wrap(h slog.Handler) slog.Handler {
	if _, ok := h.(handler); ok {
		return h
	}
	return handler{h}
}

func (h handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	id := bridge.RequestIDFrom(ctx)
	w, hasWork := bridge.WorkFrom(ctx)
	if id == "" && (!hasWork || w.ConversationID == 0) {
		return h.inner.Handle(ctx, r)
	}
	have := map[string]bool{}
	r.Attrs(func(a slog.Attr) bool {
		have[a.Key] = true
		return true
	})
	if id != "" && !have["request_id"] {
		r.AddAttrs(slog.String("request_id", id))
	}
	if hasWork && w.ConversationID != 0 && !have["conversation_id"] {
		r.AddAttrs(slog.Int64("conversation_id", int64(w.ConversationID)))
		if w.Number != 0 && !have["conversation"] {
			r.AddAttrs(slog.String("conversation", w.Number.String()))
		}
	}
	return h.inner.Handle(ctx, r)
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler { return handler{h.inner.WithAttrs(attrs)} }
func (h handler) WithGroup(name string) slog.Handler       { return handler{h.inner.WithGroup(name)} }
