package metatest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Mention is someone else's comment or caption that @mentions an
// Instagram account.
type Mention struct {
	// Username owns the media (for a caption mention, the one who
	// mentioned); a mentioning comment's author is not told.
	Username string
	Text     string
	// Caption makes it a mention in the media's caption, not a comment.
	Caption bool
	// MediaID defaults to a new id; Permalink to one built from it.
	MediaID   string
	Permalink string
	// Gone makes the lookups fail as for a deleted comment or media.
	Gone bool
}

type mention struct {
	Mention
	commentID string
	at        time.Time
}

// CustomerMentions delivers a "mentions" change (only ids, as Meta sends)
// and answers the lookups of mentioned_comment and mentioned_media with
// the documented shapes. It returns the media id and, for a comment, the
// comment id.
func (s *Server) CustomerMentions(ctx context.Context, accountID string, m Mention) (media, comment string, err error) {
	s.mu.Lock()
	page, ok := s.pages[accountID]
	if !ok || !page.Instagram {
		s.mu.Unlock()
		return "", "", fmt.Errorf("metatest: %s is not an Instagram account", accountID)
	}
	now := s.opts.Now()
	s.nextMID++
	if m.MediaID == "" {
		m.MediaID = "1791" + strconv.FormatInt(1e10+s.nextMID, 10)
	}
	if m.Permalink == "" {
		m.Permalink = "https://www.instagram.com/p/" + m.MediaID + "/"
	}
	value := map[string]any{"media_id": m.MediaID}
	me := &mention{Mention: m, at: now}
	if !m.Caption {
		me.commentID = "1789" + strconv.FormatInt(1e10+s.nextMID, 10)
		value["comment_id"] = me.commentID
	}
	if s.mentions == nil {
		s.mentions = map[string]*mention{}
	}
	s.mentions[m.MediaID+"/"+me.commentID] = me
	s.mu.Unlock()
	body, _ := json.Marshal(map[string]any{"object": "instagram", "entry": []map[string]any{{
		"id": accountID, "time": now.Unix(), "changes": []map[string]any{{"field": "mentions", "value": value}},
	}}})
	return m.MediaID, me.commentID, s.deliver(ctx, body)
}

// mentionField reads fields=mentioned_comment.comment_id(ID){...} or
// mentioned_media.media_id(ID){...}.
var mentionField = regexp.MustCompile(`^mentioned_(comment|media)\.(comment_id|media_id)\(([0-9]+)\)(\{.*\})?$`)

// lookupMention answers GET /{ig-user-id}?fields=mentioned_...; false when
// the request is not one.
func (s *Server) lookupMention(w http.ResponseWriter, r *http.Request, page Page, id string) bool {
	sub := mentionField.FindStringSubmatch(r.URL.Query().Get("fields"))
	if sub == nil {
		return false
	}
	s.mu.Lock()
	s.calls["mention_lookup"]++
	f, faulty := s.takeFault("mention_lookup")
	var found *mention
	for _, m := range s.mentions {
		if (sub[1] == "comment" && m.commentID == sub[3]) || (sub[1] == "media" && m.Caption && m.MediaID == sub[3]) {
			found = m
		}
	}
	s.mu.Unlock()
	switch {
	case faulty:
		failWith(w, f)
	case id != page.ID || !page.Instagram:
		fail(w, http.StatusBadRequest, 100, 0, "(#100) Tried accessing nonexisting field (mentioned_"+sub[1]+")")
	case found == nil || found.Gone:
		fail(w, http.StatusBadRequest, 100, 33, "Unsupported get request. Object with ID '"+sub[3]+"' does not exist")
	case sub[1] == "comment":
		c := map[string]any{"id": found.commentID, "text": found.Text, "timestamp": found.at.UTC().Format("2006-01-02T15:04:05-0700"), "like_count": 0}
		if strings.Contains(sub[4], "media") {
			c["media"] = map[string]string{"id": found.MediaID, "permalink": found.Permalink, "username": found.Username}
		}
		writeJSON(w, http.StatusOK, map[string]any{"mentioned_comment": c, "id": page.ID})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"mentioned_media": map[string]any{
			"id": found.MediaID, "caption": found.Text, "permalink": found.Permalink, "username": found.Username,
			"timestamp": found.at.UTC().Format("2006-01-02T15:04:05-0700"), "media_type": "IMAGE",
		}, "id": page.ID})
	}
	return true
}
