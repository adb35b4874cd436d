package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/local"
	"bothsides/mailer"
	"bothsides/schedule"
	"bothsides/subscribers"
)

// TestAdmin_Local adds a local schedule through the form and the API, has
// the ticker mail the reader in Tokyo at 07:00 there, and reads the day's
// progress by zone on the dashboard and from GET /api/local.
func TestAdmin_Local(t *testing.T) {
	ctx := context.Background()
	f := newAdminFixture(t, adminOptions{password: testPassword, token: testToken})
	f.clock.Set(time.Date(2026, 11, 26, 20, 0, 0, 0, time.UTC))
	c := f.newClient()
	f.login(c, testPassword)
	form := url.Values{"csrf": {f.csrf(c)}, "name": {"dawn"}, "spec": {"local 7am"}, "enabled": {"on"}}
	if res := f.do(c, "POST", "/admin/schedules", form); res.code != http.StatusBadRequest || !strings.Contains(res.body, "time &#34;7am&#34;: want HH:MM") {
		t.Fatalf("bad local spec: %d %s", res.code, res.body)
	}
	form.Set("spec", "local 07:00")
	if res := f.do(c, "POST", "/admin/schedules", form); res.code != http.StatusSeeOther {
		t.Fatalf("create local schedule: %d %s", res.code, res.body)
	}
	api := f.api
	if code, out := api("POST", "/api/schedules", `{"name":"bad","spec":"local 07:00 Moon/Base"}`); code != http.StatusBadRequest || !strings.Contains(out["error"].(string), `unknown time zone "Moon/Base"`) {
		t.Fatalf("bad zone: %d %v", code, out)
	}
	if code, out := api("GET", "/api/schedules/dawn", ``); code != http.StatusOK || len(out["next_runs"].([]any)) != 3 {
		t.Fatalf("local schedule: %d %v", code, out)
	}

	subs := subscribers.NewStore(f.db)
	ben, err := subs.FindByEmail(ctx, "ben@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := subs.UpdatePreferences(ctx, ben.ID, subscribers.Preferences{Timezone: "Asia/Tokyo", PreferredHour: subscribers.NoPreferredHour}); err != nil {
		t.Fatal(err)
	}
	key, _ := f.db.Secret(ctx, "token_secret")
	r, _ := digest.NewRenderer(digest.RenderConfig{BaseURL: "http://127.0.0.1"})
	relay, err := mailer.NewSMTP(mailer.Config{URL: f.smtp.URL() + "?tls=none"})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sender := delivery.NewSender(delivery.Config{From: "Both Sides <digest@example.com>", BaseURL: "http://127.0.0.1", Logger: log},
		f.db, r, subscribers.NewSigner(key), func() delivery.Conn { return relay.Open() })
	ticker := local.New(local.Config{Logger: log}, f.db, schedule.NewStore(f.db), digest.NewStore(f.db), sender)
	for _, at := range []string{"2026-11-26T21:00:00Z", "2026-11-26T22:00:00Z"} {
		tm, _ := time.Parse(time.RFC3339, at)
		f.clock.Set(tm)
		if _, err := ticker.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if err := ticker.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.smtp.To("ben@example.org")); n != 1 {
		t.Fatalf("ben (Tokyo) got %d mails at 07:00 JST, want 1", n)
	}
	if n := len(f.smtp.To("ana@example.com")); n != 0 {
		t.Fatalf("ana (UTC) got %d mails at 22:00 UTC, want 0", n)
	}

	f.login(c, testPassword) // two idle hours ended the first session
	page := f.do(c, "GET", "/admin", nil)
	for _, want := range []string{"Local editions by zone", "dawn · 2026-11-27", "Asia/Tokyo", "1 of 2 sent"} {
		if !strings.Contains(page.body, want) {
			t.Fatalf("dashboard lacks %q", want)
		}
	}
	code, out := api("GET", "/api/local", ``)
	days, _ := out["local"].([]any)
	if code != http.StatusOK || len(days) == 0 {
		t.Fatalf("GET /api/local: %d %v", code, out)
	}
	day := days[0].(map[string]any)
	total := day["total"].(map[string]any)
	if day["date"] != "2026-11-27" || total["due"] != float64(2) || total["sent"] != float64(1) || total["waiting"] != float64(1) {
		t.Fatalf("GET /api/local: %v", day)
	}
}
