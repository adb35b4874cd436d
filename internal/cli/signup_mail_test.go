package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"bothsides/internal/testsupport"
)

// TestServe_SignUp checks the wiring of `serve`: the sign-up form mails its
// confirmation through --smtp, with links on --base-url, and the confirm
// link activates.
func TestServe_SignUp(t *testing.T) {
	c := newCLI(t)
	smtpSrv := testsupport.StartSMTP(t)
	port := freePort(t)
	base := "http://127.0.0.1:" + port
	c.env["BOTHSIDES_SMTP_URL"] = smtpSrv.URL()
	c.env["BOTHSIDES_BASE_URL"] = base
	c.env["BOTHSIDES_PENDING_EXPIRY"] = "72h"
	c.env["BOTHSIDES_FROM"] = "Both Sides <digest@news.example.com>"
	// Sign-up mails go the digest's way: DKIM-signed like editions.
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c.dkimKey(key, "s1")
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		a, _, _ := c.app("")
		done <- a.main(ctx, []string{"serve", "--addr", "127.0.0.1:" + port, "--schedule", "off"})
	}()
	waitHealthy(t, base)

	resp, err := http.PostForm(base+"/subscribe", url.Values{"email": {"new@example.com"}, "name": {"Nova"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /subscribe: %d", resp.StatusCode)
	}
	raw := smtpSrv.WaitFor(t, "new@example.com", 1)[0]
	if raw.From != "digest@news.example.com" {
		t.Fatalf("envelope sender %q", raw.From)
	}
	if _, err := testsupport.VerifyDKIM(raw.Data, "s1", "news.example.com", pub); err != nil {
		t.Fatalf("confirmation mail DKIM: %v", err)
	}
	m, err := testsupport.ParseMail(raw.Data)
	if err != nil {
		t.Fatal(err)
	}
	confirm := regexp.MustCompile(regexp.QuoteMeta(base) + `/confirm/[A-Za-z0-9_.-]+`).FindString(m.Text)
	if confirm == "" || strings.Contains(m.Text, "Nova") || !strings.Contains(m.Text, "works until Monday 30 November 2026") {
		t.Fatalf("confirmation mail:\n%s", m.Text)
	}
	// The outbox's counters are on the registry serve exposes.
	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"bothsides_signup_mails_queued_total 1", "bothsides_signup_mails_refused_total 0"} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("/metrics lacks %q:\n%s", want, body)
		}
	}
	resp, err = http.PostForm(confirm, url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST confirm: %d", resp.StatusCode)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if out := c.must("", "subscribers", "list"); !strings.Contains(out, "new@example.com\tNova\tactive") {
		t.Fatalf("after confirming:\n%s", out)
	}
}

func TestSignUpFlags(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{
		{"serve", "--addr", "127.0.0.1:0", "--pending-expiry", "soon"},
		{"serve", "--addr", "127.0.0.1:0", "--pending-expiry", "10m"},
		{"serve", "--addr", "127.0.0.1:0", "--unsubscribe-mailto", "leave@example.com"},
		{"serve", "--addr", "127.0.0.1:0", "--unsubscribe-mailto", "mailto:not an address"},
	} {
		_, _, err := c.run("", args...)
		if !errors.Is(err, errUsage) {
			t.Errorf("bothsides %s: err=%v, want a usage error", strings.Join(args, " "), err)
		}
	}
}
