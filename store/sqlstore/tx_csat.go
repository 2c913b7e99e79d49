package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/threadline/threadline/bridge"
)

func (t *Tx) InsertSurvey(ctx context.Context, conv bridge.ConversationID, at time.Time) (bool, error) {
	n, err := t.ex.Exec(ctx, `INSERT INTO csat_surveys (conversation_id, sent_at) VALUES ($1, $2) ON CONFLICT (conversation_id) DO NOTHING`, conv, ts(at))
	if err != nil {
		return false, fmt.Errorf("insert survey: %w", err)
	}
	return n == 1, nil
}

func (t *Tx) GetSurvey(ctx context.Context, conv bridge.ConversationID) (bridge.Survey, error) {
	s := bridge.Survey{ConversationID: conv}
	var rating sql.NullInt64
	err := t.ex.QueryRow(ctx, `SELECT sent_at, rating, answered_at FROM csat_surveys WHERE conversation_id = $1`, conv).
		Scan(st(&s.SentAt), &rating, nullTime{&s.AnsweredAt})
	s.Rating = int(rating.Int64)
	return s, t.notFound(err, "get survey")
}

func (t *Tx) SetSurveyRating(ctx context.Context, conv bridge.ConversationID, rating int, at time.Time) error {
	n, err := t.ex.Exec(ctx, `UPDATE csat_surveys SET rating = $2, answered_at = $3 WHERE conversation_id = $1`, conv, rating, ts(at))
	if err != nil {
		return fmt.Errorf("set survey rating: %w", err)
	}
	if n != 1 {
		return fmt.Errorf("set survey rating of %d: %w", conv, bridge.ErrNotFound)
	}
	return nil
}
