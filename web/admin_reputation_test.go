package web_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"bothsides/bounce"
	"bothsides/subscribers"
)

// TestAdmin_Reputation sends an edition from the console, records a
// complaint about one copy through the bounce store, and reads the counts,
// the rates and the guard's verdict on the edition page and the dashboard.
func TestAdmin_Reputation(t *testing.T) {
	f := newAdminFixture(t, adminOptions{password: testPassword, reputation: &bounce.GuardConfig{MinDeliveries: 2}})
	f.seedDefault()
	f.login(f.client, testPassword)
	tok := f.csrf(f.client)
	f.do(f.client, "POST", "/admin/send", url.Values{"csrf": {tok}, "schedule": {"default"}, "date": {"2026-11-27"}})
	f.sched.Wait()

	page := f.do(f.client, "GET", "/admin/editions/default/2026-11-27", nil)
	if page.code != http.StatusOK || !strings.Contains(page.body, "Reputation: within the limits.") {
		t.Fatalf("edition page %d before any complaint lacks the verdict:\n%s", page.code, page.body)
	}

	ctx := context.Background()
	key, err := f.db.Secret(ctx, "token_secret")
	if err != nil {
		t.Fatal(err)
	}
	sign := subscribers.NewSigner(key)
	var edition int64
	if err := f.db.R.QueryRow(`SELECT id FROM editions WHERE date = '2026-11-27'`).Scan(&edition); err != nil {
		t.Fatal(err)
	}
	store := bounce.New(f.db, bounce.Config{Signer: sign, Logger: slog.New(slog.DiscardHandler)})
	if err := store.Record(ctx, bounce.Event{Kind: bounce.KindComplaint, Source: "imap", Token: sign.DeliveryToken(edition, 1), Raw: []byte("arf")}); err != nil {
		t.Fatal(err)
	}

	page = f.do(f.client, "GET", "/admin/editions/default/2026-11-27", nil)
	if page.code != http.StatusOK {
		t.Fatalf("edition page: %d", page.code)
	}
	for _, want := range []string{
		"<strong>Reputation over:</strong> complaint rate 50.00 % passed the limit of 0.30 % (1 complaints, 2 delivered) (not paused: the edition is sent)",
		// Both readers are at domains outside the three providers: the
		// "other" row and the total hold the same counts.
		`<td>other</td><td class="num">2</td><td class="num">2</td><td class="num">0</td><td class="num">0</td><td class="num">1</td><td class="num">0.00 %</td><td class="num">50.00 %</td>`,
		`<th scope="row">All domains</th><td class="num">2</td>`,
		`<td>gmail.com</td><td class="num">0</td>`,
	} {
		if !strings.Contains(page.body, want) {
			t.Errorf("edition page lacks %q", want)
		}
	}
	dash := f.do(f.client, "GET", "/admin", nil)
	if dash.code != http.StatusOK || !regexp.MustCompile(`Reputation of the latest editions[\s\S]*default · 2026-11-27[\s\S]*Reputation over`).MatchString(dash.body) {
		t.Errorf("dashboard %d lacks the edition's reputation", dash.code)
	}
}
