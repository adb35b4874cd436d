package web_test

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"bothsides/internal/testsupport"
	"bothsides/subscribers"
	"bothsides/web"
)

// TestServer_LogsRoutePattern: a 500 on a token page logs the route's
// pattern, never the path with its working token.
func TestServer_LogsRoutePattern(t *testing.T) {
	var logs syncBuffer
	f := newSignUpFixture(t, web.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	unsub := f.signer.Token(subscribers.PurposeUnsubscribe, 1, time.Time{})
	prefs := f.signer.Token(subscribers.PurposePreferences, 1, time.Time{})
	confirm := f.signer.Token(subscribers.PurposeConfirm, 1, time.Now().Add(time.Hour))
	// A closed database: every lookup behind a valid token fails.
	f.db.Close()
	for _, tc := range []struct{ method, path, pattern, token string }{
		{"GET", "/unsubscribe/" + unsub, "GET /unsubscribe/{token}", unsub},
		{"POST", "/unsubscribe/" + unsub, "POST /unsubscribe/{token}", unsub},
		{"GET", "/preferences/" + prefs, "GET /preferences/{token}", prefs},
		{"POST", "/resubscribe/" + prefs, "POST /resubscribe/{token}", prefs},
		{"GET", "/confirm/" + confirm, "GET /confirm/{token}", confirm},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			var form url.Values
			if tc.method == "POST" {
				form = url.Values{}
			}
			if got, want := f.do(t, tc.method, tc.path, form).code, http.StatusInternalServerError; got != want {
				t.Fatalf("Status=%d, want %d", got, want)
			}
			out := logs.String()
			if !strings.Contains(out, `route="`+tc.pattern+`"`) {
				t.Fatalf("the log does not name the route %q:\n%s", tc.pattern, out)
			}
			if strings.Contains(out, tc.token) {
				t.Fatalf("the log holds the token:\n%s", out)
			}
		})
	}
}

// TestServer_SignUpMailLogRedacted: a relay's refusal that echoes the
// address is logged with the address redacted.
func TestServer_SignUpMailLogRedacted(t *testing.T) {
	var logs syncBuffer
	f := newSignUpFixture(t, web.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	f.smtp.OnRcpt = func(to string) error {
		return testsupport.Reply(550, "5.1.1 <"+to+">: Recipient address rejected: User unknown")
	}
	if got := f.do(t, "POST", "/subscribe", url.Values{"email": {"ana.secret@example.com"}}).code; got != http.StatusOK {
		t.Fatalf("sign-up: status %d", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "Recipient address rejected") {
		if time.Now().After(deadline) {
			t.Fatalf("no refusal logged:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := logs.String()
	if strings.Contains(out, "ana.secret") {
		t.Fatalf("the log holds the address:\n%s", out)
	}
	if !strings.Contains(out, "***@example.com") {
		t.Fatalf("the log lost the domain:\n%s", out)
	}
}
