package logctx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/internal/logctx"
)

func TestContextIDsReachTheRecord(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(logctx.Wrap(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	ctx := bridge.WithWork(bridge.WithRequestID(context.Background(), "req-7"), bridge.Work{ConversationID: 42, Number: 1042})
	for _, tc := range []struct {
		name string
		log  func()
		want map[string]any
	}{
		{"from context", func() { log.WarnContext(ctx, "delivery attempt failed") },
			map[string]any{"request_id": "req-7", "conversation_id": float64(42), "conversation": "#1042", "component": "test"}},
		{"explicit field wins", func() { log.InfoContext(ctx, "x", "conversation_id", 7) },
			map[string]any{"request_id": "req-7", "conversation_id": float64(7)}},
		{"no context, nothing added", func() { log.Info("y") }, map[string]any{"request_id": nil, "conversation_id": nil}},
	} {
		buf.Reset()
		tc.log()
		var rec map[string]any
		if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
			t.Fatalf("%s: %v: %s", tc.name, err, buf.String())
		}
		for k, v := range tc.want {
			if rec[k] != v {
				t.Errorf("%s: %s = %v, want %v (record %s)", tc.name, k, rec[k], v, buf.String())
			}
		}
	}
}
