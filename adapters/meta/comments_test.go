package meta_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/threadline/threadline/adapters/meta"
	"github.com/threadline/threadline/adapters/meta/metatest"
	"github.com/threadline/threadline/bridge"
)

func TestCommentFixtures(t *testing.T) {
	a := newAdapter(t, "", nil)
	t.Run("facebook feed comment", func(t *testing.T) {
		ev := one(t, a.Parse(mustDecode(t, fixture(t, "facebook_feed_comment.json")))).Inbound
		want := bridge.InboundEvent{Kind: bridge.EventMessage, Platform: bridge.PlatformFacebook,
			Account: bridge.UpsertAccountParams{ExternalID: pageID}, Thread: "comment:998877665544332_1122334455667788", Source: bridge.SourceComment,
			Sender:            bridge.UpsertIdentityParams{ExternalUserID: "24242424242424242", Name: "Jane Customer"},
			PlatformMessageID: "998877665544332_1122334455667788",
			Text:              "[comment on https://www.facebook.com/112233445566778/posts/pfbid0abc]\nStill waiting on my refund...",
			Timestamp:         time.Unix(1732380500, 0).UTC()}
		if !equalEvent(*ev, want) {
			t.Errorf("got  %+v\nwant %+v", *ev, want)
		}
	})
	t.Run("instagram comment", func(t *testing.T) {
		ev := one(t, a.Parse(mustDecode(t, fixture(t, "instagram_comment.json")))).Inbound
		if ev.Platform != bridge.PlatformInstagram || ev.Thread != "comment:17860000000000001" || ev.Source != bridge.SourceComment ||
			ev.Sender.Handle != "happy_customer" || ev.Text != "[comment on your post 17900000000000001]\n@brand my package is late, help!" {
			t.Errorf("event %+v", ev)
		}
	})
}

func TestParseCommentKinds(t *testing.T) {
	a := newAdapter(t, "", nil)
	feed := func(value string) string {
		return `{"object":"page","entry":[{"id":"` + pageID + `","time":1,"changes":[{"field":"feed","value":` + value + `}]}]}`
	}
	ig := func(field, value string) string {
		return `{"object":"instagram","entry":[{"id":"` + igID + `","time":1,"changes":[{"field":"` + field + `","value":` + value + `}]}]}`
	}
	const post = pageID + `_998877665544332`
	tests := []struct {
		name, body string
		check      func(t *testing.T, p meta.Parsed)
	}{
		{"reply under a comment", feed(`{"from":{"id":"u5","name":"Ann"},"message":"me too","post_id":"` + post + `","comment_id":"c2","parent_id":"c1","created_time":1,"item":"comment","verb":"add"}`),
			func(t *testing.T, p meta.Parsed) {
				if ev := one(t, p).Inbound; ev.Thread != "comment:c1" || ev.Text != "me too" || ev.PlatformMessageID != "c2" {
					t.Errorf("event %+v", ev)
				}
			}},
		{"edited", feed(`{"from":{"id":"u5"},"message":"edited text","post_id":"` + post + `","comment_id":"c1","parent_id":"` + post + `","item":"comment","verb":"edited"}`),
			func(t *testing.T, p meta.Parsed) {
				if ev := one(t, p).Inbound; ev.Kind != bridge.EventEdit || ev.PlatformMessageID != "c1" {
					t.Errorf("event %+v", ev)
				}
			}},
		{"removed, the page's own, a post, a reaction", `{"object":"page","entry":[{"id":"` + pageID + `","time":1,"changes":[
			{"field":"feed","value":{"from":{"id":"u5"},"post_id":"p","comment_id":"c1","item":"comment","verb":"remove"}},
			{"field":"feed","value":{"from":{"id":"` + pageID + `"},"message":"thanks!","post_id":"p","comment_id":"c3","parent_id":"c1","item":"comment","verb":"add"}},
			{"field":"feed","value":{"from":{"id":"` + pageID + `"},"message":"new post","post_id":"p","item":"status","verb":"add"}},
			{"field":"feed","value":{"from":{"id":"u5"},"post_id":"p","item":"reaction","reaction_type":"like","verb":"add"}}]}]}`,
			func(t *testing.T, p meta.Parsed) {
				if len(p.Events) != 0 || p.Ignored != 4 {
					t.Errorf("parsed %+v", p)
				}
			}},
		{"instagram reply", ig("comments", `{"from":{"id":"u7","username":"zed"},"media":{"id":"m1","media_product_type":"REELS"},"id":"c9","parent_id":"c8","text":"+1"}`),
			func(t *testing.T, p meta.Parsed) {
				if ev := one(t, p).Inbound; ev.Thread != "comment:c8" || ev.Text != "+1" {
					t.Errorf("event %+v", ev)
				}
			}},
		{"instagram comment on a reel", ig("comments", `{"from":{"id":"u7","username":"zed"},"media":{"id":"m1","media_product_type":"REELS"},"id":"c10","text":"wow"}`),
			func(t *testing.T, p meta.Parsed) {
				if ev := one(t, p).Inbound; ev.Text != "[comment on your reel m1]\nwow" {
					t.Errorf("event %+v", ev)
				}
			}},
		{"instagram mention", ig("mentions", `{"media_id":"17887498072083520","comment_id":"17894227972186120"}`),
			func(t *testing.T, p meta.Parsed) {
				ev := one(t, p).Inbound
				if ev.Source != bridge.SourceMention || ev.Thread != "mention:17887498072083520:17894227972186120" || !strings.Contains(ev.Text, "mentioned you") {
					t.Errorf("event %+v", ev)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, a.Parse(mustDecode(t, []byte(tc.body))))
		})
	}
}

// commentRig: an adapter on the emulator with a Facebook Page and an
// Instagram account, subscribed to the webhook.
func commentRig(t *testing.T) (*metatest.Server, *meta.Adapter, *recorder, *clock) {
	t.Helper()
	c := &clock{now: time.Now()}
	emu := metatest.New(metatest.Options{Now: c.Now, Pages: []metatest.Page{{ID: pageID, Token: token, Name: "Acme"}, {ID: igID, Token: igToken, Name: "acme.shop", Instagram: true}}})
	t.Cleanup(emu.Close)
	a := newAdapter(t, emu.URL(), func(o *meta.Options) { o.Clock = c })
	rec := &recorder{}
	srv := httptest.NewServer(a.WebhookHandler(rec, nil))
	t.Cleanup(srv.Close)
	if err := emu.Subscribe(t.Context(), srv.URL, verify); err != nil {
		t.Fatal(err)
	}
	return emu, a, rec, c
}

// TestCommentReplies: a public reply lands under the customer's top-level
// comment; "dm:" sends the one private reply Meta allows, within 7 days.
func TestCommentReplies(t *testing.T) {
	for _, platform := range []bridge.Platform{bridge.PlatformFacebook, bridge.PlatformInstagram} {
		t.Run(string(platform), func(t *testing.T) {
			emu, a, rec, c := commentRig(t)
			account := pageID
			if platform == bridge.PlatformInstagram {
				account = igID
			}
			jane := metatest.Customer{ID: "cust-1", Name: "Jane", Username: "jane"}
			top, err := emu.CustomerComments(t.Context(), account, jane, metatest.NewComment{Text: "refund?", Permalink: "https://www.facebook.com/acme/posts/1"})
			if err != nil {
				t.Fatal(err)
			}
			reply, err := emu.CustomerComments(t.Context(), account, jane, metatest.NewComment{Text: "hello??", ParentID: top})
			if err != nil {
				t.Fatal(err)
			}
			rec.mu.Lock()
			inbound := append([]bridge.InboundEvent(nil), rec.inbound...)
			rec.mu.Unlock()
			if len(inbound) != 2 || inbound[0].Thread != "comment:"+top || inbound[1].Thread != "comment:"+top || inbound[1].PlatformMessageID != reply {
				t.Fatalf("inbound %+v", inbound)
			}
			s := a.For(platform)
			m := bridge.OutboundMessage{Account: bridge.Account{ExternalID: account}, ThreadExternalID: "comment:" + top, MessageID: 5,
				Text: "Refund sent today.", LastInboundAt: c.Now()}
			res, err := s.Send(t.Context(), m)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := emu.Comment(res.PlatformMessageID)
			if !ok || got.ParentID != top || got.Text != "Refund sent today." || !got.FromPage {
				t.Errorf("public reply %+v %v", got, ok)
			}
			m.Text = "DM: Could you send your order number?"
			res, err = s.Send(t.Context(), m)
			if err != nil {
				t.Fatal(err)
			}
			sent := emu.Sent(jane.ID)
			last := sent[len(sent)-1]
			if last.Kind != "private_reply" || last.CommentID != top || last.Text != "Could you send your order number?" || last.MID != res.PlatformMessageID {
				t.Errorf("private reply %+v", last)
			}
			// Meta allows one private reply per comment.
			if _, err := s.Send(t.Context(), m); !bridge.IsPermanent(err) {
				t.Errorf("second private reply: %v, want permanent", err)
			}
			// And only within 7 days: refused before calling.
			calls := emu.Calls("messages")
			c.set(c.Now().Add(8 * 24 * time.Hour))
			if _, err := s.Send(t.Context(), m); !bridge.IsPermanent(err) || !strings.Contains(err.Error(), "7 days") || emu.Calls("messages") != calls {
				t.Errorf("late private reply: %v", err)
			}
			// Public replies have no window.
			m.Text = "Still here if you need us."
			if _, err := s.Send(t.Context(), m); err != nil {
				t.Errorf("late public reply: %v", err)
			}
		})
	}
}

func TestMentionReply(t *testing.T) {
	emu, a, _, _ := commentRig(t)
	res, err := a.For(bridge.PlatformInstagram).Send(t.Context(), bridge.OutboundMessage{Account: bridge.Account{ExternalID: igID},
		ThreadExternalID: "mention:17887498072083520:17894227972186120", Text: "Thanks for the shout-out!", LastInboundAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	sent := emu.Sent("media:17887498072083520")
	if len(sent) != 1 || sent[0].Kind != "mention_reply" || sent[0].CommentID != "17894227972186120" || sent[0].MID != res.PlatformMessageID {
		t.Errorf("sent %+v", sent)
	}
}

func TestModerate(t *testing.T) {
	for _, platform := range []bridge.Platform{bridge.PlatformFacebook, bridge.PlatformInstagram} {
		t.Run(string(platform), func(t *testing.T) {
			emu, a, _, _ := commentRig(t)
			account := pageID
			if platform == bridge.PlatformInstagram {
				account = igID
			}
			id, err := emu.CustomerComments(t.Context(), account, metatest.Customer{ID: "troll", Name: "T"}, metatest.NewComment{Text: "spam spam"})
			if err != nil {
				t.Fatal(err)
			}
			s := a.For(platform)
			req := bridge.ModerationRequest{Account: bridge.Account{ExternalID: account}, ThreadExternalID: "comment:" + id}
			for _, step := range []struct {
				action          bridge.ModerationAction
				hidden, deleted bool
			}{
				{bridge.ModerateHide, true, false},
				{bridge.ModerateUnhide, false, false},
				{bridge.ModerateDelete, false, true},
			} {
				req.Action = step.action
				if err := s.Moderate(t.Context(), req); err != nil {
					t.Fatalf("%s: %v", step.action, err)
				}
				c, _ := emu.Comment(id)
				if c.Hidden != step.hidden || c.Deleted != step.deleted {
					t.Errorf("after %s: %+v", step.action, c)
				}
			}
			req.Action = bridge.ModerateHide
			if err := s.Moderate(t.Context(), req); !bridge.IsPermanent(err) {
				t.Errorf("hiding a deleted comment: %v, want permanent", err)
			}
			req.ThreadExternalID = "c1"
			if err := s.Moderate(t.Context(), req); !bridge.IsPermanent(err) {
				t.Errorf("a DM thread: %v, want permanent", err)
			}
		})
	}
}
