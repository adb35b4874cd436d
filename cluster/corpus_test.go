package cluster

import (
	"encoding/json"
	"os"
	"sort"
	"strconv"
	"strings"
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

// TestIndex_CorpusVariants measures each rule by switching it off alone, and
// checks that the rules which matter do: the figures in docs/CLUSTERING.md.
//
//	go test -run TestIndex_CorpusVariants -v ./cluster/
func TestIndex_CorpusVariants(t *testing.T) {
	items, labels := loadCorpus(t)
	f1 := func(cfg Config) float64 {
		got := run(New(cfg), items)
		p, r, f := BCubed(got, labels)
		t.Logf("%-44s P %.3f R %.3f F1 %.3f ARI %.3f", name(cfg), p, r, f, AdjustedRand(got, labels))
		return f
	}
	def := f1(DefaultConfig())
	for _, tc := range []struct {
		change  func(*Config)
		matters bool // the default must score better than this variant
	}{
		{func(c *Config) { c.MinContent = -1 }, true},
		{func(c *Config) { c.HalfLife = -1 }, true},
		{func(c *Config) { c.TitleWeight = 1 }, true},
		{func(c *Config) { c.Linkage = MaxMember }, true},
		{func(c *Config) { c.Linkage, c.Threshold = MaxMember, 0.2 }, true},
		{func(c *Config) { c.PhraseWeight = 1 }, false},
		{func(c *Config) { c.PhraseWeight = 3 }, false},
		{func(c *Config) { c.NumberWeight = 1 }, false},
		{func(c *Config) { c.NearDuplicate = 1.01 }, false},
		{func(c *Config) { c.Threshold = 0.1 }, true},
		{func(c *Config) { c.Threshold = 0.2 }, true},
		{func(c *Config) { c.Threshold = 0.25 }, true},
	} {
		cfg := DefaultConfig()
		tc.change(&cfg)
		if got := f1(cfg); tc.matters && got >= def {
			t.Errorf("%s: F1 %.3f, not below the default's %.3f", name(cfg), got, def)
		}
	}
}

// name lists how cfg differs from the default.
func name(cfg Config) string {
	d := DefaultConfig()
	var parts []string
	add := func(ok bool, s string) {
		if ok {
			parts = append(parts, s)
		}
	}
	add(cfg.Threshold != d.Threshold, "Threshold="+strconv.FormatFloat(cfg.Threshold, 'g', -1, 64))
	add(cfg.MinContent != d.MinContent, "MinContent="+strconv.FormatFloat(cfg.MinContent, 'g', -1, 64))
	add(cfg.HalfLife != d.HalfLife, "HalfLife="+cfg.HalfLife.String())
	add(cfg.TitleWeight != d.TitleWeight, "TitleWeight="+strconv.FormatFloat(cfg.TitleWeight, 'g', -1, 64))
	add(cfg.PhraseWeight != d.PhraseWeight, "PhraseWeight="+strconv.FormatFloat(cfg.PhraseWeight, 'g', -1, 64))
	add(cfg.NumberWeight != d.NumberWeight, "NumberWeight="+strconv.FormatFloat(cfg.NumberWeight, 'g', -1, 64))
	add(cfg.NearDuplicate != d.NearDuplicate, "NearDuplicate="+strconv.FormatFloat(cfg.NearDuplicate, 'g', -1, 64))
	add(cfg.Linkage != d.Linkage, "Linkage="+string(cfg.Linkage))
	if len(parts) == 0 {
		return "default"
	}
	return strings.Join(parts, " ")
}
