package cluster

import (
	"encoding/json"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"bothsides/feeds"
)

// corpus is testdata/corpus.json: fictional outlets and their articles,
// each labelled with the event it reports.
type corpus struct {
	Outlets []struct {
		Name, Domain, Bias string
	}
	Articles []struct {
		ID          int64
		Outlet      string
		Bias        string
		Event       string
		Published   time.Time
		URL         string
		Title       string
		Description string
		Categories  []string
	}
}

func loadCorpus(tb testing.TB) ([]feeds.Item, map[int64]string) {
	tb.Helper()
	b, err := os.ReadFile("testdata/corpus.json")
	if err != nil {
		tb.Fatal(err)
	}
	var c corpus
	if err := json.Unmarshal(b, &c); err != nil {
		tb.Fatal(err)
	}
	src := map[string]int64{}
	dom := map[string]string{}
	for i, o := range c.Outlets {
		src[o.Name], dom[o.Name] = int64(i+1), o.Domain
	}
	items := make([]feeds.Item, len(c.Articles))
	labels := map[int64]string{}
	for i, a := range c.Articles {
		items[i] = feeds.Item{ID: a.ID, SourceID: src[a.Outlet], Source: a.Outlet, Domain: dom[a.Outlet],
			Bias: a.Bias, URL: a.URL, GUID: a.URL, Title: a.Title, Description: a.Description,
			Categories: a.Categories, Published: a.Published}
		labels[a.ID] = a.Event
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].Published.Before(items[j].Published) })
	return items, labels
}

// run clusters items in order the way the newsroom does: Best, then Put
// under the match or a new story.
func run(x *Index, items []feeds.Item) map[int64]string {
	got := map[int64]string{}
	next := 0
	for _, it := range items {
		m := x.Best(it)
		key := m.Story
		if key == "" {
			next++
			key = "s" + strconv.Itoa(next)
		}
		x.Put(it, key)
		got[it.ID] = key
	}
	return got
}

func TestCorpus_Shape(t *testing.T) {
	items, labels := loadCorpus(t)
	events := map[string]bool{}
	outlets := map[string]bool{}
	biases := map[string]bool{}
	for _, it := range items {
		events[labels[it.ID]] = true
		outlets[it.Source] = true
		biases[it.Bias] = true
	}
	first, last := items[0].Published, items[len(items)-1].Published
	if len(items) < 400 || len(events) < 60 || len(outlets) < 12 || len(biases) != 8 || last.Sub(first) > 72*time.Hour {
		t.Fatalf("corpus: %d articles, %d events, %d outlets, %d ratings, over %v", len(items), len(events), len(outlets), len(biases), last.Sub(first))
	}
}

func TestIndex_Corpus(t *testing.T) {
	items, labels := loadCorpus(t)
	got := run(New(DefaultConfig()), items)
	p, r, f1 := BCubed(got, labels)
	ari := AdjustedRand(got, labels)
	t.Logf("B-cubed precision %.3f recall %.3f F1 %.3f, ARI %.3f", p, r, f1, ari)
	if f1 < 0.9 {
		t.Errorf("B-cubed F1 = %.3f, want at least 0.9", f1)
	}
}
