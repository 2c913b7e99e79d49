package slack

import (
	"strings"
	"unicode"

	"github.com/threadline/threadline/bridge"
)

// Syntax reads Slack's markup for mentions in command text. With the
// manifest's should_escape, Slack sends a picked user as <@U123|ann>, a
// channel as <#C123|billing> and a user group as <!subteam^S123|@billing>;
// each is one token although the name may hold spaces.
type Syntax struct{}

var _ bridge.Syntax = Syntax{}

// NextToken implements bridge.Syntax.
func (Syntax) NextToken(s string) (string, string) {
	if strings.HasPrefix(s, "<") {
		if i := strings.IndexByte(s, '>'); i > 0 {
			return s[:i+1], s[i+1:]
		}
	}
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i:]
}

// Mention implements bridge.Syntax.
func (Syntax) Mention(tok string) (bridge.Mention, bool) {
	if len(tok) < 3 || tok[0] != '<' || tok[len(tok)-1] != '>' {
		return bridge.PlainSyntax{}.Mention(tok)
	}
	body := tok[1 : len(tok)-1]
	ref, name, _ := strings.Cut(body, "|")
	name = strings.TrimPrefix(name, "@")
	var m bridge.Mention
	switch {
	case strings.HasPrefix(ref, "@"):
		m = bridge.Mention{Kind: bridge.MentionUser, ID: ref[1:]}
	case strings.HasPrefix(ref, "#"):
		m = bridge.Mention{Kind: bridge.MentionTeam, ID: ref[1:]}
	case strings.HasPrefix(ref, "!subteam^"):
		m = bridge.Mention{Kind: bridge.MentionTeam, ID: ref[len("!subteam^"):]}
	default:
		return bridge.Mention{}, false // <!here>, links
	}
	if !slackID(m.ID) {
		return bridge.Mention{}, false
	}
	m.Name, m.Raw = name, tok
	return m, true
}

// slackID accepts Slack's ids: an upper-case letter and upper-case letters
// or digits.
func slackID(s string) bool {
	if len(s) < 2 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return s[0] >= 'A' && s[0] <= 'Z'
}
