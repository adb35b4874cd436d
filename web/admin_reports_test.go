package web_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"bothsides/digest"
)

func TestAdmin_Reports(t *testing.T) {
	f := newAdminFixture(t, adminOptions{password: "correct horse", token: "api-secret"})
	ctx := context.Background()
	store := digest.NewStore(f.db)
	rep := &digest.Report{StoryID: "geneva-ceasefire-talks-resume", Kind: "framing", Message: "The right's view <b>is missing</b>.", Email: "reader@example.com"}
	if err := store.AddReport(ctx, rep, "client", digest.ReportLimit{}); err != nil {
		t.Fatal(err)
	}
	c := f.newClient()
	f.login(c, "correct horse")

	page := f.do(c, "GET", "/admin/reports", nil)
	if page.code != 200 {
		t.Fatalf("reports page: %d", page.code)
	}
	for _, want := range []string{"Ceasefire talks resume", `href="/stories/geneva-ceasefire-talks-resume/versions/1"`, "v1",
		"Unfair framing, or a side left out", "The right&#39;s view &lt;b&gt;is missing&lt;/b&gt;.", "reader@example.com", "Mark resolved"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("reports page lacks %q", want)
		}
	}
	// Resolving needs the session's CSRF token.
	path := "/admin/reports/" + strconv.FormatInt(rep.ID, 10) + "/resolve"
	if res := f.do(c, "POST", path, url.Values{}); res.code != 403 {
		t.Fatalf("resolve without CSRF: %d, want 403", res.code)
	}
	if res := f.do(c, "POST", path, url.Values{"csrf": {f.csrf(c)}}); res.code != 303 {
		t.Fatalf("resolve: %d, want 303", res.code)
	}
	if page := f.do(c, "GET", "/admin/reports", nil); !strings.Contains(page.body, "No open reports.") {
		t.Fatal("resolved report still listed as open")
	}
	if page := f.do(c, "GET", "/admin/reports?all=1", nil); !strings.Contains(page.body, "Resolved ") {
		t.Fatal("resolved report not shown with ?all=1")
	}

	// The API lists and resolves too.
	rep2 := &digest.Report{StoryID: "geneva-ceasefire-talks-resume", Kind: "link", Message: "Dead link."}
	if err := store.AddReport(ctx, rep2, "client", digest.ReportLimit{}); err != nil {
		t.Fatal(err)
	}
	bearer := []string{"Authorization", "Bearer api-secret"}
	res := f.do(f.newClient(), "GET", "/api/reports", nil, bearer...)
	var list struct {
		Reports []struct {
			ID      int64  `json:"id"`
			Story   string `json:"story"`
			Version int    `json:"version"`
			Kind    string `json:"kind"`
		} `json:"reports"`
	}
	if err := json.Unmarshal([]byte(res.body), &list); err != nil || res.code != 200 {
		t.Fatalf("GET /api/reports: %d %v", res.code, err)
	}
	if len(list.Reports) != 1 || list.Reports[0].ID != rep2.ID || list.Reports[0].Version != 1 || list.Reports[0].Kind != "link" {
		t.Fatalf("api reports=%+v", list.Reports)
	}
	if res := f.do(f.newClient(), "POST", "/api/reports/"+strconv.FormatInt(rep2.ID, 10)+"/resolve", nil, bearer...); res.code != 200 {
		t.Fatalf("api resolve: %d %s", res.code, res.body)
	}
	if res := f.do(f.newClient(), "POST", "/api/reports/999/resolve", nil, bearer...); res.code != 404 {
		t.Fatalf("api resolve of a missing report: %d, want 404", res.code)
	}
}
