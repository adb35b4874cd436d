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
	if fwd, ok := s.forwarded(r); ok {
		host = fwd
	}
	ip, ok := parseHost(host)
	if !ok {
		return "unparsed:" + host
	}
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

// forwarded returns the client address that the proxy's header holds,
// when Config.ClientIPHeader is set and the request carries it.
func (s *Server) forwarded(r *http.Request) (string, bool) {
	h := s.cfg.ClientIPHeader
	if h == "" {
		return "", false
	}
	v := r.Header.Values(h)
	if len(v) == 0 {
		return "", false
	}
	parts := strings.Split(v[len(v)-1], ",")
	return strings.TrimSpace(parts[len(parts)-1]), true
}

// isLoopback reports whether r comes from this host: the TCP peer is a
// loopback address and, when a proxy's client-IP header is configured and
// present, so is the client it names. A local proxy forwarding a remote
// client is not loopback, and neither is a remote client that forges the
// header on a direct connection. Without a configured header, a request
// that carries any of the usual forwarding headers came through a proxy
// and is not taken for loopback either.
func (s *Server) isLoopback(r *http.Request) bool {
	peer, ok := parseHost(r.RemoteAddr)
	if !ok || !peer.IsLoopback() {
		return false
	}
	if fwd, ok := s.forwarded(r); ok {
		ip, ok := parseHost(fwd)
		return ok && ip.IsLoopback()
	}
	if s.cfg.ClientIPHeader == "" {
		for _, h := range []string{"X-Forwarded-For", "X-Real-Ip", "Forwarded"} {
			if len(r.Header.Values(h)) > 0 {
				return false
			}
		}
	}
	return true
}

// parseHost reads the IP of "host:port", "[v6]:port" or a bare address,
// IPv4-mapped IPv6 as IPv4, without a zone.
func parseHost(host string) (netip.Addr, bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap().WithZone(""), true
}
