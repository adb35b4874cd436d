package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/subscribers"
	"bothsides/web"
)

// BenchmarkSubscribePage measures GET /subscribe, the archive's and
// sign-up's slowest page under load (docs/RELIABILITY.md, drill 5), against
// GET /editions in the same run.
func BenchmarkSubscribePage(b *testing.B) {
	db, _ := testsupport.MustOpenDB(b)
	key, err := db.Secret(context.Background(), "token_secret")
	if err != nil {
		b.Fatal(err)
	}
	r, err := digest.NewRenderer(digest.RenderConfig{BaseURL: "http://127.0.0.1"})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := web.New(web.Config{BaseURL: "http://127.0.0.1"}, db, digest.NewStore(db),
		subscribers.NewStore(db), subscribers.NewSigner(key), r)
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	for _, path := range []string{"/subscribe", "/editions"} {
		b.Run(path[1:], func(b *testing.B) {
			req := httptest.NewRequest("GET", path, nil)
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("GET %s: %d", path, w.Code)
				}
			}
		})
	}
}

// BenchmarkUnsubscribePOST measures the one-click unsubscribe POST, whose
// answer waits for its commit (docs/PERFORMANCE.md: durable answers). Each
// round commits one UPDATE of the subscriber row (unsubscribing again is
// idempotent but still writes).
func BenchmarkUnsubscribePOST(b *testing.B) {
	db, _ := testsupport.MustOpenDB(b)
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
	srv, err := web.New(web.Config{BaseURL: "http://127.0.0.1"}, db, digest.NewStore(db), subs, signer, r)
	if err != nil {
		b.Fatal(err)
	}
	sub, err := subs.Add(ctx, "leaver@example.com", "Leaver")
	if err != nil {
		b.Fatal(err)
	}
	path := "/unsubscribe/" + signer.Token(subscribers.PurposeUnsubscribe, sub.ID, time.Time{})
	h := srv.Handler()
	for b.Loop() {
		req := httptest.NewRequest("POST", path, strings.NewReader("List-Unsubscribe=One-Click"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("POST unsubscribe: %d", w.Code)
		}
	}
}
