package bridge_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/internal/testclock"
)

// surveyPlatform is a fake platform that can send surveys.
type surveyPlatform struct {
	*fakePlatform
	surveys []bridge.OutboundSurvey
}

func (p *surveyPlatform) SendSurvey(_ context.Context, s bridge.OutboundSurvey) (bridge.SendResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.surveys = append(p.surveys, s)
	return bridge.SendResult{PlatformMessageID: fmt.Sprint("survey-", len(p.surveys))}, nil
}

func answer(h *harness, chat, update, data string) bridge.IngestResult {
	ev := h.customer(chat, "cb-"+update, "")
	ev.Kind, ev.DeliveryID = bridge.EventSurveyAnswer, "update:"+update
	ev.Survey = &bridge.SurveyAnswer{Data: data, AckToken: update}
	return h.ingest(ev)
}

func TestCSATSurveyAnswerAndReport(t *testing.T) {
	onBothStores(t, func(t *testing.T, s bridge.Store) {
		ctx := context.Background()
		clock := testclock.New(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
		b := bridge.New(s, bridge.Options{Clock: clock, Surfaces: []bridge.Surface{bridge.SurfaceSlack}, CSAT: &bridge.CSATOptions{}})
		platform := &surveyPlatform{fakePlatform: &fakePlatform{}}
		surface := &fakeSurface{}
		b.AddPlatform(platform)
		b.AddSurface(surface)
		h := &harness{t: t, ctx: ctx, b: b, clock: clock, surface: surface}
		res := h.ingest(h.customer("c1", "1", "help"))
		ref := bridge.ConversationRef{ID: res.ConversationID}
		if _, err := b.Resolve(ctx, bridge.DeliveryKey{}, ann, ref); err != nil {
			t.Fatal(err)
		}
		h.drain(res.ConversationID)
		if len(platform.surveys) != 1 || platform.surveys[0].Text != bridge.DefaultCSATQuestion || len(platform.surveys[0].Options) != 5 {
			t.Fatalf("surveys: %+v", platform.surveys)
		}
		data := platform.surveys[0].Options[1].Data // 2 stars
		if r := answer(h, "c1", "u1", data); r.Ignored || r.Duplicate {
			t.Fatalf("answer: %+v", r)
		}
		if r := answer(h, "c1", "u1", data); !r.Duplicate {
			t.Fatalf("redelivered answer: %+v", r)
		}
		// Another chat cannot rate this conversation; junk is refused.
		if r := answer(h, "c2", "u2", data); !r.Ignored {
			t.Fatalf("answer from another chat: %+v", r)
		}
		if r := answer(h, "c1", "u3", "csat:999999:5"); !r.Ignored {
			t.Fatalf("unknown conversation: %+v", r)
		}
		h.drain(res.ConversationID)
		var notices []string
		for _, e := range surface.entries() {
			if strings.HasPrefix(e, "notice Customer satisfaction") {
				notices = append(notices, e)
			}
		}
		if len(notices) != 1 || !strings.Contains(notices[0], "2/5") {
			t.Fatalf("notices: %v", surface.entries())
		}
		var conv bridge.Conversation
		if err := s.InTx(ctx, func(ctx context.Context, tx bridge.Tx) error {
			var err error
			conv, err = tx.GetConversation(ctx, res.ConversationID)
			return err
		}); err != nil || conv.Status != bridge.StatusResolved {
			t.Fatalf("a rating changed the conversation: %+v %v", conv, err)
		}
		clock.Advance(time.Hour)
		rep, err := b.Report(ctx, bridge.ReportQuery{From: clock.Now().Add(-24 * time.Hour), To: clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if avg, sat, ok := rep.Total.CSAT(); !ok || avg != 2 || sat != 0 || rep.Total.CSATAnswers != 1 {
			t.Fatalf("report CSAT: %+v", rep.Total)
		}
	})
}
