package digest

import (
	"context"
	"database/sql"
	"time"

	"bothsides/sqlite"
)

// The status changes a send makes to its edition. Each is one UPDATE run on
// the executor given, so a caller keeps it in its own transaction (a *sql.Tx)
// or runs it alone (the write pool, a *sql.DB). Those that say so are
// guarded: they change nothing unless the edition has the status named. The
// ones that take also add the caller's own condition to the guard: SQL text
// from our code (never from input) evaluated against the editions row, with
// its args, or "" for none. Errors come back as the driver returned them:
// callers wrap them with their operation.

// Execer runs a statement; *sql.DB, *sql.Tx and *sql.Conn satisfy it.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// MarkSending marks edition id sending, started at now. It is not guarded:
// the caller has read, in the same transaction, that the edition is
// assembled.
func MarkSending(ctx context.Context, ex Execer, id int64, now time.Time) error {
	_, err := ex.ExecContext(ctx, `UPDATE editions SET status = ?, started_at = ? WHERE id = ?`,
		EditionSending, sqlite.Time(now), id)
	return err
}

// StartOrReopen marks edition id sending if it is assembled or sent: the
// first time it records now as the start, and it clears the finish of a
// send that had finished. A local edition has its ledger filled zone by
// zone, so each zone's queueing starts it, or reopens it.
func StartOrReopen(ctx context.Context, ex Execer, id int64, now time.Time) error {
	_, err := ex.ExecContext(ctx, `UPDATE editions SET status = ?, started_at = COALESCE(started_at, ?), finished_at = NULL
		WHERE id = ? AND status IN (?, ?)`, EditionSending, sqlite.Time(now), id, EditionAssembled, EditionSent)
	return err
}

// ReopenSent puts edition id back to sending, clearing its finish, if it is
// sent and also holds.
func ReopenSent(ctx context.Context, ex Execer, id int64, also string, args ...any) error {
	_, err := ex.ExecContext(ctx, `UPDATE editions SET status = ?, finished_at = NULL
		WHERE id = ? AND status = ?`+and(also), append([]any{EditionSending, id, EditionSent}, args...)...)
	return err
}

// ReopenSentOn is ReopenSent for the edition of schedule and date.
func ReopenSentOn(ctx context.Context, ex Execer, schedule, date string, also string, args ...any) error {
	_, err := ex.ExecContext(ctx, `UPDATE editions SET status = ?, finished_at = NULL
		WHERE schedule = ? AND date = ? AND status = ?`+and(also), append([]any{EditionSending, schedule, date, EditionSent}, args...)...)
	return err
}

// MarkSent marks edition id sent, finished at now, if it is sending: a send
// that was paused or cancelled meanwhile stays so.
func MarkSent(ctx context.Context, ex Execer, id int64, now time.Time) error {
	_, err := ex.ExecContext(ctx, `UPDATE editions SET status = ?, finished_at = ? WHERE id = ? AND status = ?`,
		EditionSent, sqlite.Time(now), id, EditionSending)
	return err
}

// MarkSentOn marks the edition of schedule and date sent, finished at now,
// if it is sending and also holds.
func MarkSentOn(ctx context.Context, ex Execer, schedule, date string, now time.Time, also string, args ...any) error {
	_, err := ex.ExecContext(ctx, `UPDATE editions SET status = ?, finished_at = ?
		WHERE schedule = ? AND date = ? AND status = ?`+and(also),
		append([]any{EditionSent, sqlite.Time(now), schedule, date, EditionSending}, args...)...)
	return err
}

// PauseSending pauses edition id for reason, if it is sending: the sender's
// breaker uses it when the relay keeps refusing (an operator's pause is
// SetEditionStatus).
func PauseSending(ctx context.Context, ex Execer, id int64, reason string) error {
	_, err := ex.ExecContext(ctx, `UPDATE editions SET status = ?, pause_reason = ? WHERE id = ? AND status = ?`,
		EditionPaused, reason, id, EditionSending)
	return err
}

// SetSender records who is sending edition id ("host pid 1234"), or "" once
// nobody is.
func SetSender(ctx context.Context, ex Execer, id int64, sender string) error {
	_, err := ex.ExecContext(ctx, `UPDATE editions SET sender = ? WHERE id = ?`, sender, id)
	return err
}

// and appends a caller's condition to a WHERE clause.
func and(cond string) string {
	if cond == "" {
		return ""
	}
	return " AND (" + cond + ")"
}
