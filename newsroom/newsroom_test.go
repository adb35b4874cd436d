package newsroom_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"bothsides/digest"
	"bothsides/feeds"
	"bothsides/internal/testsupport"
	"bothsides/newsroom"
)

var outlets = []outlet{
	{"Harbor Progressive", "harbor.example", "left"},
	{"Continental Wire", "wire.example", "center"},
	{"Liberty Standard", "liberty.example", "right"},
	{"Bay Notes", "bay.example", "unrated"},
}

var t0 = testsupport.Epoch.Add(-6 * time.Hour)

func storm(at time.Time, title, desc string) post {
	return post{Published: at, Title: title, Description: desc, Categories: []string{"Weather", "Politics"}}
}

func TestNewsroom_Group(t *testing.T) {
	ctx := context.Background()
	r := newRoom(t, t.TempDir()+"/bothsides.db", newsroom.Config{}, outlets)
	r.news.add("harbor.example", storm(t0, "Storm Aldric floods Port Ellery as council delays evacuation",
		"Storm Aldric flooded Port Ellery on Monday. Critics said the council waited too long to order an evacuation."))
	r.news.add("wire.example", storm(t0.Add(time.Hour), "Storm Aldric makes landfall near Port Ellery",
		"Storm Aldric came ashore near Port Ellery with gusts above 110 km/h. About 40,000 homes lost power."))
	r.news.add("bay.example", storm(t0.Add(2*time.Hour), "Port Ellery counts the cost of Storm Aldric",
		"Residents of Port Ellery cleared debris after Storm Aldric. The harbour stayed closed."))
	r.news.add("liberty.example", post{Published: t0.Add(3 * time.Hour), Title: "Senate passes farm subsidy bill after late-night vote",
		Description: "The Senate approved the farm subsidy bill 52 to 48.", Categories: []string{"Agriculture"}})
	r.clock.Set(t0.Add(4 * time.Hour))
	r.ingest(t)

	list, err := r.stories.List(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("%d stories, want 2 (the storm and the vote): %+v", len(list), list)
	}
	var st digest.Story
	for _, s := range list {
		if len(s.Articles) == 3 {
			st = s
		}
	}
	t.Run("OneStoryPerEvent", func(t *testing.T) {
		if st.ID == "" {
			t.Fatalf("no story holds the three storm articles: %+v", list)
		}
		if st.Status != digest.StatusDraft || !slices.Equal(st.Drafted, digest.DraftFields) {
			t.Fatalf("status=%q drafted=%v, want a fully drafted draft", st.Status, st.Drafted)
		}
		if st.ID != "storm-aldric-floods-port-ellery-as-council-delays-evacuation" {
			t.Fatalf("id=%q, want the first article's title as a slug", st.ID)
		}
	})
	t.Run("JoinReasons", func(t *testing.T) {
		first, second := st.Articles[0].Join, st.Articles[1].Join
		if first == nil || first.By != digest.JoinNew {
			t.Fatalf("first article join=%+v, want new", first)
		}
		if second == nil || second.By != digest.JoinMatch || second.Score <= 0 || !slices.ContainsFunc(second.Shared, func(s string) bool {
			return strings.Contains(strings.ToLower(s), "aldric") || strings.Contains(strings.ToLower(s), "ellery")
		}) {
			t.Fatalf("second article join=%+v, want a match sharing the storm's names", second)
		}
	})
	t.Run("DraftedFromArticles", func(t *testing.T) {
		titles := []string{}
		for _, a := range st.Articles {
			titles = append(titles, a.Title)
		}
		if !slices.Contains(titles, st.Title) {
			t.Fatalf("title %q is none of the articles' %v", st.Title, titles)
		}
		if !strings.Contains(st.Framing.Left, "“Storm Aldric floods Port Ellery as council delays evacuation” (Harbor Progressive)") {
			t.Fatalf("left framing=%q, want the left outlet's headline quoted and attributed", st.Framing.Left)
		}
		if st.Framing.Right != "" {
			t.Fatalf("right framing=%q, want none: no right outlet covered it", st.Framing.Right)
		}
		if strings.Contains(st.Framing.Center, "Bay Notes") {
			t.Fatalf("an unrated outlet framed the center: %q", st.Framing.Center)
		}
		if len(st.Overview) == 0 || len(st.Overview) > 4 {
			t.Fatalf("overview=%v, want 1 to 4 sentences", st.Overview)
		}
		if !slices.Equal(st.Topics, []string{"Politics"}) {
			t.Fatalf("topics=%v, want Politics (Weather has no mapping)", st.Topics)
		}
		c := st.Coverage()
		if c != (digest.Coverage{Left: 1, Center: 1, Unrated: 1}) {
			t.Fatalf("coverage=%+v", c)
		}
	})

	t.Run("EditorsFieldsSurviveIngest", func(t *testing.T) {
		title := "Storm Aldric hits Port Ellery"
		if _, err := r.stories.EditStory(ctx, st.ID, digest.Edit{Title: &title}); err != nil {
			t.Fatal(err)
		}
		r.news.add("liberty.example", storm(t0.Add(5*time.Hour), "Storm Aldric: Port Ellery council under fire over evacuation",
			"Storm Aldric left Port Ellery flooded, and residents blamed the council for the late evacuation order."))
		r.clock.Set(t0.Add(6 * time.Hour))
		r.ingest(t)
		got, err := r.stories.Story(ctx, st.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != title {
			t.Fatalf("title=%q, want the editor's %q kept", got.Title, title)
		}
		if len(got.Articles) != 4 || got.Coverage().Right != 1 {
			t.Fatalf("%d articles, coverage %+v: the new article should still join", len(got.Articles), got.Coverage())
		}
		if !strings.Contains(got.Framing.Right, "(Liberty Standard)") {
			t.Fatalf("right framing=%q, want it drafted from the new article", got.Framing.Right)
		}
		if got.IsDrafted(digest.FieldTitle) || !got.IsDrafted(digest.FieldSummary) {
			t.Fatalf("drafted=%v", got.Drafted)
		}
		vs, _ := r.stories.Versions(ctx, st.ID)
		if len(vs) < 3 {
			t.Fatalf("versions=%+v, want the draft, the edit and the ingest", vs)
		}
	})

	t.Run("RedraftAfterSplit", func(t *testing.T) {
		split, err := r.stories.Split(ctx, st.ID, []string{"https://bay.example/news/0"})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.newsroom.Redraft(ctx, st.ID, split.ID); err != nil {
			t.Fatal(err)
		}
		got, _ := r.stories.Story(ctx, split.ID)
		if got.Title != "Port Ellery counts the cost of Storm Aldric" || !strings.HasPrefix(got.Summary, "Residents of Port Ellery") {
			t.Fatalf("split story drafted as %q / %q", got.Title, got.Summary)
		}
		// Later ingests keep the editor's grouping: the item stays where it was put.
		r.clock.Advance(time.Hour)
		r.ingest(t)
		again, _ := r.stories.Story(ctx, split.ID)
		if len(again.Articles) != 1 {
			t.Fatalf("split story has %d articles after an ingest, want 1", len(again.Articles))
		}
	})
}

func TestNewsroom_AutoPublish(t *testing.T) {
	ctx := context.Background()
	auto, err := newsroom.ParseAutoPublish("3,2")
	if err != nil {
		t.Fatal(err)
	}
	r := newRoom(t, t.TempDir()+"/bothsides.db", newsroom.Config{AutoPublish: auto}, outlets)
	r.news.add("harbor.example", storm(t0, "Storm Aldric floods Port Ellery", "Storm Aldric flooded Port Ellery on Monday."))
	r.news.add("bay.example", storm(t0.Add(time.Hour), "Storm Aldric floods Port Ellery harbour", "Storm Aldric flooded the Port Ellery harbour."))
	r.clock.Set(t0.Add(90 * time.Minute))
	r.ingest(t)
	list, _ := r.stories.List(ctx, 10)
	if len(list) != 1 || list[0].Published() {
		t.Fatalf("two sources, one side: want one draft, got %+v", list)
	}
	// A third source on a second side publishes it.
	r.news.add("wire.example", storm(t0.Add(2*time.Hour), "Storm Aldric makes landfall near Port Ellery", "Storm Aldric came ashore near Port Ellery."))
	r.clock.Set(t0.Add(3 * time.Hour))
	r.ingest(t)
	st, _ := r.stories.Story(ctx, list[0].ID)
	if !st.Published() || st.StatusBy != digest.ByAuto || !st.PublishedAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("status=%q by=%q at=%v, want auto-published as of its third source", st.Status, st.StatusBy, st.PublishedAt)
	}
	// An editor's unpublish sticks.
	if _, err := r.stories.SetStatus(ctx, st.ID, digest.StatusDraft, digest.ByEditor); err != nil {
		t.Fatal(err)
	}
	r.news.add("liberty.example", storm(t0.Add(4*time.Hour), "Storm Aldric floods Port Ellery again", "Storm Aldric flooded Port Ellery once more."))
	r.clock.Set(t0.Add(5 * time.Hour))
	r.ingest(t)
	st, _ = r.stories.Story(ctx, st.ID)
	if st.Published() || len(st.Articles) != 4 {
		t.Fatalf("status=%q articles=%d: an editor's unpublish must stick", st.Status, len(st.Articles))
	}
}

func TestParseAutoPublish(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want newsroom.AutoPublish
		ok   bool
	}{{"", newsroom.AutoPublish{}, true}, {"off", newsroom.AutoPublish{}, true}, {"3,2", newsroom.AutoPublish{Sources: 3, Sides: 2}, true},
		{"3", newsroom.AutoPublish{}, false}, {"0,1", newsroom.AutoPublish{}, false}, {"2,4", newsroom.AutoPublish{}, false}, {"a,b", newsroom.AutoPublish{}, false}} {
		got, err := newsroom.ParseAutoPublish(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseAutoPublish(%q)=%+v, %v", tc.in, got, err)
		}
	}
}

func TestTopics_Map(t *testing.T) {
	ctx := context.Background()
	db, _ := testsupport.MustOpenDB(t)
	topics := newsroom.NewTopics(db)
	m, err := topics.Mapping(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m["politics"] != "Politics" || m["tech"] != "Technology" {
		t.Fatalf("seeded mapping lacks the defaults: %v", m)
	}
	if err := topics.Map(ctx, "Weather", "Climate"); err != nil {
		t.Fatal(err)
	}
	if m, _ = topics.Mapping(ctx); m["weather"] != "Climate" {
		t.Fatalf("weather=%q", m["weather"])
	}
	if err := topics.Unmap(ctx, "weather"); err != nil {
		t.Fatal(err)
	}
	if err := topics.Unmap(ctx, "weather"); err == nil {
		t.Fatal("unmapping twice: want an error")
	}
}

// TestNewsroom_CatchUp checks that articles stored without being grouped
// (an ingest with no newsroom, or a grouping that failed) are grouped by
// the next one.
func TestNewsroom_CatchUp(t *testing.T) {
	ctx := context.Background()
	r := newRoom(t, t.TempDir()+"/bothsides.db", newsroom.Config{}, outlets)
	r.news.add("harbor.example", storm(t0, "Storm Aldric floods Port Ellery", "Storm Aldric flooded Port Ellery on Monday."))
	r.clock.Set(t0.Add(time.Hour))
	// Stored only: an ingester without a grouper.
	bare := feeds.NewIngester(feeds.IngestConfig{Now: r.clock.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Fetcher: feeds.NewFetcher(feeds.FetchConfig{AllowPrivate: true})}, r.feeds)
	if _, err := bare.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if list, _ := r.stories.List(ctx, 10); len(list) != 0 {
		t.Fatalf("%d stories before grouping", len(list))
	}
	r.news.add("wire.example", storm(t0.Add(2*time.Hour), "Storm Aldric makes landfall near Port Ellery", "Storm Aldric flooded Port Ellery as it came ashore."))
	r.clock.Set(t0.Add(3 * time.Hour))
	r.ingest(t)
	list, _ := r.stories.List(ctx, 10)
	if len(list) != 1 || len(list[0].Articles) != 2 || list[0].Articles[0].Source != "Harbor Progressive" {
		t.Fatalf("after the grouped ingest: %+v", list)
	}
}
