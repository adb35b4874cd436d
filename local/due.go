// Package local sends local schedules ("local 07:00"): each subscriber gets
// that day's edition at 07:00 in their own time zone. It keeps an index of
// when each subscriber is next due (the local_due table), and a ticker that
// every minute hands the due subscribers to the delivery ledger of their
// local date's edition and sends them through delivery.Sender.
package local

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"bothsides/schedule"
	"bothsides/sqlite"
)

// localSchedule is a schedule whose spec is local, parsed.
type localSchedule struct {
	schedule.Schedule
	spec *schedule.Spec
}

// localSchedules returns every local schedule, enabled or not: the rows of
// a paused one are kept up to date so that it resumes from its next run.
func (t *Ticker) localSchedules(ctx context.Context) ([]localSchedule, error) {
	list, err := t.schedules.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []localSchedule
	for _, s := range list {
		if !schedule.IsLocal(s.Spec) {
			continue
		}
		spec, err := s.Parsed()
		if err != nil {
			t.cfg.Logger.Error("local schedule has a bad spec", "schedule", s.Name, "err", err)
			continue
		}
		out = append(out, localSchedule{Schedule: s, spec: spec})
	}
	return out, nil
}

// zone returns the location a subscriber's mail is timed in: their own
// zone, or the schedule's when they chose none (or one this system's time
// zone database does not know).
func (t *Ticker) zone(tz string, spec *schedule.Spec) (*time.Location, string) {
	if tz != "" {
		t.locMu.Lock()
		loc, ok := t.locs[tz]
		if !ok {
			l, err := time.LoadLocation(tz)
			if err == nil && tz != "Local" {
				loc = l
			}
			t.locs[tz] = loc
		}
		t.locMu.Unlock()
		if loc != nil {
			return loc, tz
		}
	}
	return spec.Location, spec.Location.String()
}

// minuteOfDay is when a subscriber is mailed, in minutes after local
// midnight: their preferred hour at the schedule's minute, else the
// schedule's time.
func minuteOfDay(hour sql.NullInt64, spec *schedule.Spec) int {
	if hour.Valid && hour.Int64 >= 0 && hour.Int64 <= 23 {
		return int(hour.Int64)*60 + spec.Minute
	}
	return spec.Hour*60 + spec.Minute
}

// loadZone loads a zone name stored in local_due (always a valid one).
func (t *Ticker) loadZone(name string, spec *schedule.Spec) *time.Location {
	loc, _ := t.zone(name, spec)
	return loc
}

// ensureBuilt fills local_due for a local schedule that has no rows yet, or
// whose spec changed since they were computed: every active subscriber is
// next due at their first local run after now. It groups the subscribers
// by zone and hour, computes each group's time once, and inserts the rows
// with one INSERT ... SELECT joined to those groups.
func (t *Ticker) ensureBuilt(ctx context.Context, ls localSchedule, now time.Time) error {
	var built string
	err := t.db.R.QueryRowContext(ctx, `SELECT spec FROM local_schedules WHERE schedule_id = ?`, ls.ID).Scan(&built)
	if err == nil && built == ls.Spec {
		return nil
	}
	if err != nil && err != sql.ErrNoRows {
		return fmt.Errorf("local schedule %s: %w", ls.Name, err)
	}
	start := time.Now()
	var n int64
	err = t.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM local_due WHERE schedule_id = ?`, ls.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE IF NOT EXISTS local_groups (
				timezone TEXT NOT NULL, hour INTEGER NOT NULL, zone TEXT NOT NULL, minute INTEGER NOT NULL,
				due_at TEXT NOT NULL, local_date TEXT NOT NULL, PRIMARY KEY (timezone, hour))`); err != nil {
			return err
		}
		defer tx.ExecContext(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS temp.local_groups`)
		if _, err := tx.ExecContext(ctx, `DELETE FROM temp.local_groups`); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT DISTINCT timezone, preferred_hour FROM subscribers WHERE status = 'active'`)
		if err != nil {
			return err
		}
		type group struct {
			tz   string
			hour sql.NullInt64
		}
		var groups []group
		for rows.Next() {
			var g group
			if err := rows.Scan(&g.tz, &g.hour); err != nil {
				rows.Close()
				return err
			}
			groups = append(groups, g)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, g := range groups {
			loc, zone := t.zone(g.tz, ls.spec)
			m := minuteOfDay(g.hour, ls.spec)
			at, date := schedule.NextLocal(now, loc, m/60, m%60)
			h := int64(-1)
			if g.hour.Valid {
				h = g.hour.Int64
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO temp.local_groups VALUES (?, ?, ?, ?, ?, ?)`,
				g.tz, h, zone, m, sqlite.Time(at), date); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO local_due (subscriber_id, schedule_id, zone, minute, due_at, local_date)
			SELECT s.id, ?, g.zone, g.minute, g.due_at, g.local_date
			FROM subscribers s JOIN temp.local_groups g ON g.timezone = s.timezone AND g.hour = COALESCE(s.preferred_hour, -1)
			WHERE s.status = 'active'`, ls.ID)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = tx.ExecContext(ctx, `INSERT INTO local_schedules (schedule_id, spec, built_at) VALUES (?, ?, ?)
			ON CONFLICT (schedule_id) DO UPDATE SET spec = excluded.spec, built_at = excluded.built_at`,
			ls.ID, ls.Spec, sqlite.Time(now))
		return err
	})
	if err != nil {
		return fmt.Errorf("build local schedule %s: %w", ls.Name, err)
	}
	t.cfg.Logger.Info("local schedule built", "schedule", ls.Name, "spec", ls.Spec, "subscribers", n,
		"took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// drainDirty recomputes the rows of the subscribers that were added or
// whose status, zone or preferred hour changed (local_dirty, filled by
// triggers), a batch per transaction. An inactive subscriber loses their
// rows. Otherwise they are next due at their first local run after now,
// except that a change must not cost them today's edition: if their row was
// waiting for today's date (in the new zone) and today's new time has
// passed already, they are due at once. The ledger's key (one delivery per
// edition and subscriber) stops a second copy when today's was mailed.
func (t *Ticker) drainDirty(ctx context.Context, list []localSchedule, now time.Time) (int, error) {
	if len(list) == 0 {
		_, err := t.db.W.ExecContext(ctx, `DELETE FROM local_dirty`)
		return 0, err
	}
	total := 0
	// A bulk import can note a million subscribers: a tick recomputes at
	// most maxDirtyBatches batches and leaves the rest to the next ones,
	// so that the subscribers due now are not kept waiting.
	for range maxDirtyBatches {
		n := 0
		err := t.db.Tx(ctx, func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, `SELECT d.subscriber_id, COALESCE(s.status, ''), COALESCE(s.timezone, ''), s.preferred_hour
				FROM local_dirty d LEFT JOIN subscribers s ON s.id = d.subscriber_id
				ORDER BY d.subscriber_id LIMIT ?`, t.cfg.Batch)
			if err != nil {
				return err
			}
			type dirty struct {
				id         int64
				status, tz string
				hour       sql.NullInt64
			}
			var batch []dirty
			for rows.Next() {
				var d dirty
				if err := rows.Scan(&d.id, &d.status, &d.tz, &d.hour); err != nil {
					rows.Close()
					return err
				}
				batch = append(batch, d)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			n = len(batch)
			old, err := tx.PrepareContext(ctx, `SELECT local_date FROM local_due WHERE subscriber_id = ? AND schedule_id = ?`)
			if err != nil {
				return err
			}
			defer old.Close()
			upsert, err := tx.PrepareContext(ctx, `INSERT INTO local_due (subscriber_id, schedule_id, zone, minute, due_at, local_date)
				VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (subscriber_id, schedule_id) DO UPDATE
				SET zone = excluded.zone, minute = excluded.minute, due_at = excluded.due_at, local_date = excluded.local_date`)
			if err != nil {
				return err
			}
			defer upsert.Close()
			for _, d := range batch {
				if d.status != "active" {
					if _, err := tx.ExecContext(ctx, `DELETE FROM local_due WHERE subscriber_id = ?`, d.id); err != nil {
						return err
					}
				} else {
					for _, ls := range list {
						var waiting string
						if err := old.QueryRowContext(ctx, d.id, ls.ID).Scan(&waiting); err != nil && err != sql.ErrNoRows {
							return err
						}
						loc, zone := t.zone(d.tz, ls.spec)
						m := minuteOfDay(d.hour, ls.spec)
						at, date := schedule.NextLocal(now, loc, m/60, m%60)
						if today := now.In(loc).Format(schedule.DateFormat); waiting == today && date != today {
							at, date = now, today
						}
						if _, err := upsert.ExecContext(ctx, d.id, ls.ID, zone, m, sqlite.Time(at), date); err != nil {
							return err
						}
					}
				}
				if _, err := tx.ExecContext(ctx, `DELETE FROM local_dirty WHERE subscriber_id = ?`, d.id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("recompute local due times: %w", err)
		}
		total += n
		if n < t.cfg.Batch {
			return total, nil
		}
	}
	return total, nil
}

// maxDirtyBatches bounds the recomputation done by one tick.
const maxDirtyBatches = 20
