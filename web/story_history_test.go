package web_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"bothsides/digest"
	"bothsides/internal/testsupport"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func reimport(t *testing.T, store *digest.Store, js string) {
	t.Helper()
	stories, err := digest.ParseImport(strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Import(context.Background(), stories); err != nil {
		t.Fatal(err)
	}
}

func TestStoryPage_History(t *testing.T) {
	f := newReportFixture(t, digest.ReportLimit{})
	ctx := context.Background()
	page := f.server.URL + "/stories/vote"

	code, body := get(t, page)
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	for _, want := range []string{"This story has no earlier versions", "Articles (1) · Left 0 · Center 1 · Right 0",
		`href="/stories/vote/report"`, "Report an issue"} {
		if !strings.Contains(body, want) {
			t.Errorf("story page lacks %q", want)
		}
	}

	// Mail the story in an edition, then correct it.
	e, err := f.store.Open(ctx, digest.AssembleParams{Date: "2026-11-27", WindowEnd: testsupport.Epoch})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.W.Exec(`UPDATE editions SET status = 'sent', started_at = ? WHERE id = ?`, "2026-11-27T07:00:00Z", e.ID); err != nil {
		t.Fatal(err)
	}
	reimport(t, f.store, `{"stories": [{
		"id": "vote", "title": "Council passes the budget, 6-3", "summary": "The council voted 6-3.",
		"published_at": "2026-11-27T05:00:00Z",
		"framing": {"right": "Right-leaning outlets stressed the tax freeze."},
		"articles": [{"source": "Plains Courier", "bias": "center", "url": "https://example.com/v"},
		             {"source": "Granite Review", "bias": "right", "url": "https://example.com/g", "published_at": "2026-11-27T06:10:00Z"},
		             {"source": "Metro Standard", "bias": "lean-left", "url": "https://example.com/m"},
		             {"source": "Summit Daily", "bias": "lean-right", "url": "https://example.com/s"}]}]}`)

	_, body = get(t, page)
	for _, want := range []string{
		"Articles (4) · Left 1 · Center 1 · Right 2",
		"History", `href="/stories/vote/versions/1"`, `href="/stories/vote/versions/2"`,
		"Title changed", "Summary changed", "Right framing added", "Article added: Granite Review (Right)",
		"This story has changed since the", `href="/editions/2026-11-27"`, "version 1</a>",
		"Granite Review · Right · 27 Nov 2026, 06:10 UTC",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("story page after a correction lacks %q", want)
		}
	}
	if strings.Contains(body, "no earlier versions") {
		t.Error("story page still says it has no earlier versions")
	}

	// The old version can be read, and says it is old.
	code, body = get(t, page+"/versions/1")
	if code != 200 || !strings.Contains(body, "Council passes the budget</h1>") || !strings.Contains(body, "You are reading version 1") {
		t.Fatalf("version 1 page: status %d", code)
	}
	if code, _ := get(t, page+"/versions/9"); code != 404 {
		t.Fatalf("missing version: status %d, want 404", code)
	}
	if code, _ := get(t, page+"/versions/x"); code != 404 {
		t.Fatalf("bad version: status %d, want 404", code)
	}

	// The archive still shows what was mailed.
	_, body = get(t, f.server.URL+"/editions/2026-11-27")
	if !strings.Contains(body, "Council passes the budget") || strings.Contains(body, "6-3") {
		t.Fatal("the archived edition changed with the story")
	}
}
