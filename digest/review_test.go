package digest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/sqlite"
)

// draft makes a draft story as the newsroom would, with one article per
// source given as "Name/bias".
func draft(t *testing.T, store *digest.Store, id string, at time.Time, sources ...string) *digest.Story {
	t.Helper()
	st := &digest.Story{ID: id, Title: "Draft " + id, Summary: "Summary of " + id, PublishedAt: at,
		Status: digest.StatusDraft, Drafted: slices.Clone(digest.DraftFields)}
	for i, s := range sources {
		name, bias, _ := cut(s)
		st.Articles = append(st.Articles, digest.Article{Source: name, Bias: digest.Bias(bias),
			URL: "https://" + name + ".example/" + id, Title: name + " on " + id, PublishedAt: at,
			ItemID: int64(len(id)*100 + i), Join: &digest.Join{By: digest.JoinMatch, Score: 0.5, Shared: []string{"term"}}})
	}
	if err := store.Create(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	return st
}

func cut(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func TestStore_Drafts(t *testing.T) {
	ctx := context.Background()
	db, clock := testsupport.MustOpenDB(t)
	store := digest.NewStore(db)
	now := testsupport.Epoch
	draft(t, store, "quake", now.Add(-time.Hour), "A/left", "B/center", "C/unrated")
	importJSON(t, store, validStory("one"))
	window := func() []string {
		list, err := store.Window(ctx, sqlite.Time(now.Add(-24*time.Hour)), sqlite.Time(now.Add(24*time.Hour)))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, st := range list {
			ids = append(ids, st.ID)
		}
		return ids
	}

	t.Run("DraftStaysOutOfEditions", func(t *testing.T) {
		if got := window(); !slices.Equal(got, []string{"one"}) {
			t.Fatalf("window=%v, want only the imported story", got)
		}
		st, err := store.Story(ctx, "quake")
		if err != nil {
			t.Fatal(err)
		}
		if st.Published() || st.Status != digest.StatusDraft || !st.IsDrafted(digest.FieldTitle) {
			t.Fatalf("status=%q drafted=%v", st.Status, st.Drafted)
		}
		if a := st.Articles[0]; a.ItemID == 0 || a.Join == nil || a.Join.By != digest.JoinMatch || !slices.Equal(a.Join.Shared, []string{"term"}) {
			t.Fatalf("article join not kept: %+v %+v", a, a.Join)
		}
		imported, _ := store.Story(ctx, "one")
		if !imported.Published() || imported.Status != digest.StatusPublished {
			t.Fatalf("imported status=%q, want published", imported.Status)
		}
	})

	t.Run("UnratedCountsInArticlesNotSides", func(t *testing.T) {
		st, _ := store.Story(ctx, "quake")
		c := st.Coverage()
		if got, want := c, (digest.Coverage{Left: 1, Center: 1, Unrated: 1}); got != want {
			t.Fatalf("coverage=%+v, want %+v", got, want)
		}
		if c.Total() != 2 || len(st.Articles) != 3 || len(st.UnratedArticles()) != 1 {
			t.Fatalf("total=%d articles=%d", c.Total(), len(st.Articles))
		}
		if c.Percent(digest.SideLeft)+c.Percent(digest.SideCenter) != 100 {
			t.Fatalf("split %d+%d", c.Percent(digest.SideLeft), c.Percent(digest.SideCenter))
		}
	})

	t.Run("EditMarksFieldAndVersions", func(t *testing.T) {
		clock.Advance(time.Minute)
		title := "An editor's title"
		st, err := store.EditStory(ctx, "quake", digest.Edit{Title: &title, Framing: map[digest.Side]string{digest.SideLeft: "Left said so."}})
		if err != nil {
			t.Fatal(err)
		}
		if st.Title != title || st.IsDrafted(digest.FieldTitle) || st.IsDrafted(digest.FieldFramingLeft) || !st.IsDrafted(digest.FieldSummary) {
			t.Fatalf("title=%q drafted=%v", st.Title, st.Drafted)
		}
		vs, _ := store.Versions(ctx, "quake")
		if len(vs) != 2 || !slices.Contains(vs[0].Changes, "Title changed") {
			t.Fatalf("versions=%+v", vs)
		}
		empty := ""
		if _, err := store.EditStory(ctx, "quake", digest.Edit{Title: &empty}); !errors.Is(err, digest.ErrInvalidEdit) {
			t.Fatalf("empty title: err=%v, want ErrInvalidEdit", err)
		}
		if _, err := store.EditStory(ctx, "nope", digest.Edit{Title: &title}); !errors.Is(err, digest.ErrStoryNotFound) {
			t.Fatalf("unknown id: err=%v", err)
		}
	})

	t.Run("PublishEntersWindow", func(t *testing.T) {
		clock.Set(now.Add(30 * time.Minute))
		st, err := store.SetStatus(ctx, "quake", digest.StatusPublished, digest.ByEditor)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Published() || st.StatusBy != digest.ByEditor || !st.PublishedAt.Equal(now.Add(30*time.Minute)) {
			t.Fatalf("status=%q by=%q at=%v", st.Status, st.StatusBy, st.PublishedAt)
		}
		if got := window(); !slices.Contains(got, "quake") {
			t.Fatalf("window=%v lacks the published story", got)
		}
		vs, _ := store.Versions(ctx, "quake")
		if !slices.Contains(vs[0].Changes, "Published") {
			t.Fatalf("changes=%v", vs[0].Changes)
		}
		if _, err := store.SetStatus(ctx, "quake", digest.StatusDraft, digest.ByEditor); err != nil {
			t.Fatal(err)
		}
		if got := window(); slices.Contains(got, "quake") {
			t.Fatalf("unpublished story still in window %v", got)
		}
	})

	t.Run("MoveSplitMerge", func(t *testing.T) {
		draft(t, store, "vote", now, "D/right", "E/lean-right", "F/left")
		// Move F's article from vote to quake.
		fURL := "https://F.example/vote"
		got, err := store.MoveArticles(ctx, "vote", []string{fURL}, "quake")
		if err != nil {
			t.Fatal(err)
		}
		if n := len(got.Articles); n != 4 || got.Articles[3].URL != fURL || got.Articles[3].Join.By != digest.JoinEditor {
			t.Fatalf("quake after move: %d articles, last %+v", n, got.Articles[n-1])
		}
		vote, _ := store.Story(ctx, "vote")
		if len(vote.Articles) != 2 {
			t.Fatalf("vote keeps %d articles, want 2", len(vote.Articles))
		}
		if _, err := store.MoveArticles(ctx, "vote", []string{"https://nowhere.example/"}, "quake"); !errors.Is(err, digest.ErrInvalidEdit) {
			t.Fatalf("move of a missing article: err=%v", err)
		}
		if _, err := store.MoveArticles(ctx, "vote", []string{fURL}, "vote"); !errors.Is(err, digest.ErrSameStory) {
			t.Fatalf("move into itself: err=%v", err)
		}

		// Split D out of vote into a new draft.
		split, err := store.Split(ctx, "vote", []string{"https://D.example/vote"})
		if err != nil {
			t.Fatal(err)
		}
		if split.ID != "vote-split" || split.Status != digest.StatusDraft || len(split.Articles) != 1 || split.Title != "D on vote" {
			t.Fatalf("split=%+v", split)
		}
		if _, err := store.Split(ctx, "vote", []string{"https://E.example/vote"}); !errors.Is(err, digest.ErrInvalidEdit) {
			t.Fatalf("split of every article: err=%v", err)
		}

		// Merge the split back: it disappears.
		if _, err := store.Merge(ctx, "vote", "vote"); !errors.Is(err, digest.ErrSameStory) {
			t.Fatalf("merge with itself: err=%v", err)
		}
		if _, err := store.Merge(ctx, "vote", "nope"); !errors.Is(err, digest.ErrStoryNotFound) {
			t.Fatalf("merge unknown: err=%v", err)
		}
		merged, err := store.Merge(ctx, "vote", "vote-split")
		if err != nil {
			t.Fatal(err)
		}
		if len(merged.Articles) != 2 {
			t.Fatalf("merged has %d articles", len(merged.Articles))
		}
		if _, err := store.Story(ctx, "vote-split"); !errors.Is(err, digest.ErrStoryNotFound) {
			t.Fatalf("merged-away story: err=%v", err)
		}
	})
}

// TestRenderer_Render_Unrated checks that an unrated outlet counts among a
// story's articles but on no side, in the mail and the blindspot rule.
func TestRenderer_Render_Unrated(t *testing.T) {
	st := coveredStory("mixed", 0, 0, 3, t0)
	for i := range 4 {
		st.Articles = append(st.Articles, digest.Article{Source: fmt.Sprintf("Unrated %d", i), Bias: digest.Unrated,
			URL: fmt.Sprintf("https://unrated%d.example/mixed", i)})
	}
	if side := digest.DefaultBlindspotRule.For(st.Coverage()); side != digest.SideLeft {
		t.Fatalf("blindspot=%q: three right outlets and four unrated ones are a blindspot for the left", side)
	}
	e := &digest.Edition{Date: "2026-11-27", Stories: []digest.Story{st}}
	_, h, txt := render(t, e, ada)
	flat := strings.Join(strings.Fields(txt), " ")
	if !strings.Contains(flat, "Coverage by 3 sources: Left 0% · Center 0% · Right 100%; and 4 unrated") {
		t.Fatalf("text coverage line wrong:\n%s", txt)
	}
	if !strings.Contains(flat, "All 7 articles") {
		t.Fatalf("text part does not count the unrated articles:\n%s", txt)
	}
	if legend := parseHTML(t, h).Find("td.legend").Text(); !strings.Contains(legend, "Right 100% (3); and 4 unrated") {
		t.Fatalf("HTML legend %q", legend)
	}
}

func TestParseImport_Unrated(t *testing.T) {
	s := validStory("x")
	s["articles"].([]any)[0].(map[string]any)["bias"] = "unrated"
	_, err := digest.ParseImport(strings.NewReader(file(t, s)))
	var ie *digest.ImportError
	if !errors.As(err, &ie) || !strings.Contains(ie.Error(), `"unrated" is not one of`) {
		t.Fatalf("import of an unrated article: %v, want the import's rule kept", err)
	}
}
