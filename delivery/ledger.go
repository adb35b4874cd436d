package delivery

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"bothsides/sqlite"
)

// Errors about the state of a send.
var (
	// ErrPaused is returned when an edition was paused or cancelled
	// mid-send, or when a send is asked of a paused edition.
	ErrPaused = errors.New("edition paused")
	// ErrCancelled is returned for a cancelled edition; it is an ErrPaused.
	ErrCancelled = fmt.Errorf("edition cancelled: %w", ErrPaused)
	// ErrRelayRefusing is returned when the relay refused so many messages
	// in a row that the edition was paused; it is an ErrPaused.
	ErrRelayRefusing = fmt.Errorf("relay refuses messages: %w", ErrPaused)
)

// Status is where one delivery stands, as stored in deliveries.status.
type Status string

// The delivery statuses. A delivery is queued when the audience is frozen (or
// its zone comes due) and stays so while its message is in flight, then
// sent, retry (a temporary failure, waiting for its next attempt), failed
// for good, or skipped (the subscriber was no longer mailable when its turn
// came). Sending is what versions before the send journal wrote while a
// message was in flight; a send requeues such rows when it starts.
const (
	StatusQueued  Status = "queued"
	StatusSending Status = "sending"
	StatusSent    Status = "sent"
	StatusRetry   Status = "retry"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped"
)

// Stats counts an edition's ledger.
type Stats struct {
	Total, Queued, Sending, Sent, Retry, Failed, Skipped int
}

// Pending is the number of deliveries not yet settled.
func (s Stats) Pending() int { return s.Queued + s.Sending + s.Retry }

// LedgerStats returns the counts of an edition's deliveries.
func LedgerStats(ctx context.Context, db *sql.DB, editionID int64) (Stats, error) {
	rows, err := db.QueryContext(ctx, `SELECT status, COUNT(*) FROM deliveries WHERE edition_id = ? GROUP BY status`, editionID)
	if err != nil {
		return Stats{}, fmt.Errorf("ledger stats: %w", err)
	}
	defer rows.Close()
	var s Stats
	for rows.Next() {
		var st Status
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return Stats{}, err
		}
		switch st {
		case StatusQueued:
			s.Queued = n
		case StatusSending:
			s.Sending = n
		case StatusSent:
			s.Sent = n
		case StatusRetry:
			s.Retry = n
		case StatusFailed:
			s.Failed = n
		case StatusSkipped:
			s.Skipped = n
		}
		s.Total += n
	}
	return s, rows.Err()
}

// Failure is one failed delivery.
type Failure struct {
	Email     string
	Attempts  int
	Code      int
	LastReply string
	UpdatedAt time.Time
}

// Failures lists an edition's failed deliveries.
func Failures(ctx context.Context, db *sql.DB, editionID int64, limit int) ([]Failure, error) {
	return deliveriesIn(ctx, db, editionID, StatusFailed, limit)
}

// Retries lists an edition's deliveries waiting for another attempt, with
// UpdatedAt set to when the next attempt is due.
func Retries(ctx context.Context, db *sql.DB, editionID int64, limit int) ([]Failure, error) {
	return deliveriesIn(ctx, db, editionID, StatusRetry, limit)
}

func deliveriesIn(ctx context.Context, db *sql.DB, editionID int64, status Status, limit int) ([]Failure, error) {
	rows, err := db.QueryContext(ctx, `SELECT s.email, d.attempts, d.last_code, d.last_reply,
			CASE WHEN d.status = 'retry' THEN COALESCE(d.next_attempt_at, d.updated_at) ELSE d.updated_at END
		FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
		WHERE d.edition_id = ? AND d.status = ? ORDER BY d.subscriber_id LIMIT ?`, editionID, status, limit)
	if err != nil {
		return nil, fmt.Errorf("list %s deliveries: %w", status, err)
	}
	defer rows.Close()
	var out []Failure
	for rows.Next() {
		var f Failure
		var at string
		if err := rows.Scan(&f.Email, &f.Attempts, &f.Code, &f.LastReply, &at); err != nil {
			return nil, err
		}
		f.UpdatedAt, _ = sqlite.ParseTime(at)
		out = append(out, f)
	}
	return out, rows.Err()
}

// SendState is what an operator wants to know about an edition's send
// beyond its counts.
type SendState struct {
	Sender      string // "host pid 1234" while a process holds it
	PauseReason string
}

// EditionSendState returns who is sending an edition and why it paused.
func EditionSendState(ctx context.Context, db *sql.DB, editionID int64) (SendState, error) {
	var s SendState
	err := db.QueryRowContext(ctx, `SELECT sender, pause_reason FROM editions WHERE id = ?`, editionID).Scan(&s.Sender, &s.PauseReason)
	if err != nil {
		return s, fmt.Errorf("edition %d send state: %w", editionID, err)
	}
	return s, nil
}
