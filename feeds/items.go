package feeds

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"bothsides/sqlite"
)

// Job is a feed due for a fetch, with its source.
type Job struct {
	Feed   Feed
	Source Source // without its feeds
}

// Due returns the feeds whose next allowed fetch is not after now, by
// source and position.
func (s *Store) Due(ctx context.Context, now time.Time) ([]Job, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT f.id, f.url, f.etag, f.last_modified, f.failures,
		s.id, s.name, s.domain, s.bias
		FROM source_feeds f JOIN sources s ON s.id = f.source_id
		WHERE f.next_fetch IS NULL OR f.next_fetch <= ?
		ORDER BY s.name COLLATE NOCASE, f.position, f.id`, sqlite.Time(now))
	if err != nil {
		return nil, fmt.Errorf("select due feeds: %w", err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		var j Job
		if err := rows.Scan(&j.Feed.ID, &j.Feed.URL, &j.Feed.ETag, &j.Feed.LastModified, &j.Feed.Failures,
			&j.Source.ID, &j.Source.Name, &j.Source.Domain, &j.Source.Bias); err != nil {
			return nil, fmt.Errorf("scan due feed: %w", err)
		}
		j.Feed.SourceID = j.Source.ID
		out = append(out, j)
	}
	return out, rows.Err()
}

// NotModified records a 304: only the last fetch time changes (and an
// earlier failure is forgotten, the server being back).
func (s *Store) NotModified(ctx context.Context, feedID int64, now time.Time) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE source_feeds SET last_fetch = ?,
			last_error = CASE WHEN failures > 0 THEN '' ELSE last_error END,
			next_fetch = CASE WHEN failures > 0 THEN NULL ELSE next_fetch END, failures = 0
			WHERE id = ?`, sqlite.Time(now), feedID)
		return err
	})
}

// Failed records a failed fetch: its error, one more failure in a row, and
// the time before which the feed is not fetched again.
func (s *Store) Failed(ctx context.Context, feedID int64, now time.Time, msg string, next time.Time) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE source_feeds SET last_fetch = ?, last_error = ?, failures = failures + 1, next_fetch = ?
			WHERE id = ?`, sqlite.Time(now), cut(msg, 1000), sqlite.NullTime(next), feedID)
		return err
	})
}

// Stored records a successful fetch of job's feed: the new validators, the
// notes, and every item not stored before (by canonical URL, and by GUID
// within the source), in one transaction. It returns the new items, with
// their ids and source, in published order.
func (s *Store) Stored(ctx context.Context, job Job, etag, lastModified string, p *Parsed, now time.Time) ([]Item, error) {
	var added []Item
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		added = added[:0]
		for _, it := range p.Items {
			cats, err := json.Marshal(nonNil(it.Categories))
			if err != nil {
				return err
			}
			// A conflict on either unique key (canonical URL; source and
			// GUID) means the article is known: skipped, not an error.
			res, err := tx.ExecContext(ctx, `INSERT INTO items (source_id, feed_id, url, guid, title, description, categories, published, first_seen)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				job.Source.ID, job.Feed.ID, it.URL, it.GUID, it.Title, it.Description, string(cats), sqlite.Time(it.Published), sqlite.Time(now))
			if err != nil {
				return fmt.Errorf("insert item %s: %w", it.URL, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue
			}
			it.ID, _ = res.LastInsertId()
			it.SourceID, it.Source, it.Domain, it.Bias = job.Source.ID, job.Source.Name, job.Source.Domain, job.Source.Bias
			added = append(added, it)
		}
		_, err := tx.ExecContext(ctx, `UPDATE source_feeds SET etag = ?, last_modified = ?, last_fetch = ?, last_success = ?,
			last_error = '', notes = ?, failures = 0, next_fetch = NULL, item_count = item_count + ?
			WHERE id = ?`, cut(etag, 500), cut(lastModified, 100), sqlite.Time(now), sqlite.Time(now),
			cut(strings.Join(p.Notes, "\n"), 4000), len(added), job.Feed.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(added, func(i, j int) bool { return added[i].Published.Before(added[j].Published) })
	return added, nil
}

// Items returns the stored items published in [from, to), in published
// order, with their sources.
func (s *Store) Items(ctx context.Context, from, to time.Time) ([]Item, error) {
	return s.items(ctx, `WHERE i.published >= ? AND i.published < ? ORDER BY i.published, i.id`, sqlite.Time(from), sqlite.Time(to))
}

// Ungrouped returns at most limit items first seen at or after since that
// no grouping has taken yet, in published order.
func (s *Store) Ungrouped(ctx context.Context, since time.Time, limit int) ([]Item, error) {
	return s.items(ctx, `WHERE i.grouped_at IS NULL AND i.first_seen >= ? ORDER BY i.published, i.id LIMIT ?`, sqlite.Time(since), limit)
}

// MarkGrouped records that the grouping took the items ids.
func (s *Store) MarkGrouped(ctx context.Context, ids []int64, now time.Time) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE items SET grouped_at = ? WHERE id = ?`, sqlite.Time(now), id); err != nil {
				return fmt.Errorf("mark item %d grouped: %w", id, err)
			}
		}
		return nil
	})
}

func (s *Store) items(ctx context.Context, where string, args ...any) ([]Item, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT i.id, i.source_id, s.name, s.domain, s.bias, i.url, i.guid, i.title, i.description, i.categories, i.published
		FROM items i JOIN sources s ON s.id = i.source_id `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("select items: %w", err)
	}
	defer rows.Close()
	var out []Item
	for rows.Next() {
		var it Item
		var cats, pub string
		if err := rows.Scan(&it.ID, &it.SourceID, &it.Source, &it.Domain, &it.Bias, &it.URL, &it.GUID, &it.Title, &it.Description, &cats, &pub); err != nil {
			return nil, fmt.Errorf("scan item: %w", err)
		}
		if err := json.Unmarshal([]byte(cats), &it.Categories); err != nil {
			return nil, fmt.Errorf("item %d categories: %w", it.ID, err)
		}
		if it.Published, err = sqlite.ParseTime(pub); err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
