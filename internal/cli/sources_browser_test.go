package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"bothsides/feeds"
	"bothsides/internal/testsupport"
	"bothsides/sample"
)

// TestSources_Browser: serve's ingest loop fetches the sample outlets'
// feeds at start; the console's sources page, in headless Chromium, shows
// each feed's items and last success, and adds a source from its form.
// Serve then shuts down cleanly with the loop running.
func TestSources_Browser(t *testing.T) {
	now := time.Date(2026, 11, 27, 7, 30, 0, 0, time.UTC)
	f := newFixture(t, now)
	ctx, cancel := context.WithCancel(context.Background())
	db, err := f.a.openDB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list, cols, err := feeds.ReadCSV(bytes.NewReader(sample.SourcesCSV()))
	if err != nil {
		t.Fatal(err)
	}
	st := feeds.NewStore(db)
	if _, err := st.Import(ctx, list, cols...); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	f.a.cfg.BaseURL = base
	f.a.grace = defaultGrace
	f.a.adminPassword = "open sesame, says the editor"
	f.a.adminIterations = 1000
	f.a.ingest = ingestConfig{Every: time.Hour, Timeout: 5 * time.Second, MaxBytes: 1 << 20}
	f.a.ingestTransport = sample.FeedTransport(now.Sub(sample.FeedsWritten))
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
	// The loop's first ingest runs at start; wait for its 50 articles.
	for deadline := time.Now().Add(30 * time.Second); ; {
		items, err := st.Items(ctx, time.Time{}, now.Add(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if len(items) == 50 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve's ingest stored %d of the 50 sample articles", len(items))
		}
		time.Sleep(50 * time.Millisecond)
	}

	b := testsupport.Browser(t)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(b, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	run("log in", chromedp.Navigate(base+"/admin/login"), chromedp.WaitVisible("#password"),
		chromedp.SendKeys("#password", "open sesame, says the editor"), chromedp.Submit("#password"),
		chromedp.WaitVisible(`nav[aria-label="Admin"]`))
	run("sources page", chromedp.Navigate(base+"/admin/sources"), chromedp.WaitVisible("#sources"))
	table, err := chromedp.Run(b, chromedp.Text("#sources"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Civic Wire", "https://civicwire.example/wire.json", "5 items", "Northbay Community Radio",
		"unrated", "last success Fri 27 Nov 2026 07:30 UTC"} {
		if !strings.Contains(table, want) {
			t.Fatalf("sources table lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(table, "Error") {
		t.Fatalf("a sample feed failed:\n%s", table)
	}
	png, err := chromedp.Run(b, chromedp.FullScreenshot(100))
	if err == nil {
		os.WriteFile(filepath.Join(testsupport.ArtifactDir(t), "admin-sources.png"), png, 0o644)
	}
	run("add a source",
		chromedp.SendKeys("#source-name", "Lakeside Ledger"),
		chromedp.SendKeys("#source-domain", "lakeside.example"),
		chromedp.SetValue("#source-bias", "lean-right"),
		chromedp.SendKeys("#source-feeds", "https://lakeside.example/rss"),
		chromedp.Submit("#source-name"),
		chromedp.WaitVisible(`p.notice`))
	if s, err := st.Get(ctx, "Lakeside Ledger"); err != nil || s.Bias != "lean-right" || len(s.Feeds) != 1 {
		t.Fatalf("added from the console: %+v, %v", s, err)
	}
}
