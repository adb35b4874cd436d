package digest_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"bothsides/digest"
	"bothsides/internal/testsupport"
)

// epochEnd is 07:00 UTC on 2026-11-27, the default schedule's send time.
var epochEnd = testsupport.Epoch

func importStories(tb testing.TB, s *digest.Store, stories ...digest.Story) {
	tb.Helper()
	if _, err := s.Import(context.Background(), stories); err != nil {
		tb.Fatalf("import: %v", err)
	}
}

func TestStore_Assemble(t *testing.T) {
	ctx := context.Background()
	t.Run("Window", func(t *testing.T) {
		db, _ := testsupport.MustOpenDB(t)
		s := digest.NewStore(db)
		updated := coveredStory("updated-in-window", 1, 1, 1, epochEnd.Add(-48*time.Hour))
		updated.UpdatedAt = epochEnd.Add(-time.Hour)
		importStories(t, s,
			coveredStory("at-start", 1, 1, 1, epochEnd.Add(-24*time.Hour)),
			coveredStory("just-before-end", 1, 1, 1, epochEnd.Add(-time.Second)),
			coveredStory("at-end", 1, 1, 1, epochEnd),
			coveredStory("before-start", 1, 1, 1, epochEnd.Add(-24*time.Hour-time.Second)),
			updated,
		)
		e, err := s.Assemble(ctx, digest.AssembleParams{Date: "2026-11-27", WindowEnd: epochEnd})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ids(e.Stories), "just-before-end,updated-in-window,at-start"; got != want {
			t.Fatalf("stories=%s, want %s", got, want)
		}
		if !e.WindowStart.Equal(epochEnd.Add(-24*time.Hour)) || !e.WindowEnd.Equal(epochEnd) {
			t.Fatalf("window=%v..%v", e.WindowStart, e.WindowEnd)
		}
		// A window ending at another moment (a send by hand) moves with it.
		e, err = s.Assemble(ctx, digest.AssembleParams{Date: "2026-11-27", WindowEnd: epochEnd.Add(time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ids(e.Stories), "at-end,just-before-end,updated-in-window"; got != want {
			t.Fatalf("stories=%s, want %s", got, want)
		}
	})
	t.Run("ErrNoStories", func(t *testing.T) {
		db, _ := testsupport.MustOpenDB(t)
		s := digest.NewStore(db)
		importStories(t, s, coveredStory("old", 1, 1, 1, epochEnd.Add(-72*time.Hour)))
		_, err := s.Assemble(ctx, digest.AssembleParams{Date: "2026-11-27", WindowEnd: epochEnd})
		if !errors.Is(err, digest.ErrNoStories) {
			t.Fatalf("err=%v, want ErrNoStories", err)
		}
		if got, want := err.Error(), "no stories for 2026-11-27 (published or updated between 2026-11-26T07:00:00Z and 2026-11-27T07:00:00Z)"; got != want {
			t.Fatalf("err=%q, want %q", got, want)
		}
		if _, err := s.Open(ctx, digest.AssembleParams{Date: "2026-11-27", WindowEnd: epochEnd}); !errors.Is(err, digest.ErrNoStories) {
			t.Fatalf("Open: err=%v, want ErrNoStories", err)
		}
		if list, err := s.Editions(ctx, 10); err != nil || len(list) != 0 {
			t.Fatalf("Editions=%v, %v; want none stored", list, err)
		}
	})
}

func TestStore_Open(t *testing.T) {
	ctx := context.Background()
	p := digest.AssembleParams{Date: "2026-11-27", WindowEnd: epochEnd}
	t.Run("FrozenAgainstLaterImports", func(t *testing.T) {
		db, _ := testsupport.MustOpenDB(t)
		s := digest.NewStore(db)
		st := coveredStory("first", 2, 2, 2, epochEnd.Add(-time.Hour), "World")
		st.Overview = []string{"Original bullet."}
		importStories(t, s, st, coveredStory("second", 1, 1, 1, epochEnd.Add(-2*time.Hour)))
		e, err := s.Open(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		r, err := digest.NewRenderer(digest.RenderConfig{BaseURL: "https://news.example"})
		if err != nil {
			t.Fatal(err)
		}
		who := digest.Personal{Name: "Ada", Email: "ada@example.com", UnsubscribeURL: "https://news.example/u/x", PreferencesURL: "https://news.example/p/x"}
		before, err := r.Render(e)
		if err != nil {
			t.Fatal(err)
		}
		html1, text1 := before.Personalize(who)
		web1, err := r.RenderWeb(e)
		if err != nil {
			t.Fatal(err)
		}

		// The story is rewritten and a better one arrives after assembly.
		st.Title = "Rewritten title"
		st.Overview = []string{"Changed bullet."}
		importStories(t, s, st, coveredStory("newcomer", 5, 5, 5, epochEnd.Add(-time.Minute)))

		again, err := s.Open(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ids(again.Stories), "first,second"; got != want {
			t.Fatalf("stories=%s, want %s", got, want)
		}
		if got, want := again.Stories[0].Title, "Story first"; got != want {
			t.Fatalf("title=%q, want %q", got, want)
		}
		after, err := r.Render(again)
		if err != nil {
			t.Fatal(err)
		}
		html2, text2 := after.Personalize(who)
		if !bytes.Equal(html1, html2) || !bytes.Equal(text1, text2) {
			t.Fatal("the mail changed after an import")
		}
		web2, err := r.RenderWeb(again)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(web1, web2) {
			t.Fatal("the archive page changed after an import")
		}
		if bytes.Contains(web2, []byte("Rewritten")) || bytes.Contains(html2, []byte("newcomer")) {
			t.Fatal("later import leaked into the edition")
		}
	})
	t.Run("ErrEditionStarted", func(t *testing.T) {
		db, _ := testsupport.MustOpenDB(t)
		s := digest.NewStore(db)
		importStories(t, s, coveredStory("first", 2, 2, 2, epochEnd.Add(-time.Hour)))
		e, err := s.Open(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		// Before sending starts, assembling again replaces the edition.
		importStories(t, s, coveredStory("second", 3, 3, 3, epochEnd.Add(-time.Hour)))
		e2, err := s.Assemble(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Freeze(ctx, e2); err != nil {
			t.Fatalf("re-freeze before sending: %v", err)
		}
		if e2.ID != e.ID {
			t.Fatalf("re-frozen edition id %d, want %d", e2.ID, e.ID)
		}
		if _, err := db.W.ExecContext(ctx, `UPDATE editions SET status = 'sending', started_at = ? WHERE id = ?`,
			"2026-11-27T07:00:00Z", e.ID); err != nil {
			t.Fatal(err)
		}
		importStories(t, s, coveredStory("third", 4, 4, 4, epochEnd.Add(-time.Hour)))
		e3, err := s.Assemble(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Freeze(ctx, e3)
		if !errors.Is(err, digest.ErrEditionStarted) {
			t.Fatalf("Freeze after start: err=%v, want ErrEditionStarted", err)
		}
		if !strings.Contains(err.Error(), "2026-11-27") {
			t.Fatalf("error %q does not name the date", err)
		}
		got, err := s.Open(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if g, want := ids(got.Stories), "second,first"; g != want {
			t.Fatalf("stored stories=%s, want %s", g, want)
		}
	})
}
