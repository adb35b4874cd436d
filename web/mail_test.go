package web

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/mailer"
	"bothsides/subscribers"
)

// fakeTimers is OutboxConfig.After driven by the test: a retry runs when
// the test fires it, never by itself.
type fakeTimers struct {
	mu      sync.Mutex
	pending []*fakeTimer
	delays  []time.Duration
}

type fakeTimer struct {
	f       func()
	stopped bool
	fired   bool
}

func (ft *fakeTimers) after(d time.Duration, f func()) func() bool {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	t := &fakeTimer{f: f}
	ft.pending = append(ft.pending, t)
	ft.delays = append(ft.delays, d)
	return func() bool {
		ft.mu.Lock()
		defer ft.mu.Unlock()
		if t.fired || t.stopped {
			return false
		}
		t.stopped = true
		return true
	}
}

// fire runs the retries scheduled so far and returns how many.
func (ft *fakeTimers) fire() int {
	ft.mu.Lock()
	ts := ft.pending
	ft.pending = nil
	var run []func()
	for _, t := range ts {
		if !t.stopped {
			t.fired = true
			run = append(run, t.f)
		}
	}
	ft.mu.Unlock()
	for _, f := range run {
		f()
	}
	return len(run)
}

func (ft *fakeTimers) scheduled() []time.Duration {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return append([]time.Duration(nil), ft.delays...)
}

// perSend is a Mailer safe for concurrent use: each Send has a connection
// of its own, as serve's pool gives each worker one.
type perSend struct{ relay *mailer.SMTP }

func (p perSend) Send(ctx context.Context, m *mailer.Message) error {
	c := p.relay.Open()
	defer c.Close()
	return c.Send(ctx, m)
}

// syncBuffer is a log destination safe for the workers' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type outboxFixture struct {
	srv  *Server
	subs *subscribers.Store
	smtp *testsupport.SMTPServer
	reg  *prometheus.Registry
	log  *syncBuffer
}

func newOutboxFixture(t *testing.T, oc OutboxConfig) *outboxFixture {
	t.Helper()
	db, _ := testsupport.MustOpenDB(t)
	f := &outboxFixture{subs: subscribers.NewStore(db), smtp: testsupport.StartSMTP(t), reg: prometheus.NewRegistry(), log: &syncBuffer{}}
	relay, err := mailer.NewSMTP(mailer.Config{URL: f.smtp.URL() + "?tls=none", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := db.Secret(context.Background(), "token_secret")
	r, err := digest.NewRenderer(digest.RenderConfig{BaseURL: "http://127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	f.srv, err = New(Config{BaseURL: "http://127.0.0.1", Mailer: perSend{relay}, From: "Both Sides <digest@bothsides.example>",
		Outbox: oc, Registerer: f.reg, Logger: slog.New(slog.NewTextHandler(f.log, nil))},
		db, digest.NewStore(db), f.subs, subscribers.NewSigner(key), r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.srv.Close)
	return f
}

// queue signs addr up and queues its mail, as POST /subscribe does.
func (f *outboxFixture) queue(t *testing.T, addr string) {
	t.Helper()
	if !f.srv.out.reserve() {
		t.Fatalf("outbox full at %s", addr)
	}
	sub, outcome, err := f.subs.SignUp(context.Background(), subscribers.SignUp{Email: addr}, subscribers.SignUpConfig{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.srv.signUpMail(sub, outcome)
	if err != nil {
		t.Fatal(err)
	}
	f.srv.out.add(m)
}

func (f *outboxFixture) counter(name string) float64 {
	var c prometheus.Collector
	switch name {
	case "sent":
		c = f.srv.out.m.sent
	case "retried":
		c = f.srv.out.m.retried
	case "failed":
		c = f.srv.out.m.failed
	case "dropped":
		c = f.srv.out.m.dropped
	case "refused":
		c = f.srv.out.m.refused
	}
	return testutil.ToFloat64(c)
}

// waitHeld waits until the outbox holds n mails.
func (f *outboxFixture) waitHeld(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.srv.out.mu.Lock()
		held := f.srv.out.held
		f.srv.out.mu.Unlock()
		if held == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox holds %d mails, want %d", held, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestOutbox_RetryHoldsNoWorker: with one worker, a relay answering 451
// for one address does not hold back the mails queued after it: they go
// out while its retry waits on a timer nobody has fired. The retries then
// follow the schedule (10s, 1m) and it fails after three attempts; a 550 is
// not retried.
func TestOutbox_RetryHoldsNoWorker(t *testing.T) {
	timers := &fakeTimers{}
	f := newOutboxFixture(t, OutboxConfig{Workers: 1, After: timers.after})
	f.smtp.OnRcpt = func(to string) error {
		switch to {
		case "busy@example.com":
			return testsupport.Reply(451, "try again later")
		case "gone@example.com":
			return testsupport.Reply(550, "no such user")
		}
		return nil
	}
	f.smtp.Sync()
	f.queue(t, "busy@example.com")
	f.queue(t, "gone@example.com")
	others := []string{"a@example.com", "b@example.com", "c@example.com"}
	for _, addr := range others {
		f.queue(t, addr)
	}
	for _, addr := range others {
		f.smtp.WaitFor(t, addr, 1)
	}
	f.waitHeld(t, 1) // busy@, waiting for its timer
	if got, want := fmt.Sprint(timers.scheduled()), "[10s]"; got != want {
		t.Fatalf("retries scheduled %s, want %s", got, want)
	}
	if n := timers.fire(); n != 1 {
		t.Fatalf("fired %d retries, want 1", n)
	}
	for deadline := time.Now().Add(10 * time.Second); len(timers.scheduled()) < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("second retry never scheduled")
		}
	}
	if got, want := fmt.Sprint(timers.scheduled()), "[10s 1m0s]"; got != want {
		t.Fatalf("retries scheduled %s, want %s", got, want)
	}
	timers.fire()
	f.waitHeld(t, 0)
	if got := len(f.smtp.To("busy@example.com")); got != 0 {
		t.Fatalf("busy@: %d messages, want 0", got)
	}
	for name, want := range map[string]float64{"sent": 3, "retried": 2, "failed": 2, "dropped": 0} {
		if got := f.counter(name); got != want {
			t.Errorf("%s=%v, want %v", name, got, want)
		}
	}
	if !strings.Contains(f.log.String(), "attempts=3") {
		t.Errorf("no failure logged after 3 attempts:\n%s", f.log)
	}
}

// TestOutbox_HungRelayHoldsOneWorker: a relay that keeps one mail in
// flight (it never answers the DATA) holds one worker; the other workers
// deliver the rest.
func TestOutbox_HungRelayHoldsOneWorker(t *testing.T) {
	f := newOutboxFixture(t, OutboxConfig{Workers: 2, After: (&fakeTimers{}).after})
	release := make(chan struct{})
	f.smtp.Accepted = func(to []string) {
		if len(to) == 1 && to[0] == "hung@example.com" {
			<-release
		}
	}
	f.smtp.Sync()
	f.queue(t, "hung@example.com")
	f.waitHeld(t, 1)
	for deadline := time.Now().Add(10 * time.Second); len(f.smtp.To("hung@example.com")) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("hung@ never reached the relay")
		}
	}
	for i := range 5 {
		f.queue(t, fmt.Sprintf("r%d@example.com", i))
	}
	for i := range 5 {
		f.smtp.WaitFor(t, fmt.Sprintf("r%d@example.com", i), 1)
	}
	close(release)
	f.waitHeld(t, 0)
	if got := f.counter("sent"); got != 6 {
		t.Fatalf("sent=%v, want 6", got)
	}
}

// TestOutbox_CloseTriesRetriesOnce: at shutdown a mail waiting for its
// retry is tried once more at once instead of being forgotten.
func TestOutbox_CloseTriesRetriesOnce(t *testing.T) {
	timers := &fakeTimers{}
	f := newOutboxFixture(t, OutboxConfig{Workers: 1, After: timers.after})
	var mu sync.Mutex
	refuse := true
	f.smtp.OnRcpt = func(string) error {
		mu.Lock()
		defer mu.Unlock()
		if refuse {
			return testsupport.Reply(451, "try again later")
		}
		return nil
	}
	f.smtp.Sync()
	f.queue(t, "later@example.com")
	for deadline := time.Now().Add(10 * time.Second); len(timers.scheduled()) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no retry scheduled")
		}
	}
	mu.Lock()
	refuse = false
	mu.Unlock()
	f.srv.Close()
	if got := len(f.smtp.To("later@example.com")); got != 1 {
		t.Fatalf("later@: %d messages after Close, want 1", got)
	}
	if f.counter("sent") != 1 || f.counter("dropped") != 0 {
		t.Fatalf("sent=%v dropped=%v, want 1 and 0", f.counter("sent"), f.counter("dropped"))
	}
}
