package schedule

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"bothsides/sqlite"
)

// Run statuses.
const (
	RunStarted = "started" // claimed; its edition is going out
	RunDone    = "done"
	RunFailed  = "failed"
	RunStopped = "stopped" // paused or cancelled by an admin
	RunMissed  = "missed"  // fell due while the server was down, past the grace period
)

// Run is one due run of a schedule: the edition of Date, due at Due.
type Run struct {
	Schedule Schedule
	Date     string
	Due      time.Time
}

// RunRecord is what happened to a run.
type RunRecord struct {
	Schedule  string    `json:"schedule"`
	Date      string    `json:"date"`
	Due       time.Time `json:"due_at"`
	Status    string    `json:"status"`
	Detail    string    `json:"detail,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// claim records that r is starting, and reports false when the run is
// already claimed (started) or settled (done, missed). A failed or stopped
// run may be claimed again: that is how an admin retries or resumes one.
func (st *Store) claim(ctx context.Context, r Run, retry bool) (bool, error) {
	now := sqlite.Time(st.db.Now())
	q := `INSERT INTO schedule_runs (schedule, date, due_at, status, created_at, updated_at)
		VALUES (?, ?, ?, 'started', ?, ?) ON CONFLICT (schedule, date) DO NOTHING`
	if retry {
		q = `INSERT INTO schedule_runs (schedule, date, due_at, status, created_at, updated_at)
		VALUES (?, ?, ?, 'started', ?, ?) ON CONFLICT (schedule, date) DO UPDATE
		SET status = 'started', detail = '', updated_at = excluded.updated_at
		WHERE status != 'started'`
	}
	res, err := st.db.W.ExecContext(ctx, q, r.Schedule.Name, r.Date, sqlite.Time(r.Due), now, now)
	if err != nil {
		return false, fmt.Errorf("claim run %s %s: %w", r.Schedule.Name, r.Date, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// finish records how a claimed run ended.
func (st *Store) finish(ctx context.Context, name, date, status, detail string) error {
	if len(detail) > 500 {
		detail = detail[:500]
	}
	_, err := st.db.W.ExecContext(ctx, `UPDATE schedule_runs SET status = ?, detail = ?, updated_at = ? WHERE schedule = ? AND date = ?`,
		status, detail, sqlite.Time(st.db.Now()), name, date)
	if err != nil {
		return fmt.Errorf("record run %s %s: %w", name, date, err)
	}
	return nil
}

// recordMissed records a run that nobody will send; it keeps a record that
// exists already.
func (st *Store) recordMissed(ctx context.Context, r Run, detail string) (bool, error) {
	now := sqlite.Time(st.db.Now())
	res, err := st.db.W.ExecContext(ctx, `INSERT INTO schedule_runs (schedule, date, due_at, status, detail, created_at, updated_at)
		VALUES (?, ?, ?, 'missed', ?, ?, ?) ON CONFLICT (schedule, date) DO NOTHING`,
		r.Schedule.Name, r.Date, sqlite.Time(r.Due), detail, now, now)
	if err != nil {
		return false, fmt.Errorf("record missed run %s %s: %w", r.Schedule.Name, r.Date, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// settled reports whether the run of name on date needs nothing from the
// scheduler: it has a run record, or an edition exists for it (sent by hand
// with `bothsides send --schedule`, or by an admin).
func (st *Store) settled(ctx context.Context, name, date string) (bool, error) {
	var n int
	err := st.db.R.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM schedule_runs WHERE schedule = ? AND date = ?) +
		(SELECT COUNT(*) FROM editions WHERE schedule = ? AND date = ?)`, name, date, name, date).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up run %s %s: %w", name, date, err)
	}
	return n > 0, nil
}

// Runs returns the most recent run records, newest due first; status ""
// means any.
func (st *Store) Runs(ctx context.Context, status string, limit int) ([]RunRecord, error) {
	rows, err := st.db.R.QueryContext(ctx, `SELECT schedule, date, due_at, status, detail, updated_at FROM schedule_runs
		WHERE ? = '' OR status = ? ORDER BY due_at DESC, schedule LIMIT ?`, status, status, limit)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var out []RunRecord
	for rows.Next() {
		var r RunRecord
		var due, upd string
		if err := rows.Scan(&r.Schedule, &r.Date, &due, &r.Status, &r.Detail, &upd); err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		if r.Due, err = sqlite.ParseTime(due); err != nil {
			return nil, err
		}
		if r.UpdatedAt, err = sqlite.ParseTime(upd); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RunOf returns the record of the run of name on date.
func (st *Store) RunOf(ctx context.Context, name, date string) (*RunRecord, error) {
	var r RunRecord
	var due, upd string
	err := st.db.R.QueryRowContext(ctx, `SELECT schedule, date, due_at, status, detail, updated_at FROM schedule_runs
		WHERE schedule = ? AND date = ?`, name, date).Scan(&r.Schedule, &r.Date, &due, &r.Status, &r.Detail, &upd)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no run of %s on %s", ErrNotFound, name, date)
	}
	if err != nil {
		return nil, fmt.Errorf("load run %s %s: %w", name, date, err)
	}
	r.Due, _ = sqlite.ParseTime(due)
	r.UpdatedAt, _ = sqlite.ParseTime(upd)
	return &r, nil
}
