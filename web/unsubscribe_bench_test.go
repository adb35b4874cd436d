package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/subscribers"
	"bothsides/web"
)

// BenchmarkUnsubscribeBurst measures a burst of one-click unsubscribe POSTs
// from many clients at once (16 goroutines on 2 cores, as wrk -c16 does),
// each to its own subscriber among 2,000, through the real handler and its
// durable commit, and in the same run a hello-world handler answering the
// same requests. It reports requests per second and the 99th percentile of
// the latency; x-hello (in the unsubscribe line) is its rate as a share of
// the hello-world handler's measured just before.
func BenchmarkUnsubscribeBurst(b *testing.B) {
	db, clock := testsupport.MustOpenDB(b)
	ctx := context.Background()
	key, err := db.Secret(ctx, "token_secret")
	if err != nil {
		b.Fatal(err)
	}
	r, err := digest.NewRenderer(digest.RenderConfig{BaseURL: "http://127.0.0.1"})
	if err != nil {
		b.Fatal(err)
	}
	subs := subscribers.NewStore(db)
	signer := subscribers.NewSigner(key)
	// The log line of each unsubscribe is formatted as serve does, and dropped.
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := web.New(web.Config{BaseURL: "http://127.0.0.1", Logger: logger}, db, digest.NewStore(db), subs, signer, r)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	var paths []string
	for i := range 2000 {
		sub, err := subs.Add(ctx, fmt.Sprintf("leaver%d@example.com", i), "")
		if err != nil {
			b.Fatal(err)
		}
		paths = append(paths, "/unsubscribe/"+signer.Link(subscribers.PurposeUnsubscribe, sub.ID, 0, clock.Now()))
	}
	page := func() int {
		req := httptest.NewRequest("POST", paths[0], strings.NewReader("List-Unsubscribe=One-Click"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, req)
		return w.Body.Len()
	}()
	body := []byte(strings.Repeat("x", page))
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(body)
	})
	var helloRate float64
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"hello", hello}, {"unsubscribe", srv.Handler()}} {
		b.Run(tc.name, func(b *testing.B) {
			var next atomic.Int64
			var mu sync.Mutex
			var lat []time.Duration
			b.SetParallelism(8)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					path := paths[int(next.Add(1))%len(paths)]
					req := httptest.NewRequest("POST", path, strings.NewReader("List-Unsubscribe=One-Click"))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					w := httptest.NewRecorder()
					t0 := time.Now()
					tc.h.ServeHTTP(w, req)
					mine = append(mine, time.Since(t0))
					if w.Code != http.StatusOK {
						b.Errorf("POST: %d", w.Code)
						return
					}
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			rate := float64(b.N) / time.Since(start).Seconds()
			slices.Sort(lat)
			b.ReportMetric(rate, "req/s")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			if tc.name == "hello" {
				helloRate = rate
			} else if helloRate > 0 {
				b.ReportMetric(rate/helloRate, "x-hello")
			}
		})
	}
}
