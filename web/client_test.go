package web

import (
	"net/http"
	"testing"
	"time"
)

func TestServer_clientNetwork(t *testing.T) {
	tests := []struct {
		name, header, remote, xff, want string
	}{
		{"IPv4", "", "192.0.2.7:5555", "", "192.0.2.7"},
		{"IPv6 is limited by its /64", "", "[2001:db8:1:2:3:4:5:6]:443", "", "2001:db8:1:2::/64"},
		{"IPv4-mapped IPv6", "", "[::ffff:192.0.2.9]:80", "", "192.0.2.9"},
		{"forwarded header ignored unless configured", "", "10.0.0.1:80", "198.51.100.1", "10.0.0.1"},
		{"X-Forwarded-For: the proxy's entry, not the client's", "X-Forwarded-For", "10.0.0.1:80", "203.0.113.99, 198.51.100.1", "198.51.100.1"},
		{"header configured but absent", "X-Forwarded-For", "10.0.0.1:80", "", "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Server{cfg: Config{ClientIPHeader: tt.header}}
			r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if got := s.clientNetwork(r); got != tt.want {
				t.Fatalf("clientNetwork=%q, want %q", got, tt.want)
			}
		})
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		48 * time.Hour:     "48 hours",
		time.Hour:          "1 hour",
		7 * 24 * time.Hour: "7 days",
		90 * time.Minute:   "90 minutes",
		0:                  "48 hours",
		72 * time.Hour:     "3 days",
		36*time.Hour + 1e9: "2160 minutes",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v)=%q, want %q", d, got, want)
		}
	}
}
