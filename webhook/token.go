package webhook

import (
	"net/mail"
	"strings"
)

// verpToken is the TOKEN of a VERP envelope sender LOCAL+TOKEN@DOMAIN
// ("bounces+TOKEN@bounce.example.com"), or "". The store checks the token's
// signature: anything else here matches nothing.
func verpToken(addr string) string {
	addr = strings.TrimSpace(addr)
	if a, err := mail.ParseAddress(addr); err == nil {
		addr = a.Address
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return ""
	}
	local := addr[:at]
	plus := strings.IndexByte(local, '+')
	if plus < 0 {
		return ""
	}
	return local[plus+1:]
}
