package digest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"bothsides/sqlite"
)

// StoryStatus is where a story stands: a draft the newsroom made from
// feeds, or published.
type StoryStatus string

// The two story statuses.
const (
	StatusDraft     StoryStatus = "draft"
	StatusPublished StoryStatus = "published"
)

// Who set a story's status last (Story.StatusBy).
const (
	ByAuto   = "auto"
	ByEditor = "editor"
)

// The fields the newsroom drafts, as Story.Drafted names them.
const (
	FieldTitle         = "title"
	FieldSummary       = "summary"
	FieldOverview      = "overview"
	FieldFramingLeft   = "framing.left"
	FieldFramingCenter = "framing.center"
	FieldFramingRight  = "framing.right"
	FieldTopics        = "topics"
)

// DraftFields are every field a newly drafted story has as drafted.
var DraftFields = []string{FieldTitle, FieldSummary, FieldOverview, FieldFramingLeft, FieldFramingCenter, FieldFramingRight, FieldTopics}

// FramingField names side's framing as Story.Drafted does.
func FramingField(side Side) string { return "framing." + string(side) }

// Expected errors of the review operations.
var (
	// ErrInvalidEdit is an edit, move, split or merge that cannot be made
	// as asked; its message says why.
	ErrInvalidEdit = errors.New("invalid story edit")
	// ErrSameStory is a merge or move of a story with itself.
	ErrSameStory = errors.New("a story cannot be merged with or moved into itself")
	// ErrStoryMailed is removing a story that editions carried: the
	// archive links to it.
	ErrStoryMailed = errors.New("the story was mailed and must stay")
)

func invalidEdit(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidEdit, fmt.Sprintf(format, args...))
}

// Update loads story id in a write transaction, lets fn change it, and
// saves it as a new version when its content changed (fn's error aborts).
func (s *Store) Update(ctx context.Context, id string, fn func(st *Story) error) (*Story, error) {
	var out *Story
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		st, err := s.updateTx(ctx, tx, id, fn)
		out = st
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) updateTx(ctx context.Context, tx *sql.Tx, id string, fn func(st *Story) error) (*Story, error) {
	old, err := loadStory(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	st := cloneStory(old)
	if err := fn(st); err != nil {
		return nil, err
	}
	changes := Diff(old, st)
	if len(changes) == 0 && slices.Equal(old.Drafted, st.Drafted) && old.StatusBy == st.StatusBy && sameJoins(old, st) {
		return old, nil
	}
	if err := ensureSnapshot(ctx, tx, old); err != nil {
		return nil, err
	}
	st.Version = old.Version + 1
	if len(changes) == 0 {
		// Only bookkeeping changed (what is drafted, who set the status):
		// no new version for readers.
		st.Version = old.Version
	}
	if err := saveStory(ctx, tx, st, s.db.Now(), changes); err != nil {
		return nil, err
	}
	return st, nil
}

func sameJoins(a, b *Story) bool {
	return slices.EqualFunc(a.Articles, b.Articles, func(x, y Article) bool {
		if (x.Join == nil) != (y.Join == nil) || x.ItemID != y.ItemID {
			return false
		}
		return x.Join == nil || (x.Join.By == y.Join.By && x.Join.Score == y.Join.Score && slices.Equal(x.Join.Shared, y.Join.Shared))
	})
}

// cloneStory copies st deeply enough that changing the copy's slices
// leaves st alone.
func cloneStory(st *Story) *Story {
	c := *st
	c.Topics = slices.Clone(st.Topics)
	c.Overview = slices.Clone(st.Overview)
	c.Articles = slices.Clone(st.Articles)
	c.FAQ = slices.Clone(st.FAQ)
	c.Drafted = slices.Clone(st.Drafted)
	return &c
}

// Create stores a new story (a newsroom draft) as its version 1.
func (s *Store) Create(ctx context.Context, st *Story) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error { return s.createTx(ctx, tx, st) })
}

func (s *Store) createTx(ctx context.Context, tx *sql.Tx, st *Story) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM stories WHERE id = ?`, st.ID).Scan(&n); err != nil {
		return fmt.Errorf("create story %q: %w", st.ID, err)
	}
	if n > 0 {
		return invalidEdit("a story with id %q exists", st.ID)
	}
	st.Version = 1
	return saveStory(ctx, tx, st, s.db.Now(), nil)
}

// FreeID returns base, or base with a number appended, that no story has.
func (s *Store) FreeID(ctx context.Context, base string) (string, error) {
	if len(base) > MaxIDLen-6 {
		base = strings.TrimRight(base[:MaxIDLen-6], "-")
	}
	id := base
	for i := 2; ; i++ {
		var n int
		if err := s.db.R.QueryRowContext(ctx, `SELECT count(*) FROM stories WHERE id = ?`, id).Scan(&n); err != nil {
			return "", fmt.Errorf("free story id: %w", err)
		}
		if n == 0 {
			return id, nil
		}
		id = fmt.Sprintf("%s-%d", base, i)
	}
}

// Edit is an editor's change to a story's text; nil fields stay as they
// are. Each field given is no longer drafted: later ingests leave it.
type Edit struct {
	Title    *string
	Summary  *string
	Overview *[]string
	Framing  map[Side]string // the sides given
	Topics   *[]string
	FAQ      *[]FAQ
}

// EditStory applies e to story id as a new version.
func (s *Store) EditStory(ctx context.Context, id string, e Edit) (*Story, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	return s.Update(ctx, id, func(st *Story) error {
		touch := func(field string) {
			st.Drafted = slices.DeleteFunc(st.Drafted, func(f string) bool { return f == field })
		}
		if e.Title != nil {
			st.Title = strings.TrimSpace(*e.Title)
			touch(FieldTitle)
		}
		if e.Summary != nil {
			st.Summary = strings.TrimSpace(*e.Summary)
			touch(FieldSummary)
		}
		if e.Overview != nil {
			st.Overview = trimList(*e.Overview)
			touch(FieldOverview)
		}
		for side, text := range e.Framing {
			text = strings.TrimSpace(text)
			switch side {
			case SideLeft:
				st.Framing.Left = text
			case SideCenter:
				st.Framing.Center = text
			case SideRight:
				st.Framing.Right = text
			}
			touch(FramingField(side))
		}
		if e.Topics != nil {
			st.Topics = trimList(*e.Topics)
			touch(FieldTopics)
		}
		if e.FAQ != nil {
			st.FAQ = nil
			for _, f := range *e.FAQ {
				q, a := strings.TrimSpace(f.Question), strings.TrimSpace(f.Answer)
				if q != "" || a != "" {
					st.FAQ = append(st.FAQ, FAQ{Question: q, Answer: a})
				}
			}
		}
		return nil
	})
}

func (e Edit) check() error {
	if e.Title != nil {
		t := strings.TrimSpace(*e.Title)
		if t == "" {
			return invalidEdit("title: is required")
		}
		if len([]rune(t)) > MaxTitleLen {
			return invalidEdit("title: longer than %d characters", MaxTitleLen)
		}
	}
	if e.Summary != nil && strings.TrimSpace(*e.Summary) == "" {
		return invalidEdit("summary: is required")
	}
	if e.Overview != nil && len(trimList(*e.Overview)) > MaxOverview {
		return invalidEdit("overview: at most %d bullets", MaxOverview)
	}
	if e.Topics != nil && len(trimList(*e.Topics)) > maxTopics {
		return invalidEdit("topics: at most %d", maxTopics)
	}
	for side := range e.Framing {
		if !slices.Contains(Sides, side) {
			return invalidEdit("framing: %q is not left, center or right", side)
		}
	}
	if e.FAQ != nil {
		for i, f := range *e.FAQ {
			if (strings.TrimSpace(f.Question) == "") != (strings.TrimSpace(f.Answer) == "") {
				return invalidEdit("faq %d: needs both a question and an answer", i+1)
			}
		}
		if len(*e.FAQ) > maxFAQ {
			return invalidEdit("faq: at most %d", maxFAQ)
		}
	}
	return nil
}

// trimList trims each entry and drops the empty ones.
func trimList(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// SetStatus publishes or unpublishes story id; by is ByEditor or ByAuto.
// The first publication of a draft dates the story from then, so that it
// enters the next edition's window.
func (s *Store) SetStatus(ctx context.Context, id string, status StoryStatus, by string) (*Story, error) {
	if status != StatusDraft && status != StatusPublished {
		return nil, invalidEdit("status %q is not draft or published", status)
	}
	now := s.db.Now()
	return s.Update(ctx, id, func(st *Story) error {
		if st.Published() == (status == StatusPublished) {
			st.StatusBy = by
			return nil
		}
		if status == StatusPublished && st.StatusBy == "" && st.Status == StatusDraft {
			// A draft's time is its first article's; from now on it is
			// the story's publication.
			st.PublishedAt = now
			st.UpdatedAt = time.Time{}
		}
		st.Status, st.StatusBy = status, by
		return nil
	})
}

// mailed reports whether an edition carried story id.
func mailed(ctx context.Context, q queryer, id string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM edition_stories WHERE story_id = ?`, id).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("editions of story %q: %w", id, err)
	}
	return n > 0, nil
}

// takeArticles removes the articles with the given URLs from st and
// returns them, marked as moved by an editor. Every URL must be there.
func takeArticles(st *Story, urls []string) ([]Article, error) {
	if len(urls) == 0 {
		return nil, invalidEdit("choose at least one article")
	}
	var taken, kept []Article
	for _, a := range st.Articles {
		if slices.Contains(urls, a.URL) {
			moved := a
			j := Join{By: JoinEditor}
			if a.Join != nil {
				j.Score, j.Shared = a.Join.Score, a.Join.Shared
			}
			moved.Join = &j
			taken = append(taken, moved)
		} else {
			kept = append(kept, a)
		}
	}
	for _, u := range urls {
		if !slices.ContainsFunc(taken, func(a Article) bool { return a.URL == u }) {
			return nil, invalidEdit("story %q has no article %s", st.ID, u)
		}
	}
	st.Articles = kept
	return taken, nil
}

// addArticles appends arts to st, skipping URLs it has.
func addArticles(st *Story, arts []Article, now time.Time) {
	for _, a := range arts {
		if !slices.ContainsFunc(st.Articles, func(b Article) bool { return b.URL == a.URL }) {
			st.Articles = append(st.Articles, a)
		}
	}
	if st.Published() {
		st.UpdatedAt = now
	}
}

// removeOrSave saves what is left of a story that gave away articles, or
// deletes it when none are left (refused for a story editions carried).
func (s *Store) removeOrSave(ctx context.Context, tx *sql.Tx, old, st *Story) error {
	if len(st.Articles) > 0 {
		_, err := s.updateTx(ctx, tx, old.ID, func(cur *Story) error { *cur = *st; return nil })
		return err
	}
	m, err := mailed(ctx, tx, old.ID)
	if err != nil {
		return err
	}
	if m {
		return fmt.Errorf("%w: editions carried %q, so it keeps at least one article (move the articles the other way)", ErrStoryMailed, old.ID)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM stories WHERE id = ?`, old.ID); err != nil {
		return fmt.Errorf("delete story %q: %w", old.ID, err)
	}
	return nil
}

// MoveArticles moves the articles with the given URLs from story from to
// story to, each a new version. A story left without articles is deleted.
func (s *Store) MoveArticles(ctx context.Context, from string, urls []string, to string) (*Story, error) {
	if from == to {
		return nil, fmt.Errorf("%w: %q", ErrSameStory, from)
	}
	var out *Story
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		src, err := loadStory(ctx, tx, from)
		if err != nil {
			return err
		}
		if _, err := loadStory(ctx, tx, to); err != nil {
			return err
		}
		rest := cloneStory(src)
		arts, err := takeArticles(rest, urls)
		if err != nil {
			return err
		}
		if err := s.removeOrSave(ctx, tx, src, rest); err != nil {
			return err
		}
		out, err = s.updateTx(ctx, tx, to, func(st *Story) error { addArticles(st, arts, s.db.Now()); return nil })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("move articles: %w", err)
	}
	return out, nil
}

// Split moves the articles with the given URLs out of story from into a
// new draft story, titled after its first article, and returns it; the
// newsroom drafts the rest of its text.
func (s *Store) Split(ctx context.Context, from string, urls []string) (*Story, error) {
	var out *Story
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		src, err := loadStory(ctx, tx, from)
		if err != nil {
			return err
		}
		rest := cloneStory(src)
		arts, err := takeArticles(rest, urls)
		if err != nil {
			return err
		}
		if len(rest.Articles) == 0 {
			return invalidEdit("a split leaves at least one article in %q", from)
		}
		if err := s.removeOrSave(ctx, tx, src, rest); err != nil {
			return err
		}
		first := arts[0]
		title := first.Title
		if title == "" {
			title = first.Source
		}
		id, err := freeIDTx(ctx, tx, from+"-split")
		if err != nil {
			return err
		}
		out = &Story{ID: id, Title: title, PublishedAt: first.PublishedAt,
			Topics: src.Topics, Articles: arts, Status: StatusDraft, Drafted: []string{FieldSummary, FieldOverview,
				FieldFramingLeft, FieldFramingCenter, FieldFramingRight, FieldTopics, FieldTitle}}
		if out.PublishedAt.IsZero() {
			out.PublishedAt = s.db.Now()
		}
		return s.createTx(ctx, tx, out)
	})
	if err != nil {
		return nil, fmt.Errorf("split story: %w", err)
	}
	return out, nil
}

func freeIDTx(ctx context.Context, tx *sql.Tx, base string) (string, error) {
	if len(base) > MaxIDLen-6 {
		base = strings.TrimRight(base[:MaxIDLen-6], "-")
	}
	id := base
	for i := 2; ; i++ {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM stories WHERE id = ?`, id).Scan(&n); err != nil {
			return "", fmt.Errorf("free story id: %w", err)
		}
		if n == 0 {
			return id, nil
		}
		id = fmt.Sprintf("%s-%d", base, i)
	}
}

// Merge moves every article of story from into story into and deletes
// from; into keeps its text. Refused when from was mailed.
func (s *Store) Merge(ctx context.Context, into, from string) (*Story, error) {
	if into == from {
		return nil, fmt.Errorf("merge: %w: %q", ErrSameStory, into)
	}
	var out *Story
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		src, err := loadStory(ctx, tx, from)
		if err != nil {
			return err
		}
		if _, err := loadStory(ctx, tx, into); err != nil {
			return err
		}
		rest := cloneStory(src)
		var urls []string
		for _, a := range src.Articles {
			urls = append(urls, a.URL)
		}
		var arts []Article
		if len(urls) > 0 {
			if arts, err = takeArticles(rest, urls); err != nil {
				return err
			}
		}
		if err := s.removeOrSave(ctx, tx, src, rest); err != nil {
			return err
		}
		out, err = s.updateTx(ctx, tx, into, func(st *Story) error { addArticles(st, arts, s.db.Now()); return nil })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("merge %q into %q: %w", from, into, err)
	}
	return out, nil
}

// Linked returns, for the feed items whose articles were published at or
// after since, the story each is in.
func (s *Store) Linked(ctx context.Context, since time.Time) (map[int64]string, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT item_id, story_id FROM articles
		WHERE item_id IS NOT NULL AND published_at >= ?`, sqlite.Time(since))
	if err != nil {
		return nil, fmt.Errorf("linked items: %w", err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var item int64
		var story string
		if err := rows.Scan(&item, &story); err != nil {
			return nil, fmt.Errorf("linked items: %w", err)
		}
		out[item] = story
	}
	return out, rows.Err()
}

// Writer creates and updates stories inside one write transaction (see
// Store.Write).
type Writer struct {
	s   *Store
	ctx context.Context
	tx  *sql.Tx
}

// Write runs fn with a Writer in one transaction: every story it creates
// or updates is saved, or none (fn's error aborts). An ingest's stories
// are written this way, one commit for all of them.
func (s *Store) Write(ctx context.Context, fn func(w *Writer) error) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error { return fn(&Writer{s: s, ctx: ctx, tx: tx}) })
}

// Create is Store.Create inside the transaction.
func (w *Writer) Create(st *Story) error { return w.s.createTx(w.ctx, w.tx, st) }

// Update is Store.Update inside the transaction.
func (w *Writer) Update(id string, fn func(st *Story) error) (*Story, error) {
	return w.s.updateTx(w.ctx, w.tx, id, fn)
}
