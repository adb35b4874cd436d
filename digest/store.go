package digest

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"bothsides/sqlite"
)

// ErrStoryNotFound is returned when no story (or story version) has the asked id.
var ErrStoryNotFound = errors.New("story not found")

// Store loads and saves stories.
type Store struct {
	db *sqlite.DB

	gen struct { // the page generation query, prepared on first use
		once sync.Once
		stmt *sql.Stmt
		err  error
	}
}

// NewStore returns a story store on db.
func NewStore(db *sqlite.DB) *Store { return &Store{db: db} }

// queryer is what both the read pool and a write transaction offer.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ImportResult says what an import changed.
type ImportResult struct {
	New       int // stories seen for the first time
	Changed   int // existing stories whose content changed: each got a new version
	Unchanged int // existing stories imported again as they were
	Articles  int // articles in the file
}

func (r ImportResult) String() string {
	return fmt.Sprintf("imported %d stories (%d new, %d changed, %d unchanged), %d articles",
		r.New+r.Changed+r.Unchanged, r.New, r.Changed, r.Unchanged, r.Articles)
}

// Import saves stories in one transaction: either every story is saved or
// none. A story whose id exists and whose content differs gets a new version
// (the previous one is kept); an identical re-import changes nothing.
func (s *Store) Import(ctx context.Context, stories []Story) (ImportResult, error) {
	var res ImportResult
	now := s.db.Now()
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		for i := range stories {
			st := stories[i]
			res.Articles += len(st.Articles)
			old, err := loadStory(ctx, tx, st.ID)
			switch {
			case errors.Is(err, ErrStoryNotFound):
				st.Version = 1
				res.New++
			case err != nil:
				return err
			default:
				changes := Diff(old, &st)
				if len(changes) == 0 {
					res.Unchanged++
					continue
				}
				if err := ensureSnapshot(ctx, tx, old); err != nil {
					return err
				}
				st.Version = old.Version + 1
				res.Changed++
				if err := saveStory(ctx, tx, &st, now, changes); err != nil {
					return err
				}
				continue
			}
			if err := saveStory(ctx, tx, &st, now, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("import stories: %w", err)
	}
	return res, nil
}

// saveStory writes st as the current content of its id and records it as
// version st.Version with what changed.
func saveStory(ctx context.Context, tx *sql.Tx, st *Story, now time.Time, changes []string) error {
	stamp := sqlite.Time(now)
	topics, _ := json.Marshal(nonNil(st.Topics))
	overview, _ := json.Marshal(nonNil(st.Overview))
	drafted, _ := json.Marshal(nonNil(st.Drafted))
	status := st.Status
	if status == "" {
		status = StatusPublished
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO stories
		(id, title, summary, published_at, updated_at, topics, overview,
		 framing_left, framing_center, framing_right, imported_at, version, status, status_by, drafted)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
		 title = excluded.title, summary = excluded.summary,
		 published_at = excluded.published_at, updated_at = excluded.updated_at,
		 topics = excluded.topics, overview = excluded.overview,
		 framing_left = excluded.framing_left, framing_center = excluded.framing_center,
		 framing_right = excluded.framing_right, imported_at = excluded.imported_at,
		 version = excluded.version, status = excluded.status, status_by = excluded.status_by,
		 drafted = excluded.drafted`,
		st.ID, st.Title, st.Summary, sqlite.Time(st.PublishedAt), sqlite.NullTime(st.UpdatedAt),
		string(topics), string(overview), st.Framing.Left, st.Framing.Center, st.Framing.Right, stamp, st.Version,
		string(status), st.StatusBy, string(drafted))
	if err != nil {
		return fmt.Errorf("save story %q: %w", st.ID, err)
	}
	for _, q := range []string{`DELETE FROM articles WHERE story_id = ?`, `DELETE FROM faqs WHERE story_id = ?`} {
		if _, err := tx.ExecContext(ctx, q, st.ID); err != nil {
			return fmt.Errorf("clear story %q: %w", st.ID, err)
		}
	}
	for j, a := range st.Articles {
		var (
			item  sql.NullInt64
			by    string
			score float64
		)
		shared := []byte("[]")
		if a.ItemID != 0 {
			item = sql.NullInt64{Int64: a.ItemID, Valid: true}
		}
		if a.Join != nil {
			by, score = a.Join.By, a.Join.Score
			shared, _ = json.Marshal(nonNil(a.Join.Shared))
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO articles (story_id, position, source, bias, url, title, published_at,
			item_id, join_by, join_score, join_shared)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			st.ID, j, a.Source, string(a.Bias), a.URL, a.Title, sqlite.NullTime(a.PublishedAt),
			item, by, score, string(shared))
		if err != nil {
			return fmt.Errorf("save story %q article %d: %w", st.ID, j, err)
		}
	}
	for j, f := range st.FAQ {
		_, err := tx.ExecContext(ctx, `INSERT INTO faqs (story_id, position, question, answer) VALUES (?, ?, ?, ?)`,
			st.ID, j, f.Question, f.Answer)
		if err != nil {
			return fmt.Errorf("save story %q faq %d: %w", st.ID, j, err)
		}
	}
	return insertVersion(ctx, tx, st, stamp, changes)
}

func insertVersion(ctx context.Context, tx *sql.Tx, st *Story, stamp string, changes []string) error {
	content, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode story %q: %w", st.ID, err)
	}
	ch, _ := json.Marshal(nonNil(changes))
	_, err = tx.ExecContext(ctx, `INSERT INTO story_versions (story_id, version, created_at, changes, content)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, st.ID, st.Version, stamp, string(ch), string(content))
	if err != nil {
		return fmt.Errorf("save story %q version %d: %w", st.ID, st.Version, err)
	}
	return nil
}

// ensureSnapshot records old as its version if no snapshot of it exists
// (a story stored before versions were kept).
func ensureSnapshot(ctx context.Context, tx *sql.Tx, old *Story) error {
	var imported string
	if err := tx.QueryRowContext(ctx, `SELECT imported_at FROM stories WHERE id = ?`, old.ID).Scan(&imported); err != nil {
		return fmt.Errorf("story %q: %w", old.ID, err)
	}
	return insertVersion(ctx, tx, old, imported, nil)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const storyColumns = `id, title, summary, published_at, updated_at, topics, overview,
	framing_left, framing_center, framing_right, version, status, status_by, drafted`

func scanStory(row interface{ Scan(...any) error }) (Story, error) {
	var (
		st               Story
		pub              string
		upd              sql.NullString
		topics, overview string
		status, drafted  string
	)
	err := row.Scan(&st.ID, &st.Title, &st.Summary, &pub, &upd, &topics, &overview,
		&st.Framing.Left, &st.Framing.Center, &st.Framing.Right, &st.Version, &status, &st.StatusBy, &drafted)
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
	if err := json.Unmarshal([]byte(drafted), &st.Drafted); err != nil {
		return st, fmt.Errorf("story %q drafted: %w", st.ID, err)
	}
	st.Status = StoryStatus(status)
	if len(st.Drafted) == 0 {
		st.Drafted = nil
	}
	if len(st.Topics) == 0 {
		st.Topics = nil
	}
	if len(st.Overview) == 0 {
		st.Overview = nil
	}
	return st, nil
}

// loadStory reads one story with its articles and FAQ through q.
func loadStory(ctx context.Context, q queryer, id string) (*Story, error) {
	st, err := scanStory(q.QueryRowContext(ctx, `SELECT `+storyColumns+` FROM stories WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrStoryNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load story %q: %w", id, err)
	}
	list := []Story{st}
	if err := loadDetails(ctx, q, list); err != nil {
		return nil, err
	}
	return &list[0], nil
}

// Story returns one story, as it is now, with its articles and FAQ.
func (s *Store) Story(ctx context.Context, id string) (*Story, error) {
	return loadStory(ctx, s.db.R, id)
}

// Window returns the published stories published or updated in
// [start, end); drafts never enter an edition.
func (s *Store) Window(ctx context.Context, start, end string) ([]Story, error) {
	return s.list(ctx, "select candidate stories", `SELECT `+storyColumns+` FROM stories
		WHERE status = 'published' AND
		 ((published_at >= ? AND published_at < ?) OR (updated_at >= ? AND updated_at < ?))
		ORDER BY published_at DESC, id`, start, end, start, end)
}

// List returns the most recent stories, drafts and published, newest
// first.
func (s *Store) List(ctx context.Context, limit int) ([]Story, error) {
	return s.list(ctx, "list stories", `SELECT `+storyColumns+` FROM stories
		ORDER BY published_at DESC, id LIMIT ?`, limit)
}

func (s *Store) list(ctx context.Context, op, query string, args ...any) ([]Story, error) {
	rows, err := s.db.R.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	var out []Story
	for rows.Next() {
		st, err := scanStory(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	rows.Close()
	if err := loadDetails(ctx, s.db.R, out); err != nil {
		return nil, err
	}
	return out, nil
}

// loadDetails fills in the articles and FAQ of stories with two queries.
func loadDetails(ctx context.Context, q queryer, stories []Story) error {
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
	rows, err := q.QueryContext(ctx, `SELECT story_id, source, bias, url, title, published_at,
		item_id, join_by, join_score, join_shared
		FROM articles WHERE story_id IN `+in+` ORDER BY story_id, position`, args...)
	if err != nil {
		return fmt.Errorf("load articles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, bias  string
			a         Article
			pub       sql.NullString
			item      sql.NullInt64
			by, share string
			score     float64
		)
		if err := rows.Scan(&id, &a.Source, &bias, &a.URL, &a.Title, &pub, &item, &by, &score, &share); err != nil {
			return fmt.Errorf("load articles: %w", err)
		}
		a.ItemID = item.Int64
		if by != "" {
			a.Join = &Join{By: by, Score: score}
			if err := json.Unmarshal([]byte(share), &a.Join.Shared); err != nil {
				return fmt.Errorf("load articles of %q: %w", id, err)
			}
			if len(a.Join.Shared) == 0 {
				a.Join.Shared = nil
			}
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
	frows, err := q.QueryContext(ctx, `SELECT story_id, question, answer
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
