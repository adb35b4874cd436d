package cli

import (
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"bothsides/digest"
	"bothsides/feeds"
	"bothsides/internal/testsupport"
)

// feedItem is one article a test feed carries.
type feedItem struct {
	Title, Description string
	Published          time.Time
}

// serveFeeds serves one RSS feed per domain over 127.0.0.1.
func serveFeeds(t *testing.T, byDomain map[string][]feedItem) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		domain := strings.Trim(r.URL.Path, "/")
		var b strings.Builder
		fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>%s</title><link>https://%s/</link>`, domain, domain)
		for i, it := range byDomain[domain] {
			fmt.Fprintf(&b, `<item><guid>%s-%d</guid><title>%s</title><link>https://%s/a/%d</link><description>%s</description><pubDate>%s</pubDate><category>Politics</category></item>`,
				domain, i, html.EscapeString(it.Title), domain, i, html.EscapeString(it.Description), it.Published.Format(time.RFC1123Z))
		}
		b.WriteString(`</channel></rss>`)
		w.Header().Set("Content-Type", "application/rss+xml")
		io.WriteString(w, b.String())
	}))
	t.Cleanup(srv.Close)
	return srv
}

// ingestNews adds the outlets with their feeds on srv and ingests them once
// through the app's newsroom.
func ingestNews(t *testing.T, a *app, srv *httptest.Server, outlets map[string]string) {
	t.Helper()
	ctx := context.Background()
	db, err := a.openDB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	store := feeds.NewStore(db)
	names := make([]string, 0, len(outlets))
	for name := range outlets {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		parts := strings.SplitN(outlets[name], " ", 2)
		if _, err := store.Add(ctx, feeds.Source{Name: name, Domain: parts[0], Bias: parts[1],
			Feeds: []feeds.Feed{{URL: srv.URL + "/" + parts[0]}}}); err != nil {
			t.Fatal(err)
		}
	}
	room, err := a.newsroom(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in := feeds.NewIngester(feeds.IngestConfig{Grouper: room, Now: a.now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Fetcher: feeds.NewFetcher(feeds.FetchConfig{AllowPrivate: true})}, store)
	rep, err := in.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Feeds {
		if f.Err != nil {
			t.Fatalf("feed %s: %v", f.URL, f.Err)
		}
	}
}

// TestNewsroom_Browser drives the console's review of drafted stories in
// headless Chromium against the real server: the drafts listed with their
// coverage, why each article joined, moving an article that was grouped
// wrongly to its story, merging two stories about one event, editing a
// field and publishing.
func TestNewsroom_Browser(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	f := newFixture(t, now)
	at := func(h int) time.Time { return now.Add(time.Duration(-h) * time.Hour) }
	news := serveFeeds(t, map[string][]feedItem{
		"harbor.example": {{"Storm Aldric floods Port Ellery as council delays evacuation", "Storm Aldric flooded Port Ellery on Monday; critics said the council waited too long.", at(6)}},
		"wire.example": {{"Storm Aldric makes landfall near Port Ellery", "Storm Aldric came ashore near Port Ellery with gusts above 110 km/h.", at(5)},
			{"Senate passes farm subsidy bill after late vote", "The Senate approved the farm subsidy bill 52 to 48 after a late vote.", at(4)}},
		"liberty.example": {{"Senate farm subsidy bill passes 52 to 48", "Farm subsidy bill cleared the Senate 52 to 48 in a late vote.", at(3)},
			{"Harbour closed for a week, mayor says", "The mayor said the harbour would stay shut while crews repair the sea wall.", at(2)}},
	})
	ingestNews(t, f.a, news, map[string]string{"Harbor Progressive": "harbor.example left",
		"Continental Wire": "wire.example center", "Liberty Standard": "liberty.example right"})
	ctx := context.Background()
	db, _ := f.a.openDB(ctx)
	stories := digest.NewStore(db)
	find := func(title string) *digest.Story {
		t.Helper()
		list, err := stories.List(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		for i := range list {
			for _, a := range list[i].Articles {
				if a.Title == title {
					return &list[i]
				}
			}
		}
		t.Fatalf("no story holds %q", title)
		return nil
	}
	storm, vote, harbour := find("Storm Aldric makes landfall near Port Ellery"), find("Senate farm subsidy bill passes 52 to 48"), find("Harbour closed for a week, mayor says")
	if storm.ID == vote.ID || storm.ID == harbour.ID || len(storm.Articles) != 2 || len(vote.Articles) != 2 {
		t.Fatalf("ingest grouped storm=%s (%d) vote=%s (%d) harbour=%s", storm.ID, len(storm.Articles), vote.ID, len(vote.Articles), harbour.ID)
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
	sctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	ready := make(chan struct{})
	go func() { errc <- f.a.serve(sctx, ln, "off", func() { close(ready) }) }()
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
		if err == nil {
			os.WriteFile(filepath.Join(testsupport.ArtifactDir(t), name), png, 0o644)
		}
	}
	// done waits for the page after a form's answer: its notice.
	done := func(what, notice string) {
		t.Helper()
		var err error
		for range 5 { // a poll begun on the page being left ends with it
			expr := fmt.Sprintf(`document.readyState === 'complete' && !!document.querySelector('.notice') && document.querySelector('.notice').textContent === %q`, notice)
			if _, err = chromedp.Run(b, chromedp.Poll[bool](expr,
				chromedp.WithPollingTimeout(10*time.Second))); err == nil || !strings.Contains(err.Error(), "-32000") {
				break
			}
		}
		if err != nil {
			body, _ := chromedp.Run(b, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
			shot("newsroom-failed.png")
			t.Fatalf("%s: no notice: %v\n%s", what, err, body)
		}
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(b, actions...); err != nil {
			shot("newsroom-failed.png")
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(b, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	run("log in", chromedp.Navigate(base+"/admin/login"), chromedp.WaitVisible("#password"),
		chromedp.SendKeys("#password", "open sesame, says the editor"), chromedp.Submit("#password"),
		chromedp.WaitVisible(`nav[aria-label="Admin"]`))

	// 1. The drafts are listed with status, coverage and sources.
	run("stories", chromedp.Navigate(base+"/admin/stories?status=draft"), chromedp.WaitVisible("#main"))
	list := text("#main table")
	for _, want := range []string{"draft", "L 1 · C 1 · R 0", "Harbor Progressive, Continental Wire", "Continental Wire, Liberty Standard"} {
		if !strings.Contains(list, want) {
			t.Fatalf("stories list lacks %q:\n%s", want, list)
		}
	}
	shot("newsroom-stories.png")

	// 2. The storm story says why each article joined.
	run("storm story", chromedp.Navigate(base+"/admin/stories/"+storm.ID), chromedp.WaitVisible("#articles-form"))
	reasons := text("#articles-form tbody")
	if !strings.Contains(reasons, "started the story") || !strings.Contains(reasons, "score 0.") || !strings.Contains(reasons, "shared:") {
		t.Fatalf("join reasons not shown:\n%s", reasons)
	}

	// 3. The harbour article belongs with the storm: move it there from its
	// own story, which is then empty and goes.
	run("move harbour article", chromedp.Navigate(base+"/admin/stories/"+harbour.ID), chromedp.WaitVisible("#articles-form"),
		chromedp.Click("#art-0"), chromedp.SetValue("#to", storm.ID), chromedp.Click("#move"))
	done("move", "Articles moved.")
	if loc, _ := chromedp.Run(b, chromedp.Location()); !strings.HasPrefix(loc, base+"/admin/stories/"+storm.ID) {
		t.Fatalf("after moving the only article, went to %s, want the storm story", loc)
	}
	got, err := stories.Story(ctx, storm.ID)
	if err != nil || len(got.Articles) != 3 || got.Articles[2].Join.By != digest.JoinEditor {
		t.Fatalf("storm after the move: %+v, %v", got, err)
	}
	if _, err := stories.Story(ctx, harbour.ID); err == nil {
		t.Fatalf("the emptied story %s still exists", harbour.ID)
	}
	if r := text("#articles-form tbody"); !strings.Contains(r, "placed here by an editor") || !strings.Contains(r, "Harbour closed") {
		t.Fatalf("moved article not shown as the editor's:\n%s", r)
	}
	shot("newsroom-moved.png")

	// 4. Merging a story with itself is not offered; merging the vote into
	// the storm (wrongly) and splitting it out again restores it.
	run("merge vote", chromedp.SetValue("#from", vote.ID), chromedp.Click("#merge"))
	done("merge", "Stories merged.")
	if got, _ := stories.Story(ctx, storm.ID); len(got.Articles) != 5 {
		t.Fatalf("storm after the merge has %d articles, want 5", len(got.Articles))
	}
	run("split vote out", chromedp.WaitVisible("#articles-form"),
		chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('#articles-form input[name=article]').forEach(function (el) {
			el.checked = el.value.indexOf('liberty.example/a/0') >= 0 || el.value.indexOf('wire.example/a/1') >= 0; })`),
		chromedp.Click("#split"))
	done("split", "Articles split into this new draft story.")
	loc, _ := chromedp.Run(b, chromedp.Location())
	splitID := strings.TrimPrefix(strings.SplitN(loc, "?", 2)[0], base+"/admin/stories/")
	split, err := stories.Story(ctx, splitID)
	if err != nil || len(split.Articles) != 2 || !strings.Contains(split.Title, "farm subsidy") || split.Summary == "" {
		t.Fatalf("split story %q: %+v, %v", splitID, split, err)
	}

	// 5. Edit the title and publish: the title is the editor's from now on.
	run("edit title", chromedp.Navigate(base+"/admin/stories/"+storm.ID), chromedp.WaitVisible("#title"),
		chromedp.SetValue("#title", "Storm Aldric hits Port Ellery"), chromedp.Click("#save"))
	done("edit", "Story saved.")
	run("publish", chromedp.Click("#publish"), chromedp.WaitVisible("#unpublish"))
	if s := text("#story-status"); s != "published" {
		t.Fatalf("status shows %q", s)
	}
	got, _ = stories.Story(ctx, storm.ID)
	if got.Title != "Storm Aldric hits Port Ellery" || got.IsDrafted(digest.FieldTitle) || !got.Published() {
		t.Fatalf("storm after edit and publish: title=%q drafted=%v status=%q", got.Title, got.Drafted, got.Status)
	}
	shot("newsroom-published.png")
	vs, _ := stories.Versions(ctx, storm.ID)
	if len(vs) < 5 {
		t.Fatalf("%d versions, want one per change", len(vs))
	}
	// The public page shows it now, and not the draft.
	if resp, err := http.Get(base + "/stories/" + storm.ID); err != nil || resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("public page: %v %v\n%s", resp.Status, err, body)
	}
	run("public page", chromedp.Navigate(base+"/stories/"+storm.ID), chromedp.WaitVisible("article.story"))
	if h := text("article.story h1"); h != "Storm Aldric hits Port Ellery" {
		t.Fatalf("public page heading %q", h)
	}
	resp, err := http.Get(base + "/stories/" + splitID)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a draft's public page answered %d, want 404", resp.StatusCode)
	}
}
