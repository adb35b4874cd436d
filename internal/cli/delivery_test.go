package cli

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/mailer"
)

// deliveryCLI is a CLI with stories for 2026-11-27 and n subscribers,
// sending to an SMTP server on loopback.
func deliveryCLI(t *testing.T, n int) (*cli, *testsupport.SMTPServer) {
	t.Helper()
	c := newCLI(t)
	srv := testsupport.StartSMTP(t)
	c.env["BOTHSIDES_SMTP_URL"] = srv.URL()
	day := testsupport.Epoch.Add(-3 * time.Hour)
	c.must(importFile(t,
		story("alpha", "Alpha story", day, "left", "center", "right"),
		story("beta", "Beta story", day.Add(time.Hour), "left", "center"),
	), "stories", "import", "-")
	var csv strings.Builder
	csv.WriteString("email,name\n")
	for i := range n {
		fmt.Fprintf(&csv, "reader%03d@example.com,Reader %d\n", i, i)
	}
	c.must(csv.String(), "subscribers", "import", "-")
	return c, srv
}

// TestSend_KilledAndResumed runs the real binary, kills it with SIGKILL in
// the middle of an edition while every connection has a message in flight
// that the server already stored, starts the send again and counts what
// the server received: everyone exactly once, except the messages in flight
// at the kill, which arrive twice. There are at most --connections of them.
func TestSend_KilledAndResumed(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	bin := filepath.Join(t.TempDir(), "bothsides")
	build := exec.Command(goBin, "build", "-o", bin, "bothsides")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const readers, conns, killAt = 60, 4, 25
	c, srv := deliveryCLI(t, readers)
	var accepted, blocked atomic.Int32
	var resumed atomic.Bool
	unblock := make(chan struct{})
	srv.Accepted = func([]string) {
		if resumed.Load() {
			return
		}
		if accepted.Add(1) >= killAt {
			blocked.Add(1)
			<-unblock // stored, but the 250 never reaches the sender
		}
	}
	// The sender is another process: its connections do not order the
	// hook's setting before the sessions' reads (the race detector says so).
	srv.Sync()
	cmd := exec.Command(bin, "send", "--date", "2026-11-27", "--connections", fmt.Sprint(conns))
	cmd.Env = append(os.Environ(), "BOTHSIDES_DB="+c.env["BOTHSIDES_DB"], "BOTHSIDES_SMTP_URL="+srv.URL())
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for blocked.Load() < conns {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			close(unblock)
			t.Fatalf("only %d connections in flight after %d messages", blocked.Load(), accepted.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	resumed.Store(true) // not srv.Accepted = nil: the killed sender's sessions may still read it
	close(unblock)
	firstRun := len(srv.Messages())

	out := c.must("", "send", "--date", "2026-11-27", "--connections", fmt.Sprint(conns))
	if !strings.Contains(out, fmt.Sprintf("%d sent, 0 failed", readers)) {
		t.Fatalf("resumed send: %q", out)
	}
	dups := 0
	for i := range readers {
		addr := fmt.Sprintf("reader%03d@example.com", i)
		switch n := len(srv.To(addr)); {
		case n == 0:
			t.Fatalf("%s was skipped", addr)
		case n > 2:
			t.Fatalf("%s received %d copies", addr, n)
		case n == 2:
			dups++
		}
	}
	if dups != conns {
		t.Fatalf("%d readers got two copies, want exactly the %d in flight at the kill (first run delivered %d)", dups, conns, firstRun)
	}
	show := c.must("", "editions", "show", "2026-11-27")
	if !strings.Contains(show, fmt.Sprintf("deliveries: %d total, %d sent, 0 failed", readers, readers)) {
		t.Fatalf("editions show:\n%s", show)
	}
}

func TestSend_Flags(t *testing.T) {
	t.Run("ConnectionsAndRate", func(t *testing.T) {
		c, srv := deliveryCLI(t, 5)
		out := c.must("", "send", "--date", "2026-11-27", "--connections", "2", "--rate", "1000")
		if !strings.Contains(out, "5 sent") || len(srv.Messages()) != 5 {
			t.Fatalf("send: %q, %d messages", out, len(srv.Messages()))
		}
	})
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"ErrBadEnvConnections", map[string]string{"BOTHSIDES_CONNECTIONS": "four"}, nil, "BOTHSIDES_CONNECTIONS"},
		{"ErrBadEnvRate", map[string]string{"BOTHSIDES_RATE": "-3"}, nil, "BOTHSIDES_RATE"},
		{"ErrZeroConnections", nil, []string{"--connections", "0"}, "--connections 0"},
		{"ErrDKIMWithoutSelector", map[string]string{"BOTHSIDES_DKIM_KEY": "/nonexistent.pem"}, nil, "selector"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, srv := deliveryCLI(t, 2)
			for k, v := range tc.env {
				c.env[k] = v
			}
			_, _, err := c.run("", append([]string{"send", "--date", "2026-11-27"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Fatalf("%d messages sent despite the bad setting", n)
			}
		})
	}
}

func TestSend_DKIMKeyFile(t *testing.T) {
	c, srv := deliveryCLI(t, 3)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	key := c.dkimKey(rsaKey, "bs1")
	c.env["BOTHSIDES_FROM"] = "Both Sides <digest@news.example.com>"
	c.env["BOTHSIDES_UNSUBSCRIBE_MAILTO"] = "mailto:leave@news.example.com"
	c.must("", "send", "--date", "2026-11-27")
	pemBytes, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := parseKeyForTest(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range srv.Messages() {
		if _, err := testsupport.VerifyDKIM(m.Data, "bs1", "news.example.com", signer); err != nil {
			t.Fatalf("%s: %v", m.To[0], err)
		}
	}
	if len(srv.Messages()) != 3 {
		t.Fatalf("%d messages", len(srv.Messages()))
	}
}

func TestServe_Metrics(t *testing.T) {
	c, _ := deliveryCLI(t, 4)
	a, _, _ := c.app("")
	a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Cleanup(a.close)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := a.editionParams("2026-11-27", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.sendEdition(ctx, p); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.serve(ctx, ln, "off", nil); err != nil && !errors.Is(err, context.Canceled) {
			t.Error(err)
		}
	}()
	waitHealthy(t, base)
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	for _, want := range []string{
		"bothsides_messages_sent_total 4",
		"bothsides_messages_failed_total 0",
		"bothsides_messages_retried_total 0",
		"bothsides_queue_depth 0",
		"bothsides_send_duration_seconds_count 4",
		"go_goroutines",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	cancel()
	wg.Wait()
}

func TestProgressBar(t *testing.T) {
	for _, tc := range []struct {
		p    delivery.Progress
		want string
	}{
		{delivery.Progress{Total: 200, Sent: 50, Failed: 2, Pending: 148, SentNow: 50, Elapsed: 10 * time.Second},
			"2026-11-27 [#####-----------------]  26% 50/200 sent, 2 failed  5 msg/s  ETA 0:30"},
		{delivery.Progress{Total: 10, Sent: 10, SentNow: 10, Elapsed: time.Second},
			"2026-11-27 [######################] 100% 10/10 sent  10 msg/s"},
		{delivery.Progress{Total: 100000, Sent: 1000, Skipped: 1, Pending: 98999, SentNow: 1000, Elapsed: time.Second},
			"2026-11-27 [----------------------]   1% 1000/100000 sent, 1 skipped  1000 msg/s  ETA 1:39"},
	} {
		if got := progressBar("2026-11-27", tc.p, 22); got != tc.want {
			t.Errorf("progressBar:\n got %q\nwant %q", got, tc.want)
		}
	}
	if got := fmtDuration(3*time.Hour + 4*time.Minute + 5*time.Second); got != "3:04:05" {
		t.Errorf("fmtDuration = %q", got)
	}
}

// parseKeyForTest returns the public key of a PEM private key.
func parseKeyForTest(b []byte) (crypto.PublicKey, error) {
	k, err := mailer.ParseDKIMKey(b)
	if err != nil {
		return nil, err
	}
	return k.Public(), nil
}

// TestSend_RelayDownPausesThenResume: with a relay that refuses every
// connection, send stops with a clear error instead of retrying for hours;
// editions show says why; after editions resume and with the relay back,
// send mails everyone once.
func TestSend_RelayDownPausesThenResume(t *testing.T) {
	c, srv := deliveryCLI(t, 4)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "smtp://" + ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	c.env["BOTHSIDES_SMTP_URL"] = dead
	out, _, err := c.run("", "send", "--date", "2026-11-27")
	if !errors.Is(err, delivery.ErrRelayRefusing) || !strings.Contains(err.Error(), "connect") || strings.Contains(err.Error(), "admin") {
		t.Fatalf("send to a dead relay: %v\n%s", err, out)
	}
	if !strings.Contains(out, "stopped with 0 sent, 4 pending") {
		t.Fatalf("send output %q", out)
	}
	show := c.must("", "editions", "show", "2026-11-27")
	for _, want := range []string{"2026-11-27 (default): paused", "paused: the relay refused 4 messages in a row with no success", "4 queued"} {
		if !strings.Contains(show, want) {
			t.Fatalf("editions show lacks %q:\n%s", want, show)
		}
	}
	if out := c.must("", "editions", "resume", "2026-11-27"); !strings.Contains(out, "sending, 0 sent, 4 pending") {
		t.Fatalf("resume: %q", out)
	}
	c.env["BOTHSIDES_SMTP_URL"] = srv.URL()
	if out := c.must("", "send", "--date", "2026-11-27"); !strings.Contains(out, "4 sent, 0 failed") {
		t.Fatalf("send after resume: %q", out)
	}
	for i := range 4 {
		if n := len(srv.To(fmt.Sprintf("reader%03d@example.com", i))); n != 1 {
			t.Fatalf("reader %d got %d copies", i, n)
		}
	}
	t.Run("PauseAndCancel", func(t *testing.T) {
		if _, _, err := c.run("", "editions", "pause", "2026-11-27"); !errors.Is(err, digest.ErrBadTransition) {
			t.Fatalf("pausing a sent edition: %v", err)
		}
		if _, _, err := c.run("", "editions", "cancel", "2026-11-27"); !errors.Is(err, digest.ErrBadTransition) {
			t.Fatalf("cancelling a sent edition: %v", err)
		}
		if _, _, err := c.run("", "editions", "resume", "2026-12-01"); !errors.Is(err, digest.ErrNoEdition) {
			t.Fatalf("resuming a missing edition: %v", err)
		}
	})
}
