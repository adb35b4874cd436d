package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"bothsides/feeds"
)

// TestAdmin_Sources: the console lists sources with each feed's status
// (last fetch, last success, error, items), adds one from the form (a bad
// bias answered 400 with the choices, nothing stored) and removes one.
func TestAdmin_Sources(t *testing.T) {
	f := newAdminFixture(t, adminOptions{password: "correct horse", token: testToken})
	ctx := context.Background()
	feedSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			w.Write([]byte("<rss><channel><item>"))
			return
		}
		w.Write([]byte(`<rss version="2.0"><channel><title>T</title><item><guid>1</guid><title>Bridge reopens</title><link>https://t.example/1</link></item></channel></rss>`))
	}))
	defer feedSrv.Close()
	st := feeds.NewStore(f.db)
	if _, err := st.Add(ctx, feeds.Source{Name: "Harbor <Ledger>", Domain: "harbor.example", Bias: "lean-left", Owner: "Ledger Trust",
		Feeds: []feeds.Feed{{URL: feedSrv.URL + "/good"}, {URL: feedSrv.URL + "/bad"}}}); err != nil {
		t.Fatal(err)
	}
	in := feeds.NewIngester(feeds.IngestConfig{Fetcher: feeds.NewFetcher(feeds.FetchConfig{AllowPrivate: true}), Now: f.clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, st)
	if _, err := in.Run(ctx); err != nil {
		t.Fatal(err)
	}
	c := f.newClient()
	f.login(c, "correct horse")
	page := f.do(c, "GET", "/admin/sources", nil)
	if page.code != 200 {
		t.Fatalf("sources page: %d", page.code)
	}
	for _, want := range []string{"Harbor &lt;Ledger&gt;", "lean-left", "Ledger Trust", feedSrv.URL + "/good", "1 items", "0 items",
		"Error (1 in a row):</strong> parse feed", "last success</span> Fri 27 Nov 2026 07:00 UTC", "next fetch not before"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("sources page lacks %q", want)
		}
	}
	t.Run("ErrBias", func(t *testing.T) {
		res := f.do(c, "POST", "/admin/sources", url.Values{"csrf": {f.csrf(c)}, "name": {"Valley"}, "domain": {"valley.example"}, "bias": {"sideways"}})
		if res.code != 400 || !strings.Contains(res.body, "want one of far-left, left") || !strings.Contains(res.body, `value="Valley"`) {
			t.Fatalf("bad bias: %d\n%s", res.code, res.body)
		}
		if _, err := st.Get(ctx, "Valley"); err == nil {
			t.Fatal("invalid source stored")
		}
	})
	t.Run("Add", func(t *testing.T) {
		res := f.do(c, "POST", "/admin/sources", url.Values{"csrf": {f.csrf(c)}, "name": {"Valley"}, "domain": {"valley.example"},
			"bias": {"right"}, "feeds": {"https://valley.example/a\r\n\r\nhttps://valley.example/b\r\n"}})
		if res.code != 303 {
			t.Fatalf("add: %d %s", res.code, res.body)
		}
		s, err := st.Get(ctx, "Valley")
		if err != nil || len(s.Feeds) != 2 {
			t.Fatalf("added %+v, %v", s, err)
		}
	})
	t.Run("API", func(t *testing.T) {
		code, body := f.api("POST", "/api/sources", `{"name": "Wire", "domain": "wire.example", "bias": "unrated", "feeds": ["https://wire.example/feed.json"]}`)
		if code != 201 || body["name"] != "Wire" {
			t.Fatalf("POST /api/sources: %d %v", code, body)
		}
		if code, body := f.api("POST", "/api/sources", `{"name": "Wire2", "domain": "wire.example", "bias": "unrated", "feeds": ["https://wire.example/feed.json"]}`); code != 409 {
			t.Fatalf("same feed again: %d %v, want 409", code, body)
		}
		if code, body := f.api("POST", "/api/sources", `{"name": "X", "domain": "x.example", "bias": "up"}`); code != 400 || !strings.Contains(body["error"].(string), "want one of") {
			t.Fatalf("bad bias: %d %v, want 400 with the choices", code, body)
		}
		code, body = f.api("GET", "/api/sources", "")
		list, _ := body["sources"].([]any)
		if code != 200 || len(list) != 3 {
			t.Fatalf("GET /api/sources: %d %v", code, body)
		}
		harbor := list[0].(map[string]any)
		feedsOf := harbor["feeds"].([]any)
		if harbor["name"] != "Harbor <Ledger>" || len(feedsOf) != 2 || feedsOf[0].(map[string]any)["items"].(float64) != 1 ||
			!strings.Contains(feedsOf[1].(map[string]any)["last_error"].(string), "parse feed") {
			t.Fatalf("harbor in the API: %v", harbor)
		}
		if code, _ := f.api("DELETE", "/api/sources/Wire", ""); code != 204 {
			t.Fatalf("DELETE: %d", code)
		}
		if code, _ := f.api("DELETE", "/api/sources/Wire", ""); code != 404 {
			t.Fatalf("DELETE again: %d, want 404", code)
		}
	})
	t.Run("Remove", func(t *testing.T) {
		if res := f.do(c, "POST", "/admin/sources/delete", url.Values{"name": {"Valley"}}); res.code != 403 {
			t.Fatalf("remove without CSRF: %d, want 403", res.code)
		}
		if res := f.do(c, "POST", "/admin/sources/delete", url.Values{"csrf": {f.csrf(c)}, "name": {"Valley"}}); res.code != 303 {
			t.Fatalf("remove: %d", res.code)
		}
		if res := f.do(c, "POST", "/admin/sources/delete", url.Values{"csrf": {f.csrf(c)}, "name": {"Valley"}}); res.code != 404 {
			t.Fatalf("remove again: %d, want 404", res.code)
		}
	})
}
