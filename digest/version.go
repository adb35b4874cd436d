package digest

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"bothsides/sqlite"
)

// Version is one past or present content of a story.
type Version struct {
	Number    int
	CreatedAt time.Time
	Changes   []string // what changed from the version before; empty for the first
}

// Diff lists, in words a reader understands, what changed from old to new.
// An empty list means the two are the same story content.
func Diff(old, new *Story) []string {
	var out []string
	if old.Published() != new.Published() {
		if new.Published() {
			out = append(out, "Published")
		} else {
			out = append(out, "Unpublished")
		}
	}
	if old.Title != new.Title {
		out = append(out, "Title changed")
	}
	if old.Summary != new.Summary {
		out = append(out, "Summary changed")
	}
	if !old.PublishedAt.Equal(new.PublishedAt) {
		out = append(out, "Publication time changed")
	}
	if !old.UpdatedAt.Equal(new.UpdatedAt) {
		out = append(out, "Update time changed")
	}
	if !slices.Equal(old.Topics, new.Topics) {
		out = append(out, "Topics changed")
	}
	if !slices.Equal(old.Overview, new.Overview) {
		out = append(out, "Overview changed")
	}
	for _, side := range Sides {
		o, n := old.Framing.Of(side), new.Framing.Of(side)
		switch {
		case o == n:
		case o == "":
			out = append(out, side.Title()+" framing added")
		case n == "":
			out = append(out, side.Title()+" framing removed")
		default:
			out = append(out, side.Title()+" framing changed")
		}
	}
	oldArts := map[string]Article{}
	for _, a := range old.Articles {
		oldArts[a.URL] = a
	}
	newArts := map[string]bool{}
	for _, a := range new.Articles {
		newArts[a.URL] = true
		prev, ok := oldArts[a.URL]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("Article added: %s (%s)", a.Source, a.Bias.Label()))
		case prev.Source != a.Source || prev.Bias != a.Bias || prev.Title != a.Title || !prev.PublishedAt.Equal(a.PublishedAt):
			out = append(out, fmt.Sprintf("Article changed: %s (%s)", a.Source, a.Bias.Label()))
		}
	}
	for _, a := range old.Articles {
		if !newArts[a.URL] {
			out = append(out, fmt.Sprintf("Article removed: %s (%s)", a.Source, a.Bias.Label()))
		}
	}
	if len(out) == 0 && !slices.EqualFunc(old.Articles, new.Articles, func(a, b Article) bool { return a.URL == b.URL }) {
		out = append(out, "Articles reordered")
	}
	if !slices.Equal(old.FAQ, new.FAQ) {
		out = append(out, "FAQ changed")
	}
	return out
}

// Versions returns a story's versions, newest first.
func (s *Store) Versions(ctx context.Context, id string) ([]Version, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT version, created_at, changes FROM story_versions
		WHERE story_id = ? ORDER BY version DESC`, id)
	if err != nil {
		return nil, fmt.Errorf("story %q versions: %w", id, err)
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		var (
			v          Version
			at, change string
		)
		if err := rows.Scan(&v.Number, &at, &change); err != nil {
			return nil, fmt.Errorf("story %q versions: %w", id, err)
		}
		if v.CreatedAt, err = sqlite.ParseTime(at); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(change), &v.Changes); err != nil {
			return nil, fmt.Errorf("story %q version %d changes: %w", id, v.Number, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// StoryVersion returns a story as it was at version n.
func (s *Store) StoryVersion(ctx context.Context, id string, n int) (*Story, error) {
	var content string
	err := s.db.R.QueryRowContext(ctx, `SELECT content FROM story_versions WHERE story_id = ? AND version = ?`, id, n).Scan(&content)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s version %d", ErrStoryNotFound, id, n)
	}
	if err != nil {
		return nil, fmt.Errorf("story %q version %d: %w", id, n, err)
	}
	var st Story
	if err := json.Unmarshal([]byte(content), &st); err != nil {
		return nil, fmt.Errorf("decode story %q version %d: %w", id, n, err)
	}
	return &st, nil
}

// Mailing is an edition that carried a story, and the version it carried.
type Mailing struct {
	Date, Schedule string
	Version        int
}

// Mailings lists the sent or sending editions that carried story id, newest
// first, with the story version each one mailed. It reads the
// edition_stories index, which triggers keep in step with each edition's
// frozen content (migration 0010), so no edition's JSON is scanned.
func (s *Store) Mailings(ctx context.Context, id string) ([]Mailing, error) {
	rows, err := s.db.R.QueryContext(ctx, `
		SELECT e.date, e.schedule, x.version
		FROM edition_stories x JOIN editions e ON e.id = x.edition_id
		WHERE x.story_id = ? AND e.status != 'assembled'
		ORDER BY e.date DESC, e.schedule, x.list DESC, x.position`, id)
	if err != nil {
		return nil, fmt.Errorf("editions with story %q: %w", id, err)
	}
	defer rows.Close()
	var out []Mailing
	for rows.Next() {
		var m Mailing
		if err := rows.Scan(&m.Date, &m.Schedule, &m.Version); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
