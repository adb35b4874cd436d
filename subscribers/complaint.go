package subscribers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"bothsides/sqlite"
)

// Complain marks subscriber id complained (they reported a mail as spam)
// inside the caller's write transaction tx, so that it commits with the
// report that says so. A complained subscriber is never mailed again and
// signs up again only through a fresh double opt-in; the complaint counts
// as an unsubscribe (unsubscribed_at is set, the first time kept). It
// returns the status after the change, or ErrNotFound for an unknown id.
func (s *Store) Complain(ctx context.Context, tx *sql.Tx, id int64) (Status, error) {
	now := sqlite.Time(s.db.Now())
	var status Status
	err := tx.QueryRowContext(ctx, `UPDATE subscribers SET status = 'complained', updated_at = ?1,
			unsubscribed_at = COALESCE(unsubscribed_at, ?1), confirm_sent_at = NULL
		WHERE id = ?2 RETURNING status`, now, id).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("complaint of %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("complaint of %d: %w", id, err)
	}
	return status, nil
}

// Suppress makes an active subscriber bounced inside the caller's write
// transaction tx: their address has failed too often to keep trying (soft
// bounces that persist). Another status is kept. It returns the status
// after the change, or ErrNotFound for an unknown id.
func (s *Store) Suppress(ctx context.Context, tx *sql.Tx, id int64) (Status, error) {
	var status Status
	err := tx.QueryRowContext(ctx, `UPDATE subscribers SET updated_at = ?,
			status = CASE WHEN status = 'active' THEN 'bounced' ELSE status END
		WHERE id = ? RETURNING status`, sqlite.Time(s.db.Now()), id).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("suppress %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("suppress %d: %w", id, err)
	}
	return status, nil
}
