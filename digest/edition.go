package digest

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"bothsides/sqlite"
)

// Errors about editions.
var (
	ErrNoStories      = errors.New("no stories")
	ErrEditionStarted = errors.New("edition has started sending and cannot be re-assembled")
	ErrNoEdition      = errors.New("edition not found")
)

// DefaultSchedule names the edition that `bothsides send` makes.
const DefaultSchedule = "default"

// Edition is one day's digest, frozen when assembled: its stories are stored
// with it exactly as they were mailed.
type Edition struct {
	ID          int64       `json:"-"`
	Date        string      `json:"date"` // YYYY-MM-DD
	Schedule    string      `json:"schedule"`
	Title       string      `json:"title,omitempty"`   // edition name; default "Both Sides"
	Subject     string      `json:"subject,omitempty"` // subject override
	WindowStart time.Time   `json:"window_start"`
	WindowEnd   time.Time   `json:"window_end"`
	Stories     []Story     `json:"stories"`
	Blindspots  []Blindspot `json:"blindspots,omitempty"`
	// Extras are stories that did not make the edition, the best ranked
	// of each topic: a reader who favours that topic gets one of them as
	// well (see Variant). Frozen with the edition like the rest.
	Extras      []Story       `json:"extras,omitempty"`
	AssembledAt time.Time     `json:"assembled_at"`
	Status      EditionStatus `json:"-"`
	StartedAt   time.Time     `json:"-"`
	FinishedAt  time.Time     `json:"-"`
}

// Blindspot is a story covered mostly by one side; For names the side whose
// readers may be missing it.
type Blindspot struct {
	For   Side  `json:"for"`
	Story Story `json:"story"`
}

// Minutes is the edition's estimated reading time, rounded up, at least 1.
func (e *Edition) Minutes() int {
	var m float64
	for i := range e.Stories {
		m += ReadingMinutes(&e.Stories[i])
	}
	for i := range e.Blindspots {
		m += ReadingMinutes(&e.Blindspots[i].Story)
	}
	return max(1, int(math.Ceil(m-1e-9)))
}

// AssembleParams says which edition to assemble.
type AssembleParams struct {
	Date        string    // YYYY-MM-DD, in the schedule's zone
	Schedule    string    // default DefaultSchedule
	WindowEnd   time.Time // the send time; the window is the hours before it
	WindowHours int       // default 24
	Selection   Selection
	Title       string
	Subject     string
}

// Assemble picks the stories for an edition. It does not store it.
func (s *Store) Assemble(ctx context.Context, p AssembleParams) (*Edition, error) {
	if p.Schedule == "" {
		p.Schedule = DefaultSchedule
	}
	start, end := windowFor(p.WindowEnd, p.WindowHours)
	cands, err := s.Window(ctx, sqlite.Time(start), sqlite.Time(end))
	if err != nil {
		return nil, err
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("%w for %s (published or updated between %s and %s)",
			ErrNoStories, p.Date, start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	top, blind := Select(cands, p.Selection)
	ranked := slices.Clone(cands)
	Rank(ranked)
	return &Edition{
		Date: p.Date, Schedule: p.Schedule, Title: p.Title, Subject: p.Subject,
		WindowStart: start, WindowEnd: end,
		Stories: top, Blindspots: blind, Extras: extrasFor(ranked, top, blind),
		AssembledAt: s.db.Now(),
		Status:      EditionAssembled,
	}, nil
}

// Freeze stores an assembled edition. An edition of the same date and
// schedule that has not started sending is replaced; one that has started is
// kept and ErrEditionStarted returned.
func (s *Store) Freeze(ctx context.Context, e *Edition) error {
	content, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode edition: %w", err)
	}
	now := sqlite.Time(s.db.Now())
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var id int64
		var status EditionStatus
		err := tx.QueryRowContext(ctx, `SELECT id, status FROM editions WHERE date = ? AND schedule = ?`,
			e.Date, e.Schedule).Scan(&id, &status)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			res, err := tx.ExecContext(ctx, `INSERT INTO editions (date, schedule, window_start, window_end, content, status, created_at)
				VALUES (?, ?, ?, ?, ?, 'assembled', ?)`,
				e.Date, e.Schedule, sqlite.Time(e.WindowStart), sqlite.Time(e.WindowEnd), string(content), now)
			if err != nil {
				return fmt.Errorf("save edition %s: %w", e.Date, err)
			}
			e.ID, err = res.LastInsertId()
			e.Status = EditionAssembled
			return err
		case err != nil:
			return fmt.Errorf("look up edition %s: %w", e.Date, err)
		case status != EditionAssembled:
			return fmt.Errorf("%s %s: %w", e.Schedule, e.Date, ErrEditionStarted)
		}
		_, err = tx.ExecContext(ctx, `UPDATE editions SET window_start = ?, window_end = ?, content = ?, created_at = ? WHERE id = ?`,
			sqlite.Time(e.WindowStart), sqlite.Time(e.WindowEnd), string(content), now, id)
		e.ID, e.Status = id, EditionAssembled
		return err
	})
	if err != nil && !errors.Is(err, ErrEditionStarted) {
		return fmt.Errorf("store edition %s %s: %w", e.Schedule, e.Date, err)
	}
	return err
}

const editionColumns = `id, content, status, started_at, finished_at`

func scanEdition(row interface{ Scan(...any) error }) (*Edition, error) {
	var (
		e                 Edition
		content           string
		started, finished sql.NullString
	)
	if err := row.Scan(&e.ID, &content, &e.Status, &started, &finished); err != nil {
		return nil, err
	}
	id, status := e.ID, e.Status
	if err := json.Unmarshal([]byte(content), &e); err != nil {
		return nil, fmt.Errorf("decode edition %d: %w", id, err)
	}
	e.ID, e.Status = id, status
	var err error
	if e.StartedAt, err = sqlite.ParseNullTime(started); err != nil {
		return nil, err
	}
	if e.FinishedAt, err = sqlite.ParseNullTime(finished); err != nil {
		return nil, err
	}
	return &e, nil
}

// Edition returns the stored edition for date and schedule.
func (s *Store) Edition(ctx context.Context, date, schedule string) (*Edition, error) {
	if schedule == "" {
		schedule = DefaultSchedule
	}
	e, err := scanEdition(s.db.R.QueryRowContext(ctx, `SELECT `+editionColumns+` FROM editions
		WHERE date = ? AND schedule = ?`, date, schedule))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s %s", ErrNoEdition, schedule, date)
	}
	if err != nil {
		return nil, fmt.Errorf("load edition %s: %w", date, err)
	}
	return e, nil
}

// EditionByID returns the stored edition with id.
func (s *Store) EditionByID(ctx context.Context, id int64) (*Edition, error) {
	e, err := scanEdition(s.db.R.QueryRowContext(ctx, `SELECT `+editionColumns+` FROM editions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: id %d", ErrNoEdition, id)
	}
	if err != nil {
		return nil, fmt.Errorf("load edition %d: %w", id, err)
	}
	return e, nil
}

// Editions returns the newest stored editions first.
func (s *Store) Editions(ctx context.Context, limit int) ([]*Edition, error) {
	return s.editions(ctx, "list editions", `ORDER BY date DESC, schedule LIMIT ?`, limit)
}

// Active returns the editions going out or paused, oldest start first.
func (s *Store) Active(ctx context.Context) ([]*Edition, error) {
	return s.editions(ctx, "active editions", `WHERE status IN ('sending', 'paused') ORDER BY started_at, id`)
}

// Unfinished returns schedule's editions dated since or later that are
// sending or sent and still have deliveries waiting (queued, in flight or
// to retry), oldest first.
func (s *Store) Unfinished(ctx context.Context, schedule, since string) ([]*Edition, error) {
	return s.editions(ctx, "unfinished editions", `WHERE schedule = ? AND date >= ? AND status IN ('sending', 'sent')
		AND EXISTS (SELECT 1 FROM deliveries d WHERE d.edition_id = editions.id AND d.status IN ('queued', 'sending', 'retry'))
		ORDER BY date`, schedule, since)
}

// editions loads the editions a query tail selects, in one query.
func (s *Store) editions(ctx context.Context, op, tail string, args ...any) ([]*Edition, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+editionColumns+` FROM editions `+tail, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	var out []*Edition
	for rows.Next() {
		e, err := scanEdition(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// Open returns the stored edition for p.Date and p.Schedule, assembling and
// freezing it first if there is none. A stored edition is never re-assembled
// here, so a repeated or resumed send mails what the first one did.
func (s *Store) Open(ctx context.Context, p AssembleParams) (*Edition, error) {
	e, err := s.Edition(ctx, p.Date, p.Schedule)
	if err == nil {
		return e, nil
	}
	if !errors.Is(err, ErrNoEdition) {
		return nil, err
	}
	e, err = s.Assemble(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := s.Freeze(ctx, e); err != nil {
		if errors.Is(err, ErrEditionStarted) {
			// Another process froze and started it meanwhile: use that one.
			return s.Edition(ctx, p.Date, p.Schedule)
		}
		return nil, err
	}
	return e, nil
}
