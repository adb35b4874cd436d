package digest_test

import (
	"fmt"
	"sync"
	"testing"

	"bothsides/digest"
)

func subscribersForBench(n int) []digest.Personal {
	out := make([]digest.Personal, n)
	for i := range out {
		out[i] = digest.Personal{
			Name:           fmt.Sprintf("Reader %d", i),
			Email:          fmt.Sprintf("reader%d@example.com", i),
			UnsubscribeURL: fmt.Sprintf("https://news.example/unsubscribe/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-%d", i),
			PreferencesURL: fmt.Sprintf("https://news.example/preferences/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-%d", i),
		}
	}
	return out
}

// BenchmarkRendered_Personalize measures the cost of one personalised
// message (HTML and text part) of a 10-story edition made by substitution
// into the edition rendered once: "substitute" appends into buffers reused
// from one message to the next (AppendPersonalized), "substitute-new-buffers"
// allocates both parts afresh (Personalize). The baseline in the same run,
// "render-per-message", renders the edition for each message (templates and
// CSS inlining), as a sender without the split would; it reports how many
// times slower that is than "substitute" as x-substitute.
//
//	go test -run '^$' -bench BenchmarkRendered_Personalize -benchtime 2s ./digest/
func BenchmarkRendered_Personalize(b *testing.B) {
	e := tenStories(b)
	r := newRenderer(b)
	rd, err := r.Render(e)
	if err != nil {
		b.Fatal(err)
	}
	people := subscribersForBench(64)
	var perMsg float64
	b.Run("substitute", func(b *testing.B) {
		b.ReportAllocs()
		var h, t []byte
		i := 0
		for b.Loop() {
			h, t = rd.AppendPersonalized(h[:0], t[:0], people[i%len(people)])
			i++
		}
		perMsg = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(perMsg/1000, "µs/msg")
		b.ReportMetric(float64(len(h)+len(t)), "bytes/msg")
	})
	b.Run("substitute-new-buffers", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			rd.Personalize(people[i%len(people)])
			i++
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "µs/msg")
	})
	b.Run("render-per-message", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			one, err := r.Render(e)
			if err != nil {
				b.Fatal(err)
			}
			one.Personalize(people[i%len(people)])
			i++
		}
		perRender := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(perRender/1000, "µs/msg")
		if perMsg > 0 {
			b.ReportMetric(perRender/perMsg, "x-substitute")
		}
	})
}

// TestRendered_PersonalizeConcurrent: one rendered edition serves several
// sending goroutines at once (run with -race).
func TestRendered_PersonalizeConcurrent(t *testing.T) {
	rd, err := newRenderer(t).Render(tenStories(t))
	if err != nil {
		t.Fatal(err)
	}
	people := subscribersForBench(8)
	want := make([]string, len(people))
	for i, p := range people {
		h, _ := rd.Personalize(p)
		want[i] = string(h)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 20 {
				i := (g + k) % len(people)
				if h, _ := rd.Personalize(people[i]); string(h) != want[i] {
					t.Errorf("goroutine %d: message for %s differs", g, people[i].Email)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestRendered_AppendPersonalized: reused buffers give each subscriber the
// same bytes as fresh ones, with nothing of the previous message left.
func TestRendered_AppendPersonalized(t *testing.T) {
	rd, err := newRenderer(t).Render(fixtureEdition(t, digest.DefaultSelection))
	if err != nil {
		t.Fatal(err)
	}
	var h, txt []byte
	for _, p := range subscribersForBench(3) {
		h, txt = rd.AppendPersonalized(h[:0], txt[:0], p)
		wh, wt := rd.Personalize(p)
		if string(h) != string(wh) || string(txt) != string(wt) {
			t.Fatalf("%s: reused buffers give another message", p.Email)
		}
	}
	prefix := []byte("X-Prefix\n")
	out, _ := rd.AppendPersonalized(prefix, nil, ada)
	if string(out[:len(prefix)]) != string(prefix) {
		t.Fatal("AppendPersonalized overwrote what was in dst")
	}
}
