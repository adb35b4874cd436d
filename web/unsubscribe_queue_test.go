package web_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/sqlite"
	"bothsides/subscribers"
	"bothsides/web"
)

// unsubFixture is a server over n subscribers, each with a one-click link,
// whose unsubscribe commits go through a hook the test controls.
type unsubFixture struct {
	db    *sqlite.DB
	srv   *web.Server
	h     http.Handler
	ids   []int64
	paths []string

	mu        sync.Mutex
	committed map[int64]bool // ids whose commit returned
	commits   [][]int64      // each commit's ids, in order
	hold      chan struct{}  // when set, the first commit waits for it
	fail      func(ids []int64) error
}

func newUnsubFixture(t *testing.T, n int) *unsubFixture {
	t.Helper()
	ctx := context.Background()
	db, clock := testsupport.MustOpenDB(t)
	key, err := db.Secret(ctx, "token_secret")
	if err != nil {
		t.Fatal(err)
	}
	r, err := digest.NewRenderer(digest.RenderConfig{BaseURL: "http://127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	subs := subscribers.NewStore(db)
	signer := subscribers.NewSigner(key)
	srv, err := web.New(web.Config{BaseURL: "http://127.0.0.1"}, db, digest.NewStore(db), subs, signer, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	f := &unsubFixture{db: db, srv: srv, h: srv.Handler(), committed: map[int64]bool{}}
	for i := range n {
		sub, err := subs.Add(ctx, fmt.Sprintf("leaver%d@example.com", i), "")
		if err != nil {
			t.Fatal(err)
		}
		f.ids = append(f.ids, sub.ID)
		f.paths = append(f.paths, "/unsubscribe/"+signer.Link(subscribers.PurposeUnsubscribe, sub.ID, 0, clock.Now()))
	}
	web.WrapUnsubscribeCommit(srv, func(commit func(context.Context, []int64) ([]error, error)) func(context.Context, []int64) ([]error, error) {
		return func(ctx context.Context, ids []int64) ([]error, error) {
			f.mu.Lock()
			first := len(f.commits) == 0
			f.commits = append(f.commits, append([]int64(nil), ids...))
			hold, fail := f.hold, f.fail
			f.mu.Unlock()
			if first && hold != nil {
				<-hold
			}
			if fail != nil {
				if err := fail(ids); err != nil {
					return nil, err
				}
			}
			errs, err := commit(ctx, ids)
			if err == nil {
				f.mu.Lock()
				for _, id := range ids {
					f.committed[id] = true
				}
				f.mu.Unlock()
			}
			return errs, err
		}
	})
	return f
}

// post sends the one-click POST for path and returns the status, and
// whether the subscriber's commit had returned when the answer came.
func (f *unsubFixture) post(path string, id int64) (int, bool) {
	req := httptest.NewRequest("POST", path, strings.NewReader("List-Unsubscribe=One-Click"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	f.mu.Lock()
	defer f.mu.Unlock()
	return w.Code, f.committed[id]
}

// burst posts every link at once while the first commit is held, waits
// until all but the one in that commit are queued behind it, releases it,
// and returns each request's status and whether it was answered after its
// commit.
func (f *unsubFixture) burst(t *testing.T) ([]int, []bool) {
	t.Helper()
	f.hold = make(chan struct{})
	n := len(f.ids)
	codes, after := make([]int, n), make([]bool, n)
	var answered sync.WaitGroup
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		answered.Add(1)
		go func() {
			defer wg.Done()
			codes[i], after[i] = f.post(f.paths[i], f.ids[i])
			answered.Done()
		}()
	}
	f.waitQueued(t, n)
	close(f.hold)
	wg.Wait()
	return codes, after
}

// waitQueued waits until the held first commit and the queue behind it
// hold all n requests. On failure it releases the commit, so that nothing
// stays blocked.
func (f *unsubFixture) waitQueued(t *testing.T, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		f.mu.Lock()
		held := 0
		if len(f.commits) > 0 {
			held = len(f.commits[0])
		}
		f.mu.Unlock()
		if held > 0 && held+web.QueuedUnsubscribes(f.srv) == n {
			return
		}
		select {
		case <-ctx.Done():
			close(f.hold)
			t.Fatalf("%d in the held commit and %d queued, want %d in all", held, web.QueuedUnsubscribes(f.srv), n)
		case <-time.After(time.Millisecond):
		}
	}
}

// statuses returns how many of the fixture's subscribers are unsubscribed.
func (f *unsubFixture) unsubscribed(t *testing.T) int {
	t.Helper()
	var n int
	if err := f.db.R.QueryRow(`SELECT COUNT(*) FROM subscribers WHERE status = 'unsubscribed'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestUnsubscribeQueue(t *testing.T) {
	t.Run("Burst", func(t *testing.T) {
		// 300 POSTs at once: each answered 200 only after its own commit,
		// all recorded, in few transactions of at most 128.
		const n = 300
		f := newUnsubFixture(t, n)
		codes, after := f.burst(t)
		for i := range n {
			if codes[i] != http.StatusOK || !after[i] {
				t.Fatalf("request %d: %d, answered after its commit: %v", i, codes[i], after[i])
			}
		}
		if got := f.unsubscribed(t); got != n {
			t.Fatalf("%d unsubscribed, want %d", got, n)
		}
		// One commit held with what had arrived first, then the rest,
		// queued behind it, in groups of at most 128.
		var sizes []int
		for _, c := range f.commits {
			sizes = append(sizes, len(c))
		}
		want := []int{sizes[0]}
		for left := n - sizes[0]; left > 0; left -= min(left, 128) {
			want = append(want, min(left, 128))
		}
		if fmt.Sprint(sizes) != fmt.Sprint(want) {
			t.Fatalf("commit sizes %v, want %v", sizes, want)
		}
	})
	t.Run("BadTokenNotQueued", func(t *testing.T) {
		f := newUnsubFixture(t, 2)
		if code, _ := f.post("/unsubscribe/not-a-token", 0); code == http.StatusOK {
			t.Fatalf("bad token answered %d", code)
		}
		if code, after := f.post(f.paths[0], f.ids[0]); code != http.StatusOK || !after {
			t.Fatalf("good token: %d, after commit %v", code, after)
		}
		if len(f.commits) != 1 || len(f.commits[0]) != 1 || f.commits[0][0] != f.ids[0] {
			t.Fatalf("commits %v, want only the good token's", f.commits)
		}
	})
	t.Run("GroupFails", func(t *testing.T) {
		// A group's transaction fails: each request is tried alone; the
		// one that fails alone too is answered with an error, not
		// recorded, and takes no other with it.
		const n = 20
		f := newUnsubFixture(t, n)
		poison := f.ids[7]
		f.fail = func(ids []int64) error {
			for _, id := range ids {
				if id == poison {
					return errors.New("disk I/O error (injected)")
				}
			}
			return nil
		}
		codes, after := f.burst(t)
		for i := range n {
			switch {
			case f.ids[i] == poison:
				if codes[i] != http.StatusInternalServerError || after[i] {
					t.Fatalf("poisoned request: %d, committed %v; want 500, not committed", codes[i], after[i])
				}
			case codes[i] != http.StatusOK || !after[i]:
				t.Fatalf("request %d: %d, answered after its commit: %v", i, codes[i], after[i])
			}
		}
		if got := f.unsubscribed(t); got != n-1 {
			t.Fatalf("%d unsubscribed, want %d", got, n-1)
		}
	})
	t.Run("CloseDrains", func(t *testing.T) {
		// Close while a burst is queued: every request is answered after
		// its commit; one after Close commits alone.
		const n = 50
		f := newUnsubFixture(t, n+1)
		f.hold = make(chan struct{})
		codes, after := make([]int, n), make([]bool, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i], after[i] = f.post(f.paths[i], f.ids[i])
			}()
		}
		f.waitQueued(t, n)
		closed := make(chan struct{})
		go func() { f.srv.Close(); close(closed) }()
		close(f.hold)
		<-closed
		wg.Wait()
		for i := range n {
			if codes[i] != http.StatusOK || !after[i] {
				t.Fatalf("request %d: %d, answered after its commit: %v", i, codes[i], after[i])
			}
		}
		if code, after := f.post(f.paths[n], f.ids[n]); code != http.StatusOK || !after {
			t.Fatalf("after Close: %d, committed %v", code, after)
		}
		if got := f.unsubscribed(t); got != n+1 {
			t.Fatalf("%d unsubscribed, want %d", got, n+1)
		}
	})
}
