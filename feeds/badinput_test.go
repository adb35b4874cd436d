package feeds_test

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"bothsides/feeds"
)

// TestIngester_BadInput: each broken feed gets a clear error (or note) on
// its own row; the good feed beside them is stored in full, and nothing of
// a broken feed is stored.
func TestIngester_BadInput(t *testing.T) {
	ctx := context.Background()
	good := rss(rssItem("g1", "Bridge reopens", "https://good.example/bridge", "Thu, 26 Nov 2026 06:00:00 GMT"))
	latin1 := "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><title>L</title>" +
		"<item><guid>l1</guid><title>Caf\xe9 owners protest</title><link>https://latin.example/cafe</link></item></channel></rss>"
	win1252Header := "<rss version=\"2.0\"><channel><title>W</title>" +
		"<item><guid>w1</guid><title>\x93Quoted\x94 mayor</title><link>https://win.example/q</link></item></channel></rss>"
	wrongCharset := "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>X</title>" +
		"<item><guid>x1</guid><title>Caf\xe9 owners</title><link>https://wrong.example/cafe</link></item></channel></rss>"
	routes := map[string]http.HandlerFunc{
		"/good":      serveFeed("application/rss+xml", good),
		"/malformed": serveFeed("application/rss+xml", `<?xml version="1.0"?><rss version="2.0"><channel><item><title>Half`),
		"/huge": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/rss+xml")
			io := strings.Repeat("<item><title>padding padding padding</title></item>", 1<<10)
			w.Write([]byte(`<?xml version="1.0"?><rss version="2.0"><channel>`))
			for n := 0; n < 50<<20; n += len(io) {
				if _, err := w.Write([]byte(io)); err != nil {
					return // the client stopped reading
				}
			}
		},
		"/dates": serveFeed("application/rss+xml", rss(
			rssItem("d1", "No date here", "https://dates.example/1", "the day after tomorrow"),
			rssItem("d2", "From the future", "https://dates.example/2", "Tue, 01 Dec 2099 06:00:00 GMT"))),
		"/script": serveFeed("application/rss+xml", rss(
			`<item><guid>s1</guid><title>&lt;script&gt;alert('x')&lt;/script&gt;Tax &amp;amp; spend &lt;img src=x onerror=alert(1)&gt;plan</title>`+
				`<link>https://script.example/1</link><description><![CDATA[<p onclick="x()">Hi <script>steal()</script><b>there</b></p>]]></description></item>`)),
		"/loop": func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop2", http.StatusFound) },
		"/loop2": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/loop", http.StatusMovedPermanently)
		},
		"/latin1": serveFeed("text/xml", latin1),
		"/win":    serveFeed("application/rss+xml; charset=windows-1252", win1252Header),
		"/wrong":  serveFeed("application/rss+xml", wrongCharset),
		"/gone":   func(w http.ResponseWriter, r *http.Request) { http.Error(w, "gone", http.StatusGone) },
		"/busy": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "7200")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		},
	}
	srv := server(t, routes)
	st, clock := mustStore(t)
	for p := range routes {
		if _, err := st.Add(ctx, src("S"+strings.TrimPrefix(p, "/"), "center", srv.URL+p)); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := ingester(t, st, clock, &recorder{}, feeds.FetchConfig{}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	errs := map[string]string{}
	for _, r := range rep.Feeds {
		if r.Err != nil {
			errs[strings.TrimPrefix(r.URL, srv.URL)] = r.Err.Error()
		}
	}
	for path, want := range map[string]string{
		"/malformed": "parse feed",
		"/huge":      "more than 5 MB",
		"/loop":      "redirect loop: back to " + srv.URL + "/loop after 2 redirects",
		"/loop2":     "redirect loop",
		"/wrong":     "not valid UTF-8 at line 1",
		"/gone":      "HTTP 410",
		"/busy":      "HTTP 429",
	} {
		if got := errs[path]; !strings.Contains(got, want) {
			t.Errorf("%s: error %q, want it to say %q", path, got, want)
		}
		f := feedRow(t, st, srv.URL+path)
		if !strings.Contains(f.LastError, want) || f.Failures != 1 || f.ItemCount != 0 || !f.LastSuccess.IsZero() {
			t.Errorf("%s: row %+v, want the error recorded and nothing stored", path, f)
		}
	}
	if len(errs) != 7 {
		t.Errorf("errors %v, want seven", errs)
	}
	if f := feedRow(t, st, srv.URL+"/busy"); !f.NextFetch.Equal(clock.Now().Add(2 * time.Hour)) {
		t.Errorf("429 with Retry-After 7200: next fetch %v, want two hours on", f.NextFetch)
	}
	items, _ := st.Items(ctx, time.Time{}, clock.Now().Add(time.Second))
	got := map[string]feeds.Item{}
	for _, it := range items {
		got[it.URL] = it
	}
	if it := got["https://good.example/bridge"]; it.Title != "Bridge reopens" {
		t.Errorf("the good feed's item: %+v", it)
	}
	if it := got["https://latin.example/cafe"]; it.Title != "Café owners protest" {
		t.Errorf("ISO-8859-1 title %q, want Café owners protest", it.Title)
	}
	if it := got["https://win.example/q"]; it.Title != "“Quoted” mayor" {
		t.Errorf("windows-1252 (Content-Type) title %q", it.Title)
	}
	if it := got["https://script.example/1"]; it.Title != "Tax & spend plan" || it.Description != "Hi there" {
		t.Errorf("script item title %q description %q, want the plain text alone", it.Title, it.Description)
	}
	d1, d2 := got["https://dates.example/1"], got["https://dates.example/2"]
	if !d1.Published.Equal(clock.Now()) || !d2.Published.Equal(clock.Now()) {
		t.Errorf("invalid date → %v, future date → %v; want both now", d1.Published, d2.Published)
	}
	if f := feedRow(t, st, srv.URL+"/dates"); !strings.Contains(f.Notes, `"the day after tomorrow" is not a date`) || !strings.Contains(f.Notes, "in the future") {
		t.Errorf("dates notes %q", f.Notes)
	}
	if len(items) != 6 {
		t.Errorf("%d items stored, want 6", len(items))
	}

	t.Run("Backoff", func(t *testing.T) {
		// Within the backoff the failed feeds are not fetched; after it
		// they are, and a second failure doubles the wait.
		clock.Advance(time.Minute)
		rep, _ := ingester(t, st, clock, nil, feeds.FetchConfig{}).Run(ctx)
		for _, r := range rep.Feeds {
			if r.Err != nil {
				t.Fatalf("%s fetched during its backoff", r.URL)
			}
		}
		clock.Advance(5 * time.Minute)
		ingester(t, st, clock, nil, feeds.FetchConfig{}).Run(ctx)
		if f := feedRow(t, st, srv.URL+"/gone"); f.Failures != 2 || !f.NextFetch.Equal(clock.Now().Add(10*time.Minute)) {
			t.Fatalf("second failure: %d failures, next %v; want 2 and ten minutes on", f.Failures, f.NextFetch)
		}
	})
}

// TestIngester_Stall: a feed that never finishes sending fails with a
// timeout after the injected duration; the feed beside it is stored.
func TestIngester_Stall(t *testing.T) {
	ctx := context.Background()
	srv := server(t, map[string]http.HandlerFunc{
		"/good": serveFeed("application/rss+xml", rss(rssItem("g1", "Bridge reopens", "https://good.example/bridge", "Thu, 26 Nov 2026 06:00:00 GMT"))),
		"/stall": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/rss+xml")
			w.Write([]byte(`<?xml version="1.0"?><rss version="2.0"><channel><title>Slow</title>`))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		},
	})
	st, clock := mustStore(t)
	st.Add(ctx, src("Good", "left", srv.URL+"/good"))
	st.Add(ctx, src("Stall", "right", srv.URL+"/stall"))
	rep, err := ingester(t, st, clock, nil, feeds.FetchConfig{Timeout: 500 * time.Millisecond}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.New != 1 || rep.Failed != 1 {
		t.Fatalf("report %+v, want the good item and one failure", rep)
	}
	for _, r := range rep.Feeds {
		if strings.HasSuffix(r.URL, "/stall") && (r.Err == nil || !strings.Contains(r.Err.Error(), "timed out after 500ms")) {
			t.Fatalf("stalled feed: %v, want a timeout", r.Err)
		}
	}
}

// TestFetcher_Private: without allow-private, loopback is refused at dial
// time, and so is a redirect to an address the check refuses, even when
// the first host is allowed.
func TestFetcher_Private(t *testing.T) {
	ctx := context.Background()
	srv := server(t, map[string]http.HandlerFunc{
		"/feed": serveFeed("application/rss+xml", rss()),
		"/to-lan": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://10.1.2.3/feed", http.StatusFound)
		},
		"/to-file": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		},
	})
	t.Run("ErrLoopback", func(t *testing.T) {
		f := feeds.NewFetcher(feeds.FetchConfig{})
		_, err := f.Fetch(ctx, feeds.Feed{URL: srv.URL + "/feed"}, time.Now())
		if !errors.Is(err, feeds.ErrRefused) || !strings.Contains(err.Error(), "127.0.0.1 is a loopback address") {
			t.Fatalf("err=%v, want loopback refused", err)
		}
		_, err = f.Fetch(ctx, feeds.Feed{URL: "http://localhost" + srv.URL[strings.LastIndex(srv.URL, ":"):] + "/feed"}, time.Now())
		if !errors.Is(err, feeds.ErrRefused) || !strings.Contains(err.Error(), "is a loopback address") {
			t.Fatalf("a name resolving to loopback: err=%v, want refused at dial time", err)
		}
	})
	// Only 127.0.0.1 itself counts as public here: localhost's ::1 and the
	// private 10.1.2.3 stay refused.
	only := netip.MustParseAddr("127.0.0.1")
	f := feeds.NewFetcher(feeds.FetchConfig{Refuse: func(a netip.Addr) string {
		if a == only {
			return ""
		}
		if w := feeds.NonPublic(a); w != "" {
			return w
		}
		return ""
	}})
	t.Run("OK", func(t *testing.T) {
		if _, err := f.Fetch(ctx, feeds.Feed{URL: srv.URL + "/feed"}, time.Now()); err != nil {
			t.Fatal(err)
		}
	})
	for path, want := range map[string]string{
		"/to-lan":  "10.1.2.3 is a private address",
		"/to-file": "only http and https",
	} {
		t.Run("ErrRedirect"+path, func(t *testing.T) {
			_, err := f.Fetch(ctx, feeds.Feed{URL: srv.URL + path}, time.Now())
			if !errors.Is(err, feeds.ErrRefused) || !strings.Contains(err.Error(), want) {
				t.Fatalf("err=%v, want %q", err, want)
			}
		})
	}
}

func TestNonPublic(t *testing.T) {
	for addr, want := range map[string]string{
		"8.8.8.8": "", "2001:4860:4860::8888": "", "127.0.0.2": "a loopback address", "::1": "a loopback address",
		"10.0.0.1": "a private address", "172.31.255.1": "a private address", "192.168.1.1": "a private address",
		"169.254.169.254": "a link-local address", "fe80::1": "a link-local address", "0.0.0.0": "an unspecified (this-network) address",
		"::": "an unspecified address", "224.0.0.1": "a multicast address", "ff02::1": "a multicast address",
		"100.64.0.1": "a carrier-grade NAT address", "fd00::1": "a unique local (private) address",
		"::ffff:127.0.0.1": "a loopback address", "::ffff:10.0.0.1": "a private address",
	} {
		if got := feeds.NonPublic(netip.MustParseAddr(addr)); got != want {
			t.Errorf("NonPublic(%s)=%q, want %q", addr, got, want)
		}
	}
}
