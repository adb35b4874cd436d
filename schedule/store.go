package schedule

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"bothsides/sqlite"
)

// Errors the store returns for expected cases.
var (
	ErrNotFound = errors.New("schedule not found")
	ErrExists   = errors.New("schedule already exists")
	ErrInvalid  = errors.New("invalid schedule")
)

// DefaultName is the schedule `serve --schedule` seeds.
const DefaultName = "default"

// Schedule is one named send schedule.
type Schedule struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Spec        string    `json:"spec"`
	Enabled     bool      `json:"enabled"`
	Stories     int       `json:"stories"`      // top stories per edition
	WindowHours int       `json:"window_hours"` // stories published or updated this many hours before the send
	Subject     string    `json:"subject"`      // subject line override; "" for the default
	Title       string    `json:"title"`        // edition title override; "" for the default
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Limits on a schedule's fields.
const (
	MaxStories     = 20
	MaxWindowHours = 7 * 24
	maxSubject     = 200
	maxTitle       = 100
)

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// Validate fills in defaults and checks every field; the error wraps
// ErrInvalid and names each bad field, the spec with the parser's reason.
func (s *Schedule) Validate() error {
	var problems []string
	s.Name = strings.TrimSpace(s.Name)
	s.Spec = strings.TrimSpace(s.Spec)
	s.Subject = strings.TrimSpace(s.Subject)
	s.Title = strings.TrimSpace(s.Title)
	if s.Stories == 0 {
		s.Stories = 5
	}
	if s.WindowHours == 0 {
		s.WindowHours = 24
	}
	if !namePattern.MatchString(s.Name) {
		problems = append(problems, fmt.Sprintf("name %q: use 1 to 40 characters of a-z, 0-9 and -, starting with a letter or digit", s.Name))
	}
	if _, err := Parse(s.Spec); err != nil {
		problems = append(problems, "spec: "+err.Error())
	}
	if s.Stories < 1 || s.Stories > MaxStories {
		problems = append(problems, fmt.Sprintf("stories %d: want 1 to %d", s.Stories, MaxStories))
	}
	if s.WindowHours < 1 || s.WindowHours > MaxWindowHours {
		problems = append(problems, fmt.Sprintf("window %d hours: want 1 to %d", s.WindowHours, MaxWindowHours))
	}
	if n := utf8.RuneCountInString(s.Subject); n > maxSubject || strings.ContainsAny(s.Subject, "\r\n") {
		problems = append(problems, fmt.Sprintf("subject: at most %d characters on one line", maxSubject))
	}
	if n := utf8.RuneCountInString(s.Title); n > maxTitle || strings.ContainsAny(s.Title, "\r\n") {
		problems = append(problems, fmt.Sprintf("title: at most %d characters on one line", maxTitle))
	}
	if !utf8.ValidString(s.Subject) || !utf8.ValidString(s.Title) {
		problems = append(problems, "subject and title must be valid UTF-8")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	return nil
}

// Parsed returns the schedule's parsed spec.
func (s *Schedule) Parsed() (*Spec, error) { return Parse(s.Spec) }

// Store loads and changes schedules and their runs.
type Store struct {
	db *sqlite.DB
}

// NewStore returns a schedule store on db.
func NewStore(db *sqlite.DB) *Store { return &Store{db: db} }

const columns = `id, name, spec, enabled, stories, window_hours, subject, title, created_at, updated_at`

func scan(row interface{ Scan(...any) error }) (*Schedule, error) {
	var s Schedule
	var created, updated string
	if err := row.Scan(&s.ID, &s.Name, &s.Spec, &s.Enabled, &s.Stories, &s.WindowHours, &s.Subject, &s.Title, &created, &updated); err != nil {
		return nil, err
	}
	var err error
	if s.CreatedAt, err = sqlite.ParseTime(created); err != nil {
		return nil, err
	}
	if s.UpdatedAt, err = sqlite.ParseTime(updated); err != nil {
		return nil, err
	}
	return &s, nil
}

// Add stores a new schedule.
func (st *Store) Add(ctx context.Context, s Schedule) (*Schedule, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	now := sqlite.Time(st.db.Now())
	err := st.db.Tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schedules WHERE name = ?`, s.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: %s", ErrExists, s.Name)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO schedules (name, spec, enabled, stories, window_hours, subject, title, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, s.Name, s.Spec, s.Enabled, s.Stories, s.WindowHours, s.Subject, s.Title, now, now)
		return err
	})
	if errors.Is(err, ErrExists) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("add schedule %s: %w", s.Name, err)
	}
	return st.Get(ctx, s.Name)
}

// Update replaces the settings of the schedule called name. The name itself
// does not change: editions and runs refer to it.
func (st *Store) Update(ctx context.Context, name string, s Schedule) (*Schedule, error) {
	s.Name = name
	if err := s.Validate(); err != nil {
		return nil, err
	}
	res, err := st.db.W.ExecContext(ctx, `UPDATE schedules SET spec = ?, enabled = ?, stories = ?, window_hours = ?, subject = ?, title = ?, updated_at = ?
		WHERE name = ?`, s.Spec, s.Enabled, s.Stories, s.WindowHours, s.Subject, s.Title, sqlite.Time(st.db.Now()), name)
	if err != nil {
		return nil, fmt.Errorf("update schedule %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return st.Get(ctx, name)
}

// SetEnabled pauses (false) or resumes (true) a schedule. Runs that fall due
// while a schedule is paused are not caught up when it resumes.
func (st *Store) SetEnabled(ctx context.Context, name string, enabled bool) (*Schedule, error) {
	res, err := st.db.W.ExecContext(ctx, `UPDATE schedules SET enabled = ?, updated_at = ? WHERE name = ? AND enabled != ?`,
		enabled, sqlite.Time(st.db.Now()), name, enabled)
	if err != nil {
		return nil, fmt.Errorf("pause schedule %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		// Already so, or missing: Get tells which.
		return st.Get(ctx, name)
	}
	return st.Get(ctx, name)
}

// Remove deletes a schedule. Its editions and run history stay.
func (st *Store) Remove(ctx context.Context, name string) error {
	res, err := st.db.W.ExecContext(ctx, `DELETE FROM schedules WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("remove schedule %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return nil
}

// Get returns the schedule called name.
func (st *Store) Get(ctx context.Context, name string) (*Schedule, error) {
	s, err := scan(st.db.R.QueryRowContext(ctx, `SELECT `+columns+` FROM schedules WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("load schedule %s: %w", name, err)
	}
	return s, nil
}

// List returns every schedule by name.
func (st *Store) List(ctx context.Context) ([]Schedule, error) {
	rows, err := st.db.R.QueryContext(ctx, `SELECT `+columns+` FROM schedules ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	defer rows.Close()
	var out []Schedule
	for rows.Next() {
		s, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		out = append(out, *s)
	}
	return out, rows.Err()
}

// Seed adds a schedule called "default" with spec when there is no schedule
// at all, and reports whether it did.
func (st *Store) Seed(ctx context.Context, spec string) (bool, error) {
	s := Schedule{Name: DefaultName, Spec: spec, Enabled: true}
	if err := s.Validate(); err != nil {
		return false, fmt.Errorf("--schedule: %w", err)
	}
	now := sqlite.Time(st.db.Now())
	var added bool
	err := st.db.Tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schedules`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO schedules (name, spec, enabled, stories, window_hours, subject, title, created_at, updated_at)
			VALUES (?, ?, 1, ?, ?, '', '', ?, ?)`, s.Name, s.Spec, s.Stories, s.WindowHours, now, now)
		added = err == nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("seed schedule: %w", err)
	}
	return added, nil
}

// Version changes whenever a schedule is added, changed or removed; the
// scheduler compares it to reload its cron entries after a change made by
// another process (the CLI).
func (st *Store) Version(ctx context.Context) (string, error) {
	var n int
	var newest sql.NullString
	var ids sql.NullInt64
	err := st.db.R.QueryRowContext(ctx, `SELECT COUNT(*), MAX(updated_at), SUM(id) FROM schedules`).Scan(&n, &newest, &ids)
	if err != nil {
		return "", fmt.Errorf("schedules version: %w", err)
	}
	return fmt.Sprintf("%d/%s/%d", n, newest.String, ids.Int64), nil
}
