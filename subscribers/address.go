package subscribers

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
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
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("%w: %q contains a control character", ErrInvalidAddress, s)
		}
	}
	if len(s) > MaxAddressLen {
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalidAddress, MaxAddressLen)
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
	if !strings.Contains(ascii, ".") && ascii != "localhost" {
		return "", fmt.Errorf("%w: %q: domain %q has no dot", ErrInvalidAddress, s, ascii)
	}
	out := local + "@" + ascii
	if len(out) > MaxAddressLen {
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalidAddress, MaxAddressLen)
	}
	return out, nil
}

// CleanName trims a display name and refuses control characters, which
// could otherwise break a header.
func CleanName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", errors.New("name is not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("name %q contains a control character", s)
		}
	}
	if utf8.RuneCountInString(s) > 100 {
		return "", errors.New("name is longer than 100 characters")
	}
	return s, nil
}
