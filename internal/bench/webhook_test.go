package bench

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadline/threadline/adapters/telegram"
)

func TestTelegramPosterRedeliversLikeTelegram(t *testing.T) {
	tests := []struct {
		name       string
		answers    []int // then 200
		until      time.Duration
		wantErr    error
		wantResent int64
		wantAnyErr bool
	}{
		{name: "acknowledged at once", wantResent: 0},
		{name: "busy store then ack", answers: []int{503, 500}, wantResent: 2},
		{name: "429 is a pause, not a refusal", answers: []int{429}, wantResent: 1},
		{name: "a refusal ends the run", answers: []int{401}, wantErr: errRefused},
		{name: "never acknowledged within the bound", answers: []int{500, 500, 500, 500, 500, 500, 500, 500}, until: 60 * time.Millisecond, wantAnyErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get(telegram.SecretHeader) != tgSecret {
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				i := int(n.Add(1)) - 1
				if i < len(tt.answers) {
					w.WriteHeader(tt.answers[i])
					return
				}
			}))
			defer srv.Close()
			p := newTelegramPoster(srv.URL, srv.Client())
			p.pause = time.Millisecond
			if tt.until > 0 {
				p.pause = 20 * time.Millisecond
				p.until = time.Now().Add(tt.until)
			}
			_, err := p.post(context.Background(), []byte(`{"update_id":1}`))
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			case tt.wantAnyErr:
				if err == nil {
					t.Fatal("posted although never acknowledged")
				}
			case err != nil:
				t.Fatalf("post: %v", err)
			default:
				if got := p.redelivered.Load(); got != tt.wantResent {
					t.Fatalf("resent %d, want %d", got, tt.wantResent)
				}
			}
		})
	}
}
