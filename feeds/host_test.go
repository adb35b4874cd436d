package feeds_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"bothsides/feeds"
)

// TestIngester_OnePerHost: feeds of one host are fetched one at a time,
// even with several workers. Each request waits a little for another to
// arrive; none ever does.
func TestIngester_OnePerHost(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	inFlight, most := 0, 0
	arrived := make(chan struct{}, 16)
	h := func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		arrived <- struct{}{}
		select { // give a second request the chance to overlap
		case <-time.After(50 * time.Millisecond):
		case <-r.Context().Done():
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
		serveFeed("application/rss+xml", rss(rssItem("g"+r.URL.Path, "T"+r.URL.Path, "https://h.example"+r.URL.Path, "Thu, 26 Nov 2026 06:00:00 GMT")))(w, r)
	}
	routes := map[string]http.HandlerFunc{}
	for i := range 4 {
		routes[fmt.Sprintf("/f%d", i)] = h
	}
	srv := server(t, routes)
	st, clock := mustStore(t)
	for p := range routes {
		st.Add(ctx, src("S"+strings.TrimPrefix(p, "/"), "center", srv.URL+p))
	}
	rep, err := ingester(t, st, clock, nil, feeds.FetchConfig{}).Run(ctx)
	if err != nil || rep.New != 4 {
		t.Fatalf("report %+v, %v", rep, err)
	}
	if most != 1 {
		t.Fatalf("%d requests to one host at once, want 1", most)
	}
}

// TestIngester_RetryAfter: a 503 with a Retry-After date waits until then;
// a later 304 clears the error (the server is back) and changes nothing
// else.
func TestIngester_RetryAfter(t *testing.T) {
	ctx := context.Background()
	down := true
	var mu sync.Mutex
	body := rss(rssItem("a", "Ferry resumes", "https://r.example/a", "Thu, 26 Nov 2026 06:00:00 GMT"))
	ok := serveFeed("application/rss+xml", body)
	st, clock := mustStore(t)
	srv := server(t, map[string]http.HandlerFunc{"/feed": func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		d := down
		mu.Unlock()
		if d {
			w.Header().Set("Retry-After", clock.Now().Add(3*time.Hour).Format(http.TimeFormat))
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		ok(w, r)
	}})
	st.Add(ctx, src("R", "center", srv.URL+"/feed"))
	in := ingester(t, st, clock, nil, feeds.FetchConfig{})
	in.Run(ctx)
	f := feedRow(t, st, srv.URL+"/feed")
	if !f.NextFetch.Equal(clock.Now().Add(3*time.Hour)) || !strings.Contains(f.LastError, "HTTP 503") {
		t.Fatalf("after a 503 with Retry-After: %+v", f)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	clock.Advance(3 * time.Hour)
	if rep, _ := in.Run(ctx); rep.New != 1 {
		t.Fatalf("after the wait: %+v", rep)
	}
	clock.Advance(time.Hour)
	if rep, _ := in.Run(ctx); len(rep.Feeds) != 1 || !rep.Feeds[0].NotModified {
		t.Fatalf("third fetch: %+v, want 304", rep)
	}
	f = feedRow(t, st, srv.URL+"/feed")
	if f.LastError != "" || f.Failures != 0 || !f.LastFetch.Equal(clock.Now()) || !f.LastSuccess.Equal(clock.Now().Add(-time.Hour)) || f.ItemCount != 1 {
		t.Fatalf("after the 304: %+v", f)
	}
}

func TestParse_HTMLPage(t *testing.T) {
	_, err := feeds.Parse([]byte("<!doctype html><html><body><h1>Welcome</h1></body></html>"), "text/html; charset=utf-8", nil, time.Now())
	if err == nil || !strings.Contains(err.Error(), "serves an HTML page, not a feed") {
		t.Fatalf("err=%v", err)
	}
}

// failing is a Grouper that fails while fail is set.
type failing struct {
	recorder
	fail bool
}

func (f *failing) Group(ctx context.Context, items []feeds.Item) error {
	if f.fail {
		return fmt.Errorf("grouping is down")
	}
	return f.recorder.Group(ctx, items)
}

// TestIngester_GroupFails: items stored by an ingest whose grouping failed
// are handed over by the next ingest, with its new ones, then never again.
func TestIngester_GroupFails(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	second := false
	srv := server(t, map[string]http.HandlerFunc{"/feed": func(w http.ResponseWriter, r *http.Request) {
		items := []string{rssItem("a", "Ferry resumes", "https://g.example/a", "Thu, 26 Nov 2026 06:00:00 GMT")}
		mu.Lock()
		if second {
			items = append(items, rssItem("b", "Ferry fares cut", "https://g.example/b", "Thu, 26 Nov 2026 07:00:00 GMT"))
		}
		mu.Unlock()
		w.Write([]byte(rss(items...)))
	}})
	st, clock := mustStore(t)
	st.Add(ctx, src("G", "center", srv.URL+"/feed"))
	g := &failing{fail: true}
	in := ingester(t, st, clock, g, feeds.FetchConfig{})
	if _, err := in.Run(ctx); err == nil || !strings.Contains(err.Error(), "grouping is down") {
		t.Fatalf("err=%v, want the grouping's error", err)
	}
	g.fail = false
	mu.Lock()
	second = true
	mu.Unlock()
	clock.Advance(15 * time.Minute)
	rep, err := in.Run(ctx)
	if err != nil || rep.New != 1 || rep.Grouped != 2 || len(g.calls) != 1 || len(g.calls[0]) != 2 || g.calls[0][0].Title != "Ferry resumes" {
		t.Fatalf("second ingest: %+v, %v, calls %v; want a and b handed over", rep, err, g.calls)
	}
	clock.Advance(15 * time.Minute)
	if rep, _ := in.Run(ctx); rep.Grouped != 0 || len(g.calls) != 1 {
		t.Fatalf("third ingest handed over %d items again", rep.Grouped)
	}
}
