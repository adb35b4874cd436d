package subscribers_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"bothsides/internal/testsupport"
	"bothsides/sqlite"
	"bothsides/subscribers"
)

func TestStore_CountBounce(t *testing.T) {
	ctx := context.Background()
	db, _ := testsupport.MustOpenDB(t)
	s := subscribers.NewStore(db)
	sub := mustAdd(t, s, "ana@example.com", "Ana")
	count := func(id int64) (subscribers.Status, int, error) {
		t.Helper()
		var st subscribers.Status
		var n int
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			var err error
			st, n, err = s.CountBounce(ctx, tx, id, 2)
			return err
		})
		return st, n, err
	}
	t.Run("OK", func(t *testing.T) {
		st, n, err := count(sub.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := st, subscribers.StatusActive; got != want || n != 1 {
			t.Fatalf("Status=%v bounces=%d, want %v 1", got, n, want)
		}
		st, n, err = count(sub.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := st, subscribers.StatusBounced; got != want || n != 2 {
			t.Fatalf("Status=%v bounces=%d, want %v 2", got, n, want)
		}
		if got, err := s.Find(ctx, sub.ID); err != nil || got.Status != subscribers.StatusBounced || got.Bounces != 2 {
			t.Fatalf("stored %+v, %v", got, err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if _, _, err := count(sub.ID + 100); !errors.Is(err, subscribers.ErrNotFound) {
			t.Fatalf("err=%v, want ErrNotFound", err)
		}
	})
}

// TestMailableAt: the condition with a numbered parameter selects what
// Mailable does.
func TestMailableAt(t *testing.T) {
	if got, want := subscribers.MailableAt("?"), subscribers.Mailable; got != want {
		t.Fatalf("MailableAt(?)=%q, want %q", got, want)
	}
	db, clock := testsupport.MustOpenDB(t)
	s := subscribers.NewStore(db)
	mustAdd(t, s, "ana@example.com", "Ana")
	var n int
	err := db.R.QueryRow(`SELECT COUNT(*) FROM subscribers WHERE id > ?1 AND `+subscribers.MailableAt("?2"), 0, sqlite.Time(clock.Now())).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d mailable, want 1", n)
	}
}
