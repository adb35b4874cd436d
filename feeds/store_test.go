package feeds_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"bothsides/feeds"
	"bothsides/internal/testsupport"
)

func mustStore(tb testing.TB) (*feeds.Store, *testsupport.Clock) {
	tb.Helper()
	db, clock := testsupport.MustOpenDB(tb)
	return feeds.NewStore(db), clock
}

func src(name, bias string, urls ...string) feeds.Source {
	s := feeds.Source{Name: name, Domain: strings.ToLower(strings.ReplaceAll(name, " ", "")) + ".example", Bias: bias}
	for _, u := range urls {
		s.Feeds = append(s.Feeds, feeds.Feed{URL: u})
	}
	return s
}

func TestStore_Add(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		st, _ := mustStore(t)
		s, err := st.Add(ctx, feeds.Source{Name: " Harbor Ledger ", Domain: "HarborLedger.Example", Bias: "Lean-Left",
			Factuality: "high", Owner: "Ledger Trust", RatedBy: "desk", RatedOn: "2026-11-01",
			Feeds: []feeds.Feed{{URL: "HTTPS://HarborLedger.example/rss"}}})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := s.Name+"|"+s.Domain+"|"+s.Bias+"|"+s.Feeds[0].URL, "Harbor Ledger|harborledger.example|lean-left|https://harborledger.example/rss"; got != want {
			t.Fatalf("stored %q, want %q", got, want)
		}
		if s.Side() != "left" {
			t.Fatalf("Side=%q, want left", s.Side())
		}
	})
	t.Run("ErrBias", func(t *testing.T) {
		st, _ := mustStore(t)
		_, err := st.Add(ctx, src("A", "leftish"))
		if !errors.Is(err, feeds.ErrInvalid) || !strings.Contains(err.Error(), feeds.BiasChoices) {
			t.Fatalf("err=%v, want ErrInvalid listing %s", err, feeds.BiasChoices)
		}
	})
	t.Run("ErrFields", func(t *testing.T) {
		st, _ := mustStore(t)
		_, err := st.Add(ctx, feeds.Source{Name: "B", Domain: "https://b.example/", Bias: "center", RatedOn: "yesterday",
			Factuality: "great", Feeds: []feeds.Feed{{URL: "ftp://b.example/feed"}, {URL: "/relative"}}})
		for _, want := range []string{"domain", "rated-on", "factuality", "ftp://", "/relative", "go together"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err=%v, want it to name %q", err, want)
			}
		}
		if list, _ := st.List(ctx); len(list) != 0 {
			t.Fatalf("invalid source stored: %+v", list)
		}
	})
	t.Run("ErrExists", func(t *testing.T) {
		st, _ := mustStore(t)
		if _, err := st.Add(ctx, src("C", "unrated", "https://c.example/feed")); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Add(ctx, src("c", "center")); !errors.Is(err, feeds.ErrExists) {
			t.Fatalf("same name: err=%v, want ErrExists", err)
		}
		_, err := st.Add(ctx, src("D", "center", "https://c.example/feed"))
		if !errors.Is(err, feeds.ErrExists) || !strings.Contains(err.Error(), `"C"`) {
			t.Fatalf("same feed: err=%v, want ErrExists naming C", err)
		}
		if list, _ := st.List(ctx); len(list) != 1 {
			t.Fatalf("%d sources, want 1: a failed add left a row", len(list))
		}
	})
}

func TestStore_Update(t *testing.T) {
	ctx := context.Background()
	st, _ := mustStore(t)
	if _, err := st.Add(ctx, src("Old", "left", "https://a.example/1", "https://a.example/2")); err != nil {
		t.Fatal(err)
	}
	s, _ := st.Get(ctx, "old")
	keep := s.Feeds[1].ID
	s.Name, s.Bias = "New", "right"
	s.Feeds = []feeds.Feed{{URL: "https://a.example/2"}, {URL: "https://a.example/3"}}
	got, err := st.Update(ctx, "Old", *s)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "New" || got.Bias != "right" || len(got.Feeds) != 2 || got.Feeds[0].ID != keep || got.Feeds[1].URL != "https://a.example/3" {
		t.Fatalf("updated %+v", got)
	}
	if _, err := st.Update(ctx, "Old", *s); !errors.Is(err, feeds.ErrNotFound) {
		t.Fatalf("err=%v, want ErrNotFound", err)
	}
	if err := st.Remove(ctx, "new"); err != nil {
		t.Fatal(err)
	}
	if err := st.Remove(ctx, "new"); !errors.Is(err, feeds.ErrNotFound) {
		t.Fatalf("err=%v, want ErrNotFound", err)
	}
}

func TestStore_Import(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		st, _ := mustStore(t)
		st.Add(ctx, src("A", "left"))
		res, err := st.Import(ctx, []feeds.Source{src("A", "center", "https://a.example/f"), src("B", "right")})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := res.String(), "1 sources added, 1 updated"; got != want {
			t.Fatalf("%s, want %s", got, want)
		}
		a, _ := st.Get(ctx, "A")
		if a.Bias != "center" || len(a.Feeds) != 1 {
			t.Fatalf("A=%+v", a)
		}
	})
	t.Run("ErrNothingChanges", func(t *testing.T) {
		st, _ := mustStore(t)
		st.Add(ctx, src("A", "left", "https://a.example/f"))
		// B's feed is A's: the whole import is refused, A's edit too.
		_, err := st.Import(ctx, []feeds.Source{src("A", "center", "https://a.example/f"), src("B", "right", "https://a.example/f")})
		if !errors.Is(err, feeds.ErrExists) {
			t.Fatalf("err=%v, want ErrExists", err)
		}
		list, _ := st.List(ctx)
		if len(list) != 1 || list[0].Bias != "left" || len(list[0].Feeds) != 1 {
			t.Fatalf("after a failed import: %+v", list)
		}
	})
}
