package digest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"

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
	h, err := htmltemplate.New("digest.html").Funcs(funcs).ParseFS(templates.FS, "email/digest.html")
	if err != nil {
		return nil, fmt.Errorf("parse email html template: %w", err)
	}
	tf := texttemplate.FuncMap{"wrap": wrapText, "bullet": bulletText, "ref": func(string) string { return "" }}
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
	if p.Name != "" {
		return "Good morning, " + p.Name + "."
	}
	return "Good morning."
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
	size      int
}

// Personalize returns the HTML and text of the mail for one subscriber.
func (r *Rendered) Personalize(p Personal) (htmlPart, textPart []byte) {
	return r.fill(r.html, &p, true), r.fill(r.text, &p, false)
}

func (r *Rendered) fill(segs []segment, p *Personal, escape bool) []byte {
	var vals [numSlots]string
	n := 0
	for _, s := range segs {
		n += len(s.lit)
		if s.slot >= 0 {
			v := p.value(s.slot)
			if escape {
				v = html.EscapeString(v)
			}
			vals[s.slot] = v
			n += len(v)
		}
	}
	out := make([]byte, 0, n)
	for _, s := range segs {
		out = append(out, s.lit...)
		if s.slot >= 0 {
			out = append(out, vals[s.slot]...)
		}
	}
	return out
}

// sideView is one side of a story as the templates show it.
type sideView struct {
	Side     Side
	Count    int
	Percent  int
	Framing  string
	Articles []Article
}

func (s sideView) Name() string  { return s.Side.Title() }
func (s sideView) Lower() string { return string(s.Side) }
func (s sideView) Short() string { return string(s.Side)[:1] }

type storyView struct {
	*Story
	Number    int
	URL       string
	Coverage  Coverage
	Sides     []sideView
	Blindspot Side
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
	EditionURL                 string
	PostalAddress              string
	Stories, Blindspots        []storyView
	Personal                   personalView
	Web                        bool
	links                      []link
}

// Links lists the text part's numbered references in order.
func (v *view) Links() []link { return v.links }

// MaxSourcesPerSide is how many source links each side shows in the mail.
const MaxSourcesPerSide = 3

func (r *Renderer) storyView(st *Story, n int, blind Side) storyView {
	c := st.Coverage()
	sv := storyView{Story: st, Number: n, URL: r.cfg.BaseURL + "/stories/" + st.ID, Coverage: c, Blindspot: blind}
	for _, side := range Sides {
		arts := st.ArticlesBy(side)
		if len(arts) > MaxSourcesPerSide {
			arts = arts[:MaxSourcesPerSide]
		}
		sv.Sides = append(sv.Sides, sideView{Side: side, Count: c.Count(side), Percent: c.Percent(side),
			Framing: st.Framing.Of(side), Articles: arts})
	}
	return sv
}

func (r *Renderer) view(e *Edition, web bool) *view {
	v := &view{
		Title:         r.cfg.Title,
		Minutes:       e.Minutes(),
		EditionURL:    r.cfg.BaseURL + "/editions/" + e.Date,
		PostalAddress: r.cfg.PostalAddress,
		Web:           web,
	}
	if e.Title != "" {
		v.Title = e.Title
	}
	if d, err := time.Parse("2006-01-02", e.Date); err == nil {
		v.DateLong = d.Format("Monday, 2 January 2006")
	} else {
		v.DateLong = e.Date
	}
	for i := range e.Stories {
		v.Stories = append(v.Stories, r.storyView(&e.Stories[i], i+1, ""))
	}
	for i := range e.Blindspots {
		b := &e.Blindspots[i]
		v.Blindspots = append(v.Blindspots, r.storyView(&b.Story, len(e.Stories)+i+1, b.For))
	}
	v.Preheader = preheader(e)
	return v
}

func preheader(e *Edition) string {
	switch {
	case len(e.Stories) >= 2:
		return fmt.Sprintf("Also today: %s · %d stories, %d min read", e.Stories[1].Title, len(e.Stories), e.Minutes())
	case len(e.Stories) == 1:
		return e.Stories[0].Summary
	}
	return ""
}

// Subject is the mail's subject line: the override, or the edition name, date
// and top story.
func (r *Renderer) Subject(e *Edition) string {
	if e.Subject != "" {
		return e.Subject
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
	return s
}

// Render renders e once for mailing; Personalize fills in each subscriber.
func (r *Renderer) Render(e *Edition) (*Rendered, error) {
	markers := newMarkers()
	v := r.view(e, false)
	v.Personal = personalView{
		Greeting:       markers[slotGreeting],
		Email:          markers[slotEmail],
		UnsubscribeURL: markers[slotUnsubscribe],
		PreferencesURL: markers[slotPreferences],
	}
	var hb bytes.Buffer
	if err := r.html.Execute(&hb, v); err != nil {
		return nil, fmt.Errorf("render edition %s html: %w", e.Date, err)
	}
	tb, err := r.renderText(v)
	if err != nil {
		return nil, err
	}
	out := &Rendered{Edition: e, Subject: r.Subject(e), Preheader: v.Preheader}
	out.html = split(hb.String(), markers)
	out.text = split(tb, markers)
	out.size = hb.Len()
	return out, nil
}

// RenderWeb renders e's HTML without personal parts, for the web archive.
func (r *Renderer) RenderWeb(e *Edition) ([]byte, error) {
	var b bytes.Buffer
	v := r.view(e, true)
	if err := r.html.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("render edition %s: %w", e.Date, err)
	}
	return b.Bytes(), nil
}

func (r *Renderer) renderText(v *view) (string, error) {
	v.links = nil
	t, err := r.text.Clone()
	if err != nil {
		return "", err
	}
	t.Funcs(texttemplate.FuncMap{"ref": func(u string) string {
		v.links = append(v.links, link{N: len(v.links) + 1, URL: u})
		return fmt.Sprintf("[%d]", len(v.links))
	}})
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return "", fmt.Errorf("render edition text: %w", err)
	}
	return b.String(), nil
}

// newMarkers returns random alphanumeric placeholders, one per slot, that no
// story text can contain and that no template escaping changes.
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

// TextWidth is the plain-text part's line width.
const TextWidth = 78

// wrapText wraps s at TextWidth columns with indent spaces before each line.
// Words longer than a line stand alone rather than being cut.
func wrapText(s string, indent int) string {
	pad := strings.Repeat(" ", indent)
	var lines []string
	for _, para := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		line := pad
		for _, w := range strings.Fields(para) {
			if line != pad && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) > TextWidth {
				lines = append(lines, line)
				line = pad
			}
			if line != pad {
				line += " "
			}
			line += w
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// bulletText wraps s as a "* " bullet with a hanging indent.
func bulletText(s string, indent int) string {
	w := wrapText(s, indent+2)
	return strings.Repeat(" ", indent) + "* " + strings.TrimLeft(w, " ")
}
