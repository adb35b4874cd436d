package feeds_test

import (
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"bothsides/feeds"
)

// FuzzNormalize feeds arbitrary text through the normaliser: the plain
// text is valid UTF-8, holds no markup, is within its length, and reading
// it again changes nothing; a canonical URL is http(s), has no fragment or
// tracker, and is its own canonical form.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"<p>Hi &amp; bye</p>", "<script>x</script>", "&lt;b&gt;", "https://A.example:443/x?utm_source=1&b=2#f",
		"/rel?fbclid=1", "\xff\xfe", "<<b>b>", "a < b", "&#0;&#xD800;", "http://[::1]:80/"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://news.example/feed")
	f.Fuzz(func(t *testing.T, s string) {
		for _, max := range []int{0, 40} {
			p := feeds.PlainText(s, max)
			if !utf8.ValidString(p) {
				t.Fatalf("PlainText(%q)=%q: not UTF-8", s, p)
			}
			if markup(p) {
				t.Fatalf("PlainText(%q)=%q: markup survived", s, p)
			}
			if max > 0 && utf8.RuneCountInString(p) > max {
				t.Fatalf("PlainText(%q, %d)=%q: too long", s, max, p)
			}
			if max == 0 && feeds.PlainText(p, 0) != p {
				t.Fatalf("PlainText not stable: %q → %q → %q", s, p, feeds.PlainText(p, 0))
			}
			if strings.ContainsAny(p, "\n\t\x00") || strings.HasPrefix(p, " ") || strings.HasSuffix(p, " ") {
				t.Fatalf("PlainText(%q)=%q: white space not collapsed", s, p)
			}
		}
		u, err := feeds.CanonicalURL(s, base)
		if err != nil {
			return
		}
		pu, perr := url.Parse(u)
		if perr != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Fragment != "" || pu.Host == "" {
			t.Fatalf("CanonicalURL(%q)=%q: not an absolute http(s) URL without fragment", s, u)
		}
		for k := range pu.Query() {
			if strings.HasPrefix(strings.ToLower(k), "utm_") || strings.EqualFold(k, "fbclid") {
				t.Fatalf("CanonicalURL(%q)=%q: tracker %s kept", s, u, k)
			}
		}
		if again, err := feeds.CanonicalURL(u, nil); err != nil || again != u {
			t.Fatalf("CanonicalURL not stable: %q → %q → %q, %v", s, u, again, err)
		}
	})
}

// FuzzParse reads arbitrary bytes as a feed: an error or items, never a
// panic, and every item normalised.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`<rss version="2.0"><channel><item><title>A</title><link>/a</link></item></channel></rss>`))
	f.Add([]byte(`<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>B</title><link href="https://b.example/"/></entry></feed>`))
	f.Add([]byte(`{"version":"https://jsonfeed.org/version/1.1","items":[{"id":"1","url":"https://c.example/","title":"C"}]}`))
	base, _ := url.Parse("https://news.example/feed")
	now := time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := feeds.Parse(b, "", base, now)
		if err != nil {
			return
		}
		for _, it := range p.Items {
			if it.Title == "" || markup(it.Title) || markup(it.Description) || it.Published.After(now) || it.URL == "" {
				t.Fatalf("item not normalised: %+v", it)
			}
		}
	})
}
