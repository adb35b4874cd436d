package delivery

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"bothsides/sqlite"
	"bothsides/subscribers"
)

// Queue adds rows to the ledger one subscriber at a time inside a caller's
// write transaction, for an edition whose audience is handed over in parts
// (local time: zone by zone) rather than frozen by Sender.Start. Its
// statement is prepared once per transaction.
type Queue struct {
	stmt *sql.Stmt
	at   time.Time
	atS  string // at, formatted once for the rows of one moment
}

// PrepareQueue prepares a Queue in tx. Close it before tx ends.
func PrepareQueue(ctx context.Context, tx *sql.Tx) (*Queue, error) {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO deliveries (edition_id, subscriber_id, status, zone, created_at, updated_at)
		SELECT ?1, id, 'queued', ?2, ?3, ?3 FROM subscribers WHERE id = ?4 AND `+subscribers.MailableAt("?3")+`
		ON CONFLICT DO NOTHING`)
	if err != nil {
		return nil, fmt.Errorf("prepare ledger queue: %w", err)
	}
	return &Queue{stmt: stmt}, nil
}

// Add queues the edition for subscriber id, the row tagged with zone, if
// the subscriber is mailable at now and not in the edition's ledger yet. It
// reports whether a row was added.
func (q *Queue) Add(ctx context.Context, editionID, subscriberID int64, zone string, now time.Time) (bool, error) {
	if q.atS == "" || !now.Equal(q.at) {
		q.at, q.atS = now, sqlite.Time(now)
	}
	res, err := q.stmt.ExecContext(ctx, editionID, zone, q.atS, subscriberID)
	if err != nil {
		return false, fmt.Errorf("queue delivery %d: %w", subscriberID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Close releases the prepared statement.
func (q *Queue) Close() error { return q.stmt.Close() }
