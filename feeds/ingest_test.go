package feeds_test

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"bothsides/feeds"
	"bothsides/internal/testsupport"
)

// recorder is a Grouper that keeps what it was given.
type recorder struct {
	mu    sync.Mutex
	calls [][]feeds.Item
}

func (r *recorder) Group(_ context.Context, items []feeds.Item) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, items)
	return nil
}

// server serves feeds from a map of path to handler over 127.0.0.1.
func server(t *testing.T, routes map[string]http.HandlerFunc) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for p, h := range routes {
		mux.HandleFunc(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// serveFeed answers with body, gzipped when asked, with an ETag and
// Last-Modified, and 304 when the client's validators match.
func serveFeed(contentType, body string) http.HandlerFunc {
	etag := fmt.Sprintf(`"%x"`, len(body))
	const lm = "Thu, 26 Nov 2026 06:00:00 GMT"
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == etag || r.Header.Get("If-Modified-Since") == lm {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", lm)
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			gz := gzip.NewWriter(w)
			io.WriteString(gz, body)
			gz.Close()
			return
		}
		io.WriteString(w, body)
	}
}

func rss(items ...string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T</title><link>https://x.example/</link>` +
		strings.Join(items, "") + `</channel></rss>`
}

func rssItem(guid, title, link, date string) string {
	return fmt.Sprintf(`<item><guid>%s</guid><title>%s</title><link>%s</link><description>About %s.</description><pubDate>%s</pubDate><category>Politics</category></item>`,
		guid, title, link, title, date)
}

const atomDoc = `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Valley</title><id>urn:valley</id><updated>2026-11-26T05:00:00Z</updated>
<entry><id>urn:valley:1</id><title type="html">Dam &lt;b&gt;opens&lt;/b&gt; early</title><link href="https://valley.example/dam?utm_source=rss#top"/>
<updated>2026-11-26T05:00:00Z</updated><summary>The dam &amp;amp; the town.</summary></entry></feed>`

const jsonDoc = `{"version":"https://jsonfeed.org/version/1.1","title":"Wire","items":[
{"id":"w1","url":"https://WIRE.example:443/a/1?b=2&a=1&fbclid=x","title":"Port strike ends","summary":"Dockers return.","date_published":"2026-11-26T04:00:00Z","tags":["Labor"]}]}`

func ingester(t *testing.T, st *feeds.Store, clock *testsupport.Clock, g feeds.Grouper, fc feeds.FetchConfig) *feeds.Ingester {
	t.Helper()
	fc.AllowPrivate = fc.Refuse == nil
	return feeds.NewIngester(feeds.IngestConfig{Fetcher: feeds.NewFetcher(fc), Grouper: g, Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, st)
}

func feedRow(t *testing.T, st *feeds.Store, url string) feeds.Feed {
	t.Helper()
	list, err := st.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		for _, f := range s.Feeds {
			if f.URL == url {
				return f
			}
		}
	}
	t.Fatalf("no feed %s", url)
	return feeds.Feed{}
}

func TestIngester_Run(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	seen := map[string]http.Header{}
	wrap := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[r.URL.Path] = r.Header.Clone()
			mu.Unlock()
			h(w, r)
		}
	}
	srv := server(t, map[string]http.HandlerFunc{
		"/rss": wrap(serveFeed("application/rss+xml", rss(
			rssItem("h1", "Council passes budget", "https://harbor.example/budget?utm_medium=x&id=7", "Thu, 26 Nov 2026 06:00:00 GMT"),
			rssItem("h2", "Storm <script>alert(1)</script>nears coast", "https://harbor.example/storm", "Thu, 26 Nov 2026 03:00:00 GMT"),
		))),
		"/atom": wrap(serveFeed("application/atom+xml", atomDoc)),
		"/json": wrap(serveFeed("application/feed+json", jsonDoc)),
	})
	st, clock := mustStore(t)
	for _, s := range []feeds.Source{src("Harbor", "left", srv.URL+"/rss"), src("Valley", "right", srv.URL+"/atom"), src("Wire", "unrated", srv.URL+"/json")} {
		if _, err := st.Add(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	g := &recorder{}
	in := ingester(t, st, clock, g, feeds.FetchConfig{})

	t.Run("OK", func(t *testing.T) {
		rep, err := in.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep.New != 4 || rep.Failed != 0 || rep.Grouped != 4 {
			t.Fatalf("report %+v, want 4 new, 0 failed, grouped", rep)
		}
		if len(g.calls) != 1 {
			t.Fatalf("Group called %d times, want 1", len(g.calls))
		}
		var got []string
		for _, it := range g.calls[0] {
			got = append(got, it.Published.Format("15:04")+" "+it.Source+" "+it.Title+" "+it.URL)
			if it.ID == 0 || it.SourceID == 0 || it.Bias == "" {
				t.Fatalf("item without id, source or bias: %+v", it)
			}
		}
		want := []string{
			"03:00 Harbor Storm nears coast https://harbor.example/storm",
			"04:00 Wire Port strike ends https://wire.example/a/1?a=1&b=2",
			"05:00 Valley Dam opens early https://valley.example/dam",
			"06:00 Harbor Council passes budget https://harbor.example/budget?id=7",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("grouped items:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if d := g.calls[0][2].Description; d != "The dam & the town." {
			t.Fatalf("Atom summary %q, want entities decoded", d)
		}
		if c := g.calls[0][1].Categories; len(c) != 1 || c[0] != "Labor" {
			t.Fatalf("JSON Feed tags %v", c)
		}
		h := seen["/rss"]
		if ua, want := h.Get("User-Agent"), feeds.DefaultUserAgent; ua != want || !strings.HasPrefix(ua, "bothsides/"+feeds.Version+" ") {
			t.Fatalf("User-Agent %q, want %q: bothsides with its version", ua, want)
		}
		if !strings.Contains(h.Get("Accept-Encoding"), "gzip") {
			t.Fatalf("Accept-Encoding %q, want gzip", h.Get("Accept-Encoding"))
		}
		f := feedRow(t, st, srv.URL+"/rss")
		if f.ItemCount != 2 || f.ETag == "" || f.LastModified == "" || !f.LastSuccess.Equal(testsupport.Epoch) || f.LastError != "" {
			t.Fatalf("feed row %+v", f)
		}
	})
	t.Run("NotModified", func(t *testing.T) {
		clock.Advance(15 * time.Minute)
		rep, err := in.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rep.New != 0 || len(g.calls) != 1 {
			t.Fatalf("second run: %+v, %d Group calls; want nothing new", rep, len(g.calls))
		}
		for _, r := range rep.Feeds {
			if !r.NotModified {
				t.Fatalf("%s not answered 304", r.URL)
			}
		}
		if h := seen["/rss"]; h.Get("If-None-Match") == "" || h.Get("If-Modified-Since") == "" {
			t.Fatalf("conditional headers missing: %v", h)
		}
		f := feedRow(t, st, srv.URL+"/rss")
		if !f.LastFetch.Equal(clock.Now()) || !f.LastSuccess.Equal(testsupport.Epoch) || f.ItemCount != 2 {
			t.Fatalf("after 304: %+v; want only the last fetch moved", f)
		}
	})
}

// TestIngester_Dedup: an article already stored (by canonical URL, from
// any source, or by GUID within the source) is not stored again.
func TestIngester_Dedup(t *testing.T) {
	ctx := context.Background()
	srv := server(t, map[string]http.HandlerFunc{
		"/a": serveFeed("application/rss+xml", rss(rssItem("a1", "One", "https://n.example/1", "Thu, 26 Nov 2026 06:00:00 GMT"))),
		"/b": serveFeed("application/rss+xml", rss(
			rssItem("b1", "One again", "https://N.example:443/1?utm_campaign=z#c", "Thu, 26 Nov 2026 06:00:00 GMT"),
			rssItem("b2", "Two", "https://n.example/2", "Thu, 26 Nov 2026 06:00:00 GMT"),
			rssItem("b2", "Two, duplicate GUID", "https://n.example/2-dup", "Thu, 26 Nov 2026 06:00:00 GMT"),
		)),
	})
	st, clock := mustStore(t)
	st.Add(ctx, src("A", "left", srv.URL+"/a"))
	st.Add(ctx, src("B", "right", srv.URL+"/b"))
	rep, err := ingester(t, st, clock, nil, feeds.FetchConfig{}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	items, _ := st.Items(ctx, time.Time{}, clock.Now().Add(time.Second))
	if rep.New != 2 || len(items) != 2 {
		t.Fatalf("%d new, %d stored, want 2 (One, Two): %+v", rep.New, len(items), items)
	}
	if f := feedRow(t, st, srv.URL+"/b"); !strings.Contains(f.Notes, `same GUID "b2" as item 2`) {
		t.Fatalf("notes %q, want the duplicate GUID named", f.Notes)
	}
}

func httptestServer(h http.Handler) *httptest.Server { return httptest.NewServer(h) }
