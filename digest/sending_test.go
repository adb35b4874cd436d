package digest_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/sqlite"
)

// sendingFixture is a stored, assembled edition.
type sendingFixture struct {
	db *sqlite.DB
	s  *digest.Store
	e  *digest.Edition
}

func newSendingFixture(tb testing.TB) *sendingFixture {
	tb.Helper()
	db, _ := testsupport.MustOpenDB(tb)
	s := digest.NewStore(db)
	importStories(tb, s, coveredStory("first", 2, 2, 2, epochEnd.Add(-time.Hour)))
	e, err := s.Open(context.Background(), digest.AssembleParams{Date: "2026-11-27", WindowEnd: epochEnd})
	if err != nil {
		tb.Fatal(err)
	}
	return &sendingFixture{db: db, s: s, e: e}
}

// load reads the edition back.
func (f *sendingFixture) load(tb testing.TB) *digest.Edition {
	tb.Helper()
	e, err := f.s.EditionByID(context.Background(), f.e.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// force sets the edition's status and times directly, for the cases a test
// starts from.
func (f *sendingFixture) force(tb testing.TB, status digest.EditionStatus, started, finished time.Time) {
	tb.Helper()
	if _, err := f.db.W.Exec(`UPDATE editions SET status = ?, started_at = ?, finished_at = ? WHERE id = ?`,
		status, sqlite.NullTime(started), sqlite.NullTime(finished), f.e.ID); err != nil {
		tb.Fatal(err)
	}
}

// column reads one text column of the edition's row.
func (f *sendingFixture) column(tb testing.TB, name string) string {
	tb.Helper()
	var v string
	if err := f.db.R.QueryRow(`SELECT `+name+` FROM editions WHERE id = ?`, f.e.ID).Scan(&v); err != nil {
		tb.Fatal(err)
	}
	return v
}

func checkEdition(tb testing.TB, e *digest.Edition, status digest.EditionStatus, started, finished time.Time) {
	tb.Helper()
	if got, want := e.Status, status; got != want {
		tb.Fatalf("Status=%v, want %v", got, want)
	}
	if got, want := e.StartedAt, started; !got.Equal(want) {
		tb.Fatalf("StartedAt=%v, want %v", got, want)
	}
	if got, want := e.FinishedAt, finished; !got.Equal(want) {
		tb.Fatalf("FinishedAt=%v, want %v", got, want)
	}
}

var (
	started  = epochEnd
	finished = epochEnd.Add(time.Hour)
	later    = epochEnd.Add(2 * time.Hour)
	never    time.Time
)

func TestMarkSending(t *testing.T) {
	ctx := context.Background()
	t.Run("InTx", func(t *testing.T) {
		f := newSendingFixture(t)
		if err := f.db.Tx(ctx, func(tx *sql.Tx) error {
			return digest.MarkSending(ctx, tx, f.e.ID, started)
		}); err != nil {
			t.Fatal(err)
		}
		checkEdition(t, f.load(t), digest.EditionSending, started, never)
	})
	t.Run("OtherEditionUntouched", func(t *testing.T) {
		f := newSendingFixture(t)
		if err := digest.MarkSending(ctx, f.db.W, f.e.ID+1, started); err != nil {
			t.Fatal(err)
		}
		checkEdition(t, f.load(t), digest.EditionAssembled, never, never)
	})
}

func TestStartOrReopen(t *testing.T) {
	ctx := context.Background()
	t.Run("FromAssembled", func(t *testing.T) {
		f := newSendingFixture(t)
		if err := f.db.Tx(ctx, func(tx *sql.Tx) error {
			return digest.StartOrReopen(ctx, tx, f.e.ID, started)
		}); err != nil {
			t.Fatal(err)
		}
		checkEdition(t, f.load(t), digest.EditionSending, started, never)
	})
	t.Run("FromSentKeepsStart", func(t *testing.T) {
		f := newSendingFixture(t)
		f.force(t, digest.EditionSent, started, finished)
		if err := digest.StartOrReopen(ctx, f.db.W, f.e.ID, later); err != nil {
			t.Fatal(err)
		}
		checkEdition(t, f.load(t), digest.EditionSending, started, never)
	})
	t.Run("Guarded", func(t *testing.T) {
		for _, status := range []digest.EditionStatus{digest.EditionPaused, digest.EditionCancelled, digest.EditionSending} {
			t.Run(string(status), func(t *testing.T) {
				f := newSendingFixture(t)
				f.force(t, status, started, finished)
				if err := digest.StartOrReopen(ctx, f.db.W, f.e.ID, later); err != nil {
					t.Fatal(err)
				}
				checkEdition(t, f.load(t), status, started, finished)
			})
		}
	})
}

func TestReopenSent(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		f := newSendingFixture(t)
		f.force(t, digest.EditionSent, started, finished)
		if err := digest.ReopenSent(ctx, f.db.W, f.e.ID, ""); err != nil {
			t.Fatal(err)
		}
		checkEdition(t, f.load(t), digest.EditionSending, started, never)
	})
	t.Run("OnlyFromSent", func(t *testing.T) {
		for _, status := range []digest.EditionStatus{digest.EditionAssembled, digest.EditionPaused, digest.EditionCancelled} {
			t.Run(string(status), func(t *testing.T) {
				f := newSendingFixture(t)
				f.force(t, status, started, finished)
				if err := digest.ReopenSent(ctx, f.db.W, f.e.ID, ""); err != nil {
					t.Fatal(err)
				}
				checkEdition(t, f.load(t), status, started, finished)
			})
		}
	})
	t.Run("Also", func(t *testing.T) {
		f := newSendingFixture(t)
		f.force(t, digest.EditionSent, started, finished)
		if err := digest.ReopenSent(ctx, f.db.W, f.e.ID, `editions.schedule = ?`, "other"); err != nil {
			t.Fatal(err)
		}
		checkEdition(t, f.load(t), digest.EditionSent, started, finished)
		// An OR in the condition stays inside it: the status guard holds.
		if err := digest.ReopenSent(ctx, f.db.W, f.e.ID, `editions.schedule = ? OR 1 = 1`, "other"); err != nil {
			t.Fatal(err)
		}
		checkEdition(t, f.load(t), digest.EditionSending, started, never)
		f.force(t, digest.EditionPaused, started, finished)
		if err := digest.ReopenSent(ctx, f.db.W, f.e.ID, `editions.schedule = ? OR 1 = 1`, "other"); err != nil {
			t.Fatal(err)
		}
		checkEdition(t, f.load(t), digest.EditionPaused, started, finished)
	})
}

func TestReopenSentOn(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		f := newSendingFixture(t)
		f.force(t, digest.EditionSent, started, finished)
		if err := digest.ReopenSentOn(ctx, f.db.W, f.e.Schedule, f.e.Date, `editions.id = ?`, f.e.ID); err != nil {
			t.Fatal(err)
		}
		checkEdition(t, f.load(t), digest.EditionSending, started, never)
	})
	t.Run("OtherDate", func(t *testing.T) {
		f := newSendingFixture(t)
		f.force(t, digest.EditionSent, started, finished)
		if err := digest.ReopenSentOn(ctx, f.db.W, f.e.Schedule, "2026-11-28", ""); err != nil {
			t.Fatal(err)
		}
		checkEdition(t, f.load(t), digest.EditionSent, started, finished)
	})
	t.Run("Guarded", func(t *testing.T) {
		f := newSendingFixture(t)
		f.force(t, digest.EditionPaused, started, finished)
		if err := digest.ReopenSentOn(ctx, f.db.W, f.e.Schedule, f.e.Date, ""); err != nil {
			t.Fatal(err)
		}
		checkEdition(t, f.load(t), digest.EditionPaused, started, finished)
		f.force(t, digest.EditionSent, started, finished)
		if err := digest.ReopenSentOn(ctx, f.db.W, f.e.Schedule, f.e.Date, `1 = 0`); err != nil {
			t.Fatal(err)
		}
		checkEdition(t, f.load(t), digest.EditionSent, started, finished)
	})
}

func TestMarkSent(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		f := newSendingFixture(t)
		f.force(t, digest.EditionSending, started, never)
		if err := digest.MarkSent(ctx, f.db.W, f.e.ID, finished); err != nil {
			t.Fatal(err)
		}
		checkEdition(t, f.load(t), digest.EditionSent, started, finished)
	})
	t.Run("OnlyFromSending", func(t *testing.T) {
		for _, status := range []digest.EditionStatus{digest.EditionAssembled, digest.EditionPaused, digest.EditionCancelled} {
			t.Run(string(status), func(t *testing.T) {
				f := newSendingFixture(t)
				f.force(t, status, started, never)
				if err := digest.MarkSent(ctx, f.db.W, f.e.ID, finished); err != nil {
					t.Fatal(err)
				}
				checkEdition(t, f.load(t), status, started, never)
			})
		}
		f := newSendingFixture(t)
		f.force(t, digest.EditionSent, started, finished)
		if err := digest.MarkSent(ctx, f.db.W, f.e.ID, later); err != nil {
			t.Fatal(err)
		}
		checkEdition(t, f.load(t), digest.EditionSent, started, finished)
	})
}

func TestMarkSentOn(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		f := newSendingFixture(t)
		f.force(t, digest.EditionSending, started, never)
		if err := digest.MarkSentOn(ctx, f.db.W, f.e.Schedule, f.e.Date, finished, `NOT EXISTS (SELECT 1 FROM deliveries WHERE edition_id = editions.id)`); err != nil {
			t.Fatal(err)
		}
		checkEdition(t, f.load(t), digest.EditionSent, started, finished)
	})
	t.Run("Also", func(t *testing.T) {
		f := newSendingFixture(t)
		f.force(t, digest.EditionSending, started, never)
		if err := digest.MarkSentOn(ctx, f.db.W, f.e.Schedule, f.e.Date, finished, `editions.id <> ?`, f.e.ID); err != nil {
			t.Fatal(err)
		}
		checkEdition(t, f.load(t), digest.EditionSending, started, never)
	})
	t.Run("OnlyFromSending", func(t *testing.T) {
		f := newSendingFixture(t)
		f.force(t, digest.EditionPaused, started, never)
		if err := digest.MarkSentOn(ctx, f.db.W, f.e.Schedule, f.e.Date, finished, ""); err != nil {
			t.Fatal(err)
		}
		checkEdition(t, f.load(t), digest.EditionPaused, started, never)
	})
}

func TestPauseSending(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		f := newSendingFixture(t)
		f.force(t, digest.EditionSending, started, never)
		if err := f.db.Tx(ctx, func(tx *sql.Tx) error {
			return digest.PauseSending(ctx, tx, f.e.ID, "relay refusing")
		}); err != nil {
			t.Fatal(err)
		}
		checkEdition(t, f.load(t), digest.EditionPaused, started, never)
		if got, want := f.column(t, "pause_reason"), "relay refusing"; got != want {
			t.Fatalf("pause_reason=%q, want %q", got, want)
		}
	})
	t.Run("OnlyFromSending", func(t *testing.T) {
		for _, status := range []digest.EditionStatus{digest.EditionAssembled, digest.EditionSent, digest.EditionCancelled} {
			t.Run(string(status), func(t *testing.T) {
				f := newSendingFixture(t)
				f.force(t, status, started, never)
				if err := digest.PauseSending(ctx, f.db.W, f.e.ID, "relay refusing"); err != nil {
					t.Fatal(err)
				}
				checkEdition(t, f.load(t), status, started, never)
				if got, want := f.column(t, "pause_reason"), ""; got != want {
					t.Fatalf("pause_reason=%q, want %q", got, want)
				}
			})
		}
	})
}

func TestSetSender(t *testing.T) {
	ctx := context.Background()
	f := newSendingFixture(t)
	if err := f.db.Tx(ctx, func(tx *sql.Tx) error {
		return digest.SetSender(ctx, tx, f.e.ID, "host pid 1234")
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := f.column(t, "sender"), "host pid 1234"; got != want {
		t.Fatalf("sender=%q, want %q", got, want)
	}
	if err := digest.SetSender(ctx, f.db.W, f.e.ID, ""); err != nil {
		t.Fatal(err)
	}
	if got, want := f.column(t, "sender"), ""; got != want {
		t.Fatalf("sender=%q, want %q", got, want)
	}
	checkEdition(t, f.load(t), digest.EditionAssembled, never, never)
}
