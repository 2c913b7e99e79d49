package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/threadline/threadline/bridge"
)

func (t *Tx) GetMacro(ctx context.Context, name string) (bridge.Macro, error) {
	var m bridge.Macro
	var intents string
	err := t.ex.QueryRow(ctx, `SELECT name, body, language, intents, updated_by, updated_at FROM macros WHERE name = $1`, name).
		Scan(&m.Name, &m.Text, &m.Language, &intents, &m.UpdatedBy, st(&m.UpdatedAt))
	m.Intents = splitIntents(intents)
	return m, t.notFound(err, "get macro "+name)
}

func (t *Tx) PutMacro(ctx context.Context, m bridge.Macro) error {
	intents := make([]string, len(m.Intents))
	for i, in := range m.Intents {
		intents[i] = string(in)
	}
	_, err := t.ex.Exec(ctx, `INSERT INTO macros (name, body, language, intents, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (name) DO UPDATE SET body = excluded.body, language = excluded.language, intents = excluded.intents,
		updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		m.Name, m.Text, m.Language, strings.Join(intents, ","), m.UpdatedBy, ts(m.UpdatedAt))
	if err != nil {
		return fmt.Errorf("put macro %s: %w", m.Name, err)
	}
	return nil
}

func (t *Tx) DeleteMacro(ctx context.Context, name string) error {
	n, err := t.ex.Exec(ctx, `DELETE FROM macros WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("delete macro %s: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("delete macro %s: %w", name, bridge.ErrNotFound)
	}
	return nil
}

func (t *Tx) ListMacros(ctx context.Context) ([]bridge.Macro, error) {
	rows, err := t.ex.Query(ctx, `SELECT name, body, language, intents, updated_by, updated_at FROM macros ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list macros: %w", err)
	}
	defer rows.Close()
	var out []bridge.Macro
	for rows.Next() {
		var m bridge.Macro
		var intents string
		if err := rows.Scan(&m.Name, &m.Text, &m.Language, &intents, &m.UpdatedBy, st(&m.UpdatedAt)); err != nil {
			return nil, fmt.Errorf("list macros: %w", err)
		}
		m.Intents = splitIntents(intents)
		out = append(out, m)
	}
	return out, rows.Err()
}

func splitIntents(s string) []bridge.Intent {
	if s == "" {
		return nil
	}
	var out []bridge.Intent
	for _, in := range strings.Split(s, ",") {
		out = append(out, bridge.Intent(in))
	}
	return out
}

func (t *Tx) PutDraft(ctx context.Context, conv bridge.ConversationID, d bridge.Draft) error {
	_, err := t.ex.Exec(ctx, `INSERT INTO reply_drafts (conversation_id, surface, workspace, user_id, view_ref, seen_seq, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (conversation_id, surface, workspace, user_id) DO UPDATE SET view_ref = excluded.view_ref,
		seen_seq = excluded.seen_seq, expires_at = excluded.expires_at`,
		conv, string(d.Surface), d.Workspace, d.UserID, d.ViewRef, d.SeenSeq, ts(d.Until))
	if err != nil {
		return fmt.Errorf("put draft: %w", err)
	}
	return nil
}

func (t *Tx) DeleteDraft(ctx context.Context, conv bridge.ConversationID, a bridge.Actor) error {
	_, err := t.ex.Exec(ctx, `DELETE FROM reply_drafts WHERE conversation_id = $1 AND surface = $2 AND workspace = $3 AND user_id = $4`,
		conv, string(a.Surface), a.Workspace, a.UserID)
	if err != nil {
		return fmt.Errorf("delete draft: %w", err)
	}
	return nil
}

func (t *Tx) ListDrafts(ctx context.Context, conv bridge.ConversationID, now time.Time) ([]bridge.Draft, error) {
	rows, err := t.ex.Query(ctx, `SELECT surface, workspace, user_id, view_ref, seen_seq, expires_at FROM reply_drafts
		WHERE conversation_id = $1 AND expires_at >= $2 ORDER BY expires_at, surface, workspace, user_id`, conv, ts(now))
	if err != nil {
		return nil, fmt.Errorf("list drafts: %w", err)
	}
	defer rows.Close()
	var out []bridge.Draft
	for rows.Next() {
		var d bridge.Draft
		var surface string
		if err := rows.Scan(&surface, &d.Workspace, &d.UserID, &d.ViewRef, &d.SeenSeq, st(&d.Until)); err != nil {
			return nil, fmt.Errorf("list drafts: %w", err)
		}
		d.Surface = bridge.Surface(surface)
		out = append(out, d)
	}
	return out, rows.Err()
}

func (t *Tx) DeleteExpiredDrafts(ctx context.Context, conv bridge.ConversationID, now time.Time) error {
	if _, err := t.ex.Exec(ctx, `DELETE FROM reply_drafts WHERE conversation_id = $1 AND expires_at < $2`, conv, ts(now)); err != nil {
		return fmt.Errorf("delete expired drafts: %w", err)
	}
	return nil
}
