package drills

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestDrill_Crash is drill 1: a real send of 5,000 messages to an SMTP
// server on 127.0.0.1 by the bothsides binary, killed with SIGKILL at five
// random points (seeded, logged) and restarted each time until the edition
// finishes. From what the server received: nobody is missed, and the
// duplicates are at most the connections' in-flight messages per crash.
//
// Each kill lands at the worst moment: the server has stored a message and
// not yet answered 250, so the sender cannot know it was delivered.
func TestDrill_Crash(t *testing.T) {
	const (
		subscribersN = 5000
		crashes      = 5
		connections  = 4
	)
	r := newRand(seed(t))
	s := newSite(t)
	s.populate(subscribersN)
	srv := startSink(t, true)

	// Kill points: one at random in each fifth of the list's middle, so
	// they are far enough apart for each restart to make progress.
	var killAt []int
	lo, span := 100, (subscribersN-200)/crashes
	for i := range crashes {
		killAt = append(killAt, lo+i*span+r.IntN(span-2*connections))
	}
	t.Logf("killing the sender when the server has received message number %v", killAt)

	var (
		mu      sync.Mutex
		next    int       // index into killAt
		current *exec.Cmd // the sender running now
		killed  = map[*exec.Cmd]bool{}
	)
	// The sink runs this before it answers the message: a kill here is a
	// message stored whose 250 the sender never sees.
	srv.setHook(func(total int) {
		mu.Lock()
		defer mu.Unlock()
		if next < len(killAt) && total >= killAt[next] && current != nil && !killed[current] {
			next++
			killed[current] = true
			// The whole process group: SIGKILL, no chance to clean up.
			syscall.Kill(-current.Process.Pid, syscall.SIGKILL)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	runs := 0
	for ; ; runs++ {
		if runs > crashes+1 {
			t.Fatalf("the edition did not finish after %d runs", runs)
		}
		c := s.command(ctx, "send", "--date", editionDate, "--smtp", srv.URL(), "--connections", strconv.Itoa(connections))
		var out, errb bytes.Buffer
		c.Stdout, c.Stderr = &out, &errb
		mu.Lock()
		if err := c.Start(); err != nil {
			mu.Unlock()
			t.Fatal(err)
		}
		current = c
		mu.Unlock()
		err := c.Wait()
		mu.Lock()
		wasKilled := killed[c]
		current = nil
		mu.Unlock()
		got := srv.count()
		if err == nil {
			if wasKilled {
				t.Fatalf("run %d was killed but exited 0", runs+1)
			}
			t.Logf("run %d finished the edition: %s", runs+1, bytes.TrimSpace(out.Bytes()))
			break
		}
		var ee *exec.ExitError
		if !wasKilled || !errors.As(err, &ee) {
			t.Fatalf("run %d: %v\n%s", runs+1, err, errb.String())
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("run %d ended with %v, want SIGKILL", runs+1, err)
		}
		t.Logf("run %d killed after %d messages received in all", runs+1, got)
	}
	elapsed := time.Since(start)

	mu.Lock()
	defer mu.Unlock()
	if next != crashes {
		t.Fatalf("%d crashes, want %d", next, crashes)
	}
	dups := srv.check(t, subscribersN, crashes*connections)
	open, conns := srv.connections()
	for i := 0; i < 100 && open > 0; i++ {
		time.Sleep(20 * time.Millisecond) // the sink reports closes asynchronously
		open, conns = srv.connections()
	}
	if open != 0 {
		t.Errorf("%d SMTP connections still open after the last run", open)
	}

	// The ledger agrees: every delivery sent, none left behind.
	db, err := sql.Open("sqlite3", "file:"+s.db+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sent, other int
	if err := db.QueryRow(`SELECT COUNT(*) FILTER (WHERE status = 'sent'), COUNT(*) FILTER (WHERE status <> 'sent') FROM deliveries`).Scan(&sent, &other); err != nil {
		t.Fatal(err)
	}
	if sent != subscribersN || other != 0 {
		t.Fatalf("ledger: %d sent and %d other, want %d sent", sent, other, subscribersN)
	}
	var status string
	if err := db.QueryRow(`SELECT status FROM editions WHERE date = ?`, editionDate).Scan(&status); err != nil || status != "sent" {
		t.Fatalf("edition status %q, %v; want sent", status, err)
	}
	t.Logf("FIGURES drill=crash messages=%d received=%d crashes=%d runs=%d duplicates=%d missed=%d connections=%d smtp_connections=%d elapsed=%s",
		subscribersN, srv.count(), next, runs+1, dups, 0, connections, conns, elapsed.Round(time.Millisecond))
}
