package digest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html"
	htmltemplate "html/template"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"

	"github.com/vanng822/go-premailer/premailer"

	"bothsides/templates"
)

// RenderConfig holds what the templates need beyond the edition.
type RenderConfig struct {
	BaseURL       string // links in the mail point here, e.g. https://news.example.com
	Title         string // edition name; default "Both Sides"
	PostalAddress string // sender's postal address for the footer (CAN-SPAM)
	Location      *time.Location
}

// Renderer renders editions with the embedded templates, parsed once.
type Renderer struct {
	cfg  RenderConfig
	html *htmltemplate.Template
	text *texttemplate.Template
}

var funcs = map[string]any{
	"join":  strings.Join,
	"upper": strings.ToUpper,
	"trim":  strings.TrimSpace,
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	},
}

// Outlook on Windows renders with Word and ignores max-width: these
// conditional comments give it a fixed 600 px table. html/template drops
// comments written in a template, so they come in as functions.
var msoFuncs = htmltemplate.FuncMap{
	"msoOpen": func() htmltemplate.HTML {
		return `<!--[if mso]><table role="presentation" align="center" width="600" cellpadding="0" cellspacing="0" border="0"><tr><td><![endif]-->`
	},
	"msoClose": func() htmltemplate.HTML { return `<!--[if mso]></td></tr></table><![endif]-->` },
	"msoHead": func() htmltemplate.HTML {
		return `<!--[if mso]><noscript><xml><o:OfficeDocumentSettings><o:PixelsPerInch>96</o:PixelsPerInch></o:OfficeDocumentSettings></xml></noscript><style>table,td,div,p,a,h1,h2 {font-family: Arial, sans-serif !important;}</style><![endif]-->`
	},
}

// NewRenderer parses the digest templates.
func NewRenderer(cfg RenderConfig) (*Renderer, error) {
	if cfg.Title == "" {
		cfg.Title = "Both Sides"
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	h, err := htmltemplate.New("digest.html").Funcs(funcs).Funcs(msoFuncs).ParseFS(templates.FS, "email/digest.html")
	if err != nil {
		return nil, fmt.Errorf("parse email html template: %w", err)
	}
	tf := texttemplate.FuncMap{"wrap": wrapText, "bullet": bulletText, "ref": func(string) string { return "" }, "textbar": textBar}
	for k, v := range funcs {
		tf[k] = v
	}
	t, err := texttemplate.New("digest.txt").Funcs(tf).ParseFS(templates.FS, "email/digest.txt")
	if err != nil {
		return nil, fmt.Errorf("parse email text template: %w", err)
	}
	return &Renderer{cfg: cfg, html: h, text: t}, nil
}

// Personal holds the parts of a mail that differ per subscriber.
type Personal struct {
	Name           string
	Email          string
	UnsubscribeURL string
	PreferencesURL string
}

// Greeting is the mail's first words.
func (p Personal) Greeting() string {
	if name := strings.TrimSpace(p.Name); name != "" {
		return "Hello, " + name + "."
	}
	return "Hello."
}

// slots are the personal parts, in the order of their markers.
const (
	slotGreeting = iota
	slotEmail
	slotUnsubscribe
	slotPreferences
	numSlots
)

func (p *Personal) value(slot int) string {
	switch slot {
	case slotGreeting:
		return p.Greeting()
	case slotEmail:
		return p.Email
	case slotUnsubscribe:
		return p.UnsubscribeURL
	case slotPreferences:
		return p.PreferencesURL
	}
	return ""
}

// segment is a literal run followed by a personal slot (-1: none).
type segment struct {
	lit  string
	slot int
}

// Rendered is an edition rendered once, ready to personalise per subscriber
// by substitution only.
type Rendered struct {
	Edition   *Edition
	Subject   string
	Preheader string
	html      []segment
	text      []segment
}

// Personalize returns the HTML and text of the mail for one subscriber. It
// only copies the rendered edition and the subscriber's values into place:
// no template runs and nothing is looked up. It is safe for concurrent use.
func (r *Rendered) Personalize(p Personal) (htmlPart, textPart []byte) {
	return r.AppendPersonalized(nil, nil, p)
}

// AppendPersonalized appends the HTML and text of p's mail to dstHTML and
// dstText and returns the extended slices. A sender that reuses its buffers
// from one message to the next, dstHTML[:0] and dstText[:0], allocates
// nothing per message but the escaped values: most of the cost of a fresh
// 100 KB slice is allocating and clearing it, not copying into it.
func (r *Rendered) AppendPersonalized(dstHTML, dstText []byte, p Personal) (htmlPart, textPart []byte) {
	var raw, esc [numSlots]string
	for i := range raw {
		raw[i] = oneLine(p.value(i))
		esc[i] = html.EscapeString(raw[i])
	}
	return fill(dstHTML, r.html, &esc), fill(dstText, r.text, &raw)
}

func fill(dst []byte, segs []segment, vals *[numSlots]string) []byte {
	n := 0
	for _, s := range segs {
		n += len(s.lit)
		if s.slot >= 0 {
			n += len(vals[s.slot])
		}
	}
	dst = slices.Grow(dst, n)
	for _, s := range segs {
		dst = append(dst, s.lit...)
		if s.slot >= 0 {
			dst = append(dst, vals[s.slot]...)
		}
	}
	return dst
}

// oneLine turns control characters such as CR and LF into spaces, so that a
// personal value cannot start a line of its own in the text part.
func oneLine(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// SideView is one side of a story as the mail and the web pages show it.
type SideView struct {
	Side     Side
	Count    int
	Percent  int
	Framing  string
	Articles []Article
	More     int // articles of this side beyond those shown
}

// Name is the side's name with a capital: "Left".
func (s SideView) Name() string { return s.Side.Title() }

// Lower is the side's name: "left".
func (s SideView) Lower() string { return string(s.Side) }

// Short is the side's initial, used in CSS class names: "l".
func (s SideView) Short() string { return string(s.Side)[:1] }

// BarLabel is the text inside the side's part of the coverage bar: the
// whole name where it fits on a phone, the initial where only that fits,
// nothing in a sliver (the legend under the bar has every number).
func (s SideView) BarLabel() string {
	switch {
	case s.Percent >= 30:
		return fmt.Sprintf("%s %d%%", s.Side.Title(), s.Percent)
	case s.Percent >= 18:
		return fmt.Sprintf("%s %d%%", strings.ToUpper(string(s.Side)[:1]), s.Percent)
	}
	return ""
}

type storyView struct {
	*Story
	Number    int
	URL       string
	ReportURL string // the story's "Report an issue" form
	Coverage  Coverage
	Sides     []SideView
	Blindspot Side
}

// BlindspotOther is the side that covered a blindspot story.
func (s storyView) BlindspotOther() string {
	if s.Blindspot == SideLeft {
		return "right"
	}
	return "left"
}

// personalView is what the templates see of the subscriber: markers when
// rendering for mail, empty on the web.
type personalView struct {
	Greeting, Email, UnsubscribeURL, PreferencesURL string
}

type link struct {
	N   int
	URL string
}

type view struct {
	Title, DateLong, Preheader string
	Minutes                    int
	EditionURL, ArchiveURL     string
	PostalAddress              string
	Stories, Blindspots        []storyView
	Personal                   personalView
	Web                        bool
	links                      []link
}

// Links lists the text part's numbered references in order.
func (v *view) Links() []link { return v.links }

// ClipBytes is the HTML size at which Gmail clips a message ("102 KB"):
// an edition's HTML should stay below it.
const ClipBytes = 102 * 1000

// MaxSourcesPerSide is how many source links each side shows in the mail.
const MaxSourcesPerSide = 3

// SideViews groups a story's coverage by side, left to right, with at most
// limit articles each (0: all).
func SideViews(st *Story, limit int) []SideView {
	c := st.Coverage()
	var out []SideView
	for _, side := range Sides {
		arts := st.ArticlesBy(side)
		more := 0
		if limit > 0 && len(arts) > limit {
			arts, more = arts[:limit], len(arts)-limit
		}
		out = append(out, SideView{Side: side, Count: c.Count(side), Percent: c.Percent(side),
			Framing: st.Framing.Of(side), Articles: arts, More: more})
	}
	return out
}

func (r *Renderer) storyView(st *Story, n int, blind Side, web bool) storyView {
	url := r.cfg.BaseURL + "/stories/" + st.ID
	if web {
		url = "/stories/" + st.ID
	}
	return storyView{Story: st, Number: n, URL: url, ReportURL: url + "/report", Coverage: st.Coverage(), Blindspot: blind,
		Sides: SideViews(st, MaxSourcesPerSide)}
}

func (r *Renderer) view(e *Edition, web bool) *view {
	v := &view{
		Title:         r.cfg.Title,
		Minutes:       e.Minutes(),
		EditionURL:    r.cfg.BaseURL + "/editions/" + e.Date,
		ArchiveURL:    r.cfg.BaseURL + "/editions",
		PostalAddress: r.cfg.PostalAddress,
		Web:           web,
	}
	if web {
		v.ArchiveURL = "/editions"
	}
	if e.Title != "" {
		v.Title = e.Title
	}
	v.DateLong = longDate(e.Date)
	for i := range e.Stories {
		v.Stories = append(v.Stories, r.storyView(&e.Stories[i], i+1, "", web))
	}
	for i := range e.Blindspots {
		b := &e.Blindspots[i]
		v.Blindspots = append(v.Blindspots, r.storyView(&b.Story, len(e.Stories)+i+1, b.For, web))
	}
	v.Preheader = preheader(e)
	return v
}

// longDate writes 2026-11-27 as "Friday, 27 November 2026".
func longDate(date string) string {
	if d, err := time.Parse("2006-01-02", date); err == nil {
		return d.Format("Monday, 2 January 2006")
	}
	return date
}

// preheader is the line inboxes show after the subject, which already
// names the top story: the next ones and the reading time.
func preheader(e *Edition) string {
	var titles []string
	for _, st := range e.Stories[min(1, len(e.Stories)):] {
		titles = append(titles, collapse(st.Title))
	}
	s := ""
	if len(titles) > 0 {
		s = "Also today: " + strings.Join(titles, "; ") + ". "
	}
	s += fmt.Sprintf("Left, center and right in about %d min.", e.Minutes())
	const max = 150
	if r := []rune(s); len(r) > max {
		cut := string(r[:max])
		if i := strings.LastIndexByte(cut, ' '); i > 0 {
			cut = cut[:i]
		}
		s = cut + "…"
	}
	return s
}

// collapse turns every run of white space, CR and LF included, into one
// space.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// Subject is the mail's subject line: the override, or the edition name, date
// and top story. It is always one line.
func (r *Renderer) Subject(e *Edition) string {
	if e.Subject != "" {
		return collapse(e.Subject)
	}
	title := r.cfg.Title
	if e.Title != "" {
		title = e.Title
	}
	s := title
	if d, err := time.Parse("2006-01-02", e.Date); err == nil {
		s += ", " + d.Format("Mon 2 Jan")
	}
	if len(e.Stories) > 0 {
		s += ": " + e.Stories[0].Title
	}
	return collapse(s)
}

// Render renders e once for mailing, CSS inlined; Personalize fills in each
// subscriber.
func (r *Renderer) Render(e *Edition) (*Rendered, error) {
	markers := newMarkers()
	v := r.view(e, false)
	v.Personal = personalView{
		Greeting:       markers[slotGreeting],
		Email:          markers[slotEmail],
		UnsubscribeURL: markers[slotUnsubscribe],
		PreferencesURL: markers[slotPreferences],
	}
	h, err := r.renderHTML(v)
	if err != nil {
		return nil, fmt.Errorf("render edition %s html: %w", e.Date, err)
	}
	tb, err := r.renderText(v)
	if err != nil {
		return nil, fmt.Errorf("render edition %s text: %w", e.Date, err)
	}
	out := &Rendered{Edition: e, Subject: r.Subject(e), Preheader: v.Preheader}
	out.html = split(h, markers)
	out.text = split(tb, markers)
	return out, nil
}

// RenderWeb renders e's HTML as mailed but without personal parts, for the
// web archive; its links are relative to the site.
func (r *Renderer) RenderWeb(e *Edition) ([]byte, error) {
	h, err := r.renderHTML(r.view(e, true))
	if err != nil {
		return nil, fmt.Errorf("render edition %s: %w", e.Date, err)
	}
	return []byte(h), nil
}

// renderHTML executes the HTML template and moves the CSS of its <style>
// into style attributes, as mail clients need; media queries (phone layout,
// dark mode) stay in a <style> for the clients that read one.
func (r *Renderer) renderHTML(v *view) (string, error) {
	var b bytes.Buffer
	if err := r.html.Execute(&b, v); err != nil {
		return "", err
	}
	pm, err := premailer.NewPremailerFromBytes(b.Bytes(), premailer.NewOptions())
	if err != nil {
		return "", fmt.Errorf("inline css: %w", err)
	}
	out, err := pm.Transform()
	if err != nil {
		return "", fmt.Errorf("inline css: %w", err)
	}
	return out, nil
}

func (r *Renderer) renderText(v *view) (string, error) {
	v.links = nil
	t, err := r.text.Clone()
	if err != nil {
		return "", err
	}
	seen := map[string]int{}
	t.Funcs(texttemplate.FuncMap{"ref": func(u string) string {
		n, ok := seen[u]
		if !ok {
			v.links = append(v.links, link{N: len(v.links) + 1, URL: u})
			n = len(v.links)
			seen[u] = n
		}
		return fmt.Sprintf("[%d]", n)
	}})
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return "", err
	}
	return tidyText(b.String()), nil
}

// tidyText drops trailing spaces and runs of more than one blank line that
// the template's conditionals leave behind.
func tidyText(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " ")
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimLeft(strings.Join(out, "\n"), "\n")
}

// newMarkers returns random alphanumeric placeholders, one per slot, that no
// story text can contain and that neither template escaping nor the CSS
// inliner changes.
func newMarkers() [numSlots]string {
	var m [numSlots]string
	b := make([]byte, 8)
	rand.Read(b)
	nonce := hex.EncodeToString(b)
	for i := range m {
		m[i] = fmt.Sprintf("bsslot%dx%s", i, nonce)
	}
	return m
}

func split(s string, markers [numSlots]string) []segment {
	var segs []segment
	for {
		best, slot := -1, -1
		for i, m := range markers {
			if j := strings.Index(s, m); j >= 0 && (best < 0 || j < best) {
				best, slot = j, i
			}
		}
		if best < 0 {
			return append(segs, segment{lit: s, slot: -1})
		}
		segs = append(segs, segment{lit: s[:best], slot: slot})
		s = s[best+len(markers[slot]):]
	}
}
