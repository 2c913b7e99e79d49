package metatest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Comment is a comment on a page's post or an Instagram account's media.
type Comment struct {
	ID       string
	PageID   string
	AuthorID string
	PostID   string // Facebook post id or Instagram media id
	ParentID string // the top-level comment of a reply
	Text     string
	At       time.Time
	Hidden   bool
	Deleted  bool
	// PrivateReplied: the one private reply Meta allows was sent.
	PrivateReplied bool
	// FromPage marks a reply the page wrote.
	FromPage bool
}

// NewComment is what a customer comments.
type NewComment struct {
	Text string
	// PostID defaults to "<page>_998877665544332" (Facebook) or
	// "17900000000000001" (Instagram media).
	PostID string
	// ParentID makes it a reply under that comment.
	ParentID string
	// Permalink of the post (Facebook feed changes carry it).
	Permalink string
}

// CustomerComments delivers a customer's comment as Meta does (a "feed"
// change for a Page, a "comments" change for Instagram) and returns its id.
func (s *Server) CustomerComments(ctx context.Context, pageID string, c Customer, nc NewComment) (string, error) {
	s.mu.Lock()
	page, ok := s.pages[pageID]
	if !ok {
		s.mu.Unlock()
		return "", fmt.Errorf("metatest: unknown page %s", pageID)
	}
	s.customers[c.ID] = c
	now := s.opts.Now()
	s.nextMID++
	post := nc.PostID
	if post == "" {
		post = pageID + "_998877665544332"
		if page.Instagram {
			post = "17900000000000001"
		}
	}
	id := strconv.FormatInt(s.nextMID, 10)
	if !page.Instagram {
		id = "998877665544332_" + id
	}
	s.comments[id] = &Comment{ID: id, PageID: pageID, AuthorID: c.ID, PostID: post, ParentID: nc.ParentID, Text: nc.Text, At: now}
	s.mu.Unlock()
	var field string
	var value map[string]any
	if page.Instagram {
		field = "comments"
		value = map[string]any{"from": map[string]string{"id": c.ID, "username": c.Username},
			"media": map[string]string{"id": post, "media_product_type": "FEED"}, "id": id, "text": nc.Text}
		if nc.ParentID != "" {
			value["parent_id"] = nc.ParentID
		}
	} else {
		field = "feed"
		parent := nc.ParentID
		if parent == "" {
			parent = post
		}
		value = map[string]any{"from": map[string]string{"id": c.ID, "name": c.Name},
			"post":    map[string]any{"id": post, "permalink_url": nc.Permalink, "status_type": "added_photos", "is_published": true},
			"message": nc.Text, "post_id": post, "comment_id": id, "created_time": now.Unix(),
			"item": "comment", "parent_id": parent, "verb": "add"}
	}
	body, _ := json.Marshal(map[string]any{"object": object(page), "entry": []map[string]any{{
		"id": pageID, "time": now.Unix(), "changes": []map[string]any{{"field": field, "value": value}},
	}}})
	return id, s.deliver(ctx, body)
}

// Comment returns a comment's state.
func (s *Server) Comment(id string) (Comment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.comments[id]
	if !ok {
		return Comment{}, false
	}
	return *c, true
}

func readParams(r *http.Request) map[string]any {
	out := map[string]any{}
	for k, v := range r.URL.Query() {
		out[k] = v[0]
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var j map[string]any
	if json.Unmarshal(body, &j) == nil {
		for k, v := range j {
			out[k] = v
		}
	}
	return out
}

func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		b, _ := strconv.ParseBool(v)
		return b
	}
	return false
}

// replyToComment: POST /{comment-id}/comments (Facebook) or /replies
// (Instagram).
func (s *Server) replyToComment(w http.ResponseWriter, r *http.Request, page Page, id, edge string) {
	p := readParams(r)
	text, _ := p["message"].(string)
	s.mu.Lock()
	s.calls["comment_reply"]++
	f, faulty := s.takeFault("comment_reply")
	if faulty && !f.Applied {
		s.mu.Unlock()
		failWith(w, f)
		return
	}
	c, ok := s.comments[id]
	switch {
	case !ok || c.PageID != page.ID || c.Deleted:
		s.mu.Unlock()
		fail(w, http.StatusBadRequest, 100, 33, "Unsupported post request. Object with ID '"+id+"' does not exist")
		return
	case (edge == "replies") != page.Instagram:
		s.mu.Unlock()
		fail(w, http.StatusBadRequest, 100, 0, "(#100) Unsupported edge "+edge+" for this object")
		return
	case text == "":
		s.mu.Unlock()
		fail(w, http.StatusBadRequest, 100, 0, "(#100) message is required")
		return
	}
	s.nextMID++
	rid := strconv.FormatInt(s.nextMID, 10)
	if !page.Instagram {
		rid = "998877665544332_" + rid
	}
	now := s.opts.Now()
	s.comments[rid] = &Comment{ID: rid, PageID: page.ID, AuthorID: page.ID, PostID: c.PostID, ParentID: id, Text: text, At: now, FromPage: true}
	s.sent = append(s.sent, Sent{Kind: "comment_reply", CommentID: id, PageID: page.ID, RecipientID: c.AuthorID, MID: rid, Text: text, At: now, AnswerLost: faulty})
	s.cond.Broadcast()
	s.mu.Unlock()
	if faulty {
		failWith(w, f)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": rid})
}

// replyToMention: POST /{ig-user-id}/mentions with media_id, comment_id
// and message.
func (s *Server) replyToMention(w http.ResponseWriter, r *http.Request, page Page, id string) {
	p := readParams(r)
	text, _ := p["message"].(string)
	media, _ := p["media_id"].(string)
	comment, _ := p["comment_id"].(string)
	if id != page.ID || !page.Instagram || media == "" || text == "" {
		fail(w, http.StatusBadRequest, 100, 0, "(#100) media_id and message are required on an Instagram account")
		return
	}
	s.mu.Lock()
	s.calls["mention_reply"]++
	s.nextMID++
	rid := strconv.FormatInt(s.nextMID, 10)
	s.sent = append(s.sent, Sent{Kind: "mention_reply", CommentID: comment, PageID: page.ID, RecipientID: "media:" + media, MID: rid, Text: text, At: s.opts.Now()})
	s.cond.Broadcast()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"id": rid})
}

// moderate: POST /{comment-id} with is_hidden (Facebook) or hide
// (Instagram), DELETE /{comment-id}.
func (s *Server) moderate(w http.ResponseWriter, r *http.Request, page Page, id string) {
	p := readParams(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["moderate"]++
	if f, faulty := s.takeFault("moderate"); faulty {
		failWith(w, f)
		return
	}
	c, ok := s.comments[id]
	if !ok || c.PageID != page.ID || c.Deleted {
		fail(w, http.StatusBadRequest, 100, 33, "Unsupported request. Object with ID '"+id+"' does not exist")
		return
	}
	switch {
	case r.Method == http.MethodDelete:
		c.Deleted = true
	case !page.Instagram && p["is_hidden"] != nil:
		c.Hidden = truthy(p["is_hidden"])
	case page.Instagram && p["hide"] != nil:
		c.Hidden = truthy(p["hide"])
	default:
		fail(w, http.StatusBadRequest, 100, 0, "(#100) Nothing to update")
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}
