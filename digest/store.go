package digest

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"bothsides/sqlite"
)

// ErrStoryNotFound is returned when no story has the asked id.
var ErrStoryNotFound = errors.New("story not found")

// Store loads and saves stories.
type Store struct {
	db *sqlite.DB
}

// NewStore returns a story store on db.
func NewStore(db *sqlite.DB) *Store { return &Store{db: db} }

// ImportResult says what an import changed.
type ImportResult struct {
	New, Updated, Articles int
}

func (r ImportResult) String() string {
	return fmt.Sprintf("imported %d stories (%d new, %d updated), %d articles",
		r.New+r.Updated, r.New, r.Updated, r.Articles)
}

// Import saves stories in one transaction: a story whose id exists is
// replaced with its articles and FAQ. Either every story is saved or none.
func (s *Store) Import(ctx context.Context, stories []Story) (ImportResult, error) {
	var res ImportResult
	now := sqlite.Time(s.db.Now())
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		for i := range stories {
			st := &stories[i]
			var exists int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM stories WHERE id = ?`, st.ID).Scan(&exists); err != nil {
				return fmt.Errorf("look up story %q: %w", st.ID, err)
			}
			if exists > 0 {
				res.Updated++
			} else {
				res.New++
			}
			topics, _ := json.Marshal(nonNil(st.Topics))
			overview, _ := json.Marshal(nonNil(st.Overview))
			// Replacing in place keeps the row id stable; articles and FAQ
			// are rewritten below.
			_, err := tx.ExecContext(ctx, `INSERT INTO stories
				(id, title, summary, published_at, updated_at, topics, overview,
				 framing_left, framing_center, framing_right, imported_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET
				 title = excluded.title, summary = excluded.summary,
				 published_at = excluded.published_at, updated_at = excluded.updated_at,
				 topics = excluded.topics, overview = excluded.overview,
				 framing_left = excluded.framing_left, framing_center = excluded.framing_center,
				 framing_right = excluded.framing_right, imported_at = excluded.imported_at`,
				st.ID, st.Title, st.Summary, sqlite.Time(st.PublishedAt), sqlite.NullTime(st.UpdatedAt),
				string(topics), string(overview), st.Framing.Left, st.Framing.Center, st.Framing.Right, now)
			if err != nil {
				return fmt.Errorf("save story %q: %w", st.ID, err)
			}
			for _, q := range []string{`DELETE FROM articles WHERE story_id = ?`, `DELETE FROM faqs WHERE story_id = ?`} {
				if _, err := tx.ExecContext(ctx, q, st.ID); err != nil {
					return fmt.Errorf("clear story %q: %w", st.ID, err)
				}
			}
			for j, a := range st.Articles {
				_, err := tx.ExecContext(ctx, `INSERT INTO articles (story_id, position, source, bias, url, title, published_at)
					VALUES (?, ?, ?, ?, ?, ?, ?)`,
					st.ID, j, a.Source, string(a.Bias), a.URL, a.Title, sqlite.NullTime(a.PublishedAt))
				if err != nil {
					return fmt.Errorf("save story %q article %d: %w", st.ID, j, err)
				}
				res.Articles++
			}
			for j, f := range st.FAQ {
				_, err := tx.ExecContext(ctx, `INSERT INTO faqs (story_id, position, question, answer) VALUES (?, ?, ?, ?)`,
					st.ID, j, f.Question, f.Answer)
				if err != nil {
					return fmt.Errorf("save story %q faq %d: %w", st.ID, j, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("import stories: %w", err)
	}
	return res, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const storyColumns = `id, title, summary, published_at, updated_at, topics, overview,
	framing_left, framing_center, framing_right`

func scanStory(row interface{ Scan(...any) error }) (Story, error) {
	var (
		st               Story
		pub              string
		upd              sql.NullString
		topics, overview string
	)
	err := row.Scan(&st.ID, &st.Title, &st.Summary, &pub, &upd, &topics, &overview,
		&st.Framing.Left, &st.Framing.Center, &st.Framing.Right)
	if err != nil {
		return st, err
	}
	if st.PublishedAt, err = sqlite.ParseTime(pub); err != nil {
		return st, err
	}
	if st.UpdatedAt, err = sqlite.ParseNullTime(upd); err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(topics), &st.Topics); err != nil {
		return st, fmt.Errorf("story %q topics: %w", st.ID, err)
	}
	if err := json.Unmarshal([]byte(overview), &st.Overview); err != nil {
		return st, fmt.Errorf("story %q overview: %w", st.ID, err)
	}
	return st, nil
}

// Story returns one story with its articles and FAQ.
func (s *Store) Story(ctx context.Context, id string) (*Story, error) {
	st, err := scanStory(s.db.R.QueryRowContext(ctx, `SELECT `+storyColumns+` FROM stories WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrStoryNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load story %q: %w", id, err)
	}
	list := []Story{st}
	if err := s.loadDetails(ctx, list); err != nil {
		return nil, err
	}
	return &list[0], nil
}

// Window returns the stories published or updated in [start, end).
func (s *Store) Window(ctx context.Context, start, end string) ([]Story, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+storyColumns+` FROM stories
		WHERE (published_at >= ? AND published_at < ?) OR (updated_at >= ? AND updated_at < ?)
		ORDER BY published_at DESC, id`, start, end, start, end)
	if err != nil {
		return nil, fmt.Errorf("select candidate stories: %w", err)
	}
	defer rows.Close()
	var out []Story
	for rows.Next() {
		st, err := scanStory(rows)
		if err != nil {
			return nil, fmt.Errorf("select candidate stories: %w", err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select candidate stories: %w", err)
	}
	if err := s.loadDetails(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// List returns the most recently published stories, newest first.
func (s *Store) List(ctx context.Context, limit int) ([]Story, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+storyColumns+` FROM stories
		ORDER BY published_at DESC, id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list stories: %w", err)
	}
	defer rows.Close()
	var out []Story
	for rows.Next() {
		st, err := scanStory(rows)
		if err != nil {
			return nil, fmt.Errorf("list stories: %w", err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list stories: %w", err)
	}
	return out, s.loadDetails(ctx, out)
}

// loadDetails fills in the articles and FAQ of stories with two queries.
func (s *Store) loadDetails(ctx context.Context, stories []Story) error {
	if len(stories) == 0 {
		return nil
	}
	idx := make(map[string]int, len(stories))
	args := make([]any, len(stories))
	for i, st := range stories {
		idx[st.ID] = i
		args[i] = st.ID
	}
	in := "(" + strings.TrimSuffix(strings.Repeat("?,", len(stories)), ",") + ")"
	rows, err := s.db.R.QueryContext(ctx, `SELECT story_id, source, bias, url, title, published_at
		FROM articles WHERE story_id IN `+in+` ORDER BY story_id, position`, args...)
	if err != nil {
		return fmt.Errorf("load articles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, bias string
			a        Article
			pub      sql.NullString
		)
		if err := rows.Scan(&id, &a.Source, &bias, &a.URL, &a.Title, &pub); err != nil {
			return fmt.Errorf("load articles: %w", err)
		}
		a.Bias = Bias(bias)
		if a.PublishedAt, err = sqlite.ParseNullTime(pub); err != nil {
			return err
		}
		st := &stories[idx[id]]
		st.Articles = append(st.Articles, a)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load articles: %w", err)
	}
	rows.Close()
	frows, err := s.db.R.QueryContext(ctx, `SELECT story_id, question, answer
		FROM faqs WHERE story_id IN `+in+` ORDER BY story_id, position`, args...)
	if err != nil {
		return fmt.Errorf("load faq: %w", err)
	}
	defer frows.Close()
	for frows.Next() {
		var id string
		var f FAQ
		if err := frows.Scan(&id, &f.Question, &f.Answer); err != nil {
			return fmt.Errorf("load faq: %w", err)
		}
		st := &stories[idx[id]]
		st.FAQ = append(st.FAQ, f)
	}
	return frows.Err()
}
