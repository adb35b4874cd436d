package subscribers

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// ErrInvalidAddress is wrapped by every address validation failure.
var ErrInvalidAddress = errors.New("invalid email address")

// MaxAddressLen is the longest address accepted (RFC 5321 path limit).
const MaxAddressLen = 254

// NormalizeAddress validates a bare email address and returns it trimmed,
// with the domain lower-cased and converted to its ASCII (punycode) form.
// The local part keeps its case: some servers treat it as significant.
func NormalizeAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidAddress)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: not valid UTF-8", ErrInvalidAddress)
	}
	// The length first: later messages quote the address.
	if len(s) > MaxAddressLen {
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalidAddress, MaxAddressLen)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("%w: %q contains a control character", ErrInvalidAddress, short(s))
		}
	}
	switch at := strings.LastIndexByte(s, '@'); {
	case at < 0:
		return "", fmt.Errorf("%w: %q has no @", ErrInvalidAddress, s)
	case at == 0:
		return "", fmt.Errorf("%w: %q has nothing before the @", ErrInvalidAddress, s)
	case at == len(s)-1:
		return "", fmt.Errorf("%w: %q has no domain after the @", ErrInvalidAddress, s)
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %s", ErrInvalidAddress, s, strings.TrimPrefix(err.Error(), "mail: "))
	}
	if a.Name != "" || a.Address != s && "<"+a.Address+">" != s {
		return "", fmt.Errorf("%w: %q: give the bare address, without a display name", ErrInvalidAddress, s)
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at <= 0 {
		return "", fmt.Errorf("%w: %q has no @", ErrInvalidAddress, s)
	}
	local, domain := a.Address[:at], a.Address[at+1:]
	if len(local) > 64 {
		return "", fmt.Errorf("%w: %q: the part before @ is longer than 64 characters", ErrInvalidAddress, s)
	}
	ascii, err := idna.Lookup.ToASCII(strings.ToLower(domain))
	if err != nil {
		return "", fmt.Errorf("%w: %q: domain: %v", ErrInvalidAddress, s, err)
	}
	// idna maps an empty punycode label ("xn--") to nothing: "a@xn--.com"
	// would come out as "a@.com".
	if ascii == "" || strings.HasPrefix(ascii, ".") || strings.HasSuffix(ascii, ".") || strings.Contains(ascii, "..") {
		return "", fmt.Errorf("%w: %q: domain %q has an empty label", ErrInvalidAddress, s, ascii)
	}
	if !strings.Contains(ascii, ".") && ascii != "localhost" {
		return "", fmt.Errorf("%w: %q: domain %q has no dot", ErrInvalidAddress, s, ascii)
	}
	out := local + "@" + ascii
	if len(out) > MaxAddressLen {
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalidAddress, MaxAddressLen)
	}
	return out, nil
}

// MaxNameLen is the longest name accepted, in characters.
const MaxNameLen = 100

// CleanName trims a display name and refuses what could break a header or
// spoof a display: control characters (C0, C1, line and paragraph
// separators) and bidirectional overrides.
func CleanName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", invalid("name", "name is not valid UTF-8")
	}
	for _, r := range s {
		if unsafeRune(r) {
			return "", invalid("name", "name %q contains a control character (%U)", short(s), r)
		}
	}
	if utf8.RuneCountInString(s) > MaxNameLen {
		return "", invalid("name", "name is longer than %d characters", MaxNameLen)
	}
	return s, nil
}

// short cuts s to its first 40 characters for an error message: a message
// must not echo a 10 MB field back to whoever reads it.
func short(s string) string {
	n := 0
	for i := range s {
		if n == 40 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// unsafeRune reports control, separator and bidi-override characters.
func unsafeRune(r rune) bool {
	switch {
	case unicode.IsControl(r), r == '\u2028', r == '\u2029', r == '\ufeff':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// Topic limits.
const (
	MaxTopics   = 20
	MaxTopicLen = 60
)

// CleanTopics trims topics, drops empty ones and case-insensitive
// duplicates (the first spelling wins) and checks the limits.
func CleanTopics(in []string) ([]string, error) {
	out := []string{}
	seen := map[string]bool{}
	for _, t := range in {
		t = strings.Join(strings.Fields(t), " ")
		if t == "" {
			continue
		}
		if !utf8.ValidString(t) {
			return nil, invalid("topics", "topic is not valid UTF-8")
		}
		for _, r := range t {
			if unsafeRune(r) {
				return nil, invalid("topics", "topic %q contains a control character (%U)", short(t), r)
			}
		}
		if utf8.RuneCountInString(t) > MaxTopicLen {
			return nil, invalid("topics", "topic %q is longer than %d characters", short(t), MaxTopicLen)
		}
		k := strings.ToLower(t)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, t)
	}
	if len(out) > MaxTopics {
		return nil, invalid("topics", "%d topics, at most %d", len(out), MaxTopics)
	}
	return out, nil
}
