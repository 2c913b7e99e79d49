package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Macros are canned replies, managed by supervisors and offered in the
// reply form ranked for the conversation.

// MacroTx keeps macros, by name.
type MacroTx interface {
	// GetMacro returns ErrNotFound when there is no macro of that name.
	GetMacro(ctx context.Context, name string) (Macro, error)
	// PutMacro creates or replaces the macro of m.Name.
	PutMacro(ctx context.Context, m Macro) error
	// DeleteMacro returns ErrNotFound when there is no macro of that name.
	DeleteMacro(ctx context.Context, name string) error
	// ListMacros returns every macro by name.
	ListMacros(ctx context.Context) ([]Macro, error)
}

// MacroAction is what the macro verb does.
type MacroAction string

const (
	MacroAdd    MacroAction = "add"
	MacroEdit   MacroAction = "edit"
	MacroList   MacroAction = "list"
	MacroDelete MacroAction = "delete"
)

// MacroArgs are the macro verb's arguments.
type MacroArgs struct {
	Action   MacroAction
	Name     string
	Language string   // ISO 639-1 code; empty: any
	Intents  []Intent // what the macro answers; empty: any
}

// Macro is one canned reply.
type Macro struct {
	Name      string    `json:"name"`
	Text      string    `json:"text"`
	Language  string    `json:"lang,omitempty"`
	Intents   []Intent  `json:"intents,omitempty"`
	UpdatedBy string    `json:"updated_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// MacroVars are the values a macro's {variables} take.
type MacroVars struct {
	CustomerName, AgentName, Platform string
	Conversation                      ConversationNumber
}

// Expand fills in {customer.name}, {agent.name}, {platform} and
// {conversation.id}; unknown braces stay as written.
func (m Macro) Expand(v MacroVars) string {
	return strings.NewReplacer("{customer.name}", v.CustomerName, "{agent.name}", v.AgentName,
		"{platform}", v.Platform, "{conversation.id}", v.Conversation.String()).Replace(m.Text)
}

func (b *Bridge) doMacro(ctx context.Context, o *op) error {
	a := o.cmd.Macro
	if a.Action == MacroList {
		ms, err := o.tx.ListMacros(ctx)
		if err != nil {
			return err
		}
		var lines []string
		for _, m := range ms {
			tags := m.Language
			for _, i := range m.Intents {
				tags += " " + string(i)
			}
			lines = append(lines, fmt.Sprintf("%s (%s): %s", m.Name, strings.TrimSpace(tags+" any"), truncateRunes(m.Text, 80)))
		}
		o.res.Text = fmt.Sprintf("%d macros.", len(ms))
		if len(lines) > 0 {
			o.res.Text += "\n" + strings.Join(lines, "\n")
		}
		return nil
	}
	if !o.role().AtLeast(RoleSupervisor) {
		return fmt.Errorf("%w: macro %s is for supervisors, managers and admins", ErrForbidden, a.Action)
	}
	old, err := o.tx.GetMacro(ctx, a.Name)
	exists := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	switch {
	case a.Action == MacroAdd && exists:
		return fmt.Errorf("%w: macro %s exists; use macro edit", ErrConflict, a.Name)
	case a.Action != MacroAdd && !exists:
		return fmt.Errorf("%w: there is no macro %s", ErrNotFound, a.Name)
	}
	// The audit keeps the macro before and after as JSON.
	before, after := "", ""
	if exists {
		raw, _ := json.Marshal(old)
		before = string(raw)
	}
	if a.Action == MacroDelete {
		err = o.tx.DeleteMacro(ctx, a.Name)
	} else {
		m := Macro{Name: a.Name, Text: o.cmd.Text, Language: a.Language, Intents: a.Intents, UpdatedBy: o.agent.Name, UpdatedAt: o.now}
		raw, _ := json.Marshal(m)
		after = string(raw)
		err = o.tx.PutMacro(ctx, m)
	}
	if err != nil {
		return err
	}
	o.res.Text = fmt.Sprintf("Macro %s: %sed.", a.Name, strings.TrimSuffix(string(a.Action), "e"))
	return o.tx.AppendAudit(ctx, AuditEntry{ActorAgentID: o.agent.ID, Action: "macro_" + string(a.Action), Before: before, After: after, At: o.now})
}

// SuggestedMacro is a macro ranked for a conversation, expanded.
type SuggestedMacro struct {
	Macro
	Expanded string
	Score    int
}

// SuggestMacros ranks the macros for a conversation by the intent and
// language of the customer's recent messages: matching intent first, then
// matching language, then the rest by name.
func (b *Bridge) SuggestMacros(ctx context.Context, rc ReplyContext, agentName string) ([]SuggestedMacro, Intent, string, error) {
	var ms []Macro
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		ms, err = tx.ListMacros(ctx)
		return err
	})
	if err != nil {
		return nil, "", "", err
	}
	var customer []string
	for _, m := range rc.Recent {
		if m.Message.Direction == Inbound {
			customer = append(customer, m.Message.Text)
		}
	}
	text := strings.Join(customer, "\n")
	intent, lang := DetectIntent(text), DetectLanguage(text)
	vars := MacroVars{CustomerName: rc.Customer.Name, AgentName: agentName, Platform: string(rc.Conversation.Platform), Conversation: rc.Conversation.Number}
	out := make([]SuggestedMacro, 0, len(ms))
	for _, m := range ms {
		s := SuggestedMacro{Macro: m, Expanded: m.Expand(vars)}
		if intent != "" && slices.Contains(m.Intents, intent) {
			s.Score += 2
		}
		if lang != "" && m.Language == lang {
			s.Score++
		}
		if m.Language != "" && lang != "" && m.Language != lang {
			s.Score -= 2
		}
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(a, b SuggestedMacro) int {
		if a.Score != b.Score {
			return b.Score - a.Score
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, intent, lang, nil
}

// Intent is what a customer message is about.
type Intent string

const (
	IntentRefund        Intent = "refund"
	IntentOrderTracking Intent = "order_tracking"
	IntentProductIssue  Intent = "product_issue"
	IntentCancellation  Intent = "cancellation"
	IntentComplaint     Intent = "complaint"
	IntentPraise        Intent = "praise"
)

// Intents lists the intents the detector knows, the most specific first:
// a tie goes to the earlier one (a cancelled order is a cancellation).
var Intents = []Intent{IntentRefund, IntentCancellation, IntentProductIssue, IntentComplaint, IntentOrderTracking, IntentPraise}

func intentList() string {
	var s []string
	for _, i := range Intents {
		s = append(s, string(i))
	}
	return strings.Join(s, ", ")
}

// intentWords are keyword stems per intent (English, German, Spanish,
// French): a word counts when it starts with a stem.
var intentWords = map[Intent][]string{
	IntentRefund:        {"refund", "money back", "reimburs", "chargeback", "charged twice", "rückerstatt", "erstatt", "geld zurück", "reembols", "devolución", "rembours"},
	IntentOrderTracking: {"where is my", "track", "shipped", "shipping", "deliver", "arrive", "parcel", "package", "order", "lieferung", "paket", "sendung", "bestellung", "pedido", "envío", "colis", "livraison", "commande"},
	IntentProductIssue:  {"broken", "defect", "doesn't work", "does not work", "not working", "stopped working", "damaged", "faulty", "error", "bug", "kaputt", "defekt", "funktioniert nicht", "roto", "no funciona", "cassé", "ne marche pas"},
	IntentCancellation:  {"cancel", "unsubscribe", "terminate", "stornier", "kündig", "cancelar", "annuler", "résilier"},
	IntentComplaint:     {"terrible", "awful", "worst", "unacceptable", "disappointed", "angry", "ridiculous", "complain", "scam", "furious", "schlecht", "enttäuscht", "unverschämt", "terrible", "pésimo", "inaceptable", "nul", "inadmissible"},
	IntentPraise:        {"thank", "great", "awesome", "love", "excellent", "amazing", "perfect", "danke", "super", "toll", "gracias", "genial", "merci", "génial"},
}

// DetectIntent picks the intent whose keywords a text mentions most; ties
// go to the one listed first in Intents (a refund request that also thanks
// is a refund request). Empty when none match. A keyword list, not a
// model: it only orders the canned replies offered, never acts.
func DetectIntent(text string) Intent {
	t := " " + strings.ToLower(text)
	best, bestN := Intent(""), 0
	for _, in := range Intents {
		n := 0
		for _, w := range intentWords[in] {
			n += strings.Count(t, " "+w)
		}
		if n > bestN {
			best, bestN = in, n
		}
	}
	return best
}

var stopwords = map[string][]string{
	"en": {"the", "and", "is", "my", "you", "i", "it", "to", "of", "not", "have", "was", "where", "what"},
	"de": {"der", "die", "das", "und", "ist", "ich", "nicht", "mein", "meine", "sie", "wo", "ein", "eine", "habe"},
	"es": {"el", "la", "los", "que", "y", "es", "mi", "no", "un", "una", "por", "dónde", "donde", "tengo"},
	"fr": {"le", "la", "les", "et", "est", "je", "mon", "ma", "pas", "un", "une", "où", "vous", "ai"},
}

// DetectLanguage guesses the language of a text from its common words
// (en, de, es, fr); empty when it cannot tell.
func DetectLanguage(text string) string {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) })
	counts := map[string]int{}
	for _, w := range words {
		for lang, sw := range stopwords {
			if slices.Contains(sw, w) {
				counts[lang]++
			}
		}
	}
	best, bestN := "", 0
	for _, lang := range []string{"en", "de", "es", "fr"} {
		if counts[lang] > bestN {
			best, bestN = lang, counts[lang]
		}
	}
	return best
}
