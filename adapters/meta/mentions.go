package meta

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/threadline/threadline/bridge"
)

// Mentions: the "mentions" change names only the media and, for a
// comment, the comment that @mentioned the Instagram account; what was
// said is read from the Graph API (mentioned_comment, mentioned_media)
// before the mention is stored.

// mentionRef is what a mentions change names.
type mentionRef struct {
	Media, Comment string
}

type mentionedComment struct {
	ID        string `json:"id"`
	Text      string `json:"text"`
	Timestamp string `json:"timestamp"`
	Media     struct {
		ID        string `json:"id"`
		Permalink string `json:"permalink"`
		Username  string `json:"username"`
	} `json:"media"`
}

type mentionedMedia struct {
	ID        string `json:"id"`
	Caption   string `json:"caption"`
	Permalink string `json:"permalink"`
	Username  string `json:"username"`
	Timestamp string `json:"timestamp"`
}

// graphTime is the Graph API's timestamp layout (2017-05-03T16:09:08+0000).
const graphTime = "2006-01-02T15:04:05-0700"

// fillMention reads what a mention says into its event. A mention Meta
// no longer returns (deleted, comments turned off) is stored with its ids
// and the reason; any other failure is returned, so the delivery is
// answered 500 and Meta delivers it again.
func (a *Adapter) fillMention(ctx context.Context, ref mentionRef, ev *bridge.InboundEvent) error {
	acc, ok := a.account(ev.Account.ExternalID)
	if !ok {
		return nil
	}
	var (
		text, link, who, at string
		err                 error
	)
	path := "/" + url.PathEscape(acc.ID) + "?fields="
	if ref.Comment != "" {
		var res struct {
			C mentionedComment `json:"mentioned_comment"`
		}
		err = a.call(ctx, acc, http.MethodGet, path+url.QueryEscape("mentioned_comment.comment_id("+ref.Comment+"){id,text,timestamp,media{id,permalink,username}}"), nil, &res)
		text, link, at = res.C.Text, res.C.Media.Permalink, res.C.Timestamp
		if res.C.Media.Username != "" {
			link += " (@" + res.C.Media.Username + "'s post)"
		}
	} else {
		var res struct {
			M mentionedMedia `json:"mentioned_media"`
		}
		err = a.call(ctx, acc, http.MethodGet, path+url.QueryEscape("mentioned_media.media_id("+ref.Media+"){id,caption,permalink,username,timestamp}"), nil, &res)
		text, link, who, at = res.M.Caption, res.M.Permalink, res.M.Username, res.M.Timestamp
	}
	var api *APIError
	switch {
	case errors.As(err, &api) && !api.transient():
		a.log.Info("meta: a mention could not be read; stored with its ids", "account", acc.ID, "err", err)
		ev.Text += "\n(Meta did not return it: " + api.Message + ")"
		return nil
	case err != nil:
		return fmt.Errorf("meta: read mention on media %s: %w", ref.Media, err)
	}
	if link == "" {
		link = "media " + ref.Media
	}
	where := "a comment on " + link
	if ref.Comment == "" {
		where = "the caption of " + link
	}
	ev.Text = strings.TrimSpace("[mentioned you in " + where + "]\n" + text)
	if who != "" {
		ev.Sender.Handle, ev.Sender.Name = who, "@"+who
	}
	if t, err := time.Parse(graphTime, at); err == nil {
		ev.Timestamp = t.UTC()
	}
	return nil
}
