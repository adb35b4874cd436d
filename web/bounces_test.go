package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"bothsides/bounce"
	"bothsides/subscribers"
)

// bounceFixture is the console after the default edition went to ana (1)
// and ben (2), with a complaint from ana, a hard bounce of ben and an
// unmatched bounce naming ana.
func bounceFixture(t *testing.T) *adminFixture {
	t.Helper()
	ctx := context.Background()
	f := newAdminFixture(t, adminOptions{password: testPassword, token: testToken})
	f.seedDefault()
	if code, body := f.api("POST", "/api/send", `{"schedule":"default","date":"2026-11-27"}`); code != http.StatusAccepted && code != http.StatusOK {
		t.Fatalf("send: %d %v", code, body)
	}
	f.sched.Wait()
	key, err := f.db.Secret(ctx, "token_secret")
	if err != nil {
		t.Fatal(err)
	}
	signer := subscribers.NewSigner(key)
	store := bounce.New(f.db, bounce.Config{Signer: signer, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var edition int64
	if err := f.db.R.QueryRow(`SELECT id FROM editions WHERE date = '2026-11-27'`).Scan(&edition); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []bounce.Event{
		{Kind: bounce.KindComplaint, Source: "smtp", Recipient: "ana@example.com", Token: signer.DeliveryToken(edition, 1), Raw: []byte("arf")},
		{Kind: bounce.KindHard, Status: "5.1.1", Diagnostic: "550 5.1.1 <ben@example.org>: no such user", Source: "smtp",
			Recipient: "ben@example.org", Token: signer.DeliveryToken(edition, 2), Raw: []byte("dsn")},
		{Kind: bounce.KindHard, Status: "5.1.1", Source: "smtp", Recipient: "ana@example.com", Raw: []byte("forged")},
	} {
		if err := store.Record(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func TestAPI_Bounces(t *testing.T) {
	f := bounceFixture(t)
	kinds := func(path string) []string {
		t.Helper()
		code, body := f.api("GET", path, "")
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %v", path, code, body)
		}
		var out []string
		for _, b := range body["bounces"].([]any) {
			m := b.(map[string]any)
			out = append(out, m["kind"].(string)+" "+m["recipient"].(string)+" "+m["matched_by"].(string))
		}
		return out
	}
	for _, tc := range []struct{ path, want string }{
		{"/api/bounces", "hard ana@example.com |hard ben@example.org token|complaint ana@example.com token"},
		{"/api/bounces?edition=2026-11-27", "hard ben@example.org token|complaint ana@example.com token"},
		{"/api/bounces?edition=2026-11-27&kind=hard", "hard ben@example.org token"},
		{"/api/bounces?subscriber=1", "complaint ana@example.com token"},
		// By address: the subscriber's and the unmatched one naming it.
		{"/api/bounces?subscriber=ana@example.com", "hard ana@example.com |complaint ana@example.com token"},
		{"/api/bounces?limit=1", "hard ana@example.com "},
	} {
		if got := strings.Join(kinds(tc.path), "|"); got != tc.want {
			t.Errorf("GET %s = %q, want %q", tc.path, got, tc.want)
		}
	}
	code, body := f.api("GET", "/api/bounces?limit=1", "")
	next, _ := body["next"].(string)
	if code != http.StatusOK || !strings.Contains(next, "before=") {
		t.Fatalf("limit=1: no next page link: %v", body)
	}
	if got := strings.Join(kinds(next), "|"); got != "hard ben@example.org token" {
		t.Errorf("next page = %q", got)
	}
	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/api/bounces?kind=bogus", http.StatusBadRequest, `kind "bogus"`},
		{"/api/bounces?edition=27-11-2026", http.StatusBadRequest, "edition"},
		{"/api/bounces?limit=5000", http.StatusBadRequest, "limit"},
		{"/api/bounces?subscriber=not%20an%20address", http.StatusBadRequest, "subscriber"},
		{"/api/bounces?subscriber=999", http.StatusNotFound, ""},
		{"/api/bounces?edition=2026-01-01", http.StatusNotFound, ""},
	} {
		code, body := f.api("GET", tc.path, "")
		if msg, _ := body["error"].(string); code != tc.code || !strings.Contains(msg, tc.want) {
			t.Errorf("GET %s = %d %v, want %d naming %q", tc.path, code, body, tc.code, tc.want)
		}
	}
	if res := f.do(f.newClient(), "GET", "/api/bounces", nil); res.code != http.StatusUnauthorized {
		t.Errorf("without the token: %d", res.code)
	}
}

func TestAdmin_BouncePages(t *testing.T) {
	f := bounceFixture(t)
	f.login(f.client, testPassword)
	page := f.do(f.client, "GET", "/admin/editions/default/2026-11-27", nil)
	if page.code != http.StatusOK || !strings.Contains(page.body, "Bounces and complaints") ||
		!strings.Contains(page.body, "hard: 1 · complaint: 1") || !strings.Contains(page.body, "no such user") {
		t.Errorf("edition page %d lacks the bounces section:\n%s", page.code, page.body)
	}
	// The complaint counts as an unsubscribe of the edition.
	if !strings.Contains(page.body, "1 unsubscribed since") {
		t.Errorf("edition page does not count the complaint as an unsubscribe")
	}
	page = f.do(f.client, "GET", "/admin/subscribers/1", nil)
	if page.code != http.StatusOK || !strings.Contains(page.body, "complained") || strings.Count(page.body, `<span class="status hard">`) != 1 ||
		!strings.Contains(page.body, `<span class="status complaint">`) {
		t.Errorf("subscriber page %d:\n%s", page.code, page.body)
	}
	if page := f.do(f.client, "GET", "/admin/subscribers/999", nil); page.code != http.StatusNotFound {
		t.Errorf("unknown subscriber page: %d", page.code)
	}
	if page := f.do(f.client, "GET", "/admin/subscribers", nil); !strings.Contains(page.body, `href="/admin/subscribers/1"`) {
		t.Errorf("the subscribers list does not link to the subscriber page")
	}
}
