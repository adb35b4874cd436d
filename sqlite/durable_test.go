package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"bothsides/sqlite"
)

func mustOpen(tb testing.TB) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "b.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// synchronous reads the setting on the transaction's own connection.
func synchronous(tb testing.TB, tx *sql.Tx) int {
	tb.Helper()
	var n int
	if err := tx.QueryRow(`PRAGMA synchronous`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// TestDB_DurableTx: a durable transaction runs with synchronous=FULL (2);
// plain ones, before and after it, and after one that failed, with NORMAL
// (1). BeforeCommit sees the same.
func TestDB_DurableTx(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t)
	var seen []int
	db.BeforeCommit = func(tx *sql.Tx) { seen = append(seen, synchronous(t, tx)) }
	plain := func(t *testing.T) {
		t.Helper()
		if err := db.Tx(ctx, func(tx *sql.Tx) error {
			if got, want := synchronous(t, tx), 1; got != want {
				t.Fatalf("synchronous=%d in Tx, want %d (NORMAL)", got, want)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("OK", func(t *testing.T) {
		seen = nil
		plain(t)
		if err := db.DurableTx(ctx, func(tx *sql.Tx) error {
			if got, want := synchronous(t, tx), 2; got != want {
				t.Fatalf("synchronous=%d in DurableTx, want %d (FULL)", got, want)
			}
			_, err := tx.Exec(`INSERT INTO settings (key, value) VALUES ('durable', 'yes')`)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		plain(t)
		if got, want := fmt.Sprint(seen), "[1 2 1]"; got != want {
			t.Fatalf("synchronous at the commits %s, want %s", got, want)
		}
		var v string
		if err := db.R.QueryRow(`SELECT value FROM settings WHERE key = 'durable'`).Scan(&v); err != nil || v != "yes" {
			t.Fatalf("durable write not committed: %q, %v", v, err)
		}
	})
	t.Run("ErrRolledBack", func(t *testing.T) {
		boom := errors.New("boom")
		err := db.DurableTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.Exec(`INSERT INTO settings (key, value) VALUES ('rolled', 'back')`); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err=%v, want boom", err)
		}
		var n int
		db.R.QueryRow(`SELECT COUNT(*) FROM settings WHERE key = 'rolled'`).Scan(&n)
		if n != 0 {
			t.Fatal("failed durable transaction committed")
		}
		plain(t)
	})
	t.Run("CancelledContext", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := db.DurableTx(cctx, func(*sql.Tx) error { return nil }); err == nil {
			t.Fatal("DurableTx with a cancelled context succeeded")
		}
		plain(t)
	})
}

// BenchmarkLedgerCommit is one committed ledger transaction of the send
// path (read the edition's status, mark one delivery sent, claim the next)
// under the writer's synchronous=NORMAL (Tx) and FULL (DurableTx). Run each
// alone, alternating (docs/PERFORMANCE.md):
//
//	go test -run XXX -bench 'LedgerCommit/NORMAL' ./sqlite/
//	go test -run XXX -bench 'LedgerCommit/FULL' ./sqlite/
func BenchmarkLedgerCommit(b *testing.B) {
	for _, c := range []struct {
		name string
		tx   func(*sqlite.DB) func(context.Context, func(*sql.Tx) error) error
	}{
		{"NORMAL", func(db *sqlite.DB) func(context.Context, func(*sql.Tx) error) error { return db.Tx }},
		{"FULL", func(db *sqlite.DB) func(context.Context, func(*sql.Tx) error) error { return db.DurableTx }},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			db := mustOpen(b)
			const n = 20000
			const now = "2026-11-27T07:00:00Z"
			if err := db.Tx(ctx, func(tx *sql.Tx) error {
				if _, err := tx.Exec(`INSERT INTO editions (id, date, window_start, window_end, content, status, created_at)
					VALUES (1, '2026-11-27', ?1, ?1, '{}', 'sending', ?1)`, now); err != nil {
					return err
				}
				for i := 1; i <= n; i++ {
					if _, err := tx.Exec(`INSERT INTO subscribers (id, email, status, created_at, updated_at) VALUES (?1, ?2, 'active', ?3, ?3)`,
						i, fmt.Sprintf("r%d@example.com", i), now); err != nil {
						return err
					}
					if _, err := tx.Exec(`INSERT INTO deliveries (edition_id, subscriber_id, created_at, updated_at) VALUES (1, ?, ?2, ?2)`, i, now); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			run := c.tx(db)
			i := 0
			for b.Loop() {
				i = i%(n-1) + 1
				if err := run(ctx, func(tx *sql.Tx) error {
					var st string
					if err := tx.QueryRow(`SELECT status FROM editions WHERE id = 1`).Scan(&st); err != nil {
						return err
					}
					if _, err := tx.Exec(`UPDATE deliveries SET status = 'sent', attempts = attempts + 1, last_reply = '250 accepted',
						sent_at = ?1, updated_at = ?1 WHERE edition_id = 1 AND subscriber_id = ?2`, now, i); err != nil {
						return err
					}
					_, err := tx.Exec(`UPDATE deliveries SET status = 'sending', message_id = 'm', updated_at = ?1
						WHERE edition_id = 1 AND subscriber_id = ?2`, now, i+1)
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
