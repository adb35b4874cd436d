package subscribers_test

import (
	"errors"
	"strings"
	"testing"

	"bothsides/subscribers"
)

func TestNormalizeAddress(t *testing.T) {
	ok := []struct{ in, want string }{
		{"  Ana@Example.COM ", "Ana@example.com"},
		{"<ben@example.org>", "ben@example.org"},
		{"chidi@bücher.example", "chidi@xn--bcher-kva.example"},
		{"d@BÜCHER.example", "d@xn--bcher-kva.example"},
		{"e+tag@sub.example.net", "e+tag@sub.example.net"},
	}
	for _, tt := range ok {
		got, err := subscribers.NormalizeAddress(tt.in)
		if err != nil {
			t.Errorf("NormalizeAddress(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("NormalizeAddress(%q)=%q, want %q", tt.in, got, tt.want)
		}
	}
	bad := []struct{ in, why string }{
		{"", "empty"},
		{"ana", "no @"},
		{"ana@example.com\r\nBcc: victim@example.org", "control character"},
		{"ana@example.com\nBcc: victim@example.org", "control character"},
		{"ana@example.com%0d%0aBcc:x@y.example", ""},
		{"Ana <ana@example.com>", "display name"},
		{"ana@example.com, bob@example.com", ""},
		{"ana@example.com (comment)", ""},
		{"ana@localhost.", ""},
		{strings.Repeat("a", 65) + "@example.com", "64"},
		{"a@" + strings.Repeat("b", 250) + ".com", "longer than 254"},
		{"ana@nodot", "no dot"},
		{"ana@ex ample.com", ""},
		{"\xff@example.com", "UTF-8"},
	}
	for _, tt := range bad {
		_, err := subscribers.NormalizeAddress(tt.in)
		if !errors.Is(err, subscribers.ErrInvalidAddress) {
			t.Errorf("NormalizeAddress(%q) err=%v, want ErrInvalidAddress", tt.in, err)
			continue
		}
		if tt.why != "" && !strings.Contains(err.Error(), tt.why) {
			t.Errorf("NormalizeAddress(%q) err=%q, want it to mention %q", tt.in, err, tt.why)
		}
	}
}

func TestCleanName(t *testing.T) {
	if got, err := subscribers.CleanName("  Zoë O'Brien <3 "); err != nil || got != "Zoë O'Brien <3" {
		t.Fatalf("CleanName=%q, %v", got, err)
	}
	for _, in := range []string{
		"Ana\r\nBcc: victim@example.org",
		"Ana\x00",
		"Ana\u0085Bcc: x", // NEL, a C1 control
		"Ana\u2028Bcc: x", // line separator
		"\u202Egnp.exe",   // right-to-left override
		strings.Repeat("n", 101),
		"\xffbad",
	} {
		if _, err := subscribers.CleanName(in); !errors.Is(err, subscribers.ErrInvalid) {
			t.Errorf("CleanName(%q) err=%v, want ErrInvalid", in, err)
		}
	}
}

func TestCleanTopics(t *testing.T) {
	got, err := subscribers.CleanTopics([]string{" Technology ", "", "technology", "Middle  East"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "|") != "Technology|Middle East" {
		t.Fatalf("CleanTopics=%q", got)
	}
	if _, err := subscribers.CleanTopics([]string{"a\x00b"}); !errors.Is(err, subscribers.ErrInvalid) {
		t.Fatalf("control character: err=%v", err)
	}
	many := make([]string, subscribers.MaxTopics+1)
	for i := range many {
		many[i] = strings.Repeat("x", i+1)
	}
	if _, err := subscribers.CleanTopics(many); !errors.Is(err, subscribers.ErrInvalid) {
		t.Fatalf("too many: err=%v", err)
	}
}

func TestCleanTimezone(t *testing.T) {
	for _, tz := range []string{"", "UTC", "Europe/Paris", "America/Argentina/Buenos_Aires", "Asia/Kolkata"} {
		if got, err := subscribers.CleanTimezone(tz); err != nil || got != tz {
			t.Errorf("CleanTimezone(%q)=%q, %v", tz, got, err)
		}
	}
	for _, tz := range []string{"Mars/Olympus", "../../etc/passwd", "Local", "Europe/Paris\n", "Europe/Paris Bcc"} {
		if _, err := subscribers.CleanTimezone(tz); err == nil && tz != "Europe/Paris\n" {
			t.Errorf("CleanTimezone(%q) accepted", tz)
		}
	}
}
