package bounce_test

import (
	"strings"
	"testing"

	"bothsides/bounce"
)

func TestParseAddress(t *testing.T) {
	a, err := bounce.ParseAddress("bounces@Bounce.Example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := a.For("aaaqcgimlh445ioch4c2s"), "bounces+aaaqcgimlh445ioch4c2s@bounce.example.com"; got != want {
		t.Errorf("For = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		rcpt, token string
		ok          bool
	}{
		{"bounces@bounce.example.com", "", true},
		{"<BOUNCES+AAAQ@bounce.EXAMPLE.com>", "aaaq", true},
		{"bounces+x@other.example.com", "", false},
		{"postmaster@bounce.example.com", "", false},
		{"bouncesx@bounce.example.com", "", false},
	} {
		tok, ok := a.Accepts(tc.rcpt)
		if tok != tc.token || ok != tc.ok {
			t.Errorf("Accepts(%q) = %q, %v; want %q, %v", tc.rcpt, tok, ok, tc.token, tc.ok)
		}
	}
	for in, want := range map[string]string{
		"Bounces <b@bounce.example.com>":                "bare address",
		"me+x@bounce.example.com":                       `must not contain "+"`,
		"bounces@localhost":                             "with a dot",
		"b\u00fcnce@bounce.example.com":                 "ASCII",
		strings.Repeat("b", 25) + "@bounce.example.com": "at most 24",
		"": "bare address",
	} {
		if _, err := bounce.ParseAddress(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseAddress(%q) = %v, want an error saying %q", in, err, want)
		}
	}
}
