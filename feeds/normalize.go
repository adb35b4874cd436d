package feeds

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Lengths, in characters, that an item's text is cut to.
const (
	MaxTitleLen       = 300
	MaxDescriptionLen = 1000
	MaxCategoryLen    = 100
	MaxCategories     = 20
)

// trackers are query parameters that identify a click, not a page; they
// are removed from canonical URLs (with every utm_* parameter).
var trackers = map[string]bool{
	"fbclid": true, "gclid": true, "dclid": true, "gbraid": true, "wbraid": true, "msclkid": true,
	"yclid": true, "twclid": true, "ttclid": true, "igshid": true, "mc_eid": true, "mc_cid": true,
	"_hsenc": true, "_hsmi": true, "mkt_tok": true, "oly_enc_id": true, "oly_anon_id": true,
	"ref": true, "ref_src": true, "ref_url": true, "referrer": true, "cmpid": true, "ocid": true,
	"sr_share": true, "smid": true, "spm": true, "share": true, "at_medium": true, "at_campaign": true,
}

// ErrBadURL is wrapped by CanonicalURL's errors.
var ErrBadURL = errors.New("bad article URL")

// CanonicalURL resolves raw against base (the feed's URL; may be nil) and
// returns it canonical: http or https only, scheme and host lower-cased,
// the default port and any user name dropped, the fragment and tracking
// parameters removed, the query sorted. Two links to one article compare
// equal.
func CanonicalURL(raw string, base *url.URL) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", fmt.Errorf("%w: empty", ErrBadURL)
	}
	if len(raw) > MaxURLLen {
		return "", fmt.Errorf("%w: longer than %d characters", ErrBadURL, MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBadURL, short(raw), err)
	}
	if base != nil {
		u = base.ResolveReference(u)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%w: %q: want http or https", ErrBadURL, short(raw))
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return "", fmt.Errorf("%w: %q has no host", ErrBadURL, short(raw))
	}
	port := u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		// Only an IPv6 address has colons in its host; "//0:000:" leaves
		// "0:000", which no client could connect to.
		if _, err := netip.ParseAddr(host); err != nil {
			return "", fmt.Errorf("%w: %q: host %q is not a name or an address", ErrBadURL, short(raw), short(host))
		}
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	u.Host, u.User, u.Fragment, u.RawFragment = host, nil, "", ""
	if u.Path == "" {
		u.Path = "/"
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			return "", fmt.Errorf("%w: %q: query: %v", ErrBadURL, short(raw), err)
		}
		for k := range q {
			lk := strings.ToLower(k)
			if trackers[lk] || strings.HasPrefix(lk, "utm_") {
				delete(q, k)
			}
		}
		u.RawQuery = q.Encode() // sorted by key
	}
	u.ForceQuery = false
	out := u.String()
	if len(out) > MaxURLLen {
		// Resolving and escaping can lengthen a link that was short enough:
		// the stored form is what must fit.
		return "", fmt.Errorf("%w: %q: longer than %d characters once resolved and escaped", ErrBadURL, short(raw), MaxURLLen)
	}
	if _, err := url.Parse(out); err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBadURL, short(raw), err)
	}
	return out, nil
}

// skipped are the elements whose content is never text.
var skipped = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true, atom.Iframe: true,
	atom.Object: true, atom.Embed: true, atom.Svg: true, atom.Math: true, atom.Head: true, atom.Title: true,
	atom.Select: true, atom.Textarea: true, atom.Button: true,
}

// blocks are the elements that separate words.
var blocks = map[atom.Atom]bool{
	atom.P: true, atom.Br: true, atom.Div: true, atom.Li: true, atom.Tr: true, atom.Td: true, atom.Th: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
	atom.Blockquote: true, atom.Hr: true, atom.Img: true, atom.Figure: true, atom.Figcaption: true,
}

// PlainText reads s as HTML and returns its text: no element survives
// (script and style lose their content too), entities are decoded, control
// characters dropped, whitespace collapsed, and the result is cut to max
// characters at a word where it can be, ending with "…". Text that was
// escaped twice is read again until nothing in it is markup.
func PlainText(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	for range 4 {
		t := extract(s)
		if t == s || !strings.ContainsAny(t, "<&") {
			s = t
			break
		}
		s = t
	}
	// What is left that a browser could take for the start of a tag (text
	// escaped more than four times, a stray "</") loses its bracket.
	return cut(collapse(dropTagStarts(s)), max)
}

// dropTagStarts removes every "<" that is followed by a letter, "/", "!"
// or "?".
func dropTagStarts(s string) string {
	if !strings.Contains(s, "<") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '<' && i+1 < len(s) {
			c := s[i+1]
			if c == '/' || c == '!' || c == '?' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
				b.WriteByte(' ')
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// extract returns the text of s read as an HTML fragment, collapsed.
func extract(s string) string {
	ctx := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(s), ctx)
	if err != nil {
		return collapse(s)
	}
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			b.WriteString(n.Data)
			return
		case html.ElementNode:
			if skipped[n.DataAtom] {
				return
			}
			if blocks[n.DataAtom] {
				b.WriteByte(' ')
			}
		case html.CommentNode, html.DoctypeNode:
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		if n.Type == html.ElementNode && blocks[n.DataAtom] {
			b.WriteByte(' ')
		}
	}
	for _, n := range nodes {
		walk(n)
	}
	return collapse(b.String())
}

// collapse drops control and format characters and collapses runs of
// white space into one space.
func collapse(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = true
			continue
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r) && r != '\u200d':
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// cut shortens s to at most max characters, at a space if one is near the
// end, and marks the cut with "…".
func cut(s string, max int) string {
	if max <= 0 || utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)[:max-1]
	if i := strings.LastIndexByte(string(r), ' '); i > 0 && utf8.RuneCountInString(string(r)[:i]) > max*3/4 {
		return strings.TrimRight(string(r)[:i], " ,;:.") + "…"
	}
	return strings.TrimRight(string(r), " ") + "…"
}

// short is s cut for an error message.
func short(s string) string { return cut(s, 120) }
