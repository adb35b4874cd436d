package local

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"bothsides/delivery"
	"bothsides/schedule"
	"bothsides/sqlite"
)

// ZoneProgress is how one zone's subscribers stand for one edition.
type ZoneProgress struct {
	Zone string `json:"zone"`
	// At is the schedule's time in the zone that date (subscribers with a
	// preferred hour have their own).
	At      time.Time `json:"at"`
	Waiting int       `json:"waiting"` // their local time has not come yet
	Pending int       `json:"pending"` // handed to the ledger, not yet sent
	Sent    int       `json:"sent"`
	Failed  int       `json:"failed"`
	Skipped int       `json:"skipped"`
}

// Due is how many subscribers of the zone are due the edition that date.
func (z ZoneProgress) Due() int { return z.Waiting + z.Pending + z.Sent + z.Failed + z.Skipped }

// DayProgress is the progress of one local edition, zone by zone, earliest
// zone first.
type DayProgress struct {
	Schedule string         `json:"schedule"`
	Date     string         `json:"date"`
	Status   string         `json:"status"` // the edition's, or "waiting" before its first zone
	Zones    []ZoneProgress `json:"zones"`
	Total    ZoneProgress   `json:"total"`
}

// Progress returns the progress by zone of the edition of date of the
// local schedule s: who is still waiting for their morning (local_due) and
// what the ledger says of the others.
func Progress(ctx context.Context, db *sqlite.DB, s schedule.Schedule, date string) (*DayProgress, error) {
	spec, err := s.Parsed()
	if err != nil {
		return nil, err
	}
	p := &DayProgress{Schedule: s.Name, Date: date, Status: "waiting"}
	zones := map[string]*ZoneProgress{}
	get := func(z string) *ZoneProgress {
		if zp, ok := zones[z]; ok {
			return zp
		}
		zp := &ZoneProgress{Zone: z}
		zones[z] = zp
		return zp
	}
	rows, err := db.R.QueryContext(ctx, `SELECT zone, COUNT(*) FROM local_due
		WHERE schedule_id = ? AND local_date = ? GROUP BY zone`, s.ID, date)
	if err != nil {
		return nil, fmt.Errorf("local progress: %w", err)
	}
	for rows.Next() {
		var z string
		var n int
		if err := rows.Scan(&z, &n); err != nil {
			rows.Close()
			return nil, err
		}
		get(z).Waiting = n
	}
	rows.Close()
	var id int64
	err = db.R.QueryRowContext(ctx, `SELECT id, status FROM editions WHERE schedule = ? AND date = ?`, s.Name, date).Scan(&id, &p.Status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("local progress: %w", err)
	default:
		rows, err := db.R.QueryContext(ctx, `SELECT zone, status, COUNT(*) FROM deliveries WHERE edition_id = ? GROUP BY zone, status`, id)
		if err != nil {
			return nil, fmt.Errorf("local progress: %w", err)
		}
		for rows.Next() {
			var z string
			var st delivery.Status
			var n int
			if err := rows.Scan(&z, &st, &n); err != nil {
				rows.Close()
				return nil, err
			}
			if z == "" {
				z = "(sent to all at once)"
			}
			zp := get(z)
			switch st {
			case delivery.StatusSent:
				zp.Sent += n
			case delivery.StatusFailed:
				zp.Failed += n
			case delivery.StatusSkipped:
				zp.Skipped += n
			default:
				zp.Pending += n
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	for _, zp := range zones {
		if loc, err := time.LoadLocation(zp.Zone); err == nil {
			zp.At, _ = schedule.LocalRun(date, spec.Hour, spec.Minute, loc)
		}
		p.Zones = append(p.Zones, *zp)
		t := &p.Total
		t.Waiting += zp.Waiting
		t.Pending += zp.Pending
		t.Sent += zp.Sent
		t.Failed += zp.Failed
		t.Skipped += zp.Skipped
	}
	sort.Slice(p.Zones, func(i, j int) bool {
		a, b := p.Zones[i], p.Zones[j]
		if !a.At.Equal(b.At) {
			return a.At.Before(b.At)
		}
		return a.Zone < b.Zone
	})
	return p, nil
}

// Today returns the progress of each enabled local schedule's editions
// going out around now: every date that is today somewhere (UTC-12 to
// UTC+14), the oldest first.
func Today(ctx context.Context, db *sqlite.DB, schedules *schedule.Store, now time.Time) ([]DayProgress, error) {
	list, err := schedules.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []DayProgress
	first := now.Add(-12 * time.Hour).UTC().Format(schedule.DateFormat)
	last := now.Add(14 * time.Hour).UTC().Format(schedule.DateFormat)
	for _, s := range list {
		if !s.Enabled || !schedule.IsLocal(s.Spec) {
			continue
		}
		for d := first; d <= last; d = schedule.NextDate(d) {
			p, err := Progress(ctx, db, s, d)
			if err != nil {
				return nil, err
			}
			if p.Total.Due() > 0 {
				out = append(out, *p)
			}
		}
	}
	return out, nil
}
