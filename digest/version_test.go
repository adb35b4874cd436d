package digest_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"bothsides/digest"
	"bothsides/internal/testsupport"
)

func importJSON(t *testing.T, store *digest.Store, stories ...map[string]any) digest.ImportResult {
	t.Helper()
	parsed, err := digest.ParseImport(strings.NewReader(file(t, stories...)))
	if err != nil {
		t.Fatal(err)
	}
	res, err := store.Import(context.Background(), parsed)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestStore_Versions(t *testing.T) {
	ctx := context.Background()
	db, clock := testsupport.MustOpenDB(t)
	store := digest.NewStore(db)

	importJSON(t, store, validStory("one"))
	vs, err := store.Versions(ctx, "one")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].Number != 1 || len(vs[0].Changes) != 0 || !vs[0].CreatedAt.Equal(testsupport.Epoch) {
		t.Fatalf("versions after first import: %+v", vs)
	}

	t.Run("IdenticalReimportIsNoOp", func(t *testing.T) {
		clock.Advance(10 * 60e9)
		res := importJSON(t, store, validStory("one"))
		if got, want := res.String(), "imported 1 stories (0 new, 0 changed, 1 unchanged), 3 articles"; got != want {
			t.Fatalf("result=%q, want %q", got, want)
		}
		vs, _ := store.Versions(ctx, "one")
		if len(vs) != 1 {
			t.Fatalf("identical re-import made a version: %+v", vs)
		}
	})

	t.Run("ChangeMakesVersion", func(t *testing.T) {
		clock.Advance(60 * 60e9)
		changed := validStory("one")
		changed["title"] = "A corrected title"
		changed["framing"].(map[string]any)["left"] = "Left outlets now say otherwise."
		delete(changed["framing"].(map[string]any), "right")
		arts := changed["articles"].([]any)
		changed["articles"] = append(arts[1:], map[string]any{"source": "New Outlet", "bias": "far-right", "url": "https://example.com/new"})
		res := importJSON(t, store, changed, validStory("two"))
		if got, want := res.String(), "imported 2 stories (1 new, 1 changed, 0 unchanged), 6 articles"; got != want {
			t.Fatalf("result=%q, want %q", got, want)
		}
		st, err := store.Story(ctx, "one")
		if err != nil {
			t.Fatal(err)
		}
		if st.Version != 2 || st.Title != "A corrected title" {
			t.Fatalf("current story: version %d title %q", st.Version, st.Title)
		}
		vs, _ := store.Versions(ctx, "one")
		if len(vs) != 2 || vs[0].Number != 2 || !vs[0].CreatedAt.Equal(clock.Now()) {
			t.Fatalf("versions: %+v", vs)
		}
		want := []string{"Title changed", "Left framing changed", "Right framing removed",
			"Article added: New Outlet (Far Right)", "Article removed: Example Times (Lean Left)"}
		if !slices.Equal(vs[0].Changes, want) {
			t.Fatalf("changes=%q, want %q", vs[0].Changes, want)
		}
		old, err := store.StoryVersion(ctx, "one", 1)
		if err != nil {
			t.Fatal(err)
		}
		if old.Title != "Title of one" || len(old.Articles) != 3 || old.Framing.Right != "Right view." || old.Version != 1 {
			t.Fatalf("version 1 not kept: %+v", old)
		}
		if _, err := store.StoryVersion(ctx, "one", 3); err == nil {
			t.Fatal("a version that does not exist was found")
		}
	})
}

func TestStore_EditionKeepsMailedVersion(t *testing.T) {
	ctx := context.Background()
	db, clock := testsupport.MustOpenDB(t)
	store := digest.NewStore(db)
	s := validStory("one")
	s["published_at"] = "2026-11-27T05:00:00Z"
	delete(s, "updated_at")
	importJSON(t, store, s)
	e, err := store.Open(ctx, digest.AssembleParams{Date: "2026-11-27", WindowEnd: clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.W.Exec(`UPDATE editions SET status = 'sent' WHERE id = ?`, e.ID); err != nil {
		t.Fatal(err)
	}
	s["title"] = "Corrected after the mail went out"
	importJSON(t, store, s)

	got, err := store.Edition(ctx, "2026-11-27", "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Stories[0].Title != "Title of one" || got.Stories[0].Version != 1 {
		t.Fatalf("edition changed with the story: %q v%d", got.Stories[0].Title, got.Stories[0].Version)
	}
	ms, err := store.Mailings(ctx, "one")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Date != "2026-11-27" || ms[0].Version != 1 {
		t.Fatalf("mailings=%+v", ms)
	}
}
