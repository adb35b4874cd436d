package digest_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/sqlite"
)

// scanMailings is Mailings as it was before the edition_stories index: a
// scan of every edition's JSON. The index must give the same answer.
func scanMailings(t *testing.T, db *sqlite.DB, id string) []digest.Mailing {
	t.Helper()
	rows, err := db.R.Query(`
		SELECT e.date, e.schedule, COALESCE(json_extract(j.value, '$.version'), 1)
		FROM editions e, json_each(e.content, '$.stories') j
		WHERE e.status != 'assembled' AND json_extract(j.value, '$.id') = ?
		UNION ALL
		SELECT e.date, e.schedule, COALESCE(json_extract(j.value, '$.story.version'), 1)
		FROM editions e, json_each(e.content, '$.blindspots') j
		WHERE e.status != 'assembled' AND json_extract(j.value, '$.story.id') = ?
		ORDER BY 1 DESC, 2`, id, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []digest.Mailing
	for rows.Next() {
		var m digest.Mailing
		if err := rows.Scan(&m.Date, &m.Schedule, &m.Version); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// severalEditions fills db with editions of several dates, schedules and
// statuses, with blindspots, a story corrected between two of them, an
// assembled edition frozen twice and one stored as bare JSON by hand.
func severalEditions(t *testing.T, db *sqlite.DB, store *digest.Store) []string {
	t.Helper()
	ctx := context.Background()
	stories := fixtureStories(t)
	importStories(t, store, stories...)
	sel := digest.Selection{Count: 4, Blindspots: 2}
	open := func(date, schedule string, status digest.EditionStatus) *digest.Edition {
		t.Helper()
		e, err := store.Open(ctx, digest.AssembleParams{Date: date, Schedule: schedule, WindowEnd: epochEnd, Selection: sel})
		if err != nil {
			t.Fatal(err)
		}
		if status != digest.EditionAssembled {
			if _, err := db.W.Exec(`UPDATE editions SET status = ?, started_at = ? WHERE id = ?`,
				status, "2026-11-27T07:00:00Z", e.ID); err != nil {
				t.Fatal(err)
			}
		}
		return e
	}
	first := open("2026-11-25", "default", digest.EditionSent)
	if len(first.Blindspots) == 0 {
		t.Fatal("fixture edition has no blindspots: the test would not cover them")
	}
	open("2026-11-25", "evening", digest.EditionCancelled)
	// Correct the top story: later editions carry version 2.
	fixed := first.Stories[0]
	fixed.Title += " (corrected)"
	importStories(t, store, fixed)
	open("2026-11-26", "default", digest.EditionSending)
	open("2026-11-26", "evening", digest.EditionPaused)
	// Assembled, then frozen again with other stories: not listed.
	e := open("2026-11-27", "default", digest.EditionAssembled)
	again, err := store.Assemble(ctx, digest.AssembleParams{Date: e.Date, WindowEnd: epochEnd, Selection: digest.Selection{Count: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Freeze(ctx, again); err != nil {
		t.Fatal(err)
	}
	// Frozen, then re-frozen with fewer stories, then started: listed with
	// what it carries now.
	e = open("2026-11-27", "morning", digest.EditionAssembled)
	again, err = store.Assemble(ctx, digest.AssembleParams{Date: e.Date, Schedule: "morning", WindowEnd: epochEnd, Selection: digest.Selection{Count: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Freeze(ctx, again); err != nil {
		t.Fatal(err)
	}
	if _, err := db.W.Exec(`UPDATE editions SET status = 'sent', started_at = ? WHERE id = ?`, "2026-11-27T07:00:00Z", e.ID); err != nil {
		t.Fatal(err)
	}
	// Written by hand, without versions and with an empty edition.
	if _, err := db.W.Exec(`INSERT INTO editions (date, schedule, window_start, window_end, content, status, created_at)
		VALUES ('2026-11-24', 'default', '', '', ?, 'sent', ''), ('2026-11-23', 'default', '', '', '{}', 'sent', '')`,
		`{"stories":[{"id":"`+first.Stories[1].ID+`"}],"blindspots":[{"for":"left","story":{"id":"`+first.Stories[0].ID+`"}}]}`); err != nil {
		t.Fatal(err)
	}
	ids := []string{"no-such-story"}
	for _, st := range stories {
		ids = append(ids, st.ID)
	}
	return ids
}

func TestStore_Mailings(t *testing.T) {
	ctx := context.Background()
	t.Run("SameAsJSONScan", func(t *testing.T) {
		db, _ := testsupport.MustOpenDB(t)
		store := digest.NewStore(db)
		ids := severalEditions(t, db, store)
		listed := 0
		for _, id := range ids {
			got, err := store.Mailings(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if want := scanMailings(t, db, id); !slices.Equal(got, want) {
				t.Errorf("Mailings(%q)=%+v, want %+v as the JSON scan gives", id, got, want)
			}
			listed += len(got)
		}
		if listed < 10 {
			t.Fatalf("only %d mailings in all: the fixture covers too little", listed)
		}
	})
	t.Run("EditionDeleted", func(t *testing.T) {
		db, _ := testsupport.MustOpenDB(t)
		store := digest.NewStore(db)
		ids := severalEditions(t, db, store)
		if _, err := db.W.Exec(`DELETE FROM editions WHERE date = '2026-11-25'`); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			got, _ := store.Mailings(ctx, id)
			if want := scanMailings(t, db, id); !slices.Equal(got, want) {
				t.Errorf("Mailings(%q)=%+v, want %+v", id, got, want)
			}
		}
	})
	t.Run("Backfill", func(t *testing.T) {
		// A database whose editions were stored before migration 0010:
		// take the migration back out, then open it again.
		path := filepath.Join(t.TempDir(), "b.db")
		db, _ := testsupport.MustOpenDBAt(t, path)
		store := digest.NewStore(db)
		ids := severalEditions(t, db, store)
		want := map[string][]digest.Mailing{}
		for _, id := range ids {
			want[id] = scanMailings(t, db, id)
		}
		for _, q := range []string{
			`DROP TABLE edition_stories`, `DROP TABLE page_generation`,
			`DROP TRIGGER edition_stories_new`, `DROP TRIGGER edition_stories_changed`,
			`DROP TRIGGER page_generation_story_new`, `DROP TRIGGER page_generation_story_changed`,
			`DROP TRIGGER page_generation_story_gone`, `DROP TRIGGER page_generation_edition_new`,
			`DROP TRIGGER page_generation_edition_gone`, `DROP TRIGGER page_generation_edition_changed`,
			`DELETE FROM schema_migrations WHERE version = 10`,
		} {
			if _, err := db.W.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		db.Close()
		db, _ = testsupport.MustOpenDBAt(t, path)
		store = digest.NewStore(db)
		var rows int
		if err := db.R.QueryRow(`SELECT COUNT(*) FROM edition_stories`).Scan(&rows); err != nil || rows == 0 {
			t.Fatalf("backfill wrote %d rows (%v)", rows, err)
		}
		for _, id := range ids {
			got, err := store.Mailings(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want[id]) {
				t.Errorf("after backfill Mailings(%q)=%+v, want %+v", id, got, want[id])
			}
		}
	})
}

func TestStore_Generation(t *testing.T) {
	ctx := context.Background()
	db, clock := testsupport.MustOpenDB(t)
	store := digest.NewStore(db)
	last, err := store.Generation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	step := func(t *testing.T, what string, changes bool, write func() error) {
		t.Helper()
		if err := write(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		n, err := store.Generation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := n != last; got != changes {
			t.Errorf("%s: generation %d -> %d, changed=%v, want %v", what, last, n, got, changes)
		}
		last = n
	}
	stories := fixtureStories(t)
	imp := func(st ...digest.Story) func() error {
		return func() error { _, err := store.Import(ctx, st); return err }
	}
	step(t, "import", true, imp(stories...))
	step(t, "identical re-import", false, imp(stories...))
	fixed := stories[0]
	fixed.Summary += " Corrected."
	step(t, "re-import with new content", true, imp(fixed))
	var e *digest.Edition
	step(t, "freeze", true, func() error {
		e, err = store.Open(ctx, digest.AssembleParams{Date: "2026-11-27", WindowEnd: epochEnd})
		return err
	})
	step(t, "start", true, func() error { return digest.MarkSending(ctx, db.W, e.ID, clock.Now()) })
	step(t, "sender recorded", false, func() error { return digest.SetSender(ctx, db.W, e.ID, "host pid 1") })
	step(t, "same status again", false, func() error {
		_, err := db.W.Exec(`UPDATE editions SET status = status WHERE id = ?`, e.ID)
		return err
	})
	step(t, "pause", true, func() error { return digest.PauseSending(ctx, db.W, e.ID, "relay down") })
	step(t, "resume", true, func() error { return digest.SetEditionStatus(ctx, db, e.ID, digest.EditionSending) })
	step(t, "sent", true, func() error { return digest.MarkSent(ctx, db.W, e.ID, clock.Now().Add(time.Minute)) })
	step(t, "deleted", true, func() error { _, err := db.W.Exec(`DELETE FROM editions WHERE id = ?`, e.ID); return err })
}

// BenchmarkStore_Generation is the read every cached page request makes.
func BenchmarkStore_Generation(b *testing.B) {
	db, _ := testsupport.MustOpenDB(b)
	store := digest.NewStore(db)
	ctx := context.Background()
	for b.Loop() {
		if _, err := store.Generation(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
