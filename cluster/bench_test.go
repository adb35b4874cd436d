package cluster

import (
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

	"bothsides/feeds"
)

// BenchmarkCorpus clusters the labelled corpus in published order and
// reports B-cubed precision, recall and F1 and the adjusted Rand index
// against the labels, and articles per second.
//
//	go test -bench BenchmarkCorpus -run '^$' ./cluster/
func BenchmarkCorpus(b *testing.B) {
	items, labels := loadCorpus(b)
	var got map[int64]string
	cpu0 := cpuSeconds()
	for b.Loop() {
		got = run(New(DefaultConfig()), items)
	}
	b.StopTimer()
	p, r, f1 := BCubed(got, labels)
	b.ReportMetric(p, "precision")
	b.ReportMetric(r, "recall")
	b.ReportMetric(f1, "F1")
	b.ReportMetric(AdjustedRand(got, labels), "ARI")
	b.ReportMetric(float64(len(items))*float64(b.N)/b.Elapsed().Seconds(), "articles/s")
	b.ReportMetric(float64(len(items))*float64(b.N)/(cpuSeconds()-cpu0), "articles/cpu-s")
}

// cpuSeconds is the CPU time this process has used, user and system: on a
// shared machine it measures the work where the wall clock measures the queue.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// scaleArticles is how many articles BenchmarkScale clusters.
const scaleArticles = 100_000

// synthesise repeats the corpus until n articles, each copy a day after the
// last (so about three copies share a 48-hour window) and made a distinct set
// of events: every number, and every word used in fewer than commonEvents of
// the corpus's events, gets a prefix of its copy. The vocabulary common to
// news ("council", "vote", "storm") stays shared, as between real events.
func synthesise(items []feeds.Item, labels map[int64]string, n int) ([]feeds.Item, map[int64]string) {
	events := map[string]map[string]bool{}
	for _, it := range items {
		for _, tk := range append(tokenize(it.Title), tokenize(it.Description)...) {
			if events[tk.lower] == nil {
				events[tk.lower] = map[string]bool{}
			}
			events[tk.lower][labels[it.ID]] = true
		}
	}
	common := map[string]bool{}
	for w, e := range events {
		if len(e) >= commonEvents {
			common[w] = true
		}
	}
	out := make([]feeds.Item, 0, n)
	want := make(map[int64]string, n)
	for k := 0; len(out) < n; k++ {
		tag := "q" + strconv.FormatInt(int64(k), 36)
		for _, it := range items {
			if len(out) == n {
				break
			}
			c := it
			c.ID = int64(len(out) + 1)
			c.Published = it.Published.Add(time.Duration(k) * 24 * time.Hour)
			num := strconv.Itoa(k+1) + "9"
			c.Title, c.Description = retag(it.Title, tag, num, common), retag(it.Description, tag, num, common)
			out = append(out, c)
			want[c.ID] = tag + "/" + labels[it.ID]
		}
	}
	return out, want
}

// commonEvents is how many events must use a word for it to be common.
const commonEvents = 3

func retag(s, tag, num string, common map[string]bool) string {
	var b strings.Builder
	for _, w := range strings.Fields(s) {
		r := []rune(w)
		i := 0
		for i < len(r) && !unicode.IsLetter(r[i]) && !unicode.IsDigit(r[i]) {
			i++
		}
		core := strings.ToLower(strings.TrimFunc(w, func(c rune) bool { return !unicode.IsLetter(c) && !unicode.IsDigit(c) }))
		core = strings.TrimSuffix(strings.TrimSuffix(core, "'s"), "\u2019s")
		if i < len(r) && unicode.IsDigit(r[i]) {
			// a number stays a number, distinct per copy
			w = string(r[:i]) + num + string(r[i:])
		} else if i < len(r) && unicode.IsLetter(r[i]) && !stopWord(core) && !common[core] {
			t := tag
			if unicode.IsUpper(r[i]) {
				t = strings.ToUpper(tag[:1]) + tag[1:]
				r[i] = unicode.ToLower(r[i])
			}
			w = string(r[:i]) + t + string(r[i:])
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	return b.String()
}

// BenchmarkScale clusters 100,000 articles synthesised from the corpus over
// about 250 days, forgetting stories older than twice the window as the
// newsroom does, and reports the peak heap in use (HeapInuse sampled every
// 1,000 articles, above the heap before the run), the peak live heap (after a
// collection, every 10,000), articles per second, and the clustering's F1.
// The results map (100,000 entries) is counted in both.
//
//	go test -bench BenchmarkScale -run '^$' -benchtime 1x ./cluster/
func BenchmarkScale(b *testing.B) {
	base, labels := loadCorpus(b)
	items, want := synthesise(base, labels, scaleArticles)
	var got map[int64]string
	var peak, live uint64
	var held int
	cpu0 := cpuSeconds()
	for b.Loop() {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		floor := ms.HeapAlloc
		x := New(DefaultConfig())
		got = make(map[int64]string, len(items))
		next := 0
		for i, it := range items {
			m := x.Best(it)
			if m.Story == "" {
				next++
				m.Story = "s" + strconv.Itoa(next)
			}
			x.Put(it, m.Story)
			got[it.ID] = m.Story
			if i%1000 == 999 {
				x.Forget(it.Published.Add(-2 * x.Config().Window))
				b.StopTimer()
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse-min(floor, ms.HeapInuse))
				if i%10000 == 9999 { // the live heap, garbage collected
					runtime.GC()
					runtime.ReadMemStats(&ms)
					live = max(live, ms.HeapAlloc-min(floor, ms.HeapAlloc))
				}
				held = max(held, x.Len())
				b.StartTimer()
			}
		}
	}
	b.StopTimer()
	_, _, f1 := BCubed(got, want)
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(live)/(1<<20), "peak-live-MiB")
	b.ReportMetric(float64(held), "max-articles-held")
	b.ReportMetric(float64(len(items))*float64(b.N)/b.Elapsed().Seconds(), "articles/s")
	b.ReportMetric(float64(len(items))*float64(b.N)/(cpuSeconds()-cpu0), "articles/cpu-s")
	b.ReportMetric(f1, "F1")
}

func TestRetag(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Storm Aldric hits the coast.", "Qastorm Qaaldric qahits the coast."},
		{`"We are tired," nurses say`, `"We are qatired," qanurses say`},
		{"Rates rise to 4.75%", "Qarates qarise to 194.75%"},
	} {
		if got := retag(tc.in, "qa", "19", map[string]bool{"coast": true}); got != tc.want {
			t.Errorf("retag(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
