package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"bothsides/internal/testsupport"
	"bothsides/subscribers"
	"bothsides/web"
)

const day = 24 * time.Hour

// TestLinks_Revoked: "Sign out all my links" on the preferences page
// revokes every link mailed so far (400 like a forged one) and mails new
// ones that work; the admin API does the same.
func TestLinks_Revoked(t *testing.T) {
	f := newSignUpFixture(t, web.Config{})
	ctx := context.Background()
	sub, _ := f.subs.Add(ctx, "revoke@example.com", "Rae")
	prefs := "/preferences/" + f.signer.Link(subscribers.PurposePreferences, sub.ID, 0, f.clock.Now())
	unsub := "/unsubscribe/" + f.signer.Link(subscribers.PurposeUnsubscribe, sub.ID, 0, f.clock.Now())
	if got := f.do(t, "GET", prefs, nil); got.code != http.StatusOK || !strings.Contains(got.body, `id="revoke"`) {
		t.Fatalf("preferences page: %d\n%s", got.code, got.body)
	}
	if got := f.do(t, "POST", prefs+"/revoke", url.Values{}); got.code != http.StatusOK || !strings.Contains(got.body, "signed out") {
		t.Fatalf("revoke: %d\n%s", got.code, got.body)
	}
	for _, p := range []string{prefs, unsub} {
		if got := f.do(t, "GET", p, nil); got.code != http.StatusBadRequest || !strings.Contains(got.body, "not valid") {
			t.Errorf("GET %s after revoking: %d, want 400", p, got.code)
		}
	}
	if got := f.do(t, "POST", unsub, url.Values{"List-Unsubscribe": {"One-Click"}}); got.code != http.StatusBadRequest {
		t.Fatalf("one-click with a revoked link: %d", got.code)
	}
	mails := f.smtp.WaitFor(t, "revoke@example.com", 1)
	fresh := link(t, mails[0], "preferences")
	if got := f.do(t, "GET", pathOf(t, fresh), nil); got.code != http.StatusOK {
		t.Fatalf("the new preferences link: %d", got.code)
	}
	if s, _ := f.subs.Find(ctx, sub.ID); s.Status != subscribers.StatusActive || s.LinkGeneration != 1 {
		t.Fatalf("after revoking: %+v", s)
	}
}

// TestLinks_Rotated: after a rotation (by another process, as `bothsides
// secret rotate` is), the running server still honours the links signed
// by the old key, and the links signed with the new key carry its id and
// verify too.
func TestLinks_Rotated(t *testing.T) {
	f := newSignUpFixture(t, web.Config{})
	ctx := context.Background()
	sub, _ := f.subs.Add(ctx, "rotate@example.com", "")
	old := "/unsubscribe/" + f.signer.Link(subscribers.PurposeUnsubscribe, sub.ID, 0, f.clock.Now())
	id, err := subscribers.RotateKey(ctx, f.db)
	if err != nil || id != 1 {
		t.Fatalf("RotateKey=%d, %v", id, err)
	}
	after, err := subscribers.NewSignerFrom(ctx, f.db)
	if err != nil {
		t.Fatal(err)
	}
	tok := after.Link(subscribers.PurposeUnsubscribe, sub.ID, 0, f.clock.Now())
	if c, err := after.Verify(subscribers.PurposeUnsubscribe, tok, f.clock.Now()); err != nil || c.KeyID != 1 {
		t.Fatalf("new link's claims: %+v, %v", c, err)
	}
	for name, p := range map[string]string{"old key": old, "new key": "/unsubscribe/" + tok} {
		if got := f.do(t, "GET", p, nil); got.code != http.StatusOK {
			t.Errorf("%s link: %d, want 200", name, got.code)
		}
	}
	if err := subscribers.RetireKey(ctx, f.db, 0); err != nil {
		t.Fatal(err)
	}
	retired, _ := subscribers.NewSignerFrom(ctx, f.db)
	if _, err := retired.Verify(subscribers.PurposeUnsubscribe, strings.TrimPrefix(old, "/unsubscribe/"), f.clock.Now()); err == nil {
		t.Fatal("a retired key's link verified")
	}
}

// TestLinks_Lifetimes, on the injected clock: an unsubscribe link still
// unsubscribes at day 60 (and 90); a preferences link is refused after 30
// days with a page that says it expired and how to get a new one.
func TestLinks_Lifetimes(t *testing.T) {
	f := newSignUpFixture(t, web.Config{})
	ctx := context.Background()
	sub, _ := f.subs.Add(ctx, "life@example.com", "")
	mailed := f.clock.Now()
	unsub := "/unsubscribe/" + f.signer.Link(subscribers.PurposeUnsubscribe, sub.ID, 0, mailed)
	prefs := "/preferences/" + f.signer.Link(subscribers.PurposePreferences, sub.ID, 0, mailed)

	f.clock.Set(mailed.Add(30 * day))
	if got := f.do(t, "GET", prefs, nil); got.code != http.StatusOK {
		t.Fatalf("preferences link at day 30: %d", got.code)
	}
	f.clock.Set(mailed.Add(30*day + time.Minute))
	if got := f.do(t, "GET", prefs, nil); got.code != http.StatusBadRequest || !strings.Contains(got.body, "This link has expired") || !strings.Contains(got.body, "/subscribe") {
		t.Fatalf("preferences link after day 30: %d\n%s", got.code, got.body)
	}
	f.clock.Set(mailed.Add(60 * day))
	if got := f.do(t, "POST", unsub, url.Values{"List-Unsubscribe": {"One-Click"}}); got.code != http.StatusOK {
		t.Fatalf("one-click unsubscribe at day 60: %d", got.code)
	}
	if s, _ := f.subs.Find(ctx, sub.ID); s.Status != subscribers.StatusUnsubscribed {
		t.Fatalf("status at day 60: %s", s.Status)
	}
	f.clock.Set(mailed.Add(90*day + time.Minute))
	if got := f.do(t, "GET", unsub, nil); got.code != http.StatusBadRequest || !strings.Contains(got.body, "expired") {
		t.Fatalf("unsubscribe link after day 90: %d", got.code)
	}
}

// TestLinks_Legacy: a link mailed before key ids (the first format)
// verifies as key 0, generation 0, for the lifetimes counted from the
// upgrade, and dies with a generation bump like any other.
func TestLinks_Legacy(t *testing.T) {
	f := newSignUpFixture(t, web.Config{})
	ctx := context.Background()
	sub, _ := f.subs.Add(ctx, "old@example.com", "")
	key, _ := f.db.Secret(ctx, "token_secret")
	f.signer.SetLegacyIssued(f.clock.Now())
	unsub := "/unsubscribe/" + testsupport.LegacyToken(key, "unsubscribe", sub.ID, 0)
	if got := f.do(t, "GET", unsub, nil); got.code != http.StatusOK {
		t.Fatalf("legacy unsubscribe link: %d", got.code)
	}
	f.clock.Advance(60 * day)
	if got := f.do(t, "GET", unsub, nil); got.code != http.StatusOK {
		t.Fatalf("legacy unsubscribe link at day 60 after the upgrade: %d", got.code)
	}
	if _, err := f.subs.RevokeLinks(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
	if got := f.do(t, "GET", unsub, nil); got.code != http.StatusBadRequest {
		t.Fatalf("legacy link after revoking: %d", got.code)
	}
}

// TestLinks_ResubscribeRefused: a complained or bounced (or pending)
// reader's resubscribe through their preferences link is refused with 403
// and a page saying how to come back; their status is unchanged.
func TestLinks_ResubscribeRefused(t *testing.T) {
	f := newSignUpFixture(t, web.Config{})
	ctx := context.Background()
	for _, st := range []subscribers.Status{subscribers.StatusComplained, subscribers.StatusBounced, subscribers.StatusPending} {
		sub, _ := f.subs.Add(ctx, string(st)+"@example.com", "")
		if err := f.subs.SetStatus(ctx, sub.ID, st); err != nil {
			t.Fatal(err)
		}
		tok := f.signer.Link(subscribers.PurposePreferences, sub.ID, 0, f.clock.Now())
		if page := f.do(t, "GET", "/preferences/"+tok, nil); strings.Contains(page.body, `id="resubscribe"`) {
			t.Errorf("%s: the preferences page offers to resubscribe", st)
		}
		got := f.do(t, "POST", "/resubscribe/"+tok, url.Values{})
		if got.code != http.StatusForbidden || !strings.Contains(got.body, "Not resubscribed") {
			t.Errorf("%s resubscribe: %d, want 403\n%s", st, got.code, got.body)
		}
		if s, _ := f.subs.Find(ctx, sub.ID); s.Status != st {
			t.Errorf("%s reader is now %s", st, s.Status)
		}
	}
}

// TestSubscribe_PendingKeepsDetails: a second submission of the form for
// a pending address does not overwrite its name, zone or topics; it mails
// a new confirmation (within the per-address limit).
func TestSubscribe_PendingKeepsDetails(t *testing.T) {
	f := newSignUpFixture(t, web.Config{})
	ctx := context.Background()
	post := func(name, zone, topic string) {
		got := f.do(t, "POST", "/subscribe", url.Values{"email": {"victim@example.com"}, "name": {name}, "timezone": {zone}, "topics": {topic}})
		if got.code != http.StatusOK {
			t.Fatalf("POST /subscribe: %d", got.code)
		}
	}
	post("Vic", "Europe/Paris", "Economy")
	f.smtp.WaitFor(t, "victim@example.com", 1)
	post("Visit evil.example", "Asia/Tokyo", "Local")
	f.smtp.WaitFor(t, "victim@example.com", 2)
	sub, err := f.subs.FindByEmail(ctx, "victim@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if sub.Status != subscribers.StatusPending || sub.Name != "Vic" || sub.Timezone != "Europe/Paris" || len(sub.Topics) != 1 || sub.Topics[0] != "Economy" {
		t.Fatalf("pending after a second submission: %+v", sub)
	}
}
