package digest

import (
	"context"
	"fmt"
)

// Generation returns a number that changes whenever a story or an edition
// changes in a way a public page can show: a story imported, re-imported
// with new content or deleted; an edition frozen, re-frozen, started,
// finished, paused, cancelled or deleted. Database triggers bump it
// (migration 0010), so it sees the writes of every process on the
// database; the web server keys its rendered pages by it.
func (s *Store) Generation(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.R.QueryRowContext(ctx, `SELECT n FROM page_generation WHERE id = 1`).Scan(&n); err != nil {
		return 0, fmt.Errorf("page generation: %w", err)
	}
	return n, nil
}
