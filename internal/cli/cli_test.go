package cli

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bothsides/internal/testsupport"
)

func TestImportCommand(t *testing.T) {
	c := newCLI(t)
	at := testsupport.Epoch.Add(-time.Hour)
	out := c.must(importFile(t, story("a", "Story A", at, "left", "center"), story("b", "Story B", at, "right")), "stories", "import", "-")
	if got, want := strings.TrimSpace(out), "imported 2 stories (2 new, 0 changed, 0 unchanged), 3 articles"; got != want {
		t.Fatalf("stdout=%q, want %q", got, want)
	}

	// An invalid file changes nothing, exits non-zero and names the problem.
	path := filepath.Join(c.dir, "bad.json")
	bad := story("c", "Story C", at, "leftish")
	changed := story("a", "Changed A", at, "left")
	if err := os.WriteFile(path, []byte(importFile(t, changed, bad)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, err := c.run("", "stories", "import", path)
	if err == nil {
		t.Fatal("invalid import succeeded")
	}
	if want := `story 1 ("c"): articles[0].bias: "leftish" is not one of far-left, left, lean-left, center, lean-right, right, far-right`; !strings.Contains(errOut, want) {
		t.Fatalf("stderr=%q, want it to contain %q", errOut, want)
	}
	list := c.must("", "stories", "list")
	if !strings.Contains(list, "Story A") || strings.Contains(list, "Changed A") || strings.Contains(list, "\tc\t") {
		t.Fatalf("database changed by an invalid import:\n%s", list)
	}

	// Re-import replaces.
	out = c.must(importFile(t, changed), "stories", "import", "-")
	if got, want := strings.TrimSpace(out), "imported 1 stories (0 new, 1 changed, 0 unchanged), 1 articles"; got != want {
		t.Fatalf("stdout=%q, want %q", got, want)
	}
}

func TestSubscribersCommands(t *testing.T) {
	c := newCLI(t)
	c.must("", "subscribers", "add", "  Ana@Example.COM ", "--name", "Ana")
	c.must("", "subscribers", "add", "ben@example.org")
	for _, bad := range []string{"not-an-address", "a@b@c", "Ana <ana@example.com>", "x@example.com\r\nBcc: y@example.com"} {
		if _, _, err := c.run("", "subscribers", "add", bad); err == nil || !strings.Contains(err.Error(), "invalid email address") {
			t.Errorf("add %q: err=%v, want an invalid address error", bad, err)
		}
	}
	if _, _, err := c.run("", "subscribers", "add", "ana@example.com"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate add: err=%v", err)
	}
	out := c.must("", "subscribers", "list")
	if got, want := out, "Ana@example.com\tAna\tactive\nben@example.org\t-\tactive\n"; got != want {
		t.Fatalf("list=%q, want %q", got, want)
	}
}

// TestEndToEnd imports stories, adds subscribers, sends to a real SMTP
// server on loopback, unsubscribes one reader with the one-click POST from
// the mail's header, and checks that the next edition skips that reader.
func TestEndToEnd(t *testing.T) {
	c := newCLI(t)
	smtpSrv := testsupport.StartSMTP(t)
	c.env["BOTHSIDES_SMTP_URL"] = smtpSrv.URL()

	day1 := testsupport.Epoch.Add(-3 * time.Hour)
	c.must(importFile(t,
		story("alpha", "Alpha story", day1, "left", "center", "right", "lean-right"),
		story("beta", "Beta story", day1.Add(time.Hour), "left", "center"),
		story("old", "Old story", day1.Add(-48*time.Hour), "left", "center", "right", "far-right", "center"),
	), "stories", "import", "-")
	readers := []string{"ana@example.com", "ben@example.org", "chidi@example.net"}
	for _, r := range readers {
		c.must("", "subscribers", "add", r, "--name", strings.ToUpper(r[:1])+r[1:strings.Index(r, "@")])
	}

	out := c.must("", "send")
	if !strings.Contains(out, "3 sent, 0 failed") {
		t.Fatalf("send output %q", out)
	}
	// Sending the same edition again mails nobody twice.
	c.must("", "send")
	if got, want := len(smtpSrv.Messages()), 3; got != want {
		t.Fatalf("messages=%d, want %d", got, want)
	}
	var unsubURL string
	for _, r := range readers {
		msgs := smtpSrv.To(r)
		if got, want := len(msgs), 1; got != want {
			t.Fatalf("%s got %d messages, want %d", r, got, want)
		}
		m, err := testsupport.ParseMail(msgs[0].Data)
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
			if !strings.Contains(m.HTML, title) || !strings.Contains(m.Text, title) {
				t.Fatalf("%s: story %q missing from a part", r, title)
			}
		}
		if strings.Contains(m.HTML, "Old story") {
			t.Fatalf("a story outside the window was mailed")
		}
		subject := testsupport.DecodeHeader(m.Header.Get("Subject"))
		if !strings.Contains(subject, "Alpha story") {
			t.Fatalf("Subject=%q, want the top story", subject)
		}
		lu := m.Header.Get("List-Unsubscribe")
		if got, want := m.Header.Get("List-Unsubscribe-Post"), "List-Unsubscribe=One-Click"; got != want {
			t.Fatalf("List-Unsubscribe-Post=%q, want %q", got, want)
		}
		match := linkInBrackets.FindStringSubmatch(lu)
		if match == nil || !strings.HasPrefix(match[1], "http://127.0.0.1:8080/unsubscribe/") {
			t.Fatalf("List-Unsubscribe=%q", lu)
		}
		if !strings.Contains(m.HTML, match[1]) || !strings.Contains(m.Text, match[1]) {
			t.Fatalf("the footer does not carry the personal unsubscribe link %s", match[1])
		}
		if r == "ben@example.org" {
			unsubURL = match[1]
		}
	}

	// Serve, and unsubscribe Ben exactly as a mail provider does.
	port := freePort(t)
	c.env["BOTHSIDES_BASE_URL"] = "http://127.0.0.1:" + port
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		a, _, _ := c.app("")
		done <- a.main(ctx, []string{"serve", "--addr", "127.0.0.1:" + port, "--schedule", "off"})
	}()
	base := "http://127.0.0.1:" + port
	waitHealthy(t, base)
	target := base + strings.TrimPrefix(unsubURL, "http://127.0.0.1:8080")

	// GET only shows a page; it must not unsubscribe (scanners follow links).
	resp, err := http.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET unsubscribe: %d", resp.StatusCode)
	}
	if out := c.must("", "subscribers", "list"); !strings.Contains(out, "ben@example.org\tBen\tactive") {
		t.Fatalf("GET unsubscribed the reader:\n%s", out)
	}
	resp, err = http.Post(target, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("one-click POST: %d", resp.StatusCode)
	}
	// A tampered token changes nothing.
	tampered := target[:len(target)-2] + "xx"
	resp, err = http.Post(tampered, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("tampered token: status %d, want 400", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v after shutdown, want nil", err)
	}
	if out := c.must("", "subscribers", "list"); !strings.Contains(out, "ben@example.org\tBen\tunsubscribed") ||
		!strings.Contains(out, "ana@example.com\tAna\tactive") {
		t.Fatalf("after one-click:\n%s", out)
	}

	// The next day's edition skips Ben.
	c.clock.Set(testsupport.Epoch.Add(24 * time.Hour))
	c.must(importFile(t, story("gamma", "Gamma story", testsupport.Epoch.Add(20*time.Hour), "center")), "stories", "import", "-")
	c.must("", "send", "--date", "2026-11-28")
	if got := len(smtpSrv.To("ben@example.org")); got != 1 {
		t.Fatalf("ben got %d messages in all, want 1", got)
	}
	for _, r := range []string{"ana@example.com", "chidi@example.net"} {
		msgs := smtpSrv.To(r)
		if got, want := len(msgs), 2; got != want {
			t.Fatalf("%s got %d messages, want %d", r, got, want)
		}
		m, _ := testsupport.ParseMail(msgs[1].Data)
		if !strings.Contains(m.HTML, "Gamma story") || strings.Contains(m.HTML, "Alpha story") {
			t.Fatalf("second edition has the wrong stories")
		}
	}
}

// TestSend_HostileText checks that markup, quotes, CR/LF and non-Latin
// scripts in story text come out escaped in the HTML and intact in the text.
func TestSend_HostileText(t *testing.T) {
	c := newCLI(t)
	smtpSrv := testsupport.StartSMTP(t)
	c.env["BOTHSIDES_SMTP_URL"] = smtpSrv.URL()
	s := story("hostile", "Breaking: <script>alert('x')</script> \"quoted\"\r\nBcc: evil@example.com", testsupport.Epoch.Add(-time.Hour), "left", "right")
	s["summary"] = `Ünïcödé — 中文新闻 — خبر عاجل — <img src=x onerror=alert(1)> & "more"`
	s["framing"] = map[string]any{"left": "</td></tr></table><b>broken</b>"}
	c.must(importFile(t, s), "stories", "import", "-")
	c.must("", "subscribers", "add", "ana@example.com", "--name", `Ana <b>"the reader"</b>`)
	c.must("", "send")
	msgs := smtpSrv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("messages=%d", len(msgs))
	}
	head, _, _ := bytes.Cut(msgs[0].Data, []byte("\r\n\r\n"))
	if bytes.Contains(head, []byte("\nBcc:")) {
		t.Fatalf("a header was injected through the title:\n%s", head)
	}
	m, err := testsupport.ParseMail(msgs[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Header["Bcc"]) != 0 {
		t.Fatalf("Bcc header present: %v", m.Header["Bcc"])
	}
	for _, raw := range []string{"<script>", "<img src=x", "<b>broken</b>", `<b>"the reader"</b>`} {
		if strings.Contains(m.HTML, raw) {
			t.Errorf("HTML contains unescaped %q", raw)
		}
	}
	for _, escaped := range []string{"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;", "中文新闻", "خبر عاجل", "Ünïcödé", "&lt;img src=x onerror=alert(1)&gt; &amp; &#34;more&#34;", "&lt;b&gt;broken&lt;/b&gt;", "Ana &lt;b&gt;&#34;the reader&#34;&lt;/b&gt;"} {
		if !strings.Contains(m.HTML, escaped) {
			t.Errorf("HTML lacks %q", escaped)
		}
	}
	for _, intact := range []string{"<script>alert('x')</script>", `<img src=x onerror=alert(1)> & "more"`, "中文新闻", "خبر عاجل", `Ana <b>"the reader"</b>`} {
		if !strings.Contains(m.Text, intact) {
			t.Errorf("text part lacks %q", intact)
		}
	}
	subject := testsupport.DecodeHeader(m.Header.Get("Subject"))
	if !strings.Contains(subject, `<script>alert('x')</script> "quoted"`) || strings.ContainsAny(subject, "\r\n") {
		t.Errorf("Subject=%q", subject)
	}
}

func TestHelp(t *testing.T) {
	c := newCLI(t)
	out := c.must("", "help")
	for _, cmd := range []string{"demo", "stories import", "subscribers add", "subscribers list", "preview", "send", "serve"} {
		if !strings.Contains(out, "  "+cmd) {
			t.Errorf("help does not list %q", cmd)
		}
	}
	// Every command explains itself and its flags on standard output.
	for _, cmd := range commands() {
		args := append(strings.Fields(cmd.name), "-h")
		out, _, err := c.run("", args...)
		if err != nil {
			t.Fatalf("%s: %v", strings.Join(args, " "), err)
		}
		if !strings.Contains(out, "Usage: bothsides "+cmd.name) || !strings.Contains(out, "-db") {
			t.Errorf("%s printed %q", strings.Join(args, " "), out)
		}
	}
	out, _, _ = c.run("", "send", "--help")
	for _, f := range []string{"-date", "-smtp", "-db", "-base-url", "-from"} {
		if !strings.Contains(out, f) {
			t.Errorf("send --help does not explain %s", f)
		}
	}
	if _, _, err := c.run("", "frobnicate"); err == nil {
		t.Fatal("unknown command accepted")
	}
}

func TestPreview(t *testing.T) {
	c := newCLI(t)
	c.must(importFile(t, story("alpha", "Alpha story", testsupport.Epoch.Add(-time.Hour), "left", "right")), "stories", "import", "-")
	html := c.must("", "preview")
	if !strings.Contains(html, "<!DOCTYPE html>") || !strings.Contains(html, "Alpha story") {
		t.Fatalf("preview html:\n%.300s", html)
	}
	text := c.must("", "preview", "--text")
	if strings.Contains(text, "<") || !strings.Contains(text, "Alpha story") {
		t.Fatalf("preview text:\n%.300s", text)
	}
	// Previewing stores nothing; an empty day is a clear error.
	if _, _, err := c.run("", "preview", "--date", "2026-01-01"); err == nil || !strings.Contains(err.Error(), "no stories for 2026-01-01") {
		t.Fatalf("empty day: err=%v", err)
	}
	if out := c.must("", "editions", "list"); out != "" {
		t.Fatalf("preview stored an edition: %q", out)
	}
}

func TestDemo(t *testing.T) {
	c := newCLI(t)
	wd, _ := os.Getwd()
	t.Chdir(c.dir)
	defer os.Chdir(wd)
	out := c.must("", "demo", "-serve=false")
	if !strings.Contains(out, "added 3 subscribers") || !strings.Contains(out, "3 messages") {
		t.Fatalf("demo output:\n%s", out)
	}
	files, err := filepath.Glob(filepath.Join(c.dir, "outbox", "*.eml"))
	if err != nil || len(files) != 3 {
		t.Fatalf("outbox has %d files (%v), want 3", len(files), err)
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	m, err := testsupport.ParseMail(raw)
	if err != nil {
		t.Fatal(err)
	}
	if m.ContentType != "multipart/alternative" || m.Header.Get("List-Unsubscribe") == "" || !strings.Contains(m.HTML, "Blindspot") {
		t.Fatalf("demo mail incomplete: %s, parts %v", m.ContentType, m.Parts)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "bothsides-demo.db")); err != nil {
		t.Fatalf("demo database: %v", err)
	}
}

// TestSend_DateFollowsDefaultSchedule checks that send --date ends the
// window at the time of the database's "default" schedule when there is one.
func TestSend_DateFollowsDefaultSchedule(t *testing.T) {
	c := newCLI(t)
	c.must(importFile(t,
		story("early", "Early story", time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC), "left", "right"),
		story("late", "Late story", time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), "center"),
	), "stories", "import", "-")
	c.must("", "subscribers", "add", "ana@example.com")
	c.clock.Set(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	c.must("", "schedule", "add", "default", "CRON_TZ=UTC 30 9 * * *")
	c.must("", "send", "--date", "2026-11-27")
	out := c.must("", "editions", "show", "2026-11-27")
	if !strings.Contains(out, "to 2026-11-27T09:30:00Z") || !strings.Contains(out, "Early story") || strings.Contains(out, "Late story") {
		t.Fatalf("edition does not follow the default schedule's 09:30:\n%s", out)
	}
}

// TestServe_AdminPasswordTooShort: serve and demo refuse an admin password
// under 12 characters at start, naming the setting.
func TestServe_AdminPasswordTooShort(t *testing.T) {
	c := newCLI(t)
	c.env["BOTHSIDES_ADMIN_PASSWORD"] = "short-pass1"
	for _, args := range [][]string{{"serve", "--addr", "127.0.0.1:0"}, {"demo", "--addr", "127.0.0.1:0", "--demo-db", filepath.Join(c.dir, "demo.db")}} {
		_, _, err := c.run("", args...)
		if err == nil || !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "BOTHSIDES_ADMIN_PASSWORD") || !strings.Contains(err.Error(), "want at least 12") {
			t.Fatalf("%s with an 11-character password: err=%v, want a usage error naming the setting and 12", args[0], err)
		}
	}
}
