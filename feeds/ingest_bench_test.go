package feeds_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"bothsides/feeds"
	"bothsides/internal/testsupport"
)

// BenchmarkIngest fetches, parses and stores 20 RSS feeds of 100 new items
// each over loopback per iteration and reports articles per second.
func BenchmarkIngest(b *testing.B) {
	ctx := context.Background()
	const nFeeds, nItems = 20, 100
	gen := 0
	docs := func(feed int) string {
		var items []string
		for i := range nItems {
			items = append(items, rssItem(fmt.Sprintf("g%d-%d-%d", gen, feed, i), fmt.Sprintf("Council votes on measure %d of feed %d", i, feed),
				fmt.Sprintf("https://f%d.example/%d/%d?utm_source=x", feed, gen, i), "Thu, 26 Nov 2026 06:00:00 GMT"))
		}
		return rss(items...)
	}
	mux := http.NewServeMux()
	for f := range nFeeds {
		mux.HandleFunc(fmt.Sprintf("/f%d", f), func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, docs(f)) })
	}
	srv := newBenchServer(b, mux)
	db, clock := testsupport.MustOpenDB(b)
	st := feeds.NewStore(db)
	for f := range nFeeds {
		st.Add(ctx, src(fmt.Sprintf("S%d", f), "center", fmt.Sprintf("%s/f%d", srv, f)))
	}
	in := feeds.NewIngester(feeds.IngestConfig{Fetcher: feeds.NewFetcher(feeds.FetchConfig{AllowPrivate: true}), Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, st)
	b.ResetTimer()
	total := 0
	start := time.Now()
	for b.Loop() {
		gen++
		clock.Advance(time.Hour)
		rep, err := in.Run(ctx)
		if err != nil || rep.New != nFeeds*nItems {
			b.Fatalf("%+v, %v", rep, err)
		}
		total += rep.New
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "articles/s")
}

func newBenchServer(b *testing.B, h http.Handler) string {
	srv := httptestServer(h)
	b.Cleanup(srv.Close)
	return strings.TrimRight(srv.URL, "/")
}
