package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
)

// DurableTx runs fn in a write transaction like Tx, but commits it with
// synchronous=FULL: when DurableTx returns nil the commit has been synced to
// disk, so a power cut cannot undo it. Use it for what a person is told is
// done (an unsubscribe, a confirmation, an erasure, a preference change).
// Everything else, the send path's ledger commits above all, stays on Tx
// with synchronous=NORMAL, which in WAL mode is safe against a crash of the
// process but may lose the last commits in a power cut
// (docs/PERFORMANCE.md measures both).
//
// The pragma is a setting of the connection and cannot change inside a
// transaction, so DurableTx takes the writer's one connection, sets FULL,
// runs the transaction, and sets NORMAL again before giving the connection
// back; a connection that cannot be set back is discarded, not reused.
func (db *DB) DurableTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	conn, err := db.W.Conn(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", db.explain(err))
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = FULL`); err != nil {
		return fmt.Errorf("set synchronous=FULL: %w", db.explain(err))
	}
	defer func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = NORMAL`); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", db.explain(err))
	}
	return db.finish(tx, fn)
}

// finish runs fn in tx and commits, or rolls back when fn fails.
func (db *DB) finish(tx *sql.Tx, fn func(tx *sql.Tx) error) error {
	if err := fn(tx); err != nil {
		tx.Rollback()
		return db.explain(err)
	}
	if db.BeforeCommit != nil {
		db.BeforeCommit(tx)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", db.explain(err))
	}
	return nil
}
