package cli

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/mail"
	"net/textproto"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"bothsides/internal/testsupport"
)

// These tests send through a real Postfix configured strict (see
// testsupport.StartPostfix): STARTTLS required, SMTP AUTH against a Cyrus
// sasldb, strict_rfc821_envelopes and HELO required. go-smtp's server, which
// the other tests use, accepts what such a relay refuses (an envelope
// address without angle brackets went out that way once).

const (
	postfixUser     = "relay"
	postfixPassword = "p@ss word"
	postfixFrom     = "Both Sides <digest@news.example.com>"
	postfixDomain   = "news.example.com"
	postfixSelector = "bs1"
)

// postfixMessageID is a Message-ID on the sender's domain.
var postfixMessageID = regexp.MustCompile(`^<[^<>@\s]+@` + regexp.QuoteMeta(postfixDomain) + `>$`)

// postfixCLI is a CLI whose relay is a strict Postfix requiring STARTTLS
// and AUTH, with From on news.example.com and an RSA DKIM key (as in
// TestSend_DKIMKeyFile); it returns the key's public half.
func postfixCLI(t *testing.T) (*cli, *testsupport.Postfix, crypto.PublicKey) {
	t.Helper()
	pf := testsupport.StartPostfix(t, testsupport.PostfixOptions{RequireTLS: true, Username: postfixUser, Password: postfixPassword})
	c := newCLI(t)
	c.env["BOTHSIDES_SMTP_URL"] = pf.URL()
	c.env["BOTHSIDES_FROM"] = postfixFrom
	c.env["BOTHSIDES_UNSUBSCRIBE_MAILTO"] = "mailto:leave@" + postfixDomain
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	c.dkimKey(key, postfixSelector)
	day := testsupport.Epoch.Add(-3 * time.Hour)
	c.must(importFile(t,
		story("alpha", "Alpha story", day, "left", "center", "right"),
		story("beta", "Beta story", day.Add(time.Hour), "left", "center"),
	), "stories", "import", "-")
	return c, pf, &key.PublicKey
}

// checkRelayed checks that raw came through Postfix over TLS with AUTH
// (its Received header says ESMTPSA) and that its DKIM signature still
// verifies with the Received header on top.
func checkRelayed(t *testing.T, raw []byte, pub crypto.PublicKey) {
	t.Helper()
	head, _, _ := strings.Cut(string(raw), "\r\n\r\n")
	if !strings.HasPrefix(head, "Received: from ") || !strings.Contains(head, "by relay.bothsides.test (Postfix) with ESMTPSA id ") {
		t.Fatalf("no Received header of Postfix with TLS and AUTH (ESMTPSA):\n%s", head)
	}
	vs, err := testsupport.VerifyDKIM(raw, postfixSelector, postfixDomain, pub)
	if err != nil {
		t.Fatalf("DKIM after Postfix: %v\n%s", err, head)
	}
	for _, h := range []string{"From", "To", "Subject", "Date", "Message-ID"} {
		if !slices.ContainsFunc(vs[0].HeaderKeys, func(k string) bool { return strings.EqualFold(k, h) }) {
			t.Errorf("DKIM signature does not cover %s: h=%v", h, vs[0].HeaderKeys)
		}
	}
}

// TestPostfix_SendEdition sends a real edition to three readers through
// strict Postfix: each copy arrives once, whole, with the headers as sent,
// parts equal to what preview shows, and a DKIM signature that verifies.
func TestPostfix_SendEdition(t *testing.T) {
	c, pf, pub := postfixCLI(t)
	readers := []struct{ addr, name string }{
		{"ana@example.com", "Ana Lima"}, {"ben@example.org", "Ben Okafor"}, {"chidi@example.net", "Chidi Eze"},
	}
	for _, r := range readers {
		c.must("", "subscribers", "add", r.addr, "--name", r.name)
	}
	if out := c.must("", "send", "--date", "2026-11-27"); !strings.Contains(out, "3 sent, 0 failed") {
		t.Fatalf("send: %q", out)
	}
	pf.WaitMessages(t, len(readers))
	if show := c.must("", "editions", "show", "2026-11-27"); !strings.Contains(show, "deliveries: 3 total, 3 sent, 0 failed") {
		t.Fatalf("editions show:\n%s", show)
	}
	base := "http://127.0.0.1:8080" // the default --base-url, as preview uses it
	wantHTML := crlfToLF(c.must("", "preview", "--date", "2026-11-27"))
	wantText := crlfToLF(c.must("", "preview", "--date", "2026-11-27", "--text"))
	prefsLink := regexp.MustCompile(regexp.QuoteMeta(base) + `/preferences/[A-Za-z0-9_.-]+`)
	ids := map[string]bool{}
	var subject string
	for _, r := range readers {
		got := pf.Sink.To(r.addr)
		if len(got) != 1 {
			t.Fatalf("%s: %d messages at the sink, want 1", r.addr, len(got))
		}
		if got[0].From != "digest@"+postfixDomain || len(got[0].To) != 1 {
			t.Fatalf("%s: envelope %s -> %v", r.addr, got[0].From, got[0].To)
		}
		raw := got[0].Data
		checkRelayed(t, raw, pub)
		m, err := testsupport.ParseMail(raw)
		if err != nil {
			t.Fatalf("%s: %v", r.addr, err)
		}
		if m.ContentType != "multipart/alternative" || !slices.Equal(m.Parts, []string{"text/plain", "text/html"}) {
			t.Fatalf("%s: %s with parts %v, want multipart/alternative of text/plain and text/html", r.addr, m.ContentType, m.Parts)
		}

		// Headers as sent.
		from, err := mail.ParseAddress(m.Header.Get("From"))
		if err != nil || from.Name != "Both Sides" || from.Address != "digest@"+postfixDomain {
			t.Errorf("%s: From %q (%v)", r.addr, m.Header.Get("From"), err)
		}
		to, err := mail.ParseAddress(m.Header.Get("To"))
		if err != nil || to.Name != r.name || to.Address != r.addr {
			t.Errorf("%s: To %q (%v)", r.addr, m.Header.Get("To"), err)
		}
		s := testsupport.DecodeHeader(m.Header.Get("Subject"))
		if !strings.Contains(s, "Alpha story") || (subject != "" && s != subject) {
			t.Errorf("%s: Subject %q (the first reader's was %q)", r.addr, s, subject)
		}
		subject = s
		if date, err := m.Header.Date(); err != nil || !date.Equal(testsupport.Epoch) {
			t.Errorf("%s: Date %q (%v), want the send's time %s", r.addr, m.Header.Get("Date"), err, testsupport.Epoch)
		}
		id := m.Header.Get("Message-ID")
		if !postfixMessageID.MatchString(id) || ids[id] {
			t.Errorf("%s: Message-ID %q, want a fresh one on %s", r.addr, id, postfixDomain)
		}
		ids[id] = true
		if got, want := m.Header.Get("List-Unsubscribe-Post"), "List-Unsubscribe=One-Click"; got != want {
			t.Errorf("%s: List-Unsubscribe-Post %q, want %q", r.addr, got, want)
		}
		lu := m.Header.Get("List-Unsubscribe")
		unsub := linkInBrackets.FindStringSubmatch(lu)
		if unsub == nil || !strings.HasPrefix(unsub[1], base+"/unsubscribe/") || !strings.Contains(lu, "<mailto:leave@"+postfixDomain+">") {
			t.Fatalf("%s: List-Unsubscribe %q", r.addr, lu)
		}

		// The parts are preview's but for the reader's own name, address
		// and links.
		prefs := prefsLink.FindString(m.Text)
		if prefs == "" {
			t.Fatalf("%s: no preferences link in the text part:\n%s", r.addr, m.Text)
		}
		generic := strings.NewReplacer(unsub[1], base+"/unsubscribe/preview", prefs, base+"/preferences/preview",
			"Hello, "+r.name+".", "Hello, Reader.", r.addr, "reader@example.com")
		if got := generic.Replace(crlfToLF(m.Text)); got != wantText {
			t.Errorf("%s: text part differs from preview --text %s", r.addr, firstDiff(got, wantText))
		}
		if got := generic.Replace(crlfToLF(m.HTML)); got != wantHTML {
			t.Errorf("%s: HTML part differs from preview %s", r.addr, firstDiff(got, wantHTML))
		}
	}
	if n := len(pf.Sink.Messages()); n != len(readers) {
		t.Fatalf("%d messages at the sink, want %d", n, len(readers))
	}
	log := pf.Log()
	if n := strings.Count(log, "relay=127.0.0.1[127.0.0.1]:"+portOfAddr(pf.Sink.Addr)+", "); n != len(readers) || strings.Count(log, "status=sent") != len(readers) {
		t.Fatalf("maillog shows %d relayed and %d sent, want %d", n, strings.Count(log, "status=sent"), len(readers))
	}
}

// TestPostfix_SignUpAndTestMail runs serve with strict Postfix as its relay:
// a sign-up's confirmation and the admin API's test mail both go through it
// and arrive signed.
func TestPostfix_SignUpAndTestMail(t *testing.T) {
	c, pf, pub := postfixCLI(t)
	// The test mail is of a schedule's edition; paused, it never sends.
	c.must("", "schedule", "add", "default", "CRON_TZ=UTC 0 7 * * *", "--paused")
	port := freePort(t)
	base := "http://127.0.0.1:" + port
	c.env["BOTHSIDES_BASE_URL"] = base
	c.env["BOTHSIDES_API_TOKEN"] = "tok"
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		a, _, _ := c.app("")
		done <- a.main(ctx, []string{"serve", "--addr", "127.0.0.1:" + port, "--schedule", "off"})
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	waitHealthy(t, base)

	t.Run("SignUp", func(t *testing.T) {
		resp, err := http.PostForm(base+"/subscribe", url.Values{"email": {"new@example.com"}, "name": {"Nova"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /subscribe: %d", resp.StatusCode)
		}
		raw := pf.Sink.WaitFor(t, "new@example.com", 1)[0]
		if raw.From != "digest@"+postfixDomain {
			t.Fatalf("envelope sender %q", raw.From)
		}
		checkRelayed(t, raw.Data, pub)
		m, err := testsupport.ParseMail(raw.Data)
		if err != nil {
			t.Fatal(err)
		}
		confirm := regexp.MustCompile(regexp.QuoteMeta(base) + `/confirm/[A-Za-z0-9_.-]+`).FindString(m.Text)
		if confirm == "" {
			t.Fatalf("no confirm link in the mail:\n%s", m.Text)
		}
		resp, err = http.PostForm(confirm, url.Values{})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST confirm: %d", resp.StatusCode)
		}
		if out := c.must("", "subscribers", "list"); !strings.Contains(out, "new@example.com\tNova\tactive") {
			t.Fatalf("after confirming through the relayed link:\n%s", out)
		}
	})

	t.Run("TestMail", func(t *testing.T) {
		req, _ := http.NewRequest("POST", base+"/api/send/test", strings.NewReader(`{"schedule":"default","date":"2026-11-27","to":"editor@example.com"}`))
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /api/send/test: %d", resp.StatusCode)
		}
		raw := pf.Sink.WaitFor(t, "editor@example.com", 1)[0]
		checkRelayed(t, raw.Data, pub)
		m, err := testsupport.ParseMail(raw.Data)
		if err != nil {
			t.Fatal(err)
		}
		if s := testsupport.DecodeHeader(m.Header.Get("Subject")); !strings.HasPrefix(s, "[Test] ") || !strings.Contains(s, "Alpha story") {
			t.Fatalf("Subject %q", s)
		}
		if got, want := m.Header.Get("X-Bothsides-Test"), "default 2026-11-27"; got != want {
			t.Fatalf("X-Bothsides-Test %q, want %q", got, want)
		}
		if !strings.Contains(m.HTML, "Beta story") || !strings.Contains(m.Text, "Beta story") {
			t.Fatalf("test mail lacks the edition's stories")
		}
	})
}

// TestPostfix_Strict checks that the relay of these tests is as strict as a
// real one, so that they would have failed on the envelope without angle
// brackets: a raw conversation on loopback, after STARTTLS and AUTH.
func TestPostfix_Strict(t *testing.T) {
	pf := testsupport.StartPostfix(t, testsupport.PostfixOptions{RequireTLS: true, Username: postfixUser, Password: postfixPassword})
	conn, err := net.DialTimeout("tcp", pf.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	text := textproto.NewConn(conn)
	// cmd sends one raw command line and expects a reply code and text.
	cmd := func(line string, code int, want string) {
		t.Helper()
		if line != "" {
			if err := text.PrintfLine("%s", line); err != nil {
				t.Fatal(err)
			}
		}
		got, msg, err := text.ReadResponse(code)
		if err != nil || !strings.Contains(msg, want) {
			t.Fatalf("%q: %d %q, want %d %q", line, got, msg, code, want)
		}
	}
	cmd("", 220, "ESMTP")
	cmd("EHLO client.example.com", 250, "STARTTLS")
	cmd("MAIL FROM:<digest@news.example.com>", 530, "5.7.0 Must issue a STARTTLS command first")
	cmd("STARTTLS", 220, "2.0.0 Ready to start TLS")
	pem, err := os.ReadFile(pf.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tlsConn := tls.Client(conn, &tls.Config{ServerName: "127.0.0.1", RootCAs: pool})
	if err := tlsConn.Handshake(); err != nil {
		t.Fatal(err)
	}
	text = textproto.NewConn(tlsConn)
	// After STARTTLS the conversation starts again, HELO first.
	cmd("MAIL FROM:<digest@news.example.com>", 503, "5.5.1 Error: send HELO/EHLO first")
	cmd("EHLO client.example.com", 250, "AUTH PLAIN LOGIN")
	cmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00"+postfixUser+"\x00"+postfixPassword)), 235, "2.7.0 Authentication successful")
	// What SendRaw wrote before c6395e2, and what it writes now.
	cmd("MAIL FROM:bare@example.com", 501, "5.1.7 Bad sender address syntax")
	cmd("MAIL FROM:<bare@example.com>", 250, "2.1.0 Ok")
	cmd("RCPT TO:reader@example.com", 501, "5.1.3 Bad recipient address syntax")
	cmd("RCPT TO:<reader@example.com>", 250, "2.1.5 Ok")
	cmd("RSET", 250, "2.0.0 Ok")
	cmd("QUIT", 221, "2.0.0 Bye")
	if n := len(pf.Sink.Messages()); n != 0 {
		t.Fatalf("%d messages relayed, want none", n)
	}
}

func crlfToLF(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

// firstDiff describes where got first differs from want.
func firstDiff(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	clip := func(s string) string {
		s = s[i:]
		if len(s) > 120 {
			s = s[:120]
		}
		return s
	}
	return fmt.Sprintf("at byte %d (lengths %d and %d):\n got: %q\nwant: %q", i, len(got), len(want), clip(got), clip(want))
}

func portOfAddr(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

// TestPostfix_PipelinedEdition sends an edition over one connection to a
// strict Postfix that forbids unauthorized pipelining and refuses the
// second reader's address: each message's commands go with the previous
// message's final dot (RFC 2920), every accepted message arrives exactly
// once, the refused one is a bounce in the ledger, and Postfix saw no
// improper pipelining.
func TestPostfix_PipelinedEdition(t *testing.T) {
	pf := testsupport.StartPostfix(t, testsupport.PostfixOptions{RequireTLS: true, Username: postfixUser, Password: postfixPassword,
		RejectRecipients: []string{"gone@example.org"}})
	c := newCLI(t)
	c.env["BOTHSIDES_SMTP_URL"] = pf.URL()
	c.env["BOTHSIDES_FROM"] = postfixFrom
	day := testsupport.Epoch.Add(-3 * time.Hour)
	c.must(importFile(t, story("alpha", "Alpha story", day, "left", "center", "right")), "stories", "import", "-")
	readers := []string{"ana@example.com", "gone@example.org", "ben@example.org", "chidi@example.net", "dan@example.com", "eve@example.org"}
	for _, r := range readers {
		c.must("", "subscribers", "add", r)
	}
	// The refused reader fails the command (exit 1), the rest are sent.
	if out, _, err := c.run("", "send", "--date", "2026-11-27", "--connections", "1"); err == nil || !strings.Contains(out, "5 sent, 1 failed") {
		t.Fatalf("send: %q (%v), want 5 sent and 1 failed", out, err)
	}
	pf.WaitMessages(t, len(readers)-1)
	if show := c.must("", "editions", "show", "2026-11-27"); !strings.Contains(show, "deliveries: 6 total, 5 sent, 1 failed") {
		t.Fatalf("editions show:\n%s", show)
	}
	for _, r := range readers {
		want := 1
		if r == "gone@example.org" {
			want = 0
		}
		if got := len(pf.Sink.To(r)); got != want {
			t.Errorf("%s: %d messages at the sink, want %d", r, got, want)
		}
	}
	log := pf.Log()
	if strings.Contains(log, "improper command pipelining") {
		t.Fatalf("Postfix saw improper pipelining:\n%s", log)
	}
	// One connection carried all six transactions, one refused at RCPT.
	if !regexp.MustCompile(`disconnect from .* mail=6 rcpt=5/6 data=5/6 `).MatchString(log) {
		t.Fatalf("no disconnect line with mail=6 rcpt=5/6 data=5/6 in the maillog:\n%s", log)
	}
}
