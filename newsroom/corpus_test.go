package newsroom_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"bothsides/cluster"
	"bothsides/feeds"
	"bothsides/newsroom"
)

// ingestCorpus serves the labelled corpus's outlets over 127.0.0.1 and
// ingests it through feeds and the newsroom into a real SQLite file, every
// step of corpus time, the clock moving with it. It returns the room, the
// event label of each article URL, and the wall time of the ingests alone.
func ingestCorpus(tb testing.TB, path string, step time.Duration) (*room, map[string]string, time.Duration) {
	tb.Helper()
	c := loadCorpus(tb)
	r := newRoom(tb, path, newsroom.Config{}, c.Outlets)
	domain := map[string]string{}
	for _, o := range c.Outlets {
		domain[o.Name] = o.Domain
	}
	labels := map[string]string{}
	count := map[string]int{}
	posts := slices.Clone(c.Articles)
	slices.SortStableFunc(posts, func(a, b post) int { return a.Published.Compare(b.Published) })
	for _, p := range posts {
		d := domain[p.Outlet]
		if p.URL == "" {
			p.URL = fmt.Sprintf("https://%s/news/%d", d, count[d])
		}
		labels[p.URL] = p.Event
		count[d]++
		r.news.add(d, p)
	}
	start, end := posts[0].Published, posts[len(posts)-1].Published
	var spent time.Duration
	for at := start; ; at = at.Add(step) {
		if at.After(end) {
			at = end
		}
		r.clock.Set(at)
		t := time.Now()
		r.ingest(tb)
		spent += time.Since(t)
		if !at.Before(end) {
			break
		}
	}
	return r, labels, spent
}

// TestIngestCorpus checks the clustering of the whole corpus, ingested
// every six hours of its time through feeds, the store and the newsroom,
// against its labels: it must lose nothing against the index fed the
// same articles in memory (the store's round trip, the index rebuilt at
// each ingest, the plain-text normalising).
func TestIngestCorpus(t *testing.T) {
	r, labels, _ := ingestCorpus(t, filepath.Join(t.TempDir(), "bothsides.db"), 6*time.Hour)
	got, want := groupingOf(t, r, labels)
	if len(got) != len(labels) {
		t.Fatalf("%d articles in stories, want every one of the %d", len(got), len(labels))
	}
	p, rec, f1 := cluster.BCubed(got, want)
	ari := cluster.AdjustedRand(got, want)
	t.Logf("through the newsroom: B-cubed precision %.3f recall %.3f F1 %.3f, ARI %.3f", p, rec, f1, ari)

	c := loadCorpus(t)
	posts := slices.Clone(c.Articles)
	slices.SortStableFunc(posts, func(a, b post) int { return a.Published.Compare(b.Published) })
	idx := cluster.New(cluster.DefaultConfig())
	mem, memWant := map[int64]string{}, map[int64]string{}
	for i, p := range posts {
		it := feeds.Item{ID: int64(i + 1), Source: p.Outlet, Bias: p.Bias, Title: p.Title, Description: p.Description,
			Categories: p.Categories, Published: p.Published}
		key := idx.Best(it).Story
		if key == "" {
			key = fmt.Sprint("s", i)
		}
		idx.Put(it, key)
		mem[it.ID], memWant[it.ID] = key, p.Event
	}
	_, _, memF1 := cluster.BCubed(mem, memWant)
	t.Logf("the index in memory: B-cubed F1 %.3f", memF1)
	if f1 < memF1-0.01 {
		t.Fatalf("B-cubed F1 %.3f through the newsroom, %.3f in memory: the pipeline loses groupings", f1, memF1)
	}
	if f1 < 0.9 {
		t.Fatalf("B-cubed F1 %.3f, want at least 0.9", f1)
	}
}

// BenchmarkIngestCorpus ingests the corpus (every two hours of its time)
// and reports the clustering's B-cubed precision, recall and F1, the
// adjusted Rand index and the articles ingested per second.
func BenchmarkIngestCorpus(b *testing.B) {
	var p, rec, f1, ari, perSec, groupPerSec float64
	var heap uint64
	for i := 0; i < b.N; i++ {
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		r, labels, spent := ingestCorpus(b, filepath.Join(b.TempDir(), "bothsides.db"), 2*time.Hour)
		got, want := groupingOf(b, r, labels)
		p, rec, f1 = cluster.BCubed(got, want)
		ari = cluster.AdjustedRand(got, want)
		perSec = float64(len(got)) / spent.Seconds()
		groupPerSec = float64(len(got)) / r.grouping.Seconds()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		heap = after.TotalAlloc - before.TotalAlloc
		list, _ := r.stories.List(context.Background(), 10000)
		if i == 0 {
			b.Logf("%d articles, %d stories; B-cubed P %.3f R %.3f F1 %.3f; ARI %.3f; ingest %.0f articles/s, of which grouping %.0f articles/s",
				len(got), len(list), p, rec, f1, ari, perSec, groupPerSec)
		}
	}
	b.ReportMetric(p, "precision")
	b.ReportMetric(rec, "recall")
	b.ReportMetric(f1, "F1")
	b.ReportMetric(ari, "ARI")
	b.ReportMetric(perSec, "articles/s")
	b.ReportMetric(groupPerSec, "grouped/s")
	b.ReportMetric(float64(heap)/(1<<20), "MB-alloc/op")
}
