package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/sqlite"
	"bothsides/subscribers"
	"bothsides/web"
)

// reportFixture serves the web pages over a database with one story.
type reportFixture struct {
	db     *sqlite.DB
	store  *digest.Store
	server *httptest.Server
}

func newReportFixture(t *testing.T, limit digest.ReportLimit) *reportFixture {
	t.Helper()
	return newReportFixtureWith(t, web.Config{ReportLimit: limit})
}

// newReportFixtureWith is newReportFixture with more of the configuration.
func newReportFixtureWith(t *testing.T, cfg web.Config) *reportFixture {
	t.Helper()
	ctx := context.Background()
	db, _ := testsupport.MustOpenDB(t)
	store := digest.NewStore(db)
	stories, err := digest.ParseImport(strings.NewReader(`{"stories": [{
		"id": "vote", "title": "Council passes the budget", "summary": "The council voted 7-2.",
		"published_at": "2026-11-27T05:00:00Z",
		"articles": [{"source": "Plains Courier", "bias": "center", "url": "https://example.com/v"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Import(ctx, stories); err != nil {
		t.Fatal(err)
	}
	key, err := db.Secret(ctx, "token_secret")
	if err != nil {
		t.Fatal(err)
	}
	r, err := digest.NewRenderer(digest.RenderConfig{BaseURL: "http://127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	cfg.BaseURL = "http://127.0.0.1"
	srv, err := web.New(cfg, db, store,
		subscribers.NewStore(db), subscribers.NewSigner(key), r)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &reportFixture{db: db, store: store, server: ts}
}

func postForm(t *testing.T, target string, v url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(target, v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestReport_Form(t *testing.T) {
	f := newReportFixture(t, digest.ReportLimit{Max: 3})
	target := f.server.URL + "/stories/vote/report"
	ctx := context.Background()

	t.Run("BadInput", func(t *testing.T) {
		tests := []struct {
			name string
			form url.Values
			code int
			want string
		}{
			{"Empty", url.Values{"kind": {"error"}, "message": {"  "}}, 400, "message: tell us what is wrong"},
			{"NoKind", url.Values{"message": {"x"}}, 400, "kind: choose what is wrong"},
			{"Huge", url.Values{"kind": {"other"}, "message": {strings.Repeat("a", 2001)}}, 400, "at most 2000"},
			{"TooLargeBody", url.Values{"kind": {"other"}, "message": {strings.Repeat("a", 70<<10)}}, 413, "too large"},
			{"BadEmail", url.Values{"kind": {"other"}, "message": {"x"}, "email": {"not an address"}}, 400, "email: is not a valid email address"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				code, body := postForm(t, target, tt.form)
				if code != tt.code || !strings.Contains(body, tt.want) {
					t.Fatalf("status %d, want %d; body contains %q: %v", code, tt.code, tt.want, strings.Contains(body, tt.want))
				}
			})
		}
		if list, _ := f.store.Reports(ctx, true, 10); len(list) != 0 {
			t.Fatalf("bad input stored %d reports", len(list))
		}
	})
	t.Run("ScriptTextEscaped", func(t *testing.T) {
		code, body := postForm(t, target, url.Values{"kind": {"framing"}, "message": {strings.Repeat("x", 2001) + "<script>alert(1)</script>"}})
		if code != 400 || strings.Contains(body, "<script>alert(1)</script>") || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Fatalf("status %d; the echoed text is not escaped", code)
		}
	})
	t.Run("Honeypot", func(t *testing.T) {
		code, body := postForm(t, target, url.Values{"kind": {"other"}, "message": {"buy now"}, "website": {"http://spam.example"}})
		if code != 200 || !strings.Contains(body, "Thank you") {
			t.Fatalf("honeypot: status %d", code)
		}
		if list, _ := f.store.Reports(ctx, true, 10); len(list) != 0 {
			t.Fatalf("honeypot stored a report")
		}
	})
	t.Run("RateLimit", func(t *testing.T) {
		for i := range 3 {
			if code, _ := postForm(t, target, url.Values{"kind": {"other"}, "message": {"note"}}); code != 200 {
				t.Fatalf("report %d: status %d", i, code)
			}
		}
		if code, _ := postForm(t, target, url.Values{"kind": {"other"}, "message": {"note"}}); code != http.StatusTooManyRequests {
			t.Fatalf("fourth report: status %d, want 429", code)
		}
	})
	t.Run("UnknownStory", func(t *testing.T) {
		resp, err := http.Get(f.server.URL + "/stories/nope/report")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Fatalf("status %d, want 404", resp.StatusCode)
		}
	})
}

// TestReport_ClientNetwork: the report limit counts per client network as
// sign-up's does: behind a proxy, the forwarded address (not the proxy's),
// and an IPv6 client's whole /64.
func TestReport_ClientNetwork(t *testing.T) {
	f := newReportFixtureWith(t, web.Config{ReportLimit: digest.ReportLimit{Max: 2}, ClientIPHeader: "X-Forwarded-For"})
	post := func(client string) int {
		t.Helper()
		req, err := http.NewRequest("POST", f.server.URL+"/stories/vote/report",
			strings.NewReader(url.Values{"kind": {"other"}, "message": {"note"}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i, client := range []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"} {
		if got, want := post(client), http.StatusOK; got != want {
			t.Fatalf("report %d from %s: status %d, want %d", i, client, got, want)
		}
	}
	t.Run("SameNetwork", func(t *testing.T) {
		if got, want := post("2001:db8:1:2::abcd"), http.StatusTooManyRequests; got != want {
			t.Fatalf("third report from the same /64: status %d, want %d", got, want)
		}
	})
	t.Run("OtherNetworkBehindTheSameProxy", func(t *testing.T) {
		// Every request came from the test's loopback peer: one bucket per
		// RemoteAddr would refuse this one too.
		for _, client := range []string{"2001:db8:1:3::1", "198.51.100.7"} {
			if got, want := post(client), http.StatusOK; got != want {
				t.Fatalf("report from %s: status %d, want %d", client, got, want)
			}
		}
	})
}

// TestReport_CrossOrigin: a browser's cross-site POST of the form is
// refused, and stores nothing.
func TestReport_CrossOrigin(t *testing.T) {
	f := newReportFixture(t, digest.ReportLimit{})
	for _, h := range [][2]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
		req, err := http.NewRequest("POST", f.server.URL+"/stories/vote/report",
			strings.NewReader(url.Values{"kind": {"other"}, "message": {"forged"}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(h[0], h[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got, want := resp.StatusCode, http.StatusForbidden; got != want {
			t.Errorf("%s: %s: status %d, want %d", h[0], h[1], got, want)
		}
	}
	if list, _ := f.store.Reports(context.Background(), true, 10); len(list) != 0 {
		t.Fatalf("a cross-origin POST stored %d reports", len(list))
	}
}

// TestReport_Browser fills in the form in a real Chromium.
func TestReport_Browser(t *testing.T) {
	f := newReportFixture(t, digest.ReportLimit{})
	ctx := testsupport.Browser(t)
	err := chromedp.Do(ctx,
		chromedp.Navigate(f.server.URL+"/stories/vote/report"),
		chromedp.WaitVisible("#message"),
		chromedp.Click(`input[name="kind"][value="error"]`),
		chromedp.SendKeys("#message", "The vote was 6-3, not 7-2. <b>check</b>"),
		chromedp.SendKeys("#email", "reader@example.com"),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitVisible("#thanks"),
	)
	if err != nil {
		t.Fatal(err)
	}
	heading, err := chromedp.Run(ctx, chromedp.Text("#thanks"))
	if err != nil {
		t.Fatal(err)
	}
	if heading != "Thank you" {
		t.Fatalf("after submit the page says %q", heading)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		os.WriteFile(filepath.Join(testsupport.ArtifactDir(t), "report-thanks.png"), shot, 0o644)
	}
	list, err := f.store.Reports(context.Background(), false, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Kind != "error" || list[0].Message != "The vote was 6-3, not 7-2. <b>check</b>" ||
		list[0].Email != "reader@example.com" || list[0].Version != 1 || list[0].StoryID != "vote" {
		t.Fatalf("stored reports: %+v", list)
	}
}
