package cli

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"bothsides/internal/testsupport"
)

// TestAdmin_Browser drives the admin console in headless Chromium against
// the real server: log in, create a schedule and see its next runs, send
// an edition now through the SMTP server and watch its progress reach
// 100%, then preview it.
func TestAdmin_Browser(t *testing.T) {
	f := newFixture(t, time.Date(2026, 11, 27, 7, 30, 0, 0, time.UTC))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	f.a.cfg.BaseURL = base
	f.a.grace = defaultGrace
	f.a.adminPassword = "open sesame, says the editor"
	f.a.adminIterations = 1000
	// The first mail waits in the SMTP server until the test has seen the
	// send in progress.
	release := make(chan struct{})
	f.smtp.OnData = func(to []string, data []byte) error {
		<-release
		return nil
	}
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	ready := make(chan struct{})
	go func() { errc <- f.a.serve(ctx, ln, "off", func() { close(ready) }) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	<-ready

	b := testsupport.Browser(t)
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(b, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		os.WriteFile(filepath.Join(testsupport.ArtifactDir(t), name), png, 0o644)
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(b, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(b, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// 1. The console sends an anonymous visitor to the login page.
	run("open /admin", chromedp.Navigate(base+"/admin"), chromedp.WaitVisible("#password"))
	if loc, _ := chromedp.Run(b, chromedp.Location()); !strings.HasPrefix(loc, base+"/admin/login") {
		t.Fatalf("anonymous /admin went to %s, want the login page", loc)
	}
	run("log in", chromedp.SendKeys("#password", "open sesame, says the editor"), chromedp.Submit("#password"),
		chromedp.WaitVisible(`nav[aria-label="Admin"]`))
	shot("admin-dashboard-empty.png")

	// 2. Create a schedule and see its next three runs in its own zone.
	run("new schedule",
		chromedp.Navigate(base+"/admin/schedules"), chromedp.WaitVisible("#name"),
		chromedp.SendKeys("#name", "morning"),
		chromedp.SetValue("#spec", "CRON_TZ=Europe/London 0 7 * * 1-5"),
		chromedp.SetValue("#stories", "4"),
		chromedp.Submit("#name"),
		chromedp.WaitVisible("#next-runs"),
	)
	next, err := chromedp.Run(b, chromedp.Text("#next-runs"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Mon 30 Nov 2026 07:00 GMT", "Tue 1 Dec 2026 07:00 GMT", "Wed 2 Dec 2026 07:00 GMT"} {
		if !strings.Contains(next, want) {
			t.Fatalf("next runs %q lack %q", next, want)
		}
	}
	shot("admin-schedule.png")

	// 3. Send the 27th's edition now and watch it go out.
	run("send now",
		chromedp.Navigate(base+"/admin/send"), chromedp.WaitVisible("#now-date"),
		chromedp.SetValue("#now-date", "2026-11-27"),
		chromedp.Submit("#now-date"),
		chromedp.WaitVisible("#progress"),
	)
	if loc, _ := chromedp.Run(b, chromedp.Location()); !strings.HasPrefix(loc, base+"/admin/editions/morning/2026-11-27") {
		t.Fatalf("send now went to %s", loc)
	}
	// The first mail is held: the page shows the send under way.
	poll("progress under way", `document.querySelector('[data-field=status]').textContent === 'sending' &&
		document.querySelector('[data-field=total]').textContent === '2'`)
	pct, _ := chromedp.Run(b, chromedp.Text(`[data-field=percent]`))
	if pct == "100" {
		t.Fatalf("progress %s%% while the first mail is held", pct)
	}
	shot("admin-send-progress.png")
	close(release)
	released = true
	poll("progress reaches 100%", `document.querySelector('[data-field=percent]').textContent === '100' &&
		document.querySelector('[data-field=status]').textContent === 'sent'`)
	if got, err := chromedp.Run(b, chromedp.Text(`[data-field=sent]`)); err != nil || got != "2" {
		t.Fatalf("sent=%q, %v; want 2", got, err)
	}
	shot("admin-send-done.png")
	if n := len(f.smtp.Messages()); n != 2 {
		t.Fatalf("%d mails, want 2", n)
	}

	// 4. Preview the edition as the mail looks.
	run("preview", chromedp.Navigate(base+"/admin/preview?schedule=morning&date=2026-11-27"), chromedp.WaitVisible("#preview-text"))
	text, err := chromedp.Run(b, chromedp.Text("#preview-text"))
	if err != nil || !strings.Contains(text, "Hello, Reader.") {
		t.Fatalf("text preview %q, %v", text, err)
	}
	subject, _ := chromedp.Run(b, chromedp.Text("#preview-subject"))
	if subject == "" {
		t.Fatal("no subject in the preview")
	}
	shot("admin-preview.png")
	// The frame shows the HTML part, as a mail client would.
	poll("HTML part in the frame", `(function () {
		var d = document.querySelector('iframe.mail').contentDocument;
		return !!d && !!d.body && d.body.innerText.indexOf('Hello, Reader.') >= 0;
	})()`)

	// 5. The dashboard shows the edition and its chart.
	run("dashboard", chromedp.Navigate(base+"/admin"), chromedp.WaitVisible("#chart-h"))
	poll("chart drawn", `document.querySelectorAll("svg.chart rect").length >= 6`)
	shot("admin-dashboard.png")

	// 6. On a phone every page fits its width (wide tables scroll inside
	// their own box), and every form field has a label.
	run("phone", chromedp.EmulateViewport(375, 800))
	for _, path := range []string{"/admin", "/admin/schedules", "/admin/schedules/morning", "/admin/send",
		"/admin/editions/morning/2026-11-27", "/admin/subscribers", "/admin/stories"} {
		run("open "+path, chromedp.Navigate(base+path), chromedp.WaitVisible("#main"))
		fits, err := chromedp.Run(b, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
		if err != nil || !fits {
			shot("admin-phone-overflow.png")
			t.Fatalf("%s is wider than a 375 px phone (%v)", path, err)
		}
		unlabelled, err := chromedp.Run(b, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
			.filter(function (el) { return !(el.labels && el.labels.length) && !el.getAttribute('aria-label'); })
			.map(function (el) { return el.name || el.id; })`))
		if err != nil || len(unlabelled) > 0 {
			t.Fatalf("%s: fields without a label: %v (%v)", path, unlabelled, err)
		}
	}
	run("phone dashboard", chromedp.Navigate(base+"/admin"), chromedp.WaitVisible("#main"))
	shot("admin-dashboard-375.png")
}
