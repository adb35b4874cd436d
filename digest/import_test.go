package digest_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/sqlite"
)

// validStory returns a story in the import format with every field set.
func validStory(id string) map[string]any {
	return map[string]any{
		"id":           id,
		"title":        "Title of " + id,
		"summary":      "A short summary of " + id + ".",
		"published_at": "2026-11-27T06:30:00Z",
		"updated_at":   "2026-11-27T09:00:00Z",
		"topics":       []any{"Technology", "Middle East"},
		"overview":     []any{"First neutral bullet.", "Second neutral bullet."},
		"framing":      map[string]any{"left": "Left view.", "center": "Center view.", "right": "Right view."},
		"articles": []any{
			map[string]any{"source": "Example Times", "bias": "lean-left", "url": "https://example.com/a", "title": "A", "published_at": "2026-11-27T05:00:00Z"},
			map[string]any{"source": "Example Post", "bias": "center", "url": "https://example.org/b", "title": "B"},
			map[string]any{"source": "Example Herald", "bias": "right", "url": "http://example.net/c"},
		},
		"faq": []any{map[string]any{"question": "Why?", "answer": "Because."}},
	}
}

func file(t *testing.T, stories ...map[string]any) string {
	t.Helper()
	list := make([]any, len(stories))
	for i, s := range stories {
		list[i] = s
	}
	b, err := json.MarshalIndent(map[string]any{"stories": list}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseImport_OK(t *testing.T) {
	stories, err := digest.ParseImport(strings.NewReader(file(t, validStory("one"), validStory("two"))))
	if err != nil {
		t.Fatalf("ParseImport: %v", err)
	}
	if got, want := len(stories), 2; got != want {
		t.Fatalf("len=%d, want %d", got, want)
	}
	st := stories[0]
	if st.ID != "one" || st.Title != "Title of one" || len(st.Articles) != 3 || len(st.FAQ) != 1 ||
		st.Framing.Right != "Right view." || len(st.Overview) != 2 || st.Topics[1] != "Middle East" {
		t.Fatalf("story not read in full: %+v", st)
	}
	if got, want := st.Articles[0].Bias.Side(), digest.SideLeft; got != want {
		t.Fatalf("Side=%v, want %v", got, want)
	}
	if got, want := st.Coverage(), (digest.Coverage{Left: 1, Center: 1, Right: 1}); got != want {
		t.Fatalf("Coverage=%+v, want %+v", got, want)
	}
}

func TestParseImport_Errors(t *testing.T) {
	mutate := func(f func(s map[string]any)) string {
		s := validStory("foo")
		f(s)
		return file(t, validStory("first"), validStory("second"), validStory("third"), s)
	}
	tests := []struct {
		name  string
		input string
		want  []string // every line must appear in the error
	}{
		{"BadBias", mutate(func(s map[string]any) {
			s["articles"].([]any)[1].(map[string]any)["bias"] = "leftish"
		}), []string{`story 3 ("foo"): articles[1].bias: "leftish" is not one of far-left, left, lean-left, center, lean-right, right, far-right`}},
		{"MissingRequired", mutate(func(s map[string]any) {
			delete(s, "title")
			delete(s, "published_at")
			s["summary"] = "  "
		}), []string{`story 3 ("foo"): title: is required`, `story 3 ("foo"): published_at: is required`, `story 3 ("foo"): summary: must not be empty`}},
		{"BadID", mutate(func(s map[string]any) { s["id"] = "Foo Bar" }), []string{`story 3 ("Foo Bar"): id: "Foo Bar" must be 1 to 100 characters of a-z, 0-9 and '-'`}},
		{"LongID", mutate(func(s map[string]any) { s["id"] = strings.Repeat("a", 101) }), []string{`id: "aaaa`}},
		{"LongTitle", mutate(func(s map[string]any) { s["title"] = strings.Repeat("é", 301) }), []string{`story 3 ("foo"): title: is 301 characters long, at most 300 allowed`}},
		{"BadTime", mutate(func(s map[string]any) { s["published_at"] = "yesterday" }), []string{`story 3 ("foo"): published_at: "yesterday" is not an RFC 3339 time`}},
		{"UpdatedBeforePublished", mutate(func(s map[string]any) { s["updated_at"] = "2026-11-26T00:00:00Z" }), []string{`story 3 ("foo"): updated_at: is before published_at`}},
		{"NoArticles", mutate(func(s map[string]any) { s["articles"] = []any{} }), []string{`story 3 ("foo"): articles: needs at least one article`}},
		{"RelativeURL", mutate(func(s map[string]any) {
			s["articles"].([]any)[0].(map[string]any)["url"] = "/a"
		}), []string{`story 3 ("foo"): articles[0].url: "/a" is not an absolute http(s) URL`}},
		{"JavascriptURL", mutate(func(s map[string]any) {
			s["articles"].([]any)[2].(map[string]any)["url"] = "javascript:alert(1)"
		}), []string{`articles[2].url: "javascript:alert(1)" is not an absolute http(s) URL`}},
		{"TooManyBullets", mutate(func(s map[string]any) {
			var b []any
			for range 11 {
				b = append(b, "x")
			}
			s["overview"] = b
		}), []string{`story 3 ("foo"): overview: has 11 items, at most 10 allowed`}},
		{"UnknownFields", mutate(func(s map[string]any) {
			s["colour"] = "red"
			s["framing"].(map[string]any)["far"] = "x"
			s["articles"].([]any)[0].(map[string]any)["rating"] = 3
		}), []string{`story 3 ("foo"): colour: unknown field`, `story 3 ("foo"): framing.far: unknown field`, `story 3 ("foo"): articles[0].rating: unknown field`}},
		{"WrongType", mutate(func(s map[string]any) { s["title"] = 42 }), []string{`story 3 ("foo"): title: must be a string`}},
		{"DuplicateID", file(t, validStory("same"), validStory("other"), validStory("same")), []string{`story 2 ("same"): id: duplicate id: also story 0`}},
		{"UnknownTopLevel", `{"stories": [], "extra": 1}`, []string{`extra: unknown field`}},
		{"NoStories", `{"items": []}`, []string{`stories: is required`}},
		{"NotObject", `[1, 2]`, []string{`the file must be a JSON object`}},
		{"Malformed", "{\"stories\": [\n  {\"id\": \"x\",,}\n]}", []string{`line 2, column 15: malformed JSON`}},
		{"Truncated", "{\"stories\": [", []string{`malformed JSON`}},
		{"InvalidUTF8", "{\"stories\": [\n{\"id\": \"a\xffb\"}]}", []string{`line 2, column 10: invalid UTF-8`}},
		{"NUL", mutate(func(s map[string]any) { s["summary"] = "a\x00b" }), []string{`summary: must not contain NUL characters`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stories, err := digest.ParseImport(strings.NewReader(tt.input))
			var ie *digest.ImportError
			if !errors.As(err, &ie) {
				t.Fatalf("err=%v, want an *ImportError", err)
			}
			if stories != nil {
				t.Fatalf("stories=%d, want none on error", len(stories))
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q; got:\n%s", w, msg)
				}
			}
		})
	}
}

func TestParseImport_ReportsEveryProblem(t *testing.T) {
	a, b := validStory("a"), validStory("b")
	delete(a, "title")
	b["articles"].([]any)[0].(map[string]any)["bias"] = "middle"
	_, err := digest.ParseImport(strings.NewReader(file(t, a, validStory("ok"), b)))
	var ie *digest.ImportError
	if !errors.As(err, &ie) {
		t.Fatalf("err=%v", err)
	}
	if got, want := len(ie.Problems), 2; got != want {
		t.Fatalf("problems=%d, want %d: %v", got, want, err)
	}
	if got, want := ie.Problems[0].String(), `story 0 ("a"): title: is required`; got != want {
		t.Fatalf("Problems[0]=%q, want %q", got, want)
	}
	if !strings.HasPrefix(ie.Problems[1].String(), `story 2 ("b"): articles[0].bias:`) {
		t.Fatalf("Problems[1]=%q", ie.Problems[1])
	}
}

// count returns the number of rows in each story table.
func count(t *testing.T, db *sqlite.DB) [3]int {
	t.Helper()
	var c [3]int
	for i, table := range []string{"stories", "articles", "faqs"} {
		if err := db.R.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&c[i]); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestStore_Import(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		db, _ := testsupport.MustOpenDB(t)
		store := digest.NewStore(db)
		stories, err := digest.ParseImport(strings.NewReader(file(t, validStory("one"), validStory("two"))))
		if err != nil {
			t.Fatal(err)
		}
		res, err := store.Import(ctx, stories)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := res.String(), "imported 2 stories (2 new, 0 changed, 0 unchanged), 6 articles"; got != want {
			t.Fatalf("result=%q, want %q", got, want)
		}
		got, err := store.Story(ctx, "one")
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != "Title of one" || len(got.Articles) != 3 || len(got.FAQ) != 1 || got.Framing.Center != "Center view." ||
			!got.UpdatedAt.Equal(stories[0].UpdatedAt) || got.Articles[2].URL != "http://example.net/c" {
			t.Fatalf("stored story differs: %+v", got)
		}
	})
	t.Run("ReimportUpdates", func(t *testing.T) {
		db, _ := testsupport.MustOpenDB(t)
		store := digest.NewStore(db)
		first, _ := digest.ParseImport(strings.NewReader(file(t, validStory("one"), validStory("two"))))
		if _, err := store.Import(ctx, first); err != nil {
			t.Fatal(err)
		}
		changed := validStory("one")
		changed["title"] = "New title"
		changed["articles"] = changed["articles"].([]any)[:1]
		changed["faq"] = []any{}
		again, err := digest.ParseImport(strings.NewReader(file(t, changed, validStory("three"))))
		if err != nil {
			t.Fatal(err)
		}
		res, err := store.Import(ctx, again)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := res.String(), "imported 2 stories (1 new, 1 changed, 0 unchanged), 4 articles"; got != want {
			t.Fatalf("result=%q, want %q", got, want)
		}
		if got, want := count(t, db), [3]int{3, 7, 2}; got != want {
			t.Fatalf("rows (stories, articles, faqs)=%v, want %v", got, want)
		}
		st, err := store.Story(ctx, "one")
		if err != nil {
			t.Fatal(err)
		}
		if st.Title != "New title" || len(st.Articles) != 1 || len(st.FAQ) != 0 {
			t.Fatalf("story not replaced: %+v", st)
		}
	})
	t.Run("InvalidChangesNothing", func(t *testing.T) {
		db, _ := testsupport.MustOpenDB(t)
		store := digest.NewStore(db)
		first, _ := digest.ParseImport(strings.NewReader(file(t, validStory("one"))))
		if _, err := store.Import(ctx, first); err != nil {
			t.Fatal(err)
		}
		before := count(t, db)
		bad := validStory("two")
		bad["articles"].([]any)[0].(map[string]any)["bias"] = "leftish"
		changed := validStory("one")
		changed["title"] = "Should not land"
		if _, err := digest.ParseImport(strings.NewReader(file(t, changed, bad))); err == nil {
			t.Fatal("invalid file parsed")
		}
		if got := count(t, db); got != before {
			t.Fatalf("rows=%v, want unchanged %v", got, before)
		}
		st, _ := store.Story(ctx, "one")
		if st.Title != "Title of one" {
			t.Fatalf("title=%q changed by an invalid import", st.Title)
		}
	})
}
