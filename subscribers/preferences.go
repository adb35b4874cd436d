package subscribers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"bothsides/sqlite"
)

// Preferences are what a subscriber changes on their preferences page.
type Preferences struct {
	Name     string
	Topics   []string // topics to favour
	Timezone string   // IANA name, "" for the schedule's
	// PreferredHour is the local hour 0-23, or NoPreferredHour.
	PreferredHour int
}

// MaxPauseWeeks is the longest pause a subscriber can choose.
const MaxPauseWeeks = 4

// UpdatePreferences validates and saves p.
func (s *Store) UpdatePreferences(ctx context.Context, id int64, p Preferences) (*Subscriber, error) {
	var err error
	if p.Name, err = CleanName(p.Name); err != nil {
		return nil, err
	}
	if p.Topics, err = CleanTopics(p.Topics); err != nil {
		return nil, err
	}
	if p.Timezone, err = CleanTimezone(p.Timezone); err != nil {
		return nil, err
	}
	hour := sql.NullInt64{Int64: int64(p.PreferredHour), Valid: p.PreferredHour != NoPreferredHour}
	if p.PreferredHour != NoPreferredHour && (p.PreferredHour < 0 || p.PreferredHour > 23) {
		return nil, invalid("hour", "preferred hour %d is not between 0 and 23", p.PreferredHour)
	}
	err = s.updateDurably(ctx, id, `UPDATE subscribers SET name = ?, topics = ?, timezone = ?, preferred_hour = ?, updated_at = ?
		WHERE id = ?`, p.Name, topicsJSON(p.Topics), p.Timezone, hour, sqlite.Time(s.db.Now()), id)
	if errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("update preferences of %d: %w", id, err)
	}
	return s.Find(ctx, id)
}

// Pause stops mail to the subscriber for weeks (1 to MaxPauseWeeks) from
// now; 0 resumes at once. The status is unchanged: a paused subscriber is
// active but not Mailable until then.
func (s *Store) Pause(ctx context.Context, id int64, weeks int) (*Subscriber, error) {
	if weeks < 0 || weeks > MaxPauseWeeks {
		return nil, invalid("pause", "pause of %d weeks; choose 1 to %d", weeks, MaxPauseWeeks)
	}
	now := s.db.Now()
	until := sql.NullString{}
	if weeks > 0 {
		until = sqlite.NullTime(now.Add(time.Duration(weeks) * 7 * 24 * time.Hour))
	}
	err := s.updateDurably(ctx, id, `UPDATE subscribers SET paused_until = ?, updated_at = ? WHERE id = ?`,
		until, sqlite.Time(now), id)
	if errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("pause %d: %w", id, err)
	}
	return s.Find(ctx, id)
}

// updateDurably runs one UPDATE of subscriber id in a durable transaction
// (the page then says "saved"); no row is ErrNotFound.
func (s *Store) updateDurably(ctx context.Context, id int64, query string, args ...any) error {
	return s.db.DurableTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = ErrNotFound
			}
			return err
		}
		return nil
	})
}

// Resubscribe makes the subscriber active again, at their own request from
// a signed link: unsubscribed, bounced or complained, they asked for it.
func (s *Store) Resubscribe(ctx context.Context, id int64) (*Subscriber, error) {
	if err := s.SetStatus(ctx, id, StatusActive); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("resubscribe: %w", err)
	}
	return s.Find(ctx, id)
}
