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
	// Every cached page request runs it: prepared once (mattn/go-sqlite3
	// would prepare and finalize it on each call, half its cost).
	s.gen.once.Do(func() {
		s.gen.stmt, s.gen.err = s.db.R.PrepareContext(context.WithoutCancel(ctx), `SELECT n FROM page_generation WHERE id = 1`)
	})
	if s.gen.err != nil {
		return 0, fmt.Errorf("page generation: %w", s.gen.err)
	}
	var n int64
	if err := s.gen.stmt.QueryRowContext(ctx).Scan(&n); err != nil {
		return 0, fmt.Errorf("page generation: %w", err)
	}
	return n, nil
}
