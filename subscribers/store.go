// Package subscribers owns the people who receive the digest: the subscriber
// store and its statuses, sign-up with double opt-in, preferences, the
// suppression list of erased addresses, CSV import and export, address
// validation, and the signed tokens behind every link in a mail.
package subscribers

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"bothsides/sqlite"
)

// Status is where a subscriber stands. Only active subscribers are mailed.
type Status string

// The subscriber statuses.
const (
	StatusPending      Status = "pending"
	StatusActive       Status = "active"
	StatusUnsubscribed Status = "unsubscribed"
	StatusBounced      Status = "bounced"
	StatusComplained   Status = "complained"
)

// Statuses lists every status, in lifecycle order.
var Statuses = []Status{StatusPending, StatusActive, StatusUnsubscribed, StatusBounced, StatusComplained}

// Valid reports whether st is one of the statuses.
func (st Status) Valid() bool {
	for _, s := range Statuses {
		if s == st {
			return true
		}
	}
	return false
}

// Mailable is the SQL condition, on unqualified columns of the subscribers
// table, for who may be mailed at a given moment: active and not paused. It
// takes one argument, the moment formatted with sqlite.Time:
//
//	SELECT id FROM subscribers WHERE `+subscribers.Mailable, sqlite.Time(now)
//
// Every query that picks an audience must use it, or MailableAt.
const Mailable = mailableBefore + `?)`

// mailableBefore is the Mailable condition up to its argument.
const mailableBefore = `status = 'active' AND (paused_until IS NULL OR paused_until <= `

// MailableAt is the Mailable condition with its argument, the moment, given
// as the SQL parameter param instead of "?": a numbered parameter such as
// "?4" for a statement that uses the moment more than once.
func MailableAt(param string) string { return mailableBefore + param + ")" }

// Errors the store returns for expected cases.
var (
	ErrNotFound   = errors.New("subscriber not found")
	ErrExists     = errors.New("subscriber already exists")
	ErrSuppressed = errors.New("address was erased and is on the suppression list")
	ErrInvalid    = errors.New("invalid value")
)

// FieldError is a validation error about one field of a form or a row:
// name, topics, timezone, hour, pause or status (a bad address is
// ErrInvalidAddress). It wraps ErrInvalid.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return ErrInvalid.Error() + ": " + e.Msg }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// NoPreferredHour is Subscriber.PreferredHour when the subscriber takes the
// schedule's hour.
const NoPreferredHour = -1

// Subscriber is one reader and everything held about them.
type Subscriber struct {
	ID       int64
	Email    string
	Name     string
	Status   Status
	Timezone string   // IANA name, "" for the schedule's
	Topics   []string // topics to favour
	// PreferredHour is the local hour 0-23 to be mailed at, or
	// NoPreferredHour.
	PreferredHour  int
	PausedUntil    time.Time // zero: not paused
	Bounces        int
	Source         string // cli, import or signup
	CreatedAt      time.Time
	UpdatedAt      time.Time
	ConfirmedAt    time.Time
	ConfirmSentAt  time.Time // last confirmation mail of an open sign-up
	UnsubscribedAt time.Time
	// LinkGeneration is the generation of the links that work: every
	// signed link carries the one it was made at, and RevokeLinks bumps it.
	LinkGeneration int64
}

// Paused reports whether the subscriber has paused delivery at now.
func (s *Subscriber) Paused(now time.Time) bool { return s.PausedUntil.After(now) }

// Mailable reports whether the subscriber may be mailed at now; it agrees
// with the Mailable SQL condition.
func (s *Subscriber) Mailable(now time.Time) bool {
	return s.Status == StatusActive && !s.Paused(now)
}

// Store loads and changes subscribers.
type Store struct {
	db *sqlite.DB

	mu       sync.Mutex
	hashKey  []byte // suppression_secret, loaded on first use
	limitKey []byte // ratelimit_secret
}

// NewStore returns a subscriber store on db.
func NewStore(db *sqlite.DB) *Store { return &Store{db: db} }

const columns = `id, email, name, status, timezone, topics, preferred_hour, paused_until, bounces, source,
	created_at, updated_at, confirmed_at, confirm_sent_at, unsubscribed_at, link_generation`

// nextID numbers a new subscriber above every id ever used, so that a
// signed link of a deleted subscriber never names a new one.
const nextID = `(SELECT max(COALESCE((SELECT MAX(id) FROM subscribers), 0), floor) + 1 FROM subscriber_id_floor)`

func scan(row interface{ Scan(...any) error }) (*Subscriber, error) {
	var (
		s                            Subscriber
		status, topics               string
		created, updated             string
		hour                         sql.NullInt64
		paused, confirmed, sent, uns sql.NullString
	)
	if err := row.Scan(&s.ID, &s.Email, &s.Name, &status, &s.Timezone, &topics, &hour, &paused, &s.Bounces, &s.Source,
		&created, &updated, &confirmed, &sent, &uns, &s.LinkGeneration); err != nil {
		return nil, err
	}
	s.Status = Status(status)
	s.PreferredHour = NoPreferredHour
	if hour.Valid {
		s.PreferredHour = int(hour.Int64)
	}
	if err := json.Unmarshal([]byte(topics), &s.Topics); err != nil {
		return nil, fmt.Errorf("subscriber %d topics: %w", s.ID, err)
	}
	var err error
	for _, f := range []struct {
		dst *time.Time
		src sql.NullString
	}{
		{&s.CreatedAt, sql.NullString{String: created, Valid: true}},
		{&s.UpdatedAt, sql.NullString{String: updated, Valid: true}},
		{&s.PausedUntil, paused},
		{&s.ConfirmedAt, confirmed},
		{&s.ConfirmSentAt, sent},
		{&s.UnsubscribedAt, uns},
	} {
		if *f.dst, err = sqlite.ParseNullTime(f.src); err != nil {
			return nil, fmt.Errorf("subscriber %d: %w", s.ID, err)
		}
	}
	return &s, nil
}

func topicsJSON(topics []string) string {
	if topics == nil {
		topics = []string{}
	}
	b, _ := json.Marshal(topics)
	return string(b)
}

// Add creates an active subscriber, as an administrator does. The address is
// validated and normalised; an erased address is refused with ErrSuppressed.
func (s *Store) Add(ctx context.Context, email, name string) (*Subscriber, error) {
	addr, err := NormalizeAddress(email)
	if err != nil {
		return nil, err
	}
	name, err = CleanName(name)
	if err != nil {
		return nil, err
	}
	hash, err := s.addressHash(ctx, addr)
	if err != nil {
		return nil, err
	}
	now := sqlite.Time(s.db.Now())
	var id int64
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if suppressed, err := isSuppressed(ctx, tx, hash); err != nil || suppressed {
			if err == nil {
				err = fmt.Errorf("%s: %w", addr, ErrSuppressed)
			}
			return err
		}
		var existing string
		err := tx.QueryRowContext(ctx, `SELECT email FROM subscribers WHERE email = ? COLLATE NOCASE`, addr).Scan(&existing)
		if err == nil {
			return fmt.Errorf("%w: %s", ErrExists, existing)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		return tx.QueryRowContext(ctx, `INSERT INTO subscribers (id, email, name, status, source, created_at, updated_at, confirmed_at)
			VALUES (`+nextID+`, ?, ?, 'active', 'cli', ?, ?, ?) RETURNING id`, addr, name, now, now, now).Scan(&id)
	})
	if err != nil {
		if errors.Is(err, ErrExists) || errors.Is(err, ErrSuppressed) {
			return nil, err
		}
		return nil, fmt.Errorf("add subscriber: %w", err)
	}
	return s.Find(ctx, id)
}

// Find returns the subscriber with id.
func (s *Store) Find(ctx context.Context, id int64) (*Subscriber, error) {
	sub, err := scan(s.db.R.QueryRowContext(ctx, `SELECT `+columns+` FROM subscribers WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("find subscriber %d: %w", id, err)
	}
	return sub, nil
}

// FindByEmail returns the subscriber with the given address, compared
// without regard to ASCII case.
func (s *Store) FindByEmail(ctx context.Context, email string) (*Subscriber, error) {
	addr, err := NormalizeAddress(email)
	if err != nil {
		return nil, err
	}
	sub, err := scan(s.db.R.QueryRowContext(ctx, `SELECT `+columns+` FROM subscribers
		WHERE email = ? COLLATE NOCASE ORDER BY email = ? DESC, id LIMIT 1`, addr, addr))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("find subscriber: %w", err)
	}
	return sub, nil
}

// List returns every subscriber in id order.
func (s *Store) List(ctx context.Context) ([]Subscriber, error) {
	return s.Search(ctx, SearchParams{})
}

// SearchParams filters Search. Zero values match everything.
type SearchParams struct {
	Query   string // part of the address or the name, case-insensitive
	Status  Status
	AfterID int64 // keyset paging: only ids above this
	Limit   int   // 0: no limit
}

// Search returns the subscribers matching p in id order.
func (s *Store) Search(ctx context.Context, p SearchParams) ([]Subscriber, error) {
	q := `SELECT ` + columns + ` FROM subscribers WHERE id > ?`
	args := []any{p.AfterID}
	if p.Status != "" {
		q += ` AND status = ?`
		args = append(args, string(p.Status))
	}
	if p.Query != "" {
		// instr on lower() rather than LIKE: the query may hold % or _.
		q += ` AND (instr(lower(email), lower(?)) > 0 OR instr(lower(name), lower(?)) > 0)`
		args = append(args, p.Query, p.Query)
	}
	q += ` ORDER BY id`
	if p.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, p.Limit)
	}
	rows, err := s.db.R.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list subscribers: %w", err)
	}
	defer rows.Close()
	var out []Subscriber
	for rows.Next() {
		sub, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list subscribers: %w", err)
		}
		out = append(out, *sub)
	}
	return out, rows.Err()
}

// Counts returns how many subscribers have each status.
func (s *Store) Counts(ctx context.Context) (map[Status]int, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT status, COUNT(*) FROM subscribers GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count subscribers: %w", err)
	}
	defer rows.Close()
	out := map[Status]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count subscribers: %w", err)
		}
		out[Status(st)] = n
	}
	return out, rows.Err()
}

// Unsubscribe marks the subscriber unsubscribed. It is idempotent: an
// already unsubscribed subscriber stays so with the first time kept. Bounced
// and complained subscribers keep their status (they are not mailed either).
func (s *Store) Unsubscribe(ctx context.Context, id int64) error {
	now := sqlite.Time(s.db.Now())
	// Durable: the answer tells the reader they are out.
	err := s.db.DurableTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE subscribers
			SET status = 'unsubscribed', updated_at = ?, unsubscribed_at = COALESCE(unsubscribed_at, ?), confirm_sent_at = NULL
			WHERE id = ? AND status IN ('active', 'pending', 'unsubscribed')`, now, now, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		return mustExist(ctx, tx, id)
	})
	if errors.Is(err, ErrNotFound) {
		return err
	}
	if err != nil {
		return fmt.Errorf("unsubscribe %d: %w", id, err)
	}
	return nil
}

// UnsubscribeMany unsubscribes each of ids in one durable transaction, as
// Unsubscribe does one: for a burst of one-click unsubscribes, committed
// together. It returns one error per id (ErrNotFound for a subscriber that
// no longer exists, which fails no other), or the transaction's error, in
// which case none of them was recorded.
func (s *Store) UnsubscribeMany(ctx context.Context, ids []int64) ([]error, error) {
	now := sqlite.Time(s.db.Now())
	errs := make([]error, len(ids))
	err := s.db.DurableTx(ctx, func(tx *sql.Tx) error {
		clear(errs)
		stmt, err := tx.PrepareContext(ctx, `UPDATE subscribers
			SET status = 'unsubscribed', updated_at = ?, unsubscribed_at = COALESCE(unsubscribed_at, ?), confirm_sent_at = NULL
			WHERE id = ? AND status IN ('active', 'pending', 'unsubscribed')`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, id := range ids {
			res, err := stmt.ExecContext(ctx, now, now, id)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n > 0 {
				continue
			}
			switch err := mustExist(ctx, tx, id); {
			case errors.Is(err, ErrNotFound):
				errs[i] = err
			case err != nil:
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("unsubscribe %d subscribers: %w", len(ids), err)
	}
	return errs, nil
}

// SetStatus sets a subscriber's status, as an administrator does. Moving to
// active clears the unsubscribe time and the bounce count.
func (s *Store) SetStatus(ctx context.Context, id int64, st Status) error {
	if !st.Valid() {
		return invalid("status", "status %q is not one of pending, active, unsubscribed, bounced, complained", st)
	}
	now := sqlite.Time(s.db.Now())
	// Durable: an administrator's or a reader's request (resubscribing),
	// answered as done.
	err := s.db.DurableTx(ctx, func(tx *sql.Tx) error {
		if err := mustExist(ctx, tx, id); err != nil {
			return err
		}
		q, args := `UPDATE subscribers SET status = ?3, updated_at = ?2 WHERE id = ?1`, []any{id, now, string(st)}
		switch st {
		case StatusActive:
			q = `UPDATE subscribers SET status = 'active', unsubscribed_at = NULL, bounces = 0, confirm_sent_at = NULL,
				confirmed_at = COALESCE(confirmed_at, ?2), updated_at = ?2 WHERE id = ?1`
			args = args[:2]
		case StatusUnsubscribed:
			q = `UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = COALESCE(unsubscribed_at, ?2),
				confirm_sent_at = NULL, updated_at = ?2 WHERE id = ?1`
			args = args[:2]
		}
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return err
	}
	if err != nil {
		return fmt.Errorf("set status of %d: %w", id, err)
	}
	return nil
}

func mustExist(ctx context.Context, tx *sql.Tx, id int64) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM subscribers WHERE id = ?`, id).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// Display returns the subscriber as one line for listings.
func (s *Subscriber) Display() string {
	name := s.Name
	if name == "" {
		name = "-"
	}
	return strings.Join([]string{s.Email, name, string(s.Status)}, "\t")
}
