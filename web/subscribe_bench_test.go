package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

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
