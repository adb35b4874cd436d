package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"bothsides/digest"
	"bothsides/internal/testsupport"
)

// rawClient neither asks for gzip nor decompresses: the tests see the bytes
// and headers as sent.
var rawClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

func fetch(t *testing.T, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The pages the cache serves, in the archive fixture.
func cachedPaths(f *archiveFixture) []string {
	id := f.edition.Stories[0].ID
	return []string{"/editions", "/editions/2026-11-27", "/editions/2026-11-27?schedule=default",
		"/stories/" + id, "/stories/" + id + "/versions/1", "/stories/hostile"}
}

func TestPageCache_SameAsUncached(t *testing.T) {
	f := newArchiveFixture(t)
	// A second server on the same database has rendered nothing yet.
	fresh := httptest.NewServer(f.srv.Handler())
	t.Cleanup(fresh.Close)
	for _, path := range cachedPaths(f) {
		t.Run(path, func(t *testing.T) {
			first, firstBody := fetch(t, f.url+path)
			hit, hitBody := fetch(t, f.url+path)
			un, unBody := fetch(t, fresh.URL+path)
			for _, r := range []*http.Response{first, hit, un} {
				if r.StatusCode != http.StatusOK {
					t.Fatalf("status %d", r.StatusCode)
				}
			}
			if !bytes.Equal(hitBody, firstBody) || !bytes.Equal(hitBody, unBody) {
				t.Fatalf("cached body differs from the rendered one (%d, %d, %d bytes)", len(hitBody), len(firstBody), len(unBody))
			}
			for _, r := range []*http.Response{first, un} {
				r.Header.Del("Date")
				hit.Header.Del("Date")
				for name := range r.Header {
					if got, want := hit.Header.Values(name), r.Header.Values(name); !slices.Equal(got, want) {
						t.Errorf("%s: cached %q, rendered %q", name, got, want)
					}
				}
				if len(hit.Header) != len(r.Header) {
					t.Errorf("cached headers %v, rendered %v", hit.Header, r.Header)
				}
			}
			for _, name := range []string{"Content-Security-Policy", "X-Frame-Options", "ETag", "Cache-Control"} {
				if hit.Header.Get(name) == "" {
					t.Errorf("no %s", name)
				}
			}
			if got, want := hit.Header.Get("Content-Type"), "text/html; charset=utf-8"; got != want {
				t.Errorf("Content-Type=%q, want %q", got, want)
			}
			if got, want := hit.Header.Get("Vary"), "Accept-Encoding"; got != want {
				t.Errorf("Vary=%q, want %q", got, want)
			}

			gz, gzBody := fetch(t, f.url+path, "Accept-Encoding", "gzip, deflate, br")
			if got := gz.Header.Get("Content-Encoding"); got != "gzip" {
				t.Fatalf("Content-Encoding=%q with Accept-Encoding gzip", got)
			}
			if !bytes.Equal(gunzip(t, gzBody), hitBody) {
				t.Fatal("gzip body is not the page")
			}
			if gz.Header.Get("ETag") == hit.Header.Get("ETag") {
				t.Error("gzip and plain forms share an ETag")
			}
			if got, want := gz.Header.Get("Vary"), "Accept-Encoding"; got != want {
				t.Errorf("gzip Vary=%q, want %q", got, want)
			}
		})
	}
	t.Run("EditionAsRendered", func(t *testing.T) {
		want, err := digest.NewRenderer(digest.RenderConfig{BaseURL: "http://127.0.0.1",
			PostalAddress: "Both Sides Media, 1 Example Street, Springfield 12345, USA"})
		if err != nil {
			t.Fatal(err)
		}
		e, err := f.store.Edition(context.Background(), "2026-11-27", "")
		if err != nil {
			t.Fatal(err)
		}
		b, err := want.RenderWeb(e)
		if err != nil {
			t.Fatal(err)
		}
		fetch(t, f.url+"/editions/2026-11-27")
		if _, got := fetch(t, f.url+"/editions/2026-11-27"); !bytes.Equal(got, b) {
			t.Fatal("cached edition page is not RenderWeb's")
		}
	})
}

func TestPageCache_Gzip(t *testing.T) {
	f := newArchiveFixture(t)
	url := f.url + "/editions/2026-11-27"
	_, plain := fetch(t, url)
	for _, tt := range []struct {
		accept string
		gzip   bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP;q=0.5", true},
		{"br, gzip;q=1.0", true},
		{"*", true},
		{"gzip;q=0", false},
		{"gzip;q=0, *", false},
		{"identity", false},
		{"br", false},
	} {
		t.Run(tt.accept, func(t *testing.T) {
			resp, body := fetch(t, url, "Accept-Encoding", tt.accept)
			if got := resp.Header.Get("Content-Encoding") == "gzip"; got != tt.gzip {
				t.Fatalf("gzip=%v, want %v", got, tt.gzip)
			}
			if tt.gzip {
				if len(body) >= len(plain)/2 {
					t.Errorf("gzip body %d bytes for %d plain", len(body), len(plain))
				}
				body = gunzip(t, body)
			}
			if !bytes.Equal(body, plain) {
				t.Fatal("body is not the page")
			}
		})
	}
}

func TestPageCache_NotModified(t *testing.T) {
	f := newArchiveFixture(t)
	ctx := context.Background()
	id := f.edition.Stories[0].ID
	etag := func(t *testing.T, path string) string {
		t.Helper()
		resp, _ := fetch(t, f.url+path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return resp.Header.Get("ETag")
	}
	revalidate := func(t *testing.T, path, tag string, header ...string) (int, []byte) {
		t.Helper()
		resp, body := fetch(t, f.url+path, append([]string{"If-None-Match", tag}, header...)...)
		return resp.StatusCode, body
	}

	t.Run("Unchanged", func(t *testing.T) {
		for _, path := range cachedPaths(f) {
			tag := etag(t, path)
			for _, inm := range []string{tag, "W/" + tag, `"other", ` + tag, "*"} {
				code, body := revalidate(t, path, inm)
				if code != http.StatusNotModified || len(body) != 0 {
					t.Errorf("GET %s If-None-Match %s: %d with %d bytes, want 304 and none", path, inm, code, len(body))
				}
			}
			if code, _ := revalidate(t, path, `"other"`); code != http.StatusOK {
				t.Errorf("GET %s with another ETag: %d, want 200", path, code)
			}
			// The gzip form has its own tag.
			resp, _ := fetch(t, f.url+path, "Accept-Encoding", "gzip")
			gz := resp.Header.Get("ETag")
			if code, _ := revalidate(t, path, gz, "Accept-Encoding", "gzip"); code != http.StatusNotModified {
				t.Errorf("GET %s gzip If-None-Match its tag: %d, want 304", path, code)
			}
		}
	})

	t.Run("IdenticalReimport", func(t *testing.T) {
		path := "/stories/" + id
		tag := etag(t, path)
		st := f.stories[id]
		if _, err := f.store.Import(ctx, []digest.Story{st}); err != nil {
			t.Fatal(err)
		}
		if code, _ := revalidate(t, path, tag); code != http.StatusNotModified {
			t.Fatalf("identical re-import: %d, want 304", code)
		}
	})

	t.Run("StoryReimported", func(t *testing.T) {
		path := "/stories/" + id
		tag, listTag, edTag := etag(t, path), etag(t, "/editions"), etag(t, "/editions/2026-11-27")
		st := f.stories[id]
		st.Title = "A corrected title for the cache test"
		if _, err := f.store.Import(ctx, []digest.Story{st}); err != nil {
			t.Fatal(err)
		}
		code, body := revalidate(t, path, tag)
		if code != http.StatusOK {
			t.Fatalf("after a new version: %d, want 200", code)
		}
		for _, want := range []string{"A corrected title for the cache test", "2026-11-27"} {
			if !strings.Contains(string(body), want) {
				t.Errorf("story page after the new version lacks %q", want)
			}
		}
		if got := etag(t, path); got == tag {
			t.Fatal("ETag unchanged by a new version")
		}
		// The mailed edition and the list still show what was mailed.
		if code, _ := revalidate(t, "/editions/2026-11-27", edTag); code != http.StatusNotModified {
			t.Errorf("edition page after a re-import: %d, want 304", code)
		}
		if code, _ := revalidate(t, "/editions", listTag); code != http.StatusNotModified {
			t.Errorf("list after a re-import: %d, want 304", code)
		}
		for _, want := range []string{"This story has changed since the", "Read the current version (2)"} {
			page := path
			if strings.HasPrefix(want, "Read") {
				page += "/versions/1"
			}
			if _, b := fetch(t, f.url+page); !strings.Contains(string(b), want) {
				t.Errorf("GET %s after the new version lacks %q", page, want)
			}
		}
	})

	t.Run("EditionStarts", func(t *testing.T) {
		listTag := etag(t, "/editions")
		path := "/editions/2026-11-27?schedule=evening"
		if resp, _ := fetch(t, f.url+path); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("assembled edition: %d, want 404", resp.StatusCode)
		}
		e, err := f.store.Edition(ctx, "2026-11-27", "evening")
		if err != nil {
			t.Fatal(err)
		}
		if err := digest.MarkSending(ctx, f.db.W, e.ID, testsupport.Epoch); err != nil {
			t.Fatal(err)
		}
		if resp, _ := fetch(t, f.url+path); resp.StatusCode != http.StatusOK {
			t.Fatalf("edition once sending: %d, want 200", resp.StatusCode)
		}
		code, body := revalidate(t, "/editions", listTag)
		if code != http.StatusOK || !strings.Contains(string(body), "schedule=evening") {
			t.Fatalf("list once the evening edition is sending: %d, lists it: %v", code, strings.Contains(string(body), "schedule=evening"))
		}
		newTag := etag(t, "/editions")
		if newTag == listTag {
			t.Fatal("list ETag unchanged")
		}
		// Sent, then cancelled: the pages show no status, so they stay.
		if err := digest.MarkSent(ctx, f.db.W, e.ID, testsupport.Epoch); err != nil {
			t.Fatal(err)
		}
		if code, _ := revalidate(t, "/editions", newTag); code != http.StatusNotModified {
			t.Errorf("list after sent: %d, want 304", code)
		}
	})

	t.Run("IfModifiedSinceIgnored", func(t *testing.T) {
		resp, _ := fetch(t, f.url+"/editions", "If-Modified-Since", "Sun, 06 Nov 2094 08:49:37 GMT")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("If-Modified-Since alone: %d, want 200 (no Last-Modified is sent)", resp.StatusCode)
		}
	})
}
