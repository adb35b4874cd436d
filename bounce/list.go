package bounce

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"bothsides/sqlite"
	"bothsides/subscribers"
)

// Record is one stored event, for listings.
type Record struct {
	ID         int64
	ReceivedAt time.Time
	At         time.Time
	// Subscriber is 0 for an unmatched event; Email is then empty.
	Subscriber int64
	Email      string
	// Edition is 0 when the event names none; Date and Schedule are then
	// empty.
	Edition    int64
	Date       string
	Schedule   string
	Kind       Kind
	Status     string
	Diagnostic string
	Source     string
	Recipient  string
	Domain     string
	ExternalID string
	MatchedBy  string // "token", "recipient" or ""
	Effect     string
	RawSize    int  // the report's size as received
	RawKept    bool // its bytes are still stored (see Config.RawRetention)
}

// Filter selects events for List; the zero Filter is the latest events.
type Filter struct {
	Edition    int64  // only this edition's
	Subscriber int64  // only this subscriber's
	Recipient  string // only events naming this address (case-insensitive), matched or not
	// With both Subscriber and Recipient, a reader's events: those matched
	// to the subscriber and those naming the address (matched or not).
	Kind  Kind
	Limit int // default 100, at most 1000
	// Before, when not 0, lists events with smaller ids: the next page.
	Before int64
}

// List returns stored events, newest first.
func List(ctx context.Context, db *sql.DB, f Filter) ([]Record, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 1000)
	var where []string
	var args []any
	if f.Edition != 0 {
		where, args = append(where, "b.edition_id = ?"), append(args, f.Edition)
	}
	switch {
	case f.Subscriber != 0 && f.Recipient != "":
		where = append(where, "(b.subscriber_id = ? OR b.recipient = ? COLLATE NOCASE)")
		args = append(args, f.Subscriber, strings.TrimSpace(f.Recipient))
	case f.Subscriber != 0:
		where, args = append(where, "b.subscriber_id = ?"), append(args, f.Subscriber)
	case f.Recipient != "":
		where, args = append(where, "b.recipient = ? COLLATE NOCASE"), append(args, strings.TrimSpace(f.Recipient))
	}
	if f.Kind != "" {
		where, args = append(where, "b.kind = ?"), append(args, string(f.Kind))
	}
	if f.Before != 0 {
		where, args = append(where, "b.id < ?"), append(args, f.Before)
	}
	q := `SELECT b.id, b.received_at, b.at, COALESCE(b.subscriber_id, 0), COALESCE(s.email, ''),
			COALESCE(b.edition_id, 0), COALESCE(e.date, ''), COALESCE(e.schedule, ''), b.kind, b.status, b.diagnostic,
			b.source, b.recipient, b.domain, b.external_id, b.matched_by, b.effect, b.raw_size, b.raw IS NOT NULL
		FROM bounces b
		LEFT JOIN subscribers s ON s.id = b.subscriber_id
		LEFT JOIN editions e ON e.id = b.edition_id`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY b.id DESC LIMIT ?"
	rows, err := db.QueryContext(ctx, q, append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("list bounce events: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		var recv, at string
		if err := rows.Scan(&r.ID, &recv, &at, &r.Subscriber, &r.Email, &r.Edition, &r.Date, &r.Schedule, &r.Kind,
			&r.Status, &r.Diagnostic, &r.Source, &r.Recipient, &r.Domain, &r.ExternalID, &r.MatchedBy, &r.Effect,
			&r.RawSize, &r.RawKept); err != nil {
			return nil, fmt.Errorf("list bounce events: %w", err)
		}
		if r.ReceivedAt, err = sqlite.ParseTime(recv); err != nil {
			return nil, err
		}
		if r.At, err = sqlite.ParseTime(at); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Raw returns the stored bytes of event id's report: nil when they were
// dropped after the retention, subscribers.ErrNotFound for no such event.
func Raw(ctx context.Context, db *sql.DB, id int64) ([]byte, error) {
	var raw []byte
	err := db.QueryRowContext(ctx, `SELECT raw FROM bounces WHERE id = ?`, id).Scan(&raw)
	if err == sql.ErrNoRows {
		return nil, fmt.Errorf("bounce event %d: %w", id, subscribers.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("bounce event %d: %w", id, err)
	}
	return raw, nil
}

// EraseAddress deletes every event that names email as its recipient or
// belongs to the subscriber with that address, and returns how many; the
// erasure of a subscriber deletes theirs already (migration 0011), this
// also removes the unmatched ones.
func (s *Store) EraseAddress(ctx context.Context, email string) (int, error) {
	email = strings.TrimSpace(email)
	if addr, err := subscribers.NormalizeAddress(email); err == nil {
		email = addr
	}
	var n int64
	err := s.db.DurableTx(ctx, func(tx *sql.Tx) error {
		// Zero the deleted rows, as the subscriber's erasure does.
		if _, err := tx.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM bounces WHERE recipient = ?1 COLLATE NOCASE
			OR subscriber_id IN (SELECT id FROM subscribers WHERE email = ?1 COLLATE NOCASE)`, email)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("erase bounce events: %w", err)
	}
	return int(n), nil
}

// Counts returns how many events of each kind are stored for an edition.
func Counts(ctx context.Context, db *sql.DB, edition int64) (map[Kind]int, error) {
	rows, err := db.QueryContext(ctx, `SELECT kind, COUNT(*) FROM bounces WHERE edition_id = ? GROUP BY kind`, edition)
	if err != nil {
		return nil, fmt.Errorf("count bounce events: %w", err)
	}
	defer rows.Close()
	out := map[Kind]int{}
	for rows.Next() {
		var k Kind
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, fmt.Errorf("count bounce events: %w", err)
		}
		out[k] = n
	}
	return out, rows.Err()
}
