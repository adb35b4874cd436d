package drills

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/mailer"
	"bothsides/sample"
	"bothsides/sqlite"
	"bothsides/subscribers"
)

// fault is what the faulty server does to one attempt at one recipient.
type fault int

const (
	deliver  fault = iota
	reply421       // service closing, at RCPT
	reply451       // local error, at RCPT
	reply452       // insufficient storage, at RCPT
	data451        // local error after the content
	stall          // no answer to the content until the client gives up
	drop           // connection dropped in the middle of DATA
	perm550        // mailbox unavailable, at RCPT (permanent)
	perm554        // transaction failed after the content (permanent)
	nFaults
)

var faultNames = [...]string{"delivered", "421", "451", "452", "451-data", "stall", "drop-mid-data", "550", "554"}

// faultPlan decides, from the seed alone, what happens to each attempt at
// each recipient, so that a run replays whatever order the connections
// take. A recipient is refused for good (550 or 554) on its first attempt
// with probability 1/20; otherwise each of its first maxTemp attempts
// fails temporarily with probability 1/4, and the next one succeeds.
type faultPlan struct {
	seed    uint64
	maxTemp int
}

func (p faultPlan) roll(to string, attempt int, salt string) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s/%d/%s", p.seed, to, attempt, salt)
	// FNV's low bits follow the last bytes too closely: mix (splitmix64).
	x := h.Sum64()
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func (p faultPlan) at(to string, attempt int) fault {
	if attempt == 1 {
		if r := p.roll(to, 0, "perm") % 40; r == 0 {
			return perm550
		} else if r == 1 {
			return perm554
		}
	}
	if attempt > p.maxTemp || p.roll(to, attempt, "temp")%4 != 0 {
		return deliver
	}
	// Stalls cost real time (the client's timeout): make them rarer.
	switch p.roll(to, attempt, "kind") % 11 {
	case 0, 1:
		return reply421
	case 2, 3:
		return reply451
	case 4, 5:
		return reply452
	case 6, 7:
		return data451
	case 8, 9:
		return drop
	default:
		return stall
	}
}

// faultyServer is an SMTP server on 127.0.0.1 that follows a faultPlan.
type faultyServer struct {
	*testsupport.SMTPServer
	plan  faultPlan
	stall time.Duration

	mu       sync.Mutex
	attempts map[string]int // RCPTs seen per recipient
	current  map[string]fault
	injected [nFaults]int
	stored   map[string]int
}

func startFaulty(t *testing.T, plan faultPlan, stallFor time.Duration) *faultyServer {
	f := &faultyServer{SMTPServer: testsupport.StartSMTP(t), plan: plan, stall: stallFor,
		attempts: map[string]int{}, current: map[string]fault{}, stored: map[string]int{}}
	f.Discard = true
	f.OnRcpt = func(to string) error {
		f.mu.Lock()
		f.attempts[to]++
		ft := plan.at(to, f.attempts[to])
		f.current[to] = ft
		f.injected[ft]++
		f.mu.Unlock()
		switch ft {
		case reply421:
			return testsupport.Reply(421, "4.3.2 service shutting down, drill")
		case reply451:
			return testsupport.Reply(451, "4.3.0 local error, drill")
		case reply452:
			return testsupport.Reply(452, "4.3.1 insufficient storage, drill")
		case perm550:
			return testsupport.Reply(550, "5.1.1 no such mailbox, drill")
		}
		return nil
	}
	f.DropData = func(to []string) bool { return f.fault(to) == drop }
	f.OnData = func(to []string, _ []byte) error {
		switch f.fault(to) {
		case data451:
			return testsupport.Reply(451, "4.3.0 queue write failed, drill")
		case perm554:
			return testsupport.Reply(554, "5.6.0 content rejected, drill")
		case stall:
			// Say nothing until the client has given up, then hang up as
			// a server that gave up on its client does; the message is
			// not stored, and what the client pipelined behind its dot
			// (the next message's commands) is never read.
			time.Sleep(f.stall)
			return testsupport.HangUp
		}
		return nil
	}
	f.Accepted = func(to []string) {
		f.mu.Lock()
		for _, a := range to {
			f.stored[a]++
		}
		f.mu.Unlock()
	}
	f.Sync()
	return f
}

func (f *faultyServer) fault(to []string) fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(to) != 1 {
		return deliver
	}
	return f.current[to[0]]
}

// inProcess is a database with the sample stories, n active subscribers and
// a frozen edition, for drills that drive the packages directly.
type inProcess struct {
	db     *sqlite.DB
	clock  *testsupport.Clock
	e      *digest.Edition
	render *digest.Renderer
	signer *subscribers.Signer
}

func newInProcess(t *testing.T, n int) *inProcess {
	t.Helper()
	ctx := context.Background()
	db, clock := testsupport.MustOpenDB(t)
	stories, err := digest.ParseImport(bytes.NewReader(sample.Stories))
	if err != nil {
		t.Fatal(err)
	}
	store := digest.NewStore(db)
	if _, err := store.Import(ctx, stories); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("email,name\n")
	for i := range n {
		fmt.Fprintf(&b, "%s,Reader %d\n", addressOf(i), i)
	}
	rows, bad, err := subscribers.ParseCSV(strings.NewReader(b.String()))
	if err != nil || len(bad) > 0 {
		t.Fatalf("subscribers: %v %v", err, bad)
	}
	if _, err := subscribers.NewStore(db).Import(ctx, rows, subscribers.ImportOptions{Batch: 1000}); err != nil {
		t.Fatal(err)
	}
	e, err := store.Open(ctx, digest.AssembleParams{Date: editionDate, WindowEnd: testsupport.Epoch})
	if err != nil {
		t.Fatal(err)
	}
	key, err := db.Secret(ctx, "token_secret")
	if err != nil {
		t.Fatal(err)
	}
	r, err := digest.NewRenderer(digest.RenderConfig{BaseURL: "https://news.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return &inProcess{db: db, clock: clock, e: e, render: r, signer: subscribers.NewSigner(key)}
}

// settle waits, for at most 10 seconds, until the number of goroutines is
// back to at most base, and returns the last count.
func settle(base int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 200 && n > base; i++ {
		time.Sleep(50 * time.Millisecond)
		runtime.GC()
		n = runtime.NumGoroutine()
	}
	return n
}

// TestDrill_SMTPFaults is drill 2: an edition sent in-process through a
// server that answers 421, 451 and 452 at RCPT, 451 after the content,
// 550 and 554 for good, stalls past the client's timeout and drops the
// connection in the middle of DATA, at random (seeded) per recipient and
// attempt. Every temporary failure is delivered in the end, once (a
// duplicate only where the server's 250 came after the client's timeout);
// every permanent one is recorded as failed with its code; each delivery's
// attempts in the ledger match what the server saw and stay within
// MaxAttempts; no goroutine and no connection outlives the send.
func TestDrill_SMTPFaults(t *testing.T) {
	const (
		n           = 600
		maxAttempts = 5
		connections = 4
	)
	plan := faultPlan{seed: seed(t), maxTemp: maxAttempts - 2}
	p := newInProcess(t, n)
	// Timeouts generous enough for a busy CI machine under -race: a reply
	// that comes after the client gave up is a duplicate nobody can avoid.
	srv := startFaulty(t, plan, 3500*time.Millisecond)
	relay, err := mailer.NewSMTP(mailer.Config{URL: srv.URL(), Timeout: 2 * time.Second, DataTimeout: 2500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	sender := delivery.NewSender(delivery.Config{
		From: "Both Sides <digest@news.example.com>", BaseURL: "https://news.example.com",
		Connections: connections, MaxAttempts: maxAttempts, RetryBase: time.Minute,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}, p.db, p.render, p.signer, func() delivery.Conn { return relay.Open() })
	var waits []time.Duration
	sender.Sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		p.clock.Advance(d)
		return ctx.Err()
	}

	base := runtime.NumGoroutine()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	stats, err := sender.Send(ctx, p.e)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("send: %v\nlog tail:\n%s", err, tail(logs.String(), 20))
	}
	relay.Close()

	// No goroutine and no connection outlives the send.
	if got := settle(base); got > base {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after the send, %d before:\n%s", got, base, buf[:runtime.Stack(buf, true)])
	}
	open, conns := srv.Conns()
	for i := 0; i < 100 && open > 0; i++ {
		time.Sleep(50 * time.Millisecond)
		open, conns = srv.Conns()
	}
	if open != 0 {
		t.Fatalf("%d SMTP connections left open by the client", open)
	}

	// Every delivery as the plan says.
	rows, err := p.db.R.Query(`SELECT s.email, d.status, d.attempts, d.last_code FROM deliveries d
		JOIN subscribers s ON s.id = d.subscriber_id WHERE d.edition_id = ?`, p.e.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	srv.mu.Lock()
	defer srv.mu.Unlock()
	var permanent, retried, retries, dups int
	seen := 0
	for rows.Next() {
		var email, status string
		var attempts, code int
		if err := rows.Scan(&email, &status, &attempts, &code); err != nil {
			t.Fatal(err)
		}
		seen++
		if got := srv.attempts[email]; attempts != got {
			t.Errorf("%s: %d attempts in the ledger, the server saw %d", email, attempts, got)
		}
		if attempts > maxAttempts {
			t.Errorf("%s: %d attempts, more than %d", email, attempts, maxAttempts)
		}
		switch first := plan.at(email, 1); first {
		case perm550, perm554:
			permanent++
			want := 550
			if first == perm554 {
				want = 554
			}
			if status != "failed" || code != want || attempts != 1 || srv.stored[email] != 0 {
				t.Errorf("%s refused for good with %d: ledger %s, code %d, %d attempts, %d stored", email, want, status, code, attempts, srv.stored[email])
			}
		default:
			if status != "sent" || srv.stored[email] == 0 {
				t.Errorf("%s: ledger %s after %d attempts, %d stored, want sent", email, status, attempts, srv.stored[email])
			}
			// More than one stored: the server's 250 came after the
			// client's timeout (a slow machine), at-least-once delivery.
			if k := srv.stored[email]; k > 1 {
				dups += k - 1
				t.Logf("%s stored %d times: an acceptance came after the client's timeout", email, k)
			}
			if attempts > 1 {
				retried++
				retries += attempts - 1
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if seen != n || stats.Sent+stats.Failed != n || stats.Failed != permanent {
		t.Fatalf("ledger: %d rows, stats %+v; want %d rows, %d failed", seen, stats, n, permanent)
	}
	if dups > n/100 {
		t.Errorf("%d duplicates, more than 1%% of %d: timeouts fire on accepted messages", dups, n)
	}
	// The waits between retry rounds stay within the backoff's bounds.
	for _, w := range waits {
		if w <= 0 || w > time.Minute<<(maxAttempts-1) {
			t.Errorf("waited %s before a retry round, want within (0, %s]", w, time.Minute<<(maxAttempts-1))
		}
	}
	var injected []string
	total := 0
	for f := reply421; f < nFaults; f++ {
		injected = append(injected, fmt.Sprintf("%s=%d", faultNames[f], srv.injected[f]))
		total += srv.injected[f]
	}
	for _, f := range []fault{reply421, reply451, reply452, data451, stall, drop, perm550, perm554} {
		if srv.injected[f] == 0 {
			t.Errorf("the plan injected no %s fault: change the seed or the size", faultNames[f])
		}
	}
	t.Logf("FIGURES drill=smtp-faults messages=%d faults=%d (%s) retried=%d retries=%d permanent=%d sent=%d duplicates=%d goroutines_before=%d smtp_connections=%d retry_rounds=%d elapsed=%s",
		n, total, strings.Join(injected, " "), retried, retries, permanent, stats.Sent, dups, base, conns, len(waits), elapsed.Round(time.Millisecond))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
