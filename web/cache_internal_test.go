package web

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"bothsides/internal/testsupport"
	"bothsides/sqlite"
)

func TestPageCache_Bounded(t *testing.T) {
	c := &pageCache{maxBytes: 64 << 10}
	body := bytes.Repeat([]byte("x"), 4<<10) // compresses to a few bytes
	for i := range 200 {
		key := "p" + strconv.Itoa(i)
		if _, err := c.get(key, 1, func() (*cachedPage, error) { return newCachedPage(key, 1, body, ""), nil }); err != nil {
			t.Fatal(err)
		}
		if c.bytes > c.maxBytes {
			t.Fatalf("after %d pages %d bytes kept, bound %d", i+1, c.bytes, c.maxBytes)
		}
	}
	if n := c.len(); n == 0 || n >= 200 {
		t.Fatalf("%d pages kept", n)
	}
	// The most recent is kept, the first is gone.
	if _, ok := c.entries["p199"]; !ok {
		t.Error("newest page evicted")
	}
	if _, ok := c.entries["p0"]; ok {
		t.Error("oldest page kept")
	}
	// Too big for the cache: served, not kept.
	huge := bytes.Repeat([]byte("y"), 64<<10)
	p, err := c.get("huge", 1, func() (*cachedPage, error) { return newCachedPage("huge", 1, huge, ""), nil })
	if err != nil || !bytes.Equal(p.body, huge) {
		t.Fatalf("huge page: %v", err)
	}
	if _, ok := c.entries["huge"]; ok {
		t.Error("a page over an eighth of the bound was kept")
	}
	// A newer generation drops everything older.
	c.get("p199", 2, func() (*cachedPage, error) { return newCachedPage("p199", 2, body, ""), nil })
	if n := c.len(); n != 1 {
		t.Fatalf("%d pages kept after a new generation, want 1", n)
	}
}

func TestPageCache_OneRender(t *testing.T) {
	var c pageCache
	var renders atomic.Int32
	release := make(chan struct{})
	build := func() (*cachedPage, error) {
		renders.Add(1)
		<-release
		return newCachedPage("k", 1, []byte("page"), ""), nil
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if p, err := c.get("k", 1, build); err != nil || string(p.body) != "page" {
				t.Errorf("get: %v", err)
			}
		})
	}
	for c.loadingLen() == 0 {
	}
	close(release)
	wg.Wait()
	if n := renders.Load(); n != 1 {
		t.Fatalf("%d renders for 8 concurrent requests, want 1", n)
	}
	// An error is not kept.
	boom := errors.New("boom")
	if _, err := c.get("e", 1, func() (*cachedPage, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("err=%v", err)
	}
	if _, ok := c.entries["e"]; ok {
		t.Fatal("a failed render was kept")
	}
}

func (c *pageCache) loadingLen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.loading)
}

func TestPageCache_GenerationSeesEarlierWrites(t *testing.T) {
	var c pageCache
	var committed, reads atomic.Int64
	read := func(context.Context) (int64, error) {
		reads.Add(1)
		n := committed.Load() // the snapshot is taken when the query starts
		time.Sleep(200 * time.Microsecond)
		return n, nil
	}
	var wg sync.WaitGroup
	const requests = 400
	for range requests {
		wg.Go(func() {
			want := committed.Add(1) // a write committed before this request
			got, err := c.generation(context.Background(), read)
			if err != nil || got < want {
				t.Errorf("generation %d (%v), want at least %d: a read that began before the request was shared", got, err, want)
			}
		})
	}
	wg.Wait()
	t.Logf("%d requests, %d reads", requests, reads.Load())
	if c.genRunning != nil || c.genNext != nil {
		t.Fatal("a read left running")
	}
}

// TestPageCache_GenerationSince: while no commit is made the generation is
// not read again; a commit (of any connection) makes the next request read.
func TestPageCache_GenerationSince(t *testing.T) {
	db, _ := testsupport.MustOpenDB(t)
	var reads atomic.Int32
	read := func(ctx context.Context) (int64, error) {
		reads.Add(1)
		var n int64
		err := db.R.QueryRowContext(ctx, `SELECT n FROM page_generation WHERE id = 1`).Scan(&n)
		return n, err
	}
	var c pageCache
	ctx := context.Background()
	g0, err := c.generationSince(ctx, db.Commits(), read)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if g, err := c.generationSince(ctx, db.Commits(), read); err != nil || g != g0 {
			t.Fatalf("generation %d, %v; want %d", g, err, g0)
		}
	}
	if n := reads.Load(); n != 1 {
		t.Fatalf("%d reads with nothing committed, want 1", n)
	}
	if _, err := db.W.Exec(`UPDATE page_generation SET n = n + 1 WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	if g, err := c.generationSince(ctx, db.Commits(), read); err != nil || g != g0+1 {
		t.Fatalf("after a commit: generation %d, %v; want %d", g, err, g0+1)
	}
	if n := reads.Load(); n != 2 {
		t.Fatalf("%d reads after one commit, want 2", n)
	}
	// Without a mark (the zero Commits), every call reads.
	if _, err := c.generationSince(ctx, &sqlite.Commits{}, read); err != nil || reads.Load() != 3 {
		t.Fatalf("without a mark: %d reads, %v", reads.Load(), err)
	}
}
