package cli

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/mail"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"bothsides/internal/testsupport"
)

// minHTMLSupported is the least share of email clients, in percent, that
// must fully support the features of an edition's HTML according to
// mailpit's caniemail check.
const minHTMLSupported = 92.0

// mailpitCLI is a CLI sending through a fresh mailpit, with stories for
// 2026-11-27, the given readers, a sender on news.example.com and an
// Ed25519 DKIM key for selector s1 there, whose public key it returns.
func mailpitCLI(t *testing.T, readers ...string) (*cli, *testsupport.Mailpit, crypto.PublicKey) {
	t.Helper()
	mp := testsupport.StartMailpit(t)
	c := newCLI(t)
	c.env["BOTHSIDES_SMTP_URL"] = mp.SMTPURL()
	c.env["BOTHSIDES_FROM"] = "Both Sides <digest@news.example.com>"
	c.env["BOTHSIDES_BASE_URL"] = "https://news.example.com"
	c.env["BOTHSIDES_UNSUBSCRIBE_MAILTO"] = "mailto:leave@news.example.com"
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c.dkimKey(key, "s1")
	day := testsupport.Epoch.Add(-3 * time.Hour)
	c.must(importFile(t,
		story("alpha", "Alpha story", day, "left", "center", "right"),
		story("beta", "Beta story", day.Add(time.Hour), "left", "center"),
	), "stories", "import", "-")
	for _, r := range readers {
		c.must("", "subscribers", "add", r)
	}
	return c, mp, pub
}

// byRecipient maps each message mailpit holds to its one To address.
func byRecipient(t *testing.T, msgs []testsupport.MailpitMessage) map[string]testsupport.MailpitMessage {
	t.Helper()
	got := map[string]testsupport.MailpitMessage{}
	for _, m := range msgs {
		if len(m.To) != 1 {
			t.Fatalf("message %s has To %v, want one reader", m.ID, m.To)
		}
		if _, dup := got[m.To[0].Address]; dup {
			t.Fatalf("%s got two messages", m.To[0].Address)
		}
		got[m.To[0].Address] = m
	}
	return got
}

// TestMailpit_Edition sends a DKIM-signed edition through mailpit, a
// strict real relay: every copy must be accepted, and what mailpit stored
// must parse, carry the headers as sent and verify.
func TestMailpit_Edition(t *testing.T) {
	readers := []string{"ana@example.com", "ben@example.org", "chidi@example.net"}
	c, mp, pub := mailpitCLI(t, readers...)
	if out := c.must("", "send", "--date", "2026-11-27"); !strings.Contains(out, "3 sent, 0 failed") {
		t.Fatalf("send output %q", out)
	}
	msgs := byRecipient(t, mp.WaitMessages(t, len(readers)))
	if got, want := len(msgs), len(readers); got != want {
		t.Fatalf("mailpit holds %d messages, want %d", got, want)
	}
	messageIDs := map[string]bool{}
	for _, r := range readers {
		t.Run(r, func(t *testing.T) {
			summary, ok := msgs[r]
			if !ok {
				t.Fatalf("no message for %s", r)
			}
			raw := mp.Raw(t, summary.ID)
			if _, err := testsupport.VerifyDKIM(raw, "s1", "news.example.com", pub); err != nil {
				t.Fatalf("DKIM of the stored message: %v", err)
			}
			m, err := testsupport.ParseMail(raw)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := m.ContentType, "multipart/alternative"; got != want {
				t.Fatalf("Content-Type=%q, want %q", got, want)
			}
			if len(m.Parts) != 2 || m.Parts[0] != "text/plain" || m.Parts[1] != "text/html" {
				t.Fatalf("parts=%v, want text/plain then text/html", m.Parts)
			}
			for _, title := range []string{"Alpha story", "Beta story"} {
				if !strings.Contains(m.Text, title) || !strings.Contains(m.HTML, title) {
					t.Fatalf("story %q missing from a part", title)
				}
			}
			// The envelope sender, as mailpit recorded it.
			if got, want := m.Header.Get("Return-Path"), "<digest@news.example.com>"; got != want {
				t.Errorf("Return-Path=%q, want %q", got, want)
			}
			from, err := mail.ParseAddress(m.Header.Get("From"))
			if err != nil || from.Name != "Both Sides" || from.Address != "digest@news.example.com" {
				t.Errorf("From=%q (%v), want Both Sides <digest@news.example.com>", m.Header.Get("From"), err)
			}
			to, err := mail.ParseAddress(m.Header.Get("To"))
			if err != nil || to.Address != r {
				t.Errorf("To=%q (%v), want %s", m.Header.Get("To"), err, r)
			}
			subject := testsupport.DecodeHeader(m.Header.Get("Subject"))
			if !strings.Contains(subject, "Alpha story") || subject != summary.Subject {
				t.Errorf("Subject=%q (mailpit read %q), want the top story", subject, summary.Subject)
			}
			if date, err := m.Header.Date(); err != nil || !date.Equal(testsupport.Epoch) {
				t.Errorf("Date=%q (%v), want %s", m.Header.Get("Date"), err, testsupport.Epoch)
			}
			id := m.Header.Get("Message-ID")
			if !regexp.MustCompile(`^<[^<>@\s]+@news\.example\.com>$`).MatchString(id) || id != "<"+summary.MessageID+">" {
				t.Errorf("Message-ID=%q (mailpit read %q), want one on news.example.com", id, summary.MessageID)
			}
			messageIDs[id] = true
			lu := m.Header.Get("List-Unsubscribe")
			if !regexp.MustCompile(`<https://news\.example\.com/unsubscribe/[^>]+>`).MatchString(lu) || !strings.Contains(lu, "<mailto:leave@news.example.com") {
				t.Errorf("List-Unsubscribe=%q, want the one-click URL and the mailto", lu)
			}
			if got, want := m.Header.Get("List-Unsubscribe-Post"), "List-Unsubscribe=One-Click"; got != want {
				t.Errorf("List-Unsubscribe-Post=%q, want %q", got, want)
			}
		})
	}
	if len(messageIDs) != len(readers) {
		t.Fatalf("%d distinct Message-IDs for %d readers", len(messageIDs), len(readers))
	}
}

// TestMailpit_HTMLCheck reads mailpit's caniemail check of an edition's
// HTML and requires most clients to support all of it.
func TestMailpit_HTMLCheck(t *testing.T) {
	c, mp, _ := mailpitCLI(t, "ana@example.com")
	c.must("", "send", "--date", "2026-11-27")
	msg := mp.WaitMessages(t, 1)[0]
	check := mp.HTMLCheck(t, msg.ID)
	var partial, unsupported []string
	for _, w := range check.Warnings {
		s := fmt.Sprintf("%s (%s: %.0f %% supported, %.0f %% partial, %.0f %% unsupported)",
			w.Title, w.Slug, w.Score.Supported, w.Score.Partial, w.Score.Unsupported)
		if w.Score.Unsupported > 0 {
			unsupported = append(unsupported, s)
		} else if w.Score.Partial > 0 {
			partial = append(partial, s)
		}
	}
	t.Logf("mailpit HTML check: %.2f %% supported, %.2f %% partial, %.2f %% unsupported (%d tests, %d nodes)",
		check.Total.Supported, check.Total.Partial, check.Total.Unsupported, check.Total.Tests, check.Total.Nodes)
	t.Logf("partly supported: %d\n\t%s", len(partial), strings.Join(partial, "\n\t"))
	t.Logf("unsupported somewhere: %d\n\t%s", len(unsupported), strings.Join(unsupported, "\n\t"))
	if check.Total.Supported < minHTMLSupported {
		t.Errorf("edition HTML is fully supported by %.2f %% of clients, want at least %.0f %%", check.Total.Supported, minHTMLSupported)
	}
}

// TestMailpit_SignUpAndTestMail runs serve against mailpit: the sign-up
// confirmation and the admin API's test mail must both be accepted.
func TestMailpit_SignUpAndTestMail(t *testing.T) {
	c, mp, pub := mailpitCLI(t)
	c.must("", "schedule", "add", "default", "CRON_TZ=UTC 0 7 * * *")
	port := freePort(t)
	base := "http://127.0.0.1:" + port
	c.env["BOTHSIDES_BASE_URL"] = base
	c.env["BOTHSIDES_API_TOKEN"] = "tok"
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() {
		a, _, _ := c.app("")
		done <- a.main(ctx, []string{"serve", "--addr", "127.0.0.1:" + port, "--schedule", "off"})
	}()
	waitHealthy(t, base)

	res, err := http.PostForm(base+"/subscribe", url.Values{"email": {"new@example.com"}, "name": {"Nova"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST /subscribe: %d", res.StatusCode)
	}
	req, err := http.NewRequest("POST", base+"/api/send/test", strings.NewReader(`{"schedule": "default", "date": "2026-11-27", "to": "editor@example.com"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer tok")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/send/test: %d", res.StatusCode)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}

	msgs := byRecipient(t, mp.WaitMessages(t, 2))
	if len(msgs) != 2 {
		t.Fatalf("mailpit holds %d messages, want the confirmation and the test mail", len(msgs))
	}
	t.Run("Confirmation", func(t *testing.T) {
		raw := mp.Raw(t, msgs["new@example.com"].ID)
		if _, err := testsupport.VerifyDKIM(raw, "s1", "news.example.com", pub); err != nil {
			t.Fatalf("DKIM: %v", err)
		}
		m, err := testsupport.ParseMail(raw)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(regexp.QuoteMeta(base) + `/confirm/[A-Za-z0-9_.-]+`).MatchString(m.Text) {
			t.Fatalf("no confirm link in:\n%s", m.Text)
		}
	})
	t.Run("TestMail", func(t *testing.T) {
		raw := mp.Raw(t, msgs["editor@example.com"].ID)
		// Signed like editions and confirmations (it went out unsigned
		// before app.mailer() took the key).
		if _, err := testsupport.VerifyDKIM(raw, "s1", "news.example.com", pub); err != nil {
			t.Fatalf("test mail DKIM: %v", err)
		}
		m, err := testsupport.ParseMail(raw)
		if err != nil {
			t.Fatal(err)
		}
		if subject := testsupport.DecodeHeader(m.Header.Get("Subject")); !strings.HasPrefix(subject, "[Test] ") || !strings.Contains(subject, "Alpha story") {
			t.Errorf("Subject=%q, want a [Test] edition", subject)
		}
		if got, want := m.Header.Get("X-Bothsides-Test"), "default 2026-11-27"; got != want {
			t.Errorf("X-Bothsides-Test=%q, want %q", got, want)
		}
		if len(m.Parts) != 2 || !strings.Contains(m.HTML, "Alpha story") {
			t.Errorf("parts %v", m.Parts)
		}
	})
}

// TestMailpit_BareEnvelope is the regression test of the first strict
// relay's refusals: over a raw conversation, mailpit refuses MAIL FROM and
// RCPT TO without angle brackets (RFC 5321 4.1.2) and accepts them with.
func TestMailpit_BareEnvelope(t *testing.T) {
	mp := testsupport.StartMailpit(t)
	conn, err := net.DialTimeout("tcp", mp.SMTPAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	tp := textproto.NewConn(conn)
	// cmd sends one command and returns the reply's code and text.
	cmd := func(line string) (int, string) {
		t.Helper()
		id, err := tp.Cmd("%s", line)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		tp.StartResponse(id)
		defer tp.EndResponse(id)
		code, msg, err := tp.ReadResponse(0)
		if err != nil {
			if _, ok := err.(*textproto.Error); !ok {
				t.Fatalf("%s: %v", line, err)
			}
		}
		t.Logf("C: %s\nS: %d %s", line, code, msg)
		return code, msg
	}
	if code, msg, err := tp.ReadResponse(220); err != nil {
		t.Fatalf("greeting %d %s: %v", code, msg, err)
	}
	if code, _ := cmd("EHLO client.example.com"); code != 250 {
		t.Fatalf("EHLO: %d", code)
	}
	// Before STARTTLS mailpit (started with --smtp-require-starttls)
	// refuses the transaction itself.
	if code, _ := cmd("MAIL FROM:<x@example.com>"); code/100 != 5 {
		t.Fatalf("MAIL FROM before STARTTLS: %d, want a refusal", code)
	}
	if code, _ := cmd("STARTTLS"); code != 220 {
		t.Fatalf("STARTTLS: %d", code)
	}
	tconn := tls.Client(conn, mp.TLS)
	if err := tconn.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	tp = textproto.NewConn(tconn)
	if code, _ := cmd("EHLO client.example.com"); code != 250 {
		t.Fatalf("EHLO after STARTTLS: %d", code)
	}
	for _, tc := range []struct {
		line string
		want int
	}{
		{"MAIL FROM:x@example.com", 501},
		{"MAIL FROM:<x@example.com>", 250},
		{"RCPT TO:y@example.com", 501},
		{"RCPT TO:<y@example.com>", 250},
		{"RSET", 250},
	} {
		if code, msg := cmd(tc.line); code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.line, code, msg, tc.want)
		}
	}
	cmd("QUIT")
}
