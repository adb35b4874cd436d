package subscribers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"bothsides/sqlite"
)

// CountBounce records one hard bounce of subscriber id inside the caller's
// write transaction tx, so that it commits with the delivery that bounced.
// An active subscriber who reaches limit bounces becomes StatusBounced. It
// returns the status and the bounce count after the change, or ErrNotFound
// for an unknown id.
func (s *Store) CountBounce(ctx context.Context, tx *sql.Tx, id int64, limit int) (Status, int, error) {
	var status Status
	var bounces int
	err := tx.QueryRowContext(ctx, `UPDATE subscribers SET bounces = bounces + 1, updated_at = ?,
			status = CASE WHEN status = 'active' AND bounces + 1 >= ? THEN 'bounced' ELSE status END
		WHERE id = ? RETURNING status, bounces`, sqlite.Time(s.db.Now()), limit, id).Scan(&status, &bounces)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, fmt.Errorf("count bounce %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", 0, fmt.Errorf("count bounce %d: %w", id, err)
	}
	return status, bounces, nil
}
