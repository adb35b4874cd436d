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

// ErrOptInRequired is returned by Resubscribe for a reader who may come
// back only through a fresh double opt-in: bounced or complained (the
// address may not be theirs any more, or they reported the mail as spam),
// or pending (they have a confirmation link for that).
var ErrOptInRequired = errors.New("this address can come back only by signing up again and confirming")

// Resubscribe makes an unsubscribed subscriber active again, at their own
// request from a signed link; an active one stays so. Bounced, complained
// and pending subscribers are refused with ErrOptInRequired, whatever
// link they use: the same rule as sign-up's confirmation, and the check
// and the change are one transaction.
func (s *Store) Resubscribe(ctx context.Context, id int64) (*Subscriber, error) {
	now := sqlite.Time(s.db.Now())
	// Durable: the page then says the reader is back.
	err := s.db.DurableTx(ctx, func(tx *sql.Tx) error {
		var status string
		err := tx.QueryRowContext(ctx, `SELECT status FROM subscribers WHERE id = ?`, id).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		switch Status(status) {
		case StatusActive:
			return nil
		case StatusUnsubscribed:
			_, err = tx.ExecContext(ctx, `UPDATE subscribers SET status = 'active', unsubscribed_at = NULL, confirm_sent_at = NULL, bounces = 0,
				confirmed_at = COALESCE(confirmed_at, ?1), updated_at = ?1 WHERE id = ?2 AND status = 'unsubscribed'`, now, id)
			return err
		}
		return ErrOptInRequired
	})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrOptInRequired) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("resubscribe %d: %w", id, err)
	}
	return s.Find(ctx, id)
}
