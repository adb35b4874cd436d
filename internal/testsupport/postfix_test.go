package testsupport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/smtp"
	"os"
	"strings"
	"testing"
)

// TestStartPostfix sends one message through the private Postfix with
// STARTTLS and AUTH, as a client of the standard library, and finds it at
// the sink with Postfix's Received header on top.
func TestStartPostfix(t *testing.T) {
	pf := StartPostfix(t, PostfixOptions{RequireTLS: true, Username: "relay", Password: "p@ss word"})
	pem, err := os.ReadFile(pf.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	dial := func() *smtp.Client {
		t.Helper()
		c, err := smtp.Dial(pf.Addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := c.Hello("client.example.com"); err != nil {
			t.Fatal(err)
		}
		// Before STARTTLS: no MAIL (encrypt), no AUTH (tls_auth_only).
		if ok, _ := c.Extension("AUTH"); ok {
			t.Fatal("AUTH offered before STARTTLS")
		}
		if err := c.Mail("a@example.com"); err == nil || !strings.HasPrefix(err.Error(), "530") {
			t.Fatalf("MAIL before STARTTLS: %v, want 530", err)
		}
		if err := c.StartTLS(&tls.Config{ServerName: "127.0.0.1", RootCAs: pool}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// A wrong password is refused (net/smtp then cancels with "*", which
	// Postfix answers by hanging up: hence a connection of its own).
	if err := dial().Auth(smtp.PlainAuth("", "relay", "wrong", "127.0.0.1")); err == nil || !strings.HasPrefix(err.Error(), "535") {
		t.Fatalf("wrong password: %v, want 535", err)
	}
	c := dial()
	if err := c.Auth(smtp.PlainAuth("", "relay", "p@ss word", "127.0.0.1")); err != nil {
		t.Fatalf("AUTH PLAIN: %v", err)
	}
	if err := c.Mail("a@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("b@example.org"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\nMessage-ID: <1@example.com>\r\nDate: Fri, 27 Nov 2026 07:00:00 +0000\r\n\r\nHello.\r\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	got := pf.WaitMessages(t, 1)
	if got[0].From != "a@example.com" || len(got[0].To) != 1 || got[0].To[0] != "b@example.org" {
		t.Fatalf("envelope %s -> %v", got[0].From, got[0].To)
	}
	if !strings.HasPrefix(string(got[0].Data), "Received: from client.example.com") || !strings.Contains(string(got[0].Data), "\r\n\r\nHello.\r\n") {
		t.Fatalf("relayed message:\n%s", got[0].Data)
	}
	if log := pf.Log(); !strings.Contains(log, "sasl_method=PLAIN, sasl_username=relay@bothsides.test") {
		t.Fatalf("maillog has no authenticated client:\n%s", log)
	}
}

// TestGreets_PortTaken: a 220 from another server on the chosen port (a
// test's sink that took it between choosing and binding) is not taken for
// Postfix's, so StartPostfix retries on another port instead of handing the
// test the wrong server.
func TestGreets_PortTaken(t *testing.T) {
	other := StartSMTP(t)
	if err := greets(other.Addr, "bothsides-test-x"); !errors.Is(err, errPortTaken) {
		t.Fatalf("greets on another server: err=%v, want errPortTaken", err)
	}
}
