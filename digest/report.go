package digest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"bothsides/sqlite"
	"bothsides/subscribers"
)

// Report is a problem a reader reported about a story.
type Report struct {
	ID         int64
	StoryID    string
	Version    int // the story version the reader saw
	Kind       string
	Message    string
	Email      string // optional, for a reply
	CreatedAt  time.Time
	ResolvedAt time.Time
	StoryTitle string // filled in by Reports
}

// ReportKind is one choice of "what is wrong".
type ReportKind struct {
	Value, Label string
}

// ReportKinds are the choices the report form offers.
var ReportKinds = []ReportKind{
	{"error", "A factual error"},
	{"framing", "Unfair framing, or a side left out"},
	{"link", "A broken or wrong link"},
	{"other", "Something else"},
}

// MaxReportMessage is the longest report message accepted, in characters.
const MaxReportMessage = 2000

// Errors about reports.
var (
	ErrRateLimited    = errors.New("too many reports from this address; please try again later")
	ErrReportNotFound = errors.New("report not found")
)

// ReportError is a report that cannot be accepted as written.
type ReportError struct {
	Field, Msg string
}

func (e *ReportError) Error() string { return e.Field + ": " + e.Msg }

// ReportLimit bounds how many reports one client may send.
type ReportLimit struct {
	Max    int           // reports per Window; default 5
	Window time.Duration // default 1h
}

// validate checks and cleans a report from the form.
func (r *Report) validate() error {
	known := false
	for _, k := range ReportKinds {
		known = known || k.Value == r.Kind
	}
	if !known {
		return &ReportError{"kind", "choose what is wrong"}
	}
	r.Message = strings.TrimSpace(strings.ReplaceAll(r.Message, "\r\n", "\n"))
	switch n := utf8.RuneCountInString(r.Message); {
	case !utf8.ValidString(r.Message):
		return &ReportError{"message", "is not valid text"}
	case n == 0:
		return &ReportError{"message", "tell us what is wrong"}
	case n > MaxReportMessage:
		return &ReportError{"message", fmt.Sprintf("is %d characters long; at most %d, please", n, MaxReportMessage)}
	}
	for _, c := range r.Message {
		if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
			return &ReportError{"message", "contains control characters"}
		}
	}
	if strings.TrimSpace(r.Email) != "" {
		addr, err := subscribers.NormalizeAddress(r.Email)
		if err != nil {
			return &ReportError{"email", "is not a valid email address (leave it empty if you want no reply)"}
		}
		r.Email = addr
	} else {
		r.Email = ""
	}
	return nil
}

// AddReport validates and stores a report about the current version of its
// story. client identifies the sender for the rate limit (a keyed hash of
// its address, never the address itself).
func (s *Store) AddReport(ctx context.Context, r *Report, client string, limit ReportLimit) error {
	if limit.Max <= 0 {
		limit.Max = 5
	}
	if limit.Window <= 0 {
		limit.Window = time.Hour
	}
	if err := r.validate(); err != nil {
		return err
	}
	now := s.db.Now()
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT version FROM stories WHERE id = ?`, r.StoryID).Scan(&r.Version); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrStoryNotFound
			}
			return fmt.Errorf("report: %w", err)
		}
		var recent int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM reports WHERE client = ? AND created_at > ?`,
			client, sqlite.Time(now.Add(-limit.Window))).Scan(&recent); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		if recent >= limit.Max {
			return ErrRateLimited
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO reports (story_id, version, kind, message, email, client, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, r.StoryID, r.Version, r.Kind, r.Message, r.Email, client, sqlite.Time(now))
		if err != nil {
			return fmt.Errorf("save report: %w", err)
		}
		r.ID, _ = res.LastInsertId()
		r.CreatedAt = now
		return nil
	})
}

// Reports lists reports, newest first: only the open ones unless all.
func (s *Store) Reports(ctx context.Context, all bool, limit int) ([]Report, error) {
	q := `SELECT r.id, r.story_id, r.version, r.kind, r.message, r.email, r.created_at, r.resolved_at, COALESCE(s.title, '')
		FROM reports r LEFT JOIN stories s ON s.id = r.story_id`
	if !all {
		q += ` WHERE r.resolved_at IS NULL`
	}
	q += ` ORDER BY r.id DESC LIMIT ?`
	rows, err := s.db.R.QueryContext(ctx, q, limit)
	if err != nil {
		return nil, fmt.Errorf("list reports: %w", err)
	}
	defer rows.Close()
	var out []Report
	for rows.Next() {
		var (
			r        Report
			created  string
			resolved sql.NullString
		)
		if err := rows.Scan(&r.ID, &r.StoryID, &r.Version, &r.Kind, &r.Message, &r.Email, &created, &resolved, &r.StoryTitle); err != nil {
			return nil, fmt.Errorf("list reports: %w", err)
		}
		if r.CreatedAt, err = sqlite.ParseTime(created); err != nil {
			return nil, err
		}
		if r.ResolvedAt, err = sqlite.ParseNullTime(resolved); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ResolveReport marks a report resolved. Resolving twice keeps the first time.
func (s *Store) ResolveReport(ctx context.Context, id int64) error {
	res, err := s.db.W.ExecContext(ctx, `UPDATE reports SET resolved_at = COALESCE(resolved_at, ?) WHERE id = ?`,
		sqlite.Time(s.db.Now()), id)
	if err != nil {
		return fmt.Errorf("resolve report %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %d", ErrReportNotFound, id)
	}
	return nil
}

// KindLabel returns the reader-facing label of a report kind.
func KindLabel(kind string) string {
	for _, k := range ReportKinds {
		if k.Value == kind {
			return k.Label
		}
	}
	return kind
}
