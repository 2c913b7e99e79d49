package slacktest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// socketHub is the Socket Mode side of the emulator: apps.connections.open
// hands out a WebSocket URL; Slack sends envelopes down it and waits for
// each envelope_id to be acknowledged.
type socketHub struct {
	mu      sync.Mutex
	conns   []*websocket.Conn
	acks    map[string]chan json.RawMessage
	next    int
	changed chan struct{}
}

func newSocketHub() *socketHub {
	return &socketHub{acks: map[string]chan json.RawMessage{}, changed: make(chan struct{})}
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (s *Server) socket(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	h := s.sockets
	hello, _ := json.Marshal(map[string]any{"type": "hello", "num_connections": 1,
		"connection_info": map[string]any{"app_id": "A0THREADLINE"}, "debug_info": map[string]any{"host": "slacktest"}})
	if err := conn.WriteMessage(websocket.TextMessage, hello); err != nil {
		conn.Close()
		return
	}
	h.mu.Lock()
	h.conns = append(h.conns, conn)
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
	// Slack pings every few seconds; clients reconnect when pings stop.
	stopPing := make(chan struct{})
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopPing:
				return
			case <-t.C:
				h.mu.Lock()
				err := conn.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second))
				h.mu.Unlock()
				if err != nil {
					return
				}
			}
		}
	}()
	go func() {
		defer close(stopPing)
		defer h.drop(conn)
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var ack struct {
				EnvelopeID string          `json:"envelope_id"`
				Payload    json.RawMessage `json:"payload"`
			}
			if json.Unmarshal(msg, &ack) != nil || ack.EnvelopeID == "" {
				continue
			}
			h.mu.Lock()
			ch, ok := h.acks[ack.EnvelopeID]
			delete(h.acks, ack.EnvelopeID)
			h.mu.Unlock()
			if ok {
				ch <- ack.Payload
			}
		}
	}()
}

func (h *socketHub) drop(conn *websocket.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, c := range h.conns {
		if c == conn {
			h.conns = append(h.conns[:i], h.conns[i+1:]...)
			break
		}
	}
	conn.Close()
}

func (h *socketHub) closeAll() {
	h.mu.Lock()
	conns := append([]*websocket.Conn(nil), h.conns...)
	h.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// ErrNotAcked says the app did not acknowledge an envelope in time; real
// Slack would deliver it again with retry_attempt set.
var ErrNotAcked = errors.New("slacktest: envelope not acknowledged")

// WaitSocket blocks until an app has connected over Socket Mode.
func (s *Server) WaitSocket(ctx context.Context) error {
	for {
		s.sockets.mu.Lock()
		n, ch := len(s.sockets.conns), s.sockets.changed
		s.sockets.mu.Unlock()
		if n > 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// SendSocket sends one envelope (type events_api, interactive or
// slash_commands) to the connected app and waits up to timeout for its
// acknowledgement, returning the ack's payload.
func (s *Server) SendSocket(ctx context.Context, typ string, payload json.RawMessage, retryAttempt int, timeout time.Duration) (json.RawMessage, error) {
	h := s.sockets
	h.mu.Lock()
	if len(h.conns) == 0 {
		h.mu.Unlock()
		return nil, errors.New("slacktest: no Socket Mode connection")
	}
	conn := h.conns[len(h.conns)-1]
	h.next++
	id := fmt.Sprintf("env-%d-%d", h.next, time.Now().UnixNano())
	ch := make(chan json.RawMessage, 1)
	h.acks[id] = ch
	h.mu.Unlock()
	env := map[string]any{"envelope_id": id, "type": typ, "payload": payload,
		"accepts_response_payload": typ != "events_api", "retry_attempt": retryAttempt}
	if retryAttempt > 0 {
		env["retry_reason"] = "timeout"
	}
	b, _ := json.Marshal(env)
	h.mu.Lock()
	err := conn.WriteMessage(websocket.TextMessage, b)
	h.mu.Unlock()
	if err != nil {
		return nil, err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case p := <-ch:
		return p, nil
	case <-t.C:
		h.mu.Lock()
		delete(h.acks, id)
		h.mu.Unlock()
		return nil, ErrNotAcked
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// DeliverSocketEvent sends an Events API envelope over Socket Mode and, like
// Slack, redelivers it with retry_attempt while it is not acknowledged.
func (s *Server) DeliverSocketEvent(ctx context.Context, envelope []byte) error {
	var err error
	for attempt := 0; attempt <= 3; attempt++ {
		if _, err = s.SendSocket(ctx, "events_api", envelope, attempt, time.Second); err == nil {
			return nil
		}
	}
	return err
}

// DropSockets closes every Socket Mode connection, as Slack does when it
// rotates a connection or a network path fails.
func (s *Server) DropSockets() {
	s.sockets.closeAll()
	for {
		s.sockets.mu.Lock()
		n := len(s.sockets.conns)
		s.sockets.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(time.Millisecond) // the reader goroutines unregister the closed connections
	}
}
