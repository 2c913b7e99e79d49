package meta

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/threadline/threadline/bridge"
)

// Comment threads: a customer's top-level comment and the replies under it
// are one platform thread, "comment:<top-level comment id>", so that an
// agent's reply lands under the comment the customer wrote. Mentions of the
// Instagram account are "mention:<media id>:<comment id>".
const (
	commentPrefix = "comment:"
	mentionPrefix = "mention:"
)

// FeedChange is a Page feed change (field "feed"): a comment, post,
// reaction...
type FeedChange struct {
	From struct {
		ID   flexString `json:"id"`
		Name string     `json:"name"`
	} `json:"from"`
	Post struct {
		ID           flexString `json:"id"`
		PermalinkURL string     `json:"permalink_url"`
	} `json:"post"`
	Message     string     `json:"message"`
	PostID      flexString `json:"post_id"`
	CommentID   flexString `json:"comment_id"`
	ParentID    flexString `json:"parent_id"`
	CreatedTime int64      `json:"created_time"`
	Item        string     `json:"item"`
	Verb        string     `json:"verb"`
}

// IGComment is an Instagram comment change (field "comments").
type IGComment struct {
	From struct {
		ID       flexString `json:"id"`
		Username string     `json:"username"`
	} `json:"from"`
	Media struct {
		ID               flexString `json:"id"`
		MediaProductType string     `json:"media_product_type"`
	} `json:"media"`
	ID       flexString `json:"id"`
	ParentID flexString `json:"parent_id"`
	Text     string     `json:"text"`
}

// IGMention is an Instagram mention change (field "mentions"): the account
// was @mentioned in a comment or a caption of someone else's media.
type IGMention struct {
	MediaID   flexString `json:"media_id"`
	CommentID flexString `json:"comment_id"`
}

func (a *Adapter) changeEvent(object, accountID string, c Change) (Event, bool) {
	switch {
	case object == "page" && c.Field == "feed":
		var v FeedChange
		if json.Unmarshal(c.Value, &v) != nil {
			return Event{}, false
		}
		return a.feedComment(accountID, v)
	case object == "instagram" && c.Field == "comments":
		var v IGComment
		if json.Unmarshal(c.Value, &v) != nil {
			return Event{}, false
		}
		return a.igComment(accountID, v)
	case object == "instagram" && c.Field == "mentions":
		var v IGMention
		if json.Unmarshal(c.Value, &v) != nil || v.MediaID == "" {
			return Event{}, false
		}
		return a.igMention(accountID, v)
	}
	return Event{}, false
}

func (a *Adapter) feedComment(accountID string, v FeedChange) (Event, bool) {
	from, cid := string(v.From.ID), string(v.CommentID)
	if v.Item != "comment" || cid == "" || from == "" {
		return Event{}, false // posts, reactions, shares: nothing to answer
	}
	if from == accountID {
		// The Page's own comment: ours (recorded when sent) or typed on
		// Facebook; its change carries no thread owner to file it under.
		return Event{}, false
	}
	kind := bridge.EventMessage
	switch v.Verb {
	case "add":
	case "edited":
		kind = bridge.EventEdit
	default: // remove, hide, unhide
		return Event{}, false
	}
	postID := string(v.PostID)
	top := cid
	if p := string(v.ParentID); p != "" && p != postID {
		top = p // a reply under a comment
	}
	text := v.Message
	if top == cid {
		// The first comment of a thread says which post it is about.
		link := v.Post.PermalinkURL
		if link == "" {
			link = "post " + postID
		}
		text = "[comment on " + link + "]\n" + text
	}
	ts := time.Time{}
	if v.CreatedTime > 0 {
		ts = time.Unix(v.CreatedTime, 0).UTC()
	}
	return Event{Inbound: &bridge.InboundEvent{
		Kind: kind, Platform: bridge.PlatformFacebook,
		Account: bridge.UpsertAccountParams{ExternalID: accountID, DisplayName: a.displayName(accountID)},
		Thread:  commentPrefix + top, Source: bridge.SourceComment,
		Sender:            bridge.UpsertIdentityParams{ExternalUserID: from, Name: v.From.Name},
		PlatformMessageID: cid, Text: text, Timestamp: ts,
	}}, true
}

func (a *Adapter) igComment(accountID string, v IGComment) (Event, bool) {
	from, cid := string(v.From.ID), string(v.ID)
	if cid == "" || from == "" || from == accountID {
		return Event{}, false
	}
	top, text := cid, v.Text
	if p := string(v.ParentID); p != "" {
		top = p
	} else {
		what := "post"
		switch strings.ToUpper(v.Media.MediaProductType) {
		case "REELS":
			what = "reel"
		case "STORY":
			what = "story"
		case "AD":
			what = "ad"
		}
		text = "[comment on your " + what + " " + string(v.Media.ID) + "]\n" + text
	}
	return Event{Inbound: &bridge.InboundEvent{
		Kind: bridge.EventMessage, Platform: bridge.PlatformInstagram,
		Account: bridge.UpsertAccountParams{ExternalID: accountID, DisplayName: a.displayName(accountID)},
		Thread:  commentPrefix + top, Source: bridge.SourceComment,
		Sender:            bridge.UpsertIdentityParams{ExternalUserID: from, Handle: v.From.Username},
		PlatformMessageID: cid, Text: text,
	}}, true
}

// igMention: Meta sends only ids, so the event's text is filled in from
// the Graph API when it is stored (fillMention). The thread is the mention.
func (a *Adapter) igMention(accountID string, v IGMention) (Event, bool) {
	media, cid := string(v.MediaID), string(v.CommentID)
	ref := media + ":" + cid
	text := "[mentioned you in a comment on media " + media + "]"
	if cid == "" {
		text = "[mentioned you in the caption of media " + media + "]"
	}
	return Event{Inbound: &bridge.InboundEvent{
		Kind: bridge.EventMessage, Platform: bridge.PlatformInstagram,
		Account: bridge.UpsertAccountParams{ExternalID: accountID, DisplayName: a.displayName(accountID)},
		Thread:  mentionPrefix + ref, Source: bridge.SourceMention,
		// The author is not in the change, nor in what the Graph API tells
		// of a mentioning comment; the media is the party.
		Sender:            bridge.UpsertIdentityParams{ExternalUserID: "media:" + media},
		PlatformMessageID: "mention:" + ref, Text: text,
	}, mention: &mentionRef{Media: media, Comment: cid}}, true
}
