package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientNetwork names the client for sign-up rate limits: its IPv4 address,
// or the /64 of its IPv6 address (one household or server usually has a
// whole /64). Behind a reverse proxy, Config.ClientIPHeader names the header
// the proxy sets; for X-Forwarded-For the last entry, the one the proxy
// appended, is used, since earlier ones are under the client's control.
func (s *Server) clientNetwork(r *http.Request) string {
	host := r.RemoteAddr
	if h := s.cfg.ClientIPHeader; h != "" {
		if v := r.Header.Values(h); len(v) > 0 {
			parts := strings.Split(v[len(v)-1], ",")
			host = strings.TrimSpace(parts[len(parts)-1])
		}
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return "unparsed:" + host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}
