package drills

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"bothsides/subscribers"
)

// loadResult is what a load generator measured.
type loadResult struct {
	Requests   int    `json:"requests"`
	DurationUS int64  `json:"duration_us"`
	P50US      int64  `json:"p50_us"`
	P99US      int64  `json:"p99_us"`
	MaxUS      int64  `json:"max_us"`
	S5xx       int    `json:"s5xx"`
	S4xx       int    `json:"s4xx"`
	S429       int    `json:"s429"`
	Connect    int    `json:"connect_errors"`
	Read       int    `json:"read_errors"`
	Write      int    `json:"write_errors"`
	Timeouts   int    `json:"timeouts"`
	Threads    int    `json:"threads"`
	Unsubs     string `json:"unsubs"` // "thread:count,..."
	Tool       string `json:"-"`
}

func (r loadResult) rps() float64 { return float64(r.Requests) / (float64(r.DurationUS) / 1e6) }

// covered returns the token indexes (0-based) that were posted at least
// once: thread i of T posts i, i+T, i+2T... in turn.
func (r loadResult) covered(k int) []int {
	var out []int
	for _, part := range strings.Split(r.Unsubs, ",") {
		id, n, ok := strings.Cut(part, ":")
		if !ok {
			continue
		}
		i, _ := strconv.Atoi(id)
		c, _ := strconv.Atoi(n)
		for j := 0; j < c && i+j*r.Threads < k; j++ {
			out = append(out, i+j*r.Threads)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// loadDuration is how long the load drill drives the pages: 30s, or
// DRILL_LOAD_DURATION for quick local runs.
func loadDuration(t *testing.T) time.Duration {
	d := 30 * time.Second
	if v := os.Getenv("DRILL_LOAD_DURATION"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil || d < time.Second {
			t.Fatalf("DRILL_LOAD_DURATION=%q: want a duration of at least 1s", v)
		}
	}
	return d
}

// TestDrill_Load is drill 5: while `bothsides send` mails an edition of
// 20,000 messages (paced so that it lasts the whole load), a load
// generator (wrk, or a Go one where wrk is missing) drives one-click
// unsubscribes, sign-ups, the sign-up form and the archive pages of
// `bothsides serve` on the same database for 30 s (DRILL_LOAD_DURATION
// shortens it; DRILL_LOAD_TOOL=go uses the Go generator even with wrk). No 5xx, no "database is
// locked" in either log, every unsubscribe recorded, the send completes.
func TestDrill_Load(t *testing.T) {
	const (
		n       = 20000
		unsubsK = 1000 // subscribers the load unsubscribes
		threads = 2
		conns   = 16
	)
	dur := loadDuration(t)
	s := newSite(t)
	s.populate(n)
	relay := startSink(t, false)
	var delivered atomic.Int64
	relay.setHook(func(int) { delivered.Add(1) })
	srv := s.serve(map[string]string{"BOTHSIDES_SMTP_URL": relay.URL()})

	db, key := s.open()
	defer db.Close()
	signer := subscribers.NewSigner(key)
	// The load unsubscribes subscribers spread over the whole list, so
	// that some are reached by the send before their unsubscribe and some
	// after.
	var ids []int64
	var tokens bytes.Buffer
	rows, err := db.R.Query(`SELECT id FROM subscribers ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var all []int64
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		all = append(all, id)
	}
	rows.Close()
	for i := range unsubsK {
		id := all[i*len(all)/unsubsK]
		ids = append(ids, id)
		fmt.Fprintln(&tokens, signer.Token(subscribers.PurposeUnsubscribe, id, time.Time{}))
	}
	var pages bytes.Buffer
	fmt.Fprintf(&pages, "/editions\n/editions/%s\n/\n", editionDate)
	srows, err := db.R.Query(`SELECT id FROM stories ORDER BY id LIMIT 8`)
	if err != nil {
		t.Fatal(err)
	}
	for srows.Next() {
		var id string
		srows.Scan(&id)
		fmt.Fprintf(&pages, "/stories/%s\n", id)
	}
	srows.Close()
	tokensFile, pagesFile := filepath.Join(s.dir, "tokens.txt"), filepath.Join(s.dir, "pages.txt")
	os.WriteFile(tokensFile, tokens.Bytes(), 0o644)
	os.WriteFile(pagesFile, pages.Bytes(), 0o644)

	// The send, paced to last the load's duration.
	rate := math.Ceil(float64(n) / dur.Seconds())
	sendCtx, cancelSend := context.WithTimeout(context.Background(), dur+5*time.Minute)
	defer cancelSend()
	sendCmd := s.command(sendCtx, "send", "--date", editionDate, "--smtp", relay.URL(), "--rate", strconv.FormatFloat(rate, 'f', 0, 64))
	var sendOut, sendLog bytes.Buffer
	sendCmd.Stdout, sendCmd.Stderr = &sendOut, &sendLog
	start := time.Now()
	if err := sendCmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Load only once the send is going out.
	for delivered.Load() == 0 && time.Since(start) < time.Minute {
		time.Sleep(20 * time.Millisecond)
	}
	sentAtLoadStart := delivered.Load()

	var res loadResult
	if wrk, err := exec.LookPath("wrk"); err == nil && os.Getenv("DRILL_LOAD_TOOL") != "go" {
		res = runWrk(t, wrk, srv.URL, dur, threads, conns, tokensFile, pagesFile)
	} else {
		t.Logf("wrk not found (%v): using the Go load generator", err)
		res = runGoLoad(t, srv.URL, dur, threads, conns, tokens.String(), pages.String())
	}
	sentAtLoadEnd := delivered.Load()
	sendErr := sendCmd.Wait()
	sendTime := time.Since(start)
	if sendErr != nil {
		t.Fatalf("send: %v\n%s", sendErr, tail(sendLog.String(), 30))
	}
	if err := srv.stop(); err != nil {
		t.Logf("serve: %v", err)
	}

	t.Logf("load (%s): %d requests in %s, %.0f req/s, p50 %s, p99 %s, max %s; 5xx %d, 4xx %d, 429 %d, socket errors %d/%d/%d, timeouts %d",
		res.Tool, res.Requests, time.Duration(res.DurationUS)*time.Microsecond, res.rps(),
		time.Duration(res.P50US)*time.Microsecond, time.Duration(res.P99US)*time.Microsecond, time.Duration(res.MaxUS)*time.Microsecond,
		res.S5xx, res.S4xx, res.S429, res.Connect, res.Read, res.Write, res.Timeouts)
	if res.S5xx > 0 {
		t.Errorf("%d responses were 5xx", res.S5xx)
	}
	if res.Connect+res.Read+res.Write+res.Timeouts > 0 {
		t.Errorf("socket errors: connect %d, read %d, write %d, timeouts %d", res.Connect, res.Read, res.Write, res.Timeouts)
	}
	for which, log := range map[string]string{"serve": srv.logs.String(), "send": sendLog.String()} {
		if strings.Contains(log, "database is locked") || strings.Contains(log, "SQLITE_BUSY") {
			t.Errorf("the %s log says the database was locked:\n%s", which, grepLines(log, "locked", 5))
		}
		if strings.Contains(log, "level=ERROR") {
			t.Errorf("the %s log has errors:\n%s", which, grepLines(log, "level=ERROR", 5))
		}
	}

	// Every unsubscribe that was posted is recorded.
	// Each posted one must be recorded; on a slow machine not all are posted.
	covered := res.covered(unsubsK)
	if len(covered) < min(100, unsubsK) {
		t.Errorf("the load posted only %d unsubscribes in %s", len(covered), dur)
	}
	notRecorded := 0
	for _, i := range covered {
		var st string
		if err := db.R.QueryRow(`SELECT status FROM subscribers WHERE id = ?`, ids[i]).Scan(&st); err != nil {
			t.Fatal(err)
		}
		if st != "unsubscribed" {
			notRecorded++
			if notRecorded <= 5 {
				t.Errorf("subscriber %d was unsubscribed under load but is %s", ids[i], st)
			}
		}
	}

	// The send completed: every subscriber sent or, unsubscribed before
	// their turn, skipped; none failed, none left.
	var sent, skipped, other int
	err = db.R.QueryRow(`SELECT COUNT(*) FILTER (WHERE d.status = 'sent'), COUNT(*) FILTER (WHERE d.status = 'skipped'),
		COUNT(*) FILTER (WHERE d.status NOT IN ('sent', 'skipped')) FROM deliveries d`).Scan(&sent, &skipped, &other)
	if err != nil {
		t.Fatal(err)
	}
	if sent+skipped != n || other != 0 {
		t.Fatalf("ledger after the send: %d sent, %d skipped, %d other; want %d settled", sent, skipped, other, n)
	}
	var skippedActive int
	db.R.QueryRow(`SELECT COUNT(*) FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
		WHERE d.status = 'skipped' AND s.status = 'active'`).Scan(&skippedActive)
	if skippedActive > 0 {
		t.Errorf("%d active subscribers were skipped", skippedActive)
	}
	t.Logf("FIGURES drill=load tool=%s duration=%s requests=%d rps=%.0f p50=%s p99=%s max=%s s5xx=%d s4xx=%d s429=%d unsubscribes_posted=%d unsubscribes_recorded=%d messages=%d sent=%d skipped=%d sent_during_load=%d send_time=%s send_rate_cap=%.0f/s",
		res.Tool, dur, res.Requests, res.rps(), time.Duration(res.P50US)*time.Microsecond, time.Duration(res.P99US)*time.Microsecond,
		time.Duration(res.MaxUS)*time.Microsecond, res.S5xx, res.S4xx, res.S429, len(covered), len(covered)-notRecorded,
		n, sent, skipped, sentAtLoadEnd-sentAtLoadStart, sendTime.Round(time.Millisecond), rate)
}

func grepLines(log, what string, max int) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, what) && len(out) < max {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// runWrk drives the load with wrk and scripts/load.lua.
func runWrk(t *testing.T, wrk, base string, dur time.Duration, threads, conns int, tokensFile, pagesFile string) loadResult {
	t.Helper()
	script, err := filepath.Abs("../scripts/load.lua")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), dur+time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, wrk, "-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(conns), "-d"+strconv.Itoa(int(dur.Seconds()))+"s",
		"--timeout", "10s", "-s", script, base, "--", tokensFile, pagesFile, strconv.Itoa(threads))
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		t.Fatalf("wrk: %v\n%s%s", err, out.String(), errb.String())
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if j, ok := strings.CutPrefix(l, "LOAD "); ok {
			var r loadResult
			if err := json.Unmarshal([]byte(j), &r); err != nil {
				t.Fatalf("wrk result %q: %v", j, err)
			}
			r.Tool = "wrk"
			return r
		}
	}
	t.Fatalf("no result line from wrk:\n%s%s", out.String(), errb.String())
	return loadResult{}
}

// runGoLoad is the same mix as scripts/load.lua, for machines without wrk.
func runGoLoad(t *testing.T, base string, dur time.Duration, threads, conns int, tokens, pages string) loadResult {
	t.Helper()
	toks := strings.Fields(tokens)
	paths := strings.Fields(pages)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conns},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		res       = loadResult{Tool: "go", Threads: conns}
		unsubs    = make([]int, conns)
	)
	deadline := time.Now().Add(dur)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			s5, s4, s429, errs, signups := 0, 0, 0, 0, 0
			for k := 1; time.Now().Before(deadline); k++ {
				var req *http.Request
				form := func(path, body string) *http.Request {
					r, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
					r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					return r
				}
				switch k % 4 {
				case 0:
					i := w + (unsubs[w]%((len(toks)+conns-1)/conns))*conns
					if i >= len(toks) {
						i = w
					}
					unsubs[w]++
					req = form("/unsubscribe/"+toks[i], "List-Unsubscribe=One-Click")
				case 1:
					signups++
					req = form("/subscribe", fmt.Sprintf("email=load-%d-%d%%40example.com&name=Load&timezone=UTC", w, signups))
				case 2:
					req, _ = http.NewRequest("GET", base+"/subscribe", nil)
				default:
					req, _ = http.NewRequest("GET", base+paths[k%len(paths)], nil)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errs++
					continue
				}
				resp.Body.Close()
				lat = append(lat, time.Since(t0))
				switch c := resp.StatusCode; {
				case c >= 500:
					s5++
				case c == 429:
					s429++
				case c >= 400:
					s4++
				}
			}
			mu.Lock()
			latencies = append(latencies, lat...)
			res.S5xx += s5
			res.S4xx += s4
			res.S429 += s429
			res.Read += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.DurationUS = time.Since(start).Microseconds()
	slices.Sort(latencies)
	res.Requests = len(latencies)
	if len(latencies) > 0 {
		res.P50US = latencies[len(latencies)/2].Microseconds()
		res.P99US = latencies[len(latencies)*99/100].Microseconds()
		res.MaxUS = latencies[len(latencies)-1].Microseconds()
	}
	var parts []string
	for w, c := range unsubs {
		parts = append(parts, fmt.Sprintf("%d:%d", w, c))
	}
	res.Unsubs = strings.Join(parts, ",")
	return res
}
