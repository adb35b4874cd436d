package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestServer_metricsGuard: with a token, /metrics wants it as a bearer
// token wherever the scraper is; without one, it answers this host only,
// and a proxy's client-IP header decides for proxied requests.
func TestServer_metricsGuard(t *testing.T) {
	const token = "metrics-token-0123456789abcdef"
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("# metrics")) })
	tests := []struct {
		name, token, header  string // configuration
		remote, auth, client string // request: peer, Authorization, client-IP header value
		want                 int
	}{
		{"Token/Missing", token, "", "127.0.0.1:5000", "", "", http.StatusUnauthorized},
		{"Token/Wrong", token, "", "127.0.0.1:5000", "Bearer " + token + "x", "", http.StatusUnauthorized},
		{"Token/Prefix", token, "", "127.0.0.1:5000", "Bearer " + token[:10], "", http.StatusUnauthorized},
		{"Token/NotBearer", token, "", "127.0.0.1:5000", "Basic " + token, "", http.StatusUnauthorized},
		{"Token/Right", token, "", "127.0.0.1:5000", "Bearer " + token, "", http.StatusOK},
		{"Token/RightFromAnywhere", token, "", "203.0.113.5:5000", "Bearer " + token, "", http.StatusOK},
		{"NoToken/Loopback", "", "", "127.0.0.1:5000", "", "", http.StatusOK},
		{"NoToken/LoopbackIPv6", "", "", "[::1]:5000", "", "", http.StatusOK},
		{"NoToken/Remote", "", "", "203.0.113.5:5000", "", "", http.StatusForbidden},
		{"NoToken/RemoteIPv6", "", "", "[2001:db8::1]:5000", "", "", http.StatusForbidden},
		{"NoToken/HeaderIgnoredUnlessConfigured", "", "", "203.0.113.5:5000", "", "127.0.0.1", http.StatusForbidden},
		{"NoToken/UnconfiguredLocalProxy", "", "", "127.0.0.1:5000", "", "203.0.113.5", http.StatusForbidden},
		{"NoToken/UnconfiguredLocalProxyLocalClient", "", "", "127.0.0.1:5000", "", "127.0.0.1", http.StatusForbidden},
		{"NoToken/LocalProxyRemoteClient", "", "X-Forwarded-For", "127.0.0.1:5000", "", "203.0.113.5", http.StatusForbidden},
		{"NoToken/LocalProxyForgedChain", "", "X-Forwarded-For", "127.0.0.1:5000", "", "127.0.0.1, 203.0.113.5", http.StatusForbidden},
		{"NoToken/LocalProxyLocalClient", "", "X-Forwarded-For", "127.0.0.1:5000", "", "127.0.0.1", http.StatusOK},
		{"NoToken/DirectRemoteForgesHeader", "", "X-Forwarded-For", "203.0.113.5:5000", "", "127.0.0.1", http.StatusForbidden},
		{"NoToken/DirectLocalWithoutHeader", "", "X-Forwarded-For", "127.0.0.1:5000", "", "", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Server{cfg: Config{MetricsToken: tt.token, ClientIPHeader: tt.header}}
			r := httptest.NewRequest("GET", "/metrics", nil)
			r.RemoteAddr = tt.remote
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			if tt.client != "" {
				r.Header.Set("X-Forwarded-For", tt.client)
			}
			w := httptest.NewRecorder()
			s.metricsGuard(ok).ServeHTTP(w, r)
			if got, want := w.Code, tt.want; got != want {
				t.Fatalf("Status=%d, want %d (%s)", got, want, w.Body)
			}
			if got := w.Header().Get("WWW-Authenticate"); (w.Code == http.StatusUnauthorized) != (got != "") {
				t.Fatalf("WWW-Authenticate=%q with status %d", got, w.Code)
			}
		})
	}
}
