package bounce

import (
	"fmt"
	netmail "net/mail"
	"strings"
)

// Address is the bounce address, bounces@bounce.example.com: the envelope
// sender of every edition message is its local part, "+", the delivery
// token, and its domain (VERP).
type Address struct {
	Local, Domain string
}

// MaxLocalPart is the longest local part a bounce address may have: with
// "+" and a token of up to 31 characters (ids up to 2^35) the VERP local
// part stays within RFC 5321's 64.
const MaxLocalPart = 24

// ParseAddress reads the bounce address setting: a bare ASCII address
// whose local part has no "+" (the token goes after it).
func ParseAddress(s string) (Address, error) {
	a, err := netmail.ParseAddress(s)
	if err != nil || a.Address != strings.TrimSpace(s) || a.Name != "" {
		return Address{}, fmt.Errorf("bounce address %q: want a bare address such as bounces@bounce.example.com", s)
	}
	at := strings.LastIndexByte(a.Address, '@')
	local, domain := a.Address[:at], a.Address[at+1:]
	for _, c := range []byte(a.Address) {
		if c >= 0x80 || c <= ' ' || c == '"' || c == '\\' {
			return Address{}, fmt.Errorf("bounce address %q: plain ASCII letters, digits and dots only", s)
		}
	}
	if len(local) > MaxLocalPart {
		return Address{}, fmt.Errorf("bounce address %q: the local part has %d characters, at most %d leave room for the token in the 64 an address may have", s, len(local), MaxLocalPart)
	}
	if strings.Contains(local, "+") {
		return Address{}, fmt.Errorf("bounce address %q: the local part must not contain \"+\": the delivery token goes after one", s)
	}
	if !strings.Contains(domain, ".") {
		return Address{}, fmt.Errorf("bounce address %q: the domain %q is not a domain name with a dot", s, domain)
	}
	return Address{Local: local, Domain: strings.ToLower(domain)}, nil
}

// String is the address itself.
func (a Address) String() string { return a.Local + "@" + a.Domain }

// For returns the VERP envelope sender for a delivery token.
func (a Address) For(token string) string { return a.Local + "+" + token + "@" + a.Domain }

// Accepts reports whether rcpt is the bounce address or one of its VERP
// forms (local part and domain compared without regard to case), and
// returns the token it carries ("" for the bare address). A receiver takes
// mail only for these.
func (a Address) Accepts(rcpt string) (token string, ok bool) {
	rcpt = strings.Trim(strings.TrimSpace(rcpt), "<>")
	at := strings.LastIndexByte(rcpt, '@')
	if at < 0 || !strings.EqualFold(rcpt[at+1:], a.Domain) {
		return "", false
	}
	local, tok, plus := strings.Cut(rcpt[:at], "+")
	if !strings.EqualFold(local, a.Local) {
		return "", false
	}
	if !plus {
		return "", true
	}
	return strings.ToLower(tok), true
}
