package feeds

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// ErrRefused is wrapped when the fetcher refuses an address or a URL.
var ErrRefused = errors.New("refused")

// nonPublic are the ranges the fetcher does not dial unless private
// addresses are allowed, with what each is.
var nonPublic = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "an unspecified (this-network) address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "a private address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
	{netip.MustParsePrefix("::/128"), "an unspecified address"},
	{netip.MustParsePrefix("::1/128"), "a loopback address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a local NAT64 address"},
	{netip.MustParsePrefix("fc00::/7"), "a unique local (private) address"},
	{netip.MustParsePrefix("fe80::/10"), "a link-local address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address"},
}

// NonPublic says what kind of address a is when it is not a public unicast
// address (loopback, private, link-local, unspecified, multicast, CGNAT,
// IPv6 unique local …), or "" when it is public. IPv4 addresses mapped into
// IPv6 are judged as IPv4.
func NonPublic(a netip.Addr) string {
	a = a.Unmap()
	if !a.IsValid() {
		return "an invalid address"
	}
	for _, r := range nonPublic {
		if r.prefix.Contains(a) {
			return r.what
		}
	}
	return ""
}

// dialControl returns a net.Dialer.Control that refuses, after DNS has
// resolved the name, any address refuse names. It runs on every
// connection, redirects included, so a name that resolves to a public
// address once and to a private one later (DNS rebinding) is refused.
func dialControl(refuse func(netip.Addr) string) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: cannot read the address %q: %v", ErrRefused, address, err)
		}
		if what := refuse(ap.Addr()); what != "" {
			return fmt.Errorf("%w: %s is %s (use --ingest-allow-private to fetch it)", ErrRefused, ap.Addr(), what)
		}
		return nil
	}
}

// checkLiteral refuses a URL host that is an IP address refuse names,
// before any connection is tried (the dial check catches names).
func checkLiteral(host string, refuse func(netip.Addr) string) error {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return nil
	}
	if what := refuse(a); what != "" {
		return fmt.Errorf("%w: %s is %s (use --ingest-allow-private to fetch it)", ErrRefused, a, what)
	}
	return nil
}
