// Package subscribers owns the people who receive the digest: the subscriber
// store and its statuses, address validation, and the signed tokens behind
// every unsubscribe and preferences link.
package subscribers

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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

// Errors the store returns for expected cases.
var (
	ErrNotFound = errors.New("subscriber not found")
	ErrExists   = errors.New("subscriber already exists")
)

// Subscriber is one reader.
type Subscriber struct {
	ID             int64
	Email          string
	Name           string
	Status         Status
	Timezone       string
	Topics         []string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	UnsubscribedAt time.Time
}

// Store loads and changes subscribers.
type Store struct {
	db *sqlite.DB
}

// NewStore returns a subscriber store on db.
func NewStore(db *sqlite.DB) *Store { return &Store{db: db} }

const columns = `id, email, name, status, timezone, topics, created_at, updated_at, unsubscribed_at`

func scan(row interface{ Scan(...any) error }) (*Subscriber, error) {
	var (
		s                Subscriber
		status, topics   string
		created, updated string
		unsub            sql.NullString
	)
	if err := row.Scan(&s.ID, &s.Email, &s.Name, &status, &s.Timezone, &topics, &created, &updated, &unsub); err != nil {
		return nil, err
	}
	s.Status = Status(status)
	if err := json.Unmarshal([]byte(topics), &s.Topics); err != nil {
		return nil, fmt.Errorf("subscriber %d topics: %w", s.ID, err)
	}
	var err error
	if s.CreatedAt, err = sqlite.ParseTime(created); err != nil {
		return nil, err
	}
	if s.UpdatedAt, err = sqlite.ParseTime(updated); err != nil {
		return nil, err
	}
	if s.UnsubscribedAt, err = sqlite.ParseNullTime(unsub); err != nil {
		return nil, err
	}
	return &s, nil
}

// Add creates an active subscriber. The address is validated and normalised.
func (s *Store) Add(ctx context.Context, email, name string) (*Subscriber, error) {
	addr, err := NormalizeAddress(email)
	if err != nil {
		return nil, err
	}
	name, err = CleanName(name)
	if err != nil {
		return nil, err
	}
	now := sqlite.Time(s.db.Now())
	var id int64
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM subscribers WHERE email = ?`, addr).Scan(&exists); err != nil {
			return err
		}
		if exists > 0 {
			return fmt.Errorf("%w: %s", ErrExists, addr)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO subscribers (email, name, status, created_at, updated_at, confirmed_at)
			VALUES (?, ?, 'active', ?, ?, ?)`, addr, name, now, now, now)
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	if err != nil {
		if errors.Is(err, ErrExists) {
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

// FindByEmail returns the subscriber with the given address.
func (s *Store) FindByEmail(ctx context.Context, email string) (*Subscriber, error) {
	addr, err := NormalizeAddress(email)
	if err != nil {
		return nil, err
	}
	sub, err := scan(s.db.R.QueryRowContext(ctx, `SELECT `+columns+` FROM subscribers WHERE email = ?`, addr))
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
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+columns+` FROM subscribers ORDER BY id`)
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

// Unsubscribe marks the subscriber unsubscribed. It is idempotent: an
// already unsubscribed subscriber stays so with the first time kept.
func (s *Store) Unsubscribe(ctx context.Context, id int64) error {
	now := sqlite.Time(s.db.Now())
	var n int64
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE subscribers
			SET status = 'unsubscribed', updated_at = ?, unsubscribed_at = COALESCE(unsubscribed_at, ?)
			WHERE id = ? AND status IN ('active', 'pending', 'unsubscribed')`, now, now, id)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		if err != nil || n > 0 {
			return err
		}
		// Bounced or complained subscribers stay so; a missing one is an error.
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM subscribers WHERE id = ?`, id).Scan(&exists); err != nil {
			return err
		}
		if exists == 0 {
			return ErrNotFound
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return err
	}
	if err != nil {
		return fmt.Errorf("unsubscribe %d: %w", id, err)
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
