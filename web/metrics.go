package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// metricsGuard lets a scraper reach next (the Prometheus handler): with
// Config.MetricsToken set, only with that bearer token (401 otherwise);
// without one, only from this host (403 otherwise, see isLoopback).
func (s *Server) metricsGuard(next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(s.cfg.MetricsToken))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if s.cfg.MetricsToken == "" {
			if !s.isLoopback(r) {
				http.Error(w, "/metrics answers loopback clients only; set BOTHSIDES_METRICS_TOKEN to scrape from elsewhere", http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		// Hashes of equal length, compared in constant time: neither the
		// token nor its length shows in the timing.
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
