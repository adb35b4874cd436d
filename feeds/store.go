package feeds

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/mattn/go-sqlite3"

	"bothsides/sqlite"
)

// Store keeps sources, their feeds and the items read from them.
type Store struct {
	db *sqlite.DB
}

// NewStore returns the store over db.
func NewStore(db *sqlite.DB) *Store { return &Store{db: db} }

// Add stores a new source with its feeds.
func (s *Store) Add(ctx context.Context, src Source) (*Source, error) {
	if err := src.Normalize(); err != nil {
		return nil, err
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error { return s.insert(ctx, tx, &src) })
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, src.Name)
}

// insert adds src (normalised) and its feeds in tx.
func (s *Store) insert(ctx context.Context, tx *sql.Tx, src *Source) error {
	now := sqlite.Time(s.db.Now())
	res, err := tx.ExecContext(ctx, `INSERT INTO sources (name, domain, bias, factuality, owner, rated_by, rated_on, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		src.Name, src.Domain, src.Bias, src.Factuality, src.Owner, src.RatedBy, src.RatedOn, now, now)
	if isUnique(err) {
		return fmt.Errorf("%w: a source named %q exists already", ErrExists, src.Name)
	}
	if err != nil {
		return fmt.Errorf("insert source %q: %w", src.Name, err)
	}
	if src.ID, err = res.LastInsertId(); err != nil {
		return err
	}
	return s.setFeeds(ctx, tx, src)
}

// setFeeds makes src's feed rows those of src.Feeds: a URL kept keeps its
// fetch state, a URL dropped loses its row (its items stay).
func (s *Store) setFeeds(ctx context.Context, tx *sql.Tx, src *Source) error {
	keep := map[string]bool{}
	for _, f := range src.Feeds {
		keep[f.URL] = true
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, url FROM source_feeds WHERE source_id = ?`, src.ID)
	if err != nil {
		return fmt.Errorf("select feeds: %w", err)
	}
	var drop []int64
	have := map[string]bool{}
	for rows.Next() {
		var id int64
		var u string
		if err := rows.Scan(&id, &u); err != nil {
			rows.Close()
			return err
		}
		if keep[u] {
			have[u] = true
		} else {
			drop = append(drop, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range drop {
		if _, err := tx.ExecContext(ctx, `DELETE FROM source_feeds WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete feed: %w", err)
		}
	}
	for i, f := range src.Feeds {
		if have[f.URL] {
			if _, err := tx.ExecContext(ctx, `UPDATE source_feeds SET position = ? WHERE source_id = ? AND url = ?`, i, src.ID, f.URL); err != nil {
				return fmt.Errorf("update feed: %w", err)
			}
			continue
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO source_feeds (source_id, url, position) VALUES (?, ?, ?)`, src.ID, f.URL, i)
		if isUnique(err) {
			var other string
			tx.QueryRowContext(ctx, `SELECT s.name FROM source_feeds f JOIN sources s ON s.id = f.source_id WHERE f.url = ?`, f.URL).Scan(&other)
			return fmt.Errorf("%w: feed %s belongs to source %q already", ErrExists, f.URL, other)
		}
		if err != nil {
			return fmt.Errorf("insert feed %s: %w", f.URL, err)
		}
	}
	return nil
}

// Get returns the source named name (case-insensitive), with its feeds.
func (s *Store) Get(ctx context.Context, name string) (*Source, error) {
	list, err := s.list(ctx, `WHERE s.name = ?`, strings.TrimSpace(name))
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%w: %q (see 'bothsides sources list')", ErrNotFound, name)
	}
	return &list[0], nil
}

// List returns every source by name, with its feeds.
func (s *Store) List(ctx context.Context) ([]Source, error) { return s.list(ctx, "") }

// HasFeeds reports whether any source has a feed.
func (s *Store) HasFeeds(ctx context.Context) (bool, error) {
	var n int
	err := s.db.R.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM source_feeds)`).Scan(&n)
	return n == 1, err
}

func (s *Store) list(ctx context.Context, where string, args ...any) ([]Source, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT s.id, s.name, s.domain, s.bias, s.factuality, s.owner, s.rated_by, s.rated_on,
		f.id, f.url, f.etag, f.last_modified, f.last_fetch, f.last_success, f.last_error, f.notes, f.failures, f.next_fetch, f.item_count
		FROM sources s LEFT JOIN source_feeds f ON f.source_id = s.id `+where+`
		ORDER BY s.name COLLATE NOCASE, s.id, f.position, f.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("select sources: %w", err)
	}
	defer rows.Close()
	var out []Source
	for rows.Next() {
		var src Source
		var fid sql.NullInt64
		var furl, etag, lm, ferr, notes sql.NullString
		var lastFetch, lastOK, next sql.NullString
		var failures, count sql.NullInt64
		if err := rows.Scan(&src.ID, &src.Name, &src.Domain, &src.Bias, &src.Factuality, &src.Owner, &src.RatedBy, &src.RatedOn,
			&fid, &furl, &etag, &lm, &lastFetch, &lastOK, &ferr, &notes, &failures, &next, &count); err != nil {
			return nil, fmt.Errorf("scan source: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].ID != src.ID {
			out = append(out, src)
		}
		if !fid.Valid {
			continue
		}
		f := Feed{ID: fid.Int64, SourceID: src.ID, URL: furl.String, ETag: etag.String, LastModified: lm.String,
			LastError: ferr.String, Notes: notes.String, Failures: int(failures.Int64), ItemCount: int(count.Int64)}
		if f.LastFetch, err = sqlite.ParseNullTime(lastFetch); err != nil {
			return nil, err
		}
		if f.LastSuccess, err = sqlite.ParseNullTime(lastOK); err != nil {
			return nil, err
		}
		if f.NextFetch, err = sqlite.ParseNullTime(next); err != nil {
			return nil, err
		}
		last := &out[len(out)-1]
		last.Feeds = append(last.Feeds, f)
	}
	return out, rows.Err()
}

// Update replaces the fields of the source named name with src's (src.Name
// may rename it); feeds kept keep their fetch state.
func (s *Store) Update(ctx context.Context, name string, src Source) (*Source, error) {
	if err := src.Normalize(); err != nil {
		return nil, err
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error { return s.update(ctx, tx, name, &src) })
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, src.Name)
}

func (s *Store) update(ctx context.Context, tx *sql.Tx, name string, src *Source) error {
	if err := tx.QueryRowContext(ctx, `SELECT id FROM sources WHERE name = ?`, name).Scan(&src.ID); errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %q (see 'bothsides sources list')", ErrNotFound, name)
	} else if err != nil {
		return fmt.Errorf("select source: %w", err)
	}
	_, err := tx.ExecContext(ctx, `UPDATE sources SET name = ?, domain = ?, bias = ?, factuality = ?, owner = ?, rated_by = ?, rated_on = ?, updated_at = ?
		WHERE id = ?`, src.Name, src.Domain, src.Bias, src.Factuality, src.Owner, src.RatedBy, src.RatedOn, sqlite.Time(s.db.Now()), src.ID)
	if isUnique(err) {
		return fmt.Errorf("%w: a source named %q exists already", ErrExists, src.Name)
	}
	if err != nil {
		return fmt.Errorf("update source %q: %w", name, err)
	}
	return s.setFeeds(ctx, tx, src)
}

// Remove deletes the source named name with its feeds and items.
func (s *Store) Remove(ctx context.Context, name string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sources WHERE name = ?`, strings.TrimSpace(name))
		if err != nil {
			return fmt.Errorf("delete source: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: %q (see 'bothsides sources list')", ErrNotFound, name)
		}
		return nil
	})
}

// ImportResult counts what an import did.
type ImportResult struct{ Added, Updated int }

func (r ImportResult) String() string {
	return fmt.Sprintf("%d sources added, %d updated", r.Added, r.Updated)
}

// Import adds or updates (by name) every source in list, in one
// transaction: when any of them is invalid or conflicts, nothing changes.
// When columns are given (ReadCSV's), a source updated keeps the fields
// whose column is not among them.
func (s *Store) Import(ctx context.Context, list []Source, columns ...string) (ImportResult, error) {
	var res ImportResult
	for i := range list {
		if err := list[i].Normalize(); err != nil {
			return res, err
		}
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		res = ImportResult{}
		for i := range list {
			src := &list[i]
			var id int64
			err := tx.QueryRowContext(ctx, `SELECT id FROM sources WHERE name = ?`, src.Name).Scan(&id)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				if err := s.insert(ctx, tx, src); err != nil {
					return err
				}
				res.Added++
			case err != nil:
				return fmt.Errorf("select source: %w", err)
			default:
				if len(columns) > 0 {
					if err := s.keepAbsent(ctx, tx, id, src, columns); err != nil {
						return err
					}
				}
				if err := s.update(ctx, tx, src.Name, src); err != nil {
					return err
				}
				res.Updated++
			}
		}
		return nil
	})
	return res, err
}

// keepAbsent fills the fields of src whose column is not in columns from
// the stored source id.
func (s *Store) keepAbsent(ctx context.Context, tx *sql.Tx, id int64, src *Source, columns []string) error {
	has := map[string]bool{}
	for _, c := range columns {
		has[c] = true
	}
	var old Source
	if err := tx.QueryRowContext(ctx, `SELECT factuality, owner, rated_by, rated_on FROM sources WHERE id = ?`, id).
		Scan(&old.Factuality, &old.Owner, &old.RatedBy, &old.RatedOn); err != nil {
		return fmt.Errorf("select source: %w", err)
	}
	for c, f := range map[string][2]*string{"factuality": {&src.Factuality, &old.Factuality}, "owner": {&src.Owner, &old.Owner},
		"rated_by": {&src.RatedBy, &old.RatedBy}, "rated_on": {&src.RatedOn, &old.RatedOn}} {
		if !has[c] {
			*f[0] = *f[1]
		}
	}
	if !has["feeds"] {
		rows, err := tx.QueryContext(ctx, `SELECT url FROM source_feeds WHERE source_id = ? ORDER BY position, id`, id)
		if err != nil {
			return fmt.Errorf("select feeds: %w", err)
		}
		defer rows.Close()
		src.Feeds = nil
		for rows.Next() {
			var u string
			if err := rows.Scan(&u); err != nil {
				return err
			}
			src.Feeds = append(src.Feeds, Feed{URL: u})
		}
		return rows.Err()
	}
	return nil
}

func isUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique
}
