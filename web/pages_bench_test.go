package web_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// benchWriter is the least a ResponseWriter can be: headers kept, body
// counted and dropped, so the benchmark measures the handlers.
type benchWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *benchWriter) Header() http.Header { return w.h }
func (w *benchWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *benchWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.n += len(b)
	return len(b), nil
}

// helloHandler is the reference: a Go handler writing a fixed body of n
// bytes, as small a page handler as there can be.
func helloHandler(n int) http.Handler {
	body := make([]byte, n)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
}

// BenchmarkPages serves each cached page through the real handler (the
// security headers, the generation read from SQLite, the cache) and, in
// the same loop, alternately, a hello-world handler writing a body of the
// same size. page-ns and hello-ns are each one's time per request;
// x-hello is the page's rate as a share of hello-world's (the target is
// at least 0.5). ns/op counts both requests of an iteration.
func BenchmarkPages(b *testing.B) {
	f := newArchiveFixture(b)
	h := f.srv.Handler()
	story := "/stories/" + f.edition.Stories[0].ID
	for _, tt := range []struct{ name, path, accept string }{
		{"editions", "/editions", ""},
		{"edition", "/editions/2026-11-27", ""},
		{"edition-gzip", "/editions/2026-11-27", "gzip"},
		{"story", story, ""},
		{"story-gzip", story, "gzip"},
	} {
		b.Run(tt.name, func(b *testing.B) {
			req, _ := http.NewRequest("GET", tt.path, nil)
			if tt.accept != "" {
				req.Header.Set("Accept-Encoding", tt.accept)
			}
			serve := func(h http.Handler) int {
				w := &benchWriter{h: http.Header{}}
				h.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatalf("GET %s: %d", tt.path, w.code)
				}
				return w.n
			}
			hello := helloHandler(serve(h))
			var page, ref time.Duration
			for b.Loop() {
				t0 := time.Now()
				serve(h)
				t1 := time.Now()
				serve(hello)
				ref += time.Since(t1)
				page += t1.Sub(t0)
			}
			n := float64(b.N)
			b.ReportMetric(float64(page.Nanoseconds())/n, "page-ns")
			b.ReportMetric(float64(ref.Nanoseconds())/n, "hello-ns")
			b.ReportMetric(float64(ref)/float64(page), "x-hello")
		})
	}
}
