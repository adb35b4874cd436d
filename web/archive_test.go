package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/sample"
	"bothsides/sqlite"
	"bothsides/subscribers"
	"bothsides/web"
)

// archiveFixture serves the web pages over a database holding the sample
// stories and the mailed edition of 2026-11-27, and at /mail the edition as
// one subscriber got it.
type archiveFixture struct {
	db      *sqlite.DB
	srv     *web.Server
	store   *digest.Store
	edition *digest.Edition
	url     string
	stories map[string]digest.Story
}

func newArchiveFixture(t testing.TB) *archiveFixture {
	t.Helper()
	ctx := context.Background()
	db, _ := testsupport.MustOpenDB(t)
	store := digest.NewStore(db)
	stories, err := digest.ParseImport(bytes.NewReader(sample.Stories))
	if err != nil {
		t.Fatal(err)
	}
	hostile := stories[0]
	hostile.ID = "hostile"
	hostile.Title = `Breaking: <script>alert('x')</script> "quoted" 中文新闻 خبر عاجل`
	hostile.PublishedAt = testsupport.Epoch.Add(-72 * time.Hour)
	hostile.UpdatedAt = time.Time{}
	hostile.FAQ = []digest.FAQ{{Question: "<b>Why?</b>", Answer: `"Because" & more`}}
	stories = append(stories, hostile)
	if _, err := store.Import(ctx, stories); err != nil {
		t.Fatal(err)
	}
	f := &archiveFixture{db: db, store: store, stories: map[string]digest.Story{}}
	for _, s := range stories {
		f.stories[s.ID] = s
	}
	p := digest.AssembleParams{Date: "2026-11-27", WindowEnd: testsupport.Epoch}
	if f.edition, err = store.Open(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := db.W.ExecContext(ctx, `UPDATE editions SET status = 'sent', started_at = ?, finished_at = ? WHERE id = ?`,
		"2026-11-27T07:00:00Z", "2026-11-27T07:01:00Z", f.edition.ID); err != nil {
		t.Fatal(err)
	}
	// An edition of another schedule, assembled but not mailed yet.
	p.Schedule = "evening"
	if _, err := store.Open(ctx, p); err != nil {
		t.Fatal(err)
	}
	key, err := db.Secret(ctx, "token_secret")
	if err != nil {
		t.Fatal(err)
	}
	r, err := digest.NewRenderer(digest.RenderConfig{BaseURL: "http://127.0.0.1", PostalAddress: "Both Sides Media, 1 Example Street, Springfield 12345, USA"})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Config{BaseURL: "http://127.0.0.1"}, db, store, subscribers.NewStore(db), subscribers.NewSigner(key), r)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	rendered, err := r.Render(f.edition)
	if err != nil {
		t.Fatal(err)
	}
	mail, _ := rendered.Personalize(digest.Personal{Name: "Ada", Email: "ada@example.com",
		UnsubscribeURL: "http://127.0.0.1/unsubscribe/x", PreferencesURL: "http://127.0.0.1/preferences/x"})
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	mux.HandleFunc("GET /mail", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(mail)
	})
	// A mail whose story text has markup, scripts of every kind and a word
	// far longer than a phone is wide.
	hostile.Summary += " " + strings.Repeat("Unbreakable", 12) + " https://example.com/" + strings.Repeat("very-long-path/", 8)
	hostile.Articles[0].Source = "Outlet" + strings.Repeat("WithAVeryLongName", 5)
	hr, err := r.Render(&digest.Edition{Date: "2026-11-27", Stories: []digest.Story{hostile}})
	if err != nil {
		t.Fatal(err)
	}
	hostileMail, _ := hr.Personalize(digest.Personal{Name: "Ana <b>x</b> " + strings.Repeat("Longname", 8), Email: "ana@example.com",
		UnsubscribeURL: "http://127.0.0.1/unsubscribe/x", PreferencesURL: "http://127.0.0.1/preferences/x"})
	mux.HandleFunc("GET /mail-hostile", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(hostileMail)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	f.url = ts.URL
	return f
}

func (f *archiveFixture) get(t *testing.T, path string) (int, *goquery.Document, string) {
	t.Helper()
	resp, err := http.Get(f.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, doc, string(b)
}

func TestArchive(t *testing.T) {
	f := newArchiveFixture(t)
	e := f.edition
	t.Run("Editions", func(t *testing.T) {
		code, doc, _ := f.get(t, "/editions")
		if code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
		links := doc.Find("a.ed-date")
		if links.Length() != 1 {
			t.Fatalf("%d editions listed, want only the mailed one", links.Length())
		}
		if got, want := links.AttrOr("href", ""), "/editions/2026-11-27"; got != want {
			t.Fatalf("link=%q, want %q", got, want)
		}
		text := doc.Find("main").Text()
		for _, want := range []string{"Friday, 27 November 2026", e.Stories[0].Title,
			fmt.Sprintf("%d stories and %d blindspots · about %d min read", len(e.Stories), len(e.Blindspots), e.Minutes())} {
			if !strings.Contains(text, want) {
				t.Errorf("list lacks %q", want)
			}
		}
	})
	t.Run("Edition", func(t *testing.T) {
		code, doc, body := f.get(t, "/editions/2026-11-27")
		if code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
		var want []string
		for _, s := range e.Stories {
			want = append(want, s.ID)
		}
		for _, b := range e.Blindspots {
			want = append(want, b.Story.ID)
		}
		var got []string
		doc.Find("h2.title a").Each(func(_ int, s *goquery.Selection) {
			got = append(got, strings.TrimPrefix(s.AttrOr("href", ""), "/stories/"))
		})
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("stories=%v, want %v", got, want)
		}
		if _, _, again := f.get(t, "/editions/2026-11-27"); again != body {
			t.Fatal("a second request gave another page")
		}
		for _, no := range []string{"unsubscribe", "preferences", "bsslot", "ada@example.com"} {
			if strings.Contains(strings.ToLower(body), no) {
				t.Errorf("archive page contains %q", no)
			}
		}
	})
	t.Run("EditionNotFound", func(t *testing.T) {
		for _, path := range []string{"/editions/2026-11-27?schedule=evening", "/editions/2026-11-26", "/editions/yesterday", "/stories/nope"} {
			if code, _, _ := f.get(t, path); code != http.StatusNotFound {
				t.Errorf("%s: status %d, want 404", path, code)
			}
		}
	})
	t.Run("Story", func(t *testing.T) {
		st := f.stories["arctic-sea-ice-record-november-low"]
		code, doc, _ := f.get(t, "/stories/"+st.ID)
		if code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
		if got := doc.Find("h1").Last().Text(); got != st.Title {
			t.Fatalf("h1=%q", got)
		}
		sections := doc.Find("section.side")
		if sections.Length() != 3 {
			t.Fatalf("%d side sections", sections.Length())
		}
		sections.Each(func(i int, s *goquery.Selection) {
			side := digest.Sides[i]
			arts := st.ArticlesBy(side)
			if got := s.Find("ul.articles li").Length(); got != len(arts) {
				t.Errorf("%s: %d articles, want all %d", side, got, len(arts))
			}
			for _, a := range arts {
				if s.Find(`a[href="`+a.URL+`"]`).Length() != 1 {
					t.Errorf("%s: no link to %s", side, a.URL)
				}
				if !strings.Contains(s.Text(), a.Source+" · "+a.Bias.Label()) {
					t.Errorf("%s: no %q with its bias", side, a.Source)
				}
			}
			if len(arts) == 0 && !strings.Contains(s.Text(), "No "+string(side)+"-leaning outlet covered this story.") {
				t.Errorf("%s: no plain statement for a side without coverage", side)
			}
		})
		for _, q := range st.FAQ {
			if !strings.Contains(doc.Text(), q.Question) || !strings.Contains(doc.Text(), q.Answer) {
				t.Errorf("FAQ %q missing", q.Question)
			}
		}
		c := st.Coverage()
		if got := doc.Find(".bar span").Length(); got != 2 {
			t.Errorf("coverage bar has %d parts, want 2 (no right)", got)
		}
		if !strings.Contains(doc.Text(), fmt.Sprintf("Coverage by %d sources: Left %d%% (%d)", c.Total(), c.Percent(digest.SideLeft), c.Left)) {
			t.Error("coverage legend missing")
		}
		if !strings.Contains(doc.Text(), "Blindspot for the right") {
			t.Error("blindspot not flagged")
		}
	})
	t.Run("ChangedByAnotherProcess", func(t *testing.T) {
		// The page is cached; then a second handle on the file, with
		// connections of its own as another process's would be, changes
		// the story: the next request shows it, with no wait.
		st := f.stories["arctic-sea-ice-record-november-low"]
		for range 2 {
			if code, doc, _ := f.get(t, "/stories/"+st.ID); code != http.StatusOK || doc.Find("h1").Last().Text() != st.Title {
				t.Fatalf("before: %d %q", code, doc.Find("h1").Last().Text())
			}
		}
		other, err := sqlite.Open(context.Background(), f.db.Path)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		changed := st
		changed.Title = "Arctic sea ice: the November record, revised"
		changed.UpdatedAt = st.PublishedAt.Add(time.Hour)
		if _, err := digest.NewStore(other).Import(context.Background(), []digest.Story{changed}); err != nil {
			t.Fatal(err)
		}
		if code, doc, _ := f.get(t, "/stories/"+st.ID); code != http.StatusOK || doc.Find("h1").Last().Text() != changed.Title {
			t.Fatalf("after another process's change: %d %q, want %q", code, doc.Find("h1").Last().Text(), changed.Title)
		}
	})
	t.Run("StoryHostile", func(t *testing.T) {
		st := f.stories["hostile"]
		code, doc, body := f.get(t, "/stories/hostile")
		if code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
		if doc.Find("script, b").Length() != 0 || strings.Contains(body, "<script>") {
			t.Fatal("story text injected markup")
		}
		if got := doc.Find("h1").Last().Text(); got != st.Title {
			t.Fatalf("h1=%q, want %q", got, st.Title)
		}
		if !strings.Contains(doc.Text(), `"Because" & more`) {
			t.Fatal("FAQ answer not shown as text")
		}
	})
}

// pageChecks runs in the page: the horizontal overflow, and every visible
// text whose colour contrast with its background is below WCAG AA (4.5:1,
// 3:1 for large text).
const pageChecks = `(() => {
  const parse = c => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
    const p = m[1].split(',').map(parseFloat); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const bg = el => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0.5) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
  const bad = [];
  const seen = new Set();
  const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = w.nextNode(); n; n = w.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || seen.has(el)) continue;
    seen.add(el);
    const cs = getComputedStyle(el);
    if (!el.getClientRects().length || cs.visibility === 'hidden' || el.closest('[style*="opacity:0"]')) continue;
    const fg = parse(cs.color), b = bg(el);
    const l1 = lum(fg), l2 = lum(b);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(cs.fontSize), bold = parseInt(cs.fontWeight) >= 700;
    const need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
    if (ratio < need) bad.push(ratio.toFixed(2) + ' < ' + need + ': ' + JSON.stringify(n.textContent.trim().slice(0, 40)) + ' ' + cs.color + ' on rgb(' + [b.r, b.g, b.b] + ')');
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, checked: seen.size, lowContrast: bad};
})()`

type pageReport struct {
	ScrollWidth int      `json:"scrollWidth"`
	InnerWidth  int      `json:"innerWidth"`
	Checked     int      `json:"checked"`
	LowContrast []string `json:"lowContrast"`
}

// shoot opens url at width in light or dark mode, saves a full-page
// screenshot as name in the artifacts folder, and checks that nothing
// overflows horizontally and that text contrast passes WCAG AA.
func shoot(t *testing.T, ctx context.Context, url string, width int64, dark bool, name string) {
	t.Helper()
	scheme := "light"
	if dark {
		scheme = "dark"
	}
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(width, 900),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
			return err
		}),
		chromedp.Navigate(url),
	)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	rep, err := chromedp.Run(ctx, chromedp.Evaluate[pageReport](pageChecks))
	if err != nil {
		t.Fatalf("%s: checks: %v", name, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("%s: screenshot: %v", name, err)
	}
	path := filepath.Join(testsupport.ArtifactDir(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s (%d bytes)", name, path, len(png))
	if rep.InnerWidth != int(width) {
		t.Fatalf("%s: window is %d px wide, want %d", name, rep.InnerWidth, width)
	}
	if rep.ScrollWidth > rep.InnerWidth {
		t.Errorf("%s: the page is %d px wide in a %d px window: it overflows horizontally", name, rep.ScrollWidth, rep.InnerWidth)
	}
	if rep.Checked < 5 {
		t.Errorf("%s: contrast checked on %d elements only", name, rep.Checked)
	}
	for _, b := range rep.LowContrast {
		t.Errorf("%s: low contrast %s", name, b)
	}
}

// TestArchive_Browser renders the mail and the pages in headless Chromium
// and saves screenshots under artifacts/ (or $BOTHSIDES_ARTIFACTS).
func TestArchive_Browser(t *testing.T) {
	f := newArchiveFixture(t)
	ctx := testsupport.Browser(t)
	for _, tt := range []struct {
		path  string
		width int64
		dark  bool
		name  string
	}{
		{"/mail", 600, false, "mail-600.png"},
		{"/mail", 375, false, "mail-375.png"},
		{"/mail", 375, true, "mail-375-dark.png"},
		{"/stories/arctic-sea-ice-record-november-low", 375, false, "story-375.png"},
		{"/stories/congress-passes-stopgap-funding-bill", 1024, true, "story-1024-dark.png"},
		{"/stories/hostile", 375, false, "story-hostile-375.png"},
		{"/mail-hostile", 375, false, "mail-hostile-375.png"},
		{"/editions", 375, false, "editions-375.png"},
		{"/editions/2026-11-27", 375, false, "edition-375.png"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			shoot(t, ctx, f.url+tt.path, tt.width, tt.dark, tt.name)
		})
	}
}
