package digest_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"

	"bothsides/digest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixtureStories are the stories in testdata/stories.json.
func fixtureStories(tb testing.TB) []digest.Story {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", "stories.json"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	stories, err := digest.ParseImport(f)
	if err != nil {
		tb.Fatalf("testdata/stories.json: %v", err)
	}
	return stories
}

// fixtureEdition assembles the 2026-11-27 edition from the fixture stories
// with sel, as Store.Assemble would at 07:00 UTC.
func fixtureEdition(tb testing.TB, sel digest.Selection) *digest.Edition {
	tb.Helper()
	top, blind := digest.Select(fixtureStories(tb), sel)
	return &digest.Edition{
		Date: "2026-11-27", Schedule: digest.DefaultSchedule,
		WindowStart: epochEnd.Add(-24 * time.Hour), WindowEnd: epochEnd,
		Stories: top, Blindspots: blind, AssembledAt: epochEnd,
	}
}

// tenStories is a 10-story edition: the size bound and the benchmark use it.
func tenStories(tb testing.TB) *digest.Edition {
	tb.Helper()
	e := fixtureEdition(tb, digest.Selection{Count: 10, PerTopic: 10, ReadingMinutes: -1, Blindspots: -1})
	if len(e.Stories) != 10 {
		tb.Fatalf("fixture gives %d stories, want 10", len(e.Stories))
	}
	return e
}

var ada = digest.Personal{
	Name:           "Ada Lovelace",
	Email:          "ada@example.com",
	UnsubscribeURL: "https://news.example/unsubscribe/tok-ada-unsub",
	PreferencesURL: "https://news.example/preferences/tok-ada-prefs",
}

func newRenderer(tb testing.TB) *digest.Renderer {
	tb.Helper()
	r, err := digest.NewRenderer(digest.RenderConfig{BaseURL: "https://news.example/",
		PostalAddress: "Both Sides Media, 1 Example Street, Springfield 12345, USA"})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func render(tb testing.TB, e *digest.Edition, p digest.Personal) (*digest.Rendered, string, string) {
	tb.Helper()
	rd, err := newRenderer(tb).Render(e)
	if err != nil {
		tb.Fatal(err)
	}
	h, txt := rd.Personalize(p)
	return rd, string(h), string(txt)
}

func parseHTML(tb testing.TB, h string) *goquery.Document {
	tb.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(h))
	if err != nil {
		tb.Fatal(err)
	}
	return doc
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./digest -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d:\n got: %.300q\nwant: %.300q\n(run go test ./digest -run Golden -update if the change is intended, and review the diff)", path, i+1, g, w)
			}
		}
	}
}

func TestRenderer_Render_Golden(t *testing.T) {
	e := fixtureEdition(t, digest.DefaultSelection)
	rd, h, txt := render(t, e, ada)
	golden(t, "edition.golden.html", []byte(h))
	golden(t, "edition.golden.txt", []byte(txt))
	golden(t, "edition.golden.subject", []byte(rd.Subject+"\n"+rd.Preheader+"\n"))
	// Rendering is deterministic: a second render personalises the same.
	_, h2, txt2 := render(t, e, ada)
	if h2 != h || txt2 != txt {
		t.Fatal("two renders of one edition differ")
	}
}

func TestRenderer_Render(t *testing.T) {
	e := fixtureEdition(t, digest.DefaultSelection)
	if len(e.Stories) != 5 || len(e.Blindspots) != 2 {
		t.Fatalf("fixture edition has %d stories and %d blindspots, want 5 and 2", len(e.Stories), len(e.Blindspots))
	}
	rd, h, txt := render(t, e, ada)
	doc := parseHTML(t, h)

	t.Run("Document", func(t *testing.T) {
		if got, want := doc.Find("html").AttrOr("lang", ""), "en"; got != want {
			t.Fatalf("lang=%q, want %q", got, want)
		}
		if got := doc.Find(`meta[name="color-scheme"]`).AttrOr("content", ""); got != "light dark" {
			t.Fatalf("color-scheme meta=%q", got)
		}
		doc.Find("table").Each(func(i int, s *goquery.Selection) {
			if s.AttrOr("role", "") != "presentation" {
				t.Errorf("table %d has no role=presentation", i)
			}
		})
		doc.Find("img").Each(func(i int, s *goquery.Selection) {
			if _, ok := s.Attr("alt"); !ok {
				t.Errorf("img %d has no alt text", i)
			}
		})
		if n := doc.Find("img").Length(); n != 0 {
			t.Errorf("%d images: the mail must read fully with images blocked", n)
		}
		for _, want := range []string{"<!--[if mso]>", `width="600"`, "<![endif]-->"} {
			if !strings.Contains(h, want) {
				t.Errorf("no %q for Outlook", want)
			}
		}
		if !strings.Contains(h, "prefers-color-scheme: dark") || !strings.Contains(h, "max-width: 620px") {
			t.Error("dark-mode or phone media query missing")
		}
	})
	t.Run("CSSInlined", func(t *testing.T) {
		styles := doc.Find("style")
		styles.Each(func(_ int, s *goquery.Selection) {
			if s.AttrOr("data-premailer", "") != "ignore" {
				t.Errorf("a <style> was left to inline: %.200s", s.Text())
			}
		})
		if st := doc.Find("h2.title").First().AttrOr("style", ""); !strings.Contains(st, "font-size:21px") {
			t.Fatalf("story title style=%q, want the inlined font-size", st)
		}
		if st := doc.Find("td.bar-l").First().AttrOr("style", ""); !strings.Contains(st, "background-color:#1d4ed8") {
			t.Fatalf("coverage bar style=%q, want the inlined colour", st)
		}
	})
	t.Run("ClientSupport", func(t *testing.T) {
		// What caniemail rates partial or unsupported stays off the
		// elements where an attribute or a table cell does the same: margins
		// only reset the body's and the headings', the wrapping properties
		// are inherited from the one .main table, the coverage bar uses
		// align= and nowrap. The hidden preheader keeps its own set.
		limited := map[string]func(*goquery.Selection) bool{
			"margin":        func(s *goquery.Selection) bool { return s.Is("body, h1, h2") },
			"overflow-wrap": func(s *goquery.Selection) bool { return s.Is("table.main") },
			"word-break":    func(s *goquery.Selection) bool { return s.Is("table.main") },
			"text-align":    func(*goquery.Selection) bool { return false },
			"white-space":   func(*goquery.Selection) bool { return false },
			"overflow":      func(*goquery.Selection) bool { return false },
		}
		doc.Find("body [style], body").Each(func(_ int, s *goquery.Selection) {
			if strings.Contains(s.AttrOr("style", ""), "display:none") {
				return // the preheader
			}
			for _, decl := range strings.Split(s.AttrOr("style", ""), ";") {
				prop, _, _ := strings.Cut(decl, ":")
				if ok, found := limited[strings.TrimSpace(prop)]; found && !ok(s) {
					t.Errorf("<%s class=%q> has %q", goquery.NodeName(s), s.AttrOr("class", ""), decl)
				}
			}
		})
		if n := doc.Find("p").Length(); n != 0 {
			t.Errorf("%d <p>: blocks are table cells, whose padding holds in Outlook", n)
		}
		doc.Find("td.barcell").Each(func(i int, s *goquery.Selection) {
			if _, nowrap := s.Attr("nowrap"); s.AttrOr("align", "") != "center" || !nowrap {
				t.Errorf("bar cell %d lacks align=center or nowrap", i)
			}
		})
	})
	t.Run("HeaderAndFooter", func(t *testing.T) {
		text := doc.Find("body").Text()
		for _, want := range []string{
			"Both Sides", "Friday, 27 November 2026", "Hello, Ada Lovelace.",
			"You get this because ada@example.com subscribed",
			"Both Sides Media, 1 Example Street, Springfield 12345, USA",
			fmt.Sprintf("about %d min read", e.Minutes()),
			fmt.Sprintf("reads in about %d min", e.Minutes()),
			rd.Preheader,
		} {
			if !strings.Contains(text, want) {
				t.Errorf("mail lacks %q", want)
			}
		}
		links := map[string]string{}
		doc.Find("a").Each(func(_ int, s *goquery.Selection) { links[strings.TrimSpace(s.Text())] = s.AttrOr("href", "") })
		for text, href := range map[string]string{
			"View in browser":    "https://news.example/editions/2026-11-27",
			"Unsubscribe":        ada.UnsubscribeURL,
			"Manage preferences": ada.PreferencesURL,
		} {
			if links[text] != href {
				t.Errorf("link %q -> %q, want %q", text, links[text], href)
			}
		}
		// The preheader comes first in the body and is hidden.
		pre := doc.Find("body > div").First()
		if !strings.HasPrefix(pre.Text(), rd.Preheader) || !strings.Contains(pre.AttrOr("style", ""), "display:none") {
			t.Errorf("preheader div=%q style=%q", pre.Text(), pre.AttrOr("style", ""))
		}
	})
	t.Run("EveryStory", func(t *testing.T) {
		cells := doc.Find("td.story")
		all := append(append([]digest.Story{}, e.Stories...), func() []digest.Story {
			var b []digest.Story
			for _, x := range e.Blindspots {
				b = append(b, x.Story)
			}
			return b
		}()...)
		if got, want := cells.Length(), len(all); got != want {
			t.Fatalf("%d story blocks, want %d", got, want)
		}
		cells.Each(func(i int, cell *goquery.Selection) {
			st := all[i]
			a := cell.Find("h2.title a")
			if got := a.Text(); got != st.Title {
				t.Errorf("story %d title=%q, want %q", i, got, st.Title)
			}
			if got, want := a.AttrOr("href", ""), "https://news.example/stories/"+st.ID; got != want {
				t.Errorf("story %d link=%q, want %q", i, got, want)
			}
			if got := cell.Find("td.summary").Text(); got != st.Summary {
				t.Errorf("story %d summary=%q", i, got)
			}
			var tags []string
			cell.Find("span.tag").Each(func(_ int, s *goquery.Selection) {
				tags = append(tags, strings.TrimSpace(strings.ReplaceAll(s.Text(), "\u00a0", " ")))
			})
			if got, want := strings.Join(tags, ","), strings.Join(st.Topics, ","); got != want {
				t.Errorf("story %d tags=%q, want %q", i, got, want)
			}
			c := st.Coverage()
			legend := cell.Find("td.legend").Text()
			wantLegend := fmt.Sprintf("Coverage by %d sources: Left %d%% (%d) · Center %d%% (%d) · Right %d%% (%d)", c.Total(),
				c.Percent(digest.SideLeft), c.Left, c.Percent(digest.SideCenter), c.Center, c.Percent(digest.SideRight), c.Right)
			if legend != wantLegend {
				t.Errorf("story %d legend=%q, want %q", i, legend, wantLegend)
			}
			sum := 0
			cell.Find("td.barcell").Each(func(_ int, s *goquery.Selection) {
				n, err := strconv.Atoi(strings.TrimSuffix(s.AttrOr("width", ""), "%"))
				if err != nil {
					t.Errorf("story %d bar cell width %q", i, s.AttrOr("width", ""))
				}
				sum += n
			})
			if sum != 100 {
				t.Errorf("story %d coverage bar adds up to %d%%", i, sum)
			}
			if got, want := cell.Find("td.bullet").Length(), len(st.Overview); got != want {
				t.Errorf("story %d has %d bullets, want %d", i, got, want)
			}
			sides := cell.Find("td.side")
			if sides.Length() != 3 {
				t.Fatalf("story %d has %d sides", i, sides.Length())
			}
			sides.Each(func(j int, s *goquery.Selection) {
				side := digest.Sides[j]
				if got, want := s.Find("td.side-h").Text(), "How the "+string(side)+" framed it"; got != want {
					t.Errorf("story %d side %d heading=%q, want %q", i, j, got, want)
				}
				arts := st.ArticlesBy(side)
				switch {
				case len(arts) == 0:
					if got, want := s.Find("td.none").Text(), "No "+string(side)+"-leaning outlet covered this story."; got != want {
						t.Errorf("story %d %s: %q, want %q", i, side, got, want)
					}
				case st.Framing.Of(side) != "":
					if got := s.Find("td.side-t").Text(); got != st.Framing.Of(side) {
						t.Errorf("story %d %s framing=%q", i, side, got)
					}
				}
				links := s.Find("td.src a")
				if got, want := links.Length(), min(3, len(arts)); got != want {
					t.Errorf("story %d %s: %d source links, want %d", i, side, got, want)
				}
				links.Each(func(k int, a *goquery.Selection) {
					if a.Text() != arts[k].Source || a.AttrOr("href", "") != arts[k].URL {
						t.Errorf("story %d %s source %d: %q -> %q", i, side, k, a.Text(), a.AttrOr("href", ""))
					}
					if !strings.Contains(s.Find("td.src").Text(), arts[k].Source+" · "+arts[k].Bias.Label()) {
						t.Errorf("story %d %s source %d lacks its bias label %q", i, side, k, arts[k].Bias.Label())
					}
				})
			})
		})
		// Blindspots are labelled with the side that missed them.
		flags := doc.Find("span.flag")
		if got, want := flags.Length(), len(e.Blindspots); got != want {
			t.Fatalf("%d blindspot labels, want %d", got, want)
		}
		flags.Each(func(i int, s *goquery.Selection) {
			want := "Blindspot for the " + string(e.Blindspots[i].For)
			if got := strings.TrimSpace(strings.ReplaceAll(s.Text(), "\u00a0", " ")); got != want {
				t.Errorf("label %d=%q, want %q", i, got, want)
			}
		})
		if doc.Find("h2.section-h").Text() != "Blindspot" {
			t.Error("no Blindspot section heading")
		}
	})
	t.Run("NoCoverageSide", func(t *testing.T) {
		// arctic-sea-ice-record-november-low has no right-leaning outlet.
		if !strings.Contains(h, "No right-leaning outlet covered this story.") || !strings.Contains(txt, "No right-leaning outlet covered this story.") {
			t.Fatal("a side without coverage is not stated")
		}
	})
	t.Run("Text", func(t *testing.T) {
		checkText(t, txt, e)
	})
}

var refPattern = regexp.MustCompile(`\[(\d+)\]`)

// checkText checks the plain-text part: the whole briefing, wrapped at 78
// columns, its links as numbered references listed at the end.
func checkText(t *testing.T, txt string, e *digest.Edition) {
	t.Helper()
	body, list, ok := strings.Cut(txt, "\nLinks:\n")
	if !ok {
		t.Fatal("no Links: list")
	}
	urls := map[int]string{}
	for _, l := range strings.Split(strings.TrimSpace(list), "\n") {
		m := regexp.MustCompile(`^\[(\d+)\] (\S+)$`).FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("links list line %q", l)
		}
		n, _ := strconv.Atoi(m[1])
		if n != len(urls)+1 {
			t.Fatalf("link %d listed as %d", len(urls)+1, n)
		}
		urls[n] = m[2]
	}
	for _, m := range refPattern.FindAllStringSubmatch(body, -1) {
		n, _ := strconv.Atoi(m[1])
		if _, ok := urls[n]; !ok {
			t.Errorf("reference [%d] has no link", n)
		}
	}
	for i, l := range strings.Split(txt, "\n") {
		if digest.TextColumns(l) <= digest.TextWidth {
			continue
		}
		f := strings.Fields(l)
		if len(f) == 1 || (len(f) == 2 && refPattern.MatchString(f[0])) {
			continue // a URL longer than a line is never cut
		}
		t.Errorf("line %d is %d columns: %q", i+1, digest.TextColumns(l), l)
	}
	// Wrapping may break a line between two Chinese or Japanese characters,
	// where no space was: compare without white space.
	squeeze := func(s string) string { return strings.Join(strings.Fields(s), "") }
	flat := squeeze(body)
	check := func(what, s string) {
		if s != "" && !strings.Contains(flat, squeeze(s)) {
			t.Errorf("text part lacks %s %q", what, s)
		}
	}
	var all []digest.Story
	all = append(all, e.Stories...)
	for _, b := range e.Blindspots {
		all = append(all, b.Story)
		check("blindspot label", "BLINDSPOT FOR THE "+strings.ToUpper(string(b.For)))
	}
	for _, st := range all {
		check("title", st.Title)
		check("summary", st.Summary)
		for _, o := range st.Overview {
			check("bullet", o)
		}
		for _, side := range digest.Sides {
			check("framing", st.Framing.Of(side))
			for i, a := range st.ArticlesBy(side) {
				if i < digest.MaxSourcesPerSide {
					check("source", a.Source+", "+a.Bias.Label())
				}
			}
		}
		found := false
		for _, u := range urls {
			found = found || u == "https://news.example/stories/"+st.ID
		}
		if !found {
			t.Errorf("text part does not link story %s", st.ID)
		}
	}
}

func TestRenderer_Render_Size(t *testing.T) {
	e := tenStories(t)
	_, h, txt := render(t, e, ada)
	// Gmail clips a message whose HTML passes 102 KB.
	if len(h) >= digest.ClipBytes {
		t.Fatalf("10-story edition is %d bytes of HTML, want under %d", len(h), digest.ClipBytes)
	}
	t.Logf("10-story edition: %d bytes HTML, %d bytes text", len(h), len(txt))
	if n := parseHTML(t, h).Find("td.story").Length(); n != 10 {
		t.Fatalf("%d stories in the HTML", n)
	}
}

func TestRenderer_Render_HostileText(t *testing.T) {
	st := coveredStory("hostile", 1, 1, 1, t0, `<script>alert("t")</script>`, "中文")
	st.Title = "Breaking: <script>alert('x')</script> \"quoted\"\r\nBcc: evil@example.com"
	st.Summary = `Ünïcödé — 中文新闻 — خبر عاجل — Привет — <img src=x onerror=alert(1)> & "more"`
	st.Overview = []string{"</td></tr></table><b>broken</b>", "日本語の長い文章は空白なしで続きます。" + strings.Repeat("とても長い文章です。", 10)}
	st.Framing = digest.Framing{Left: "' onmouseover='alert(1)", Right: "\r\n.\r\nQUIT\r\n"}
	st.Articles[0].Source = `Outlet "<i>x</i>"`
	st.Articles[0].URL = `https://example.com/a?q="><script>alert(1)</script>`
	e := &digest.Edition{Date: "2026-11-27", Stories: []digest.Story{st}}
	p := digest.Personal{Name: "Ana <b>\"the reader\"</b>\r\nBcc: x@example.com", Email: "ana@example.com",
		UnsubscribeURL: "https://news.example/unsubscribe/a&b", PreferencesURL: "https://news.example/preferences/x"}
	rd, h, txt := render(t, e, p)
	doc := parseHTML(t, h)
	if n := doc.Find("script, img, b, i").Length(); n != 0 {
		t.Fatalf("%d elements injected by story text", n)
	}
	if got := doc.Find("h2.title a").Text(); got != strings.ReplaceAll(st.Title, "\r\n", "\n") {
		t.Fatalf("title reads %q, want %q", got, st.Title)
	}
	if got := doc.Find("td.summary").Text(); got != st.Summary {
		t.Fatalf("summary reads %q", got)
	}
	// html/template percent-encodes what would break out of the URL.
	if got, want := doc.Find("td.src a").First().AttrOr("href", ""), "https://example.com/a?q=%22%3e%3cscript%3ealert%281%29%3c/script%3e"; got != want {
		t.Fatalf("source href=%q, want %q", got, want)
	}
	if got := doc.Find("td.src a").First().Text(); got != st.Articles[0].Source {
		t.Fatalf("source name=%q", got)
	}
	if !strings.Contains(doc.Find("td.hello").Text(), `Hello, Ana <b>"the reader"</b>  Bcc: x@example.com.`) {
		t.Fatalf("greeting=%q", doc.Find("td.hello").Text())
	}
	for _, raw := range []string{"<script>", "<img src=x", "<b>broken</b>", `<b>"the reader"</b>`} {
		if strings.Contains(h, raw) {
			t.Errorf("HTML contains unescaped %q", raw)
		}
	}
	if strings.ContainsAny(rd.Subject, "\r\n") || strings.ContainsAny(rd.Preheader, "\r\n") {
		t.Fatalf("Subject=%q Preheader=%q span lines", rd.Subject, rd.Preheader)
	}
	flat := strings.Join(strings.Fields(txt), " ")
	for _, intact := range []string{"<script>alert('x')</script> \"quoted\" Bcc: evil@example.com", "中文新闻", "خبر عاجل", "Привет", `<img src=x onerror=alert(1)> & "more"`, `Ana <b>"the reader"</b> Bcc: x@example.com`} {
		if !strings.Contains(flat, intact) {
			t.Errorf("text part lacks %q", intact)
		}
	}
	for _, l := range strings.Split(txt, "\n") {
		if strings.HasPrefix(l, "Bcc:") || l == "." || l == "QUIT" {
			t.Errorf("story or personal text started a line of its own: %q", l)
		}
	}
	checkText(t, txt, e)
}

func TestRendered_Personalize(t *testing.T) {
	e := fixtureEdition(t, digest.DefaultSelection)
	rd, err := newRenderer(t).Render(e)
	if err != nil {
		t.Fatal(err)
	}
	h1, t1 := rd.Personalize(ada)
	bob := digest.Personal{Email: "bob@example.org", UnsubscribeURL: "https://news.example/unsubscribe/b?x=1&y=2", PreferencesURL: "https://news.example/preferences/b"}
	h2, t2 := rd.Personalize(bob)
	for _, part := range [][]byte{h1, t1, h2, t2} {
		if bytes.Contains(part, []byte("bsslot")) {
			t.Fatal("a personal marker was left in the mail")
		}
	}
	if bytes.Contains(h2, []byte("ada@example.com")) || bytes.Contains(t2, []byte("Ada")) {
		t.Fatal("one subscriber's details reached another's mail")
	}
	if !bytes.Contains(h2, []byte(`href="https://news.example/unsubscribe/b?x=1&amp;y=2"`)) {
		t.Fatal("the unsubscribe URL is not HTML-escaped in its attribute")
	}
	if !bytes.Contains(t2, []byte("\nhttps://news.example/unsubscribe/b?x=1&y=2\n")) {
		t.Fatal("the text part lacks the unsubscribe URL on its own line")
	}
	if !bytes.Contains(h2, []byte("Hello. Here are")) || !bytes.Contains(t2, []byte("\nHello.\n")) {
		t.Fatal("no plain greeting without a name")
	}
	if !utf8.Valid(h1) || !utf8.Valid(t1) {
		t.Fatal("invalid UTF-8")
	}
}

func TestRenderer_RenderWeb(t *testing.T) {
	e := fixtureEdition(t, digest.DefaultSelection)
	b, err := newRenderer(t).RenderWeb(e)
	if err != nil {
		t.Fatal(err)
	}
	doc := parseHTML(t, string(b))
	text := doc.Find("body").Text()
	for _, no := range []string{"Unsubscribe", "Manage preferences", "You get this because", "Hello"} {
		if strings.Contains(text, no) {
			t.Errorf("archive page has personal part %q", no)
		}
	}
	if got, want := doc.Find("h2.title a").First().AttrOr("href", ""), "/stories/"+e.Stories[0].ID; got != want {
		t.Errorf("story link=%q, want %q", got, want)
	}
	if got, want := doc.Find("td.story").Length(), len(e.Stories)+len(e.Blindspots); got != want {
		t.Errorf("%d stories, want %d", got, want)
	}
	if !strings.Contains(text, "as it was mailed") {
		t.Error("the page does not say it is the mailed edition")
	}
}

func TestWrapText(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", 90)
	for _, tt := range []struct {
		name, in string
	}{
		{"Latin", strings.Repeat("The quick brown fox jumps over the lazy dog. ", 8)},
		{"CJK", strings.Repeat("日本語の文章は空白なしで続きます。", 12)},
		{"Mixed", strings.Repeat("Talks in 北京 and Москва resume; خبر عاجل. ", 6)},
		{"LongURL", "see " + long + " for more"},
		{"CRLF", "line one\r\nBcc: evil@example.com\r\n.\r\nmore"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := digest.Story{ID: "w", Title: "T", Summary: tt.in, PublishedAt: t0,
				Articles: []digest.Article{{Source: "S", Bias: digest.Center, URL: "https://s.example/"}}}
			_, _, txt := render(t, &digest.Edition{Date: "2026-11-27", Stories: []digest.Story{st}}, ada)
			checkText(t, txt, &digest.Edition{Stories: []digest.Story{st}})
		})
	}
}
