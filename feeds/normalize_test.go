package feeds_test

import (
	"net/url"
	"strings"
	"testing"

	"bothsides/feeds"
)

func TestCanonicalURL(t *testing.T) {
	base, _ := url.Parse("https://News.example/feeds/rss.xml")
	for _, tc := range []struct{ in, want string }{
		{"HTTPS://News.Example:443/a/b?utm_source=x&utm_MEDIUM=y#frag", "https://news.example/a/b"},
		{"http://news.example:80", "http://news.example/"},
		{"http://news.example:8080/x", "http://news.example:8080/x"},
		{"https://news.example/x?b=2&a=1&fbclid=F&gclid=G&mc_eid=M&ref=home", "https://news.example/x?a=1&b=2"},
		{"/story/1?id=9", "https://news.example/story/1?id=9"},
		{"story/2", "https://news.example/feeds/story/2"},
		{"https://user:pw@news.example./y", "https://news.example/y"},
		{"https://[2001:DB8::1]:443/v6", "https://[2001:db8::1]/v6"},
	} {
		got, err := feeds.CanonicalURL(tc.in, base)
		if err != nil || got != tc.want {
			t.Errorf("CanonicalURL(%q)=%q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	// Under the limit as written, over it once its 700 spaces are escaped.
	if got, err := feeds.CanonicalURL("!"+strings.Repeat(" ", 700)+"!", base); err == nil {
		t.Errorf("CanonicalURL(700 spaces)=%d bytes, want an error", len(got))
	}
	for _, bad := range []string{"", "javascript:alert(1)", "mailto:a@b.example", "ftp://x.example/", "http://"} {
		if got, err := feeds.CanonicalURL(bad, nil); err == nil {
			t.Errorf("CanonicalURL(%q)=%q, want an error", bad, got)
		}
	}
}

func TestPlainText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"  Budget\n\t passes  ", 0, "Budget passes"},
		{"<p>One</p><p>two</p>", 0, "One two"},
		{"<script>alert(1)</script>Safe<style>b{}</style>", 0, "Safe"},
		{"Tom &amp; Jerry &eacute;t&eacute; &#8220;x&#8221;", 0, "Tom & Jerry été “x”"},
		{"&lt;b&gt;double&lt;/b&gt; escaped &amp;amp; more", 0, "double escaped & more"},
		{"&amp;lt;script&amp;gt;x()&amp;lt;/script&amp;gt;Hi", 0, "Hi"},
		{"a < b and c > d", 0, "a < b and c > d"},
		{"bad \xff byte", 0, "bad \uFFFD byte"},
		{"zero\u200bwidth\x00nul", 0, "zerowidthnul"},
		{"The quick brown fox jumps over the lazy dog", 20, "The quick brown fox…"},
	} {
		if got := feeds.PlainText(tc.in, tc.max); got != tc.want {
			t.Errorf("PlainText(%q)=%q, want %q", tc.in, got, tc.want)
		}
	}
}

// markup reports whether s still holds something an HTML reader would take
// for a tag.
func markup(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '<' {
			c := s[i+1]
			if c == '/' || c == '!' || c == '?' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
				return true
			}
		}
	}
	return false
}

func TestPlainText_NoMarkup(t *testing.T) {
	for _, in := range []string{"<<b>script>x", "<scr<b></b>ipt>", "&lt;&lt;b&gt;b&gt;", "<a href='x'>link</a>"} {
		if got := feeds.PlainText(in, 0); markup(got) || strings.Contains(got, "script>") {
			t.Errorf("PlainText(%q)=%q still holds markup", in, got)
		}
	}
}
