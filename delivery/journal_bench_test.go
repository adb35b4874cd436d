package delivery

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"bothsides/sqlite"
)

// BenchmarkLedger is the ledger's cost per accepted message, ns/op being
// one message. "OnePerTransaction" is how a send recorded a message before
// the journal: a transaction that reads the edition's status, marks the
// message sent and claims the next row. "Journal" is how it does now: one
// journal append per message, and one transaction with one statement per
// 512 messages. Run them alternately (docs/PERFORMANCE.md):
//
//	go test -run XXX -bench 'Ledger/OnePerTransaction' -count 3 ./delivery/
//	go test -run XXX -bench 'Ledger/Journal' -count 3 ./delivery/
func BenchmarkLedger(b *testing.B) {
	const n = 200000
	const now = "2026-11-27T07:00:00Z"
	setup := func(b *testing.B) *sqlite.DB {
		ctx := context.Background()
		path := filepath.Join(b.TempDir(), "b.db")
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		if err := db.Tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.Exec(`INSERT INTO editions (id, date, window_start, window_end, content, status, created_at)
				VALUES (1, '2026-11-27', ?1, ?1, '{}', 'sending', ?1)`, now); err != nil {
				return err
			}
			if _, err := tx.Exec(`WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?2)
				INSERT INTO subscribers (id, email, status, created_at, updated_at)
				SELECT i, 'r' || i || '@example.com', 'active', ?1, ?1 FROM k`, now, n); err != nil {
				return err
			}
			_, err := tx.Exec(`INSERT INTO deliveries (edition_id, subscriber_id, created_at, updated_at)
				SELECT 1, id, ?1, ?1 FROM subscribers`, now)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		return db
	}
	b.Run("OnePerTransaction", func(b *testing.B) {
		db := setup(b)
		ctx := context.Background()
		i := 0
		for b.Loop() {
			if i++; i >= n {
				b.Fatal("out of rows")
			}
			if err := db.Tx(ctx, func(tx *sql.Tx) error {
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
	b.Run("Journal", func(b *testing.B) {
		db := setup(b)
		ctx := context.Background()
		j, err := openJournal(JournalPath(db.Path, 1))
		if err != nil {
			b.Fatal(err)
		}
		defer j.close()
		stmt, err := db.W.Prepare(markSent)
		if err != nil {
			b.Fatal(err)
		}
		defer stmt.Close()
		var batch []journalEntry
		flush := func() {
			if err := db.Tx(ctx, func(tx *sql.Tx) error {
				st := tx.Stmt(stmt)
				for _, e := range batch {
					res, err := st.Exec(now, 1, e.subscriberID, e.msgID)
					if err != nil {
						return err
					}
					if n, _ := res.RowsAffected(); n != 1 {
						return fmt.Errorf("delivery %d not recorded", e.subscriberID)
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
		i := int64(0)
		for b.Loop() {
			if i++; i >= n {
				b.Fatal("out of rows")
			}
			id := fmt.Sprintf("e1.s%d.a1.0123456789ab@news.example.com", i)
			if err := j.accepted(i, id); err != nil {
				b.Fatal(err)
			}
			if batch = append(batch, journalEntry{i, id}); len(batch) == flushAt {
				flush()
			}
		}
		if len(batch) > 0 {
			flush()
		}
	})
}
