package drills

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/mailer"
	"bothsides/subscribers"
	"bothsides/web"
)

// TestDrill_SignUpMailStarvation is part of the security drill, against a
// running `bothsides serve`: a relay that answers 451 for some addresses and never finishes the DATA of another does not hold
// back the other sign-ups' mails, which arrive well before the first retry
// is even due (10 s; the old single worker slept 70 s per such mail), and
// /metrics counts the retries.
func TestDrill_SignUpMailStarvation(t *testing.T) {
	s := newSite(t)
	relay := testsupport.StartSMTP(t)
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	relay.OnRcpt = func(to string) error {
		if strings.HasPrefix(to, "busy") {
			return testsupport.Reply(451, "4.3.2 try again later")
		}
		return nil
	}
	relay.Accepted = func(to []string) {
		if len(to) == 1 && to[0] == "hung@example.com" {
			<-release
		}
	}
	relay.Sync()
	srv := s.serve(map[string]string{"BOTHSIDES_SMTP_URL": relay.URL() + "?tls=none"})
	post := func(addr string) {
		t.Helper()
		resp, body := do(t, newRequest(t, "POST", srv.URL+"/subscribe", url.Values{"email": {addr}}.Encode()))
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Check your inbox") {
			t.Fatalf("sign-up %s: %d", addr, resp.StatusCode)
		}
	}
	for _, addr := range []string{"busy1@example.com", "busy2@example.com", "hung@example.com"} {
		post(addr)
	}
	start := time.Now()
	const n = 8
	for i := range n {
		post(fmt.Sprintf("fine%d@example.com", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	for i := range n {
		if _, err := relay.Server.WaitFor(ctx, fmt.Sprintf("fine%d@example.com", i), 1); err != nil {
			t.Fatalf("fine%d@ not delivered within 8 s behind a failing relay (%d of %d in)", i, i, n)
		}
	}
	elapsed := time.Since(start)
	t.Logf("%d sign-up mails delivered in %v behind two 451s and a hung DATA", n, elapsed.Round(time.Millisecond))
	resp, body := do(t, newRequest(t, "GET", srv.URL+"/metrics", ""))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	for _, want := range []string{"bothsides_signup_mails_retried_total 2", "bothsides_signup_mails_refused_total 0",
		"bothsides_signup_mails_queued_total 11"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	unblock()
	if err := srv.stop(); err != nil {
		t.Fatalf("serve: %v\n%s", err, srv.logs.String())
	}
	// At shutdown the retries still waiting were tried once more and given
	// up on, each logged: none vanished.
	logs := srv.logs.String()
	if got := strings.Count(logs, "sign-up mail dropped at shutdown after a temporary failure"); got != 2 {
		t.Errorf("%d busy mails logged as dropped at shutdown, want 2:\n%s", got, logs)
	}
}

// TestDrill_SignUpOutboxFull is part of the security drill, in-process with a small outbox: a flood of sign-ups while the relay
// hangs fills the outbox; every sign-up beyond it is answered 503 with
// Retry-After (never "check your inbox"), nothing of it is stored, and the
// refusals are counted; what was accepted is delivered once the relay
// answers.
func TestDrill_SignUpOutboxFull(t *testing.T) {
	ctx := context.Background()
	db, _ := testsupport.MustOpenDB(t)
	relay := testsupport.StartSMTP(t)
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	relay.Accepted = func([]string) { <-release }
	relay.Sync()
	m, err := mailer.NewSMTP(mailer.Config{URL: relay.URL() + "?tls=none", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	key, _ := db.Secret(ctx, "token_secret")
	r, err := digest.NewRenderer(digest.RenderConfig{BaseURL: "http://127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	subs := subscribers.NewStore(db)
	const capacity = 8
	srv, err := web.New(web.Config{BaseURL: "http://127.0.0.1", Mailer: m, From: "Both Sides <digest@news.example.com>",
		Outbox: web.OutboxConfig{Workers: 1, Capacity: capacity}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		SignUp: subscribers.SignUpConfig{PerNetwork: subscribers.Limit{N: 1000, Window: time.Hour}}},
		db, digest.NewStore(db), subs, subscribers.NewSigner(key), r)
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	accepted, refused := 0, 0
	for i := range 40 {
		req := httptest.NewRequest("POST", "/subscribe", strings.NewReader(url.Values{"email": {fmt.Sprintf("flood%d@example.com", i)}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK:
			accepted++
		case http.StatusServiceUnavailable:
			refused++
			if w.Header().Get("Retry-After") == "" || strings.Contains(w.Body.String(), "Check your inbox") {
				t.Fatalf("flood%d: a 503 without Retry-After or saying to check the inbox", i)
			}
			if _, err := subs.FindByEmail(ctx, fmt.Sprintf("flood%d@example.com", i)); err == nil {
				t.Fatalf("flood%d: refused but stored", i)
			}
		default:
			t.Fatalf("flood%d: %d\n%s", i, w.Code, w.Body)
		}
	}
	t.Logf("%d sign-ups accepted, %d refused with 503 (outbox of %d)", accepted, refused, capacity)
	if accepted != capacity || refused != 40-capacity {
		t.Fatalf("%d accepted, %d refused; want %d and %d", accepted, refused, capacity, 40-capacity)
	}
	unblock()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := relay.Server.WaitAll(wctx, capacity); err != nil {
		t.Fatalf("accepted sign-ups not all delivered: %v", err)
	}
	srv.Close()
}

// TestDrill_DurableAcknowledgements is part of the storage drill: every
// commit behind an answer that tells a reader "done" (the confirmation, preferences, the one-click unsubscribe) runs with
// synchronous=FULL on the writer's connection, read inside each
// transaction; the send path's ledger commits, running at the same time,
// stay NORMAL.
func TestDrill_DurableAcknowledgements(t *testing.T) {
	ctx := context.Background()
	p := newInProcess(t, 200)
	var mu sync.Mutex
	var normal, full int
	p.db.BeforeCommit = func(tx *sql.Tx) {
		var n int
		if err := tx.QueryRow(`PRAGMA synchronous`).Scan(&n); err != nil {
			t.Errorf("read synchronous: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		switch n {
		case 1:
			normal++
		case 2:
			full++
		default:
			t.Errorf("a commit with synchronous=%d", n)
		}
	}
	snapshot := func() (int, int) { mu.Lock(); defer mu.Unlock(); return normal, full }
	srv, err := web.New(web.Config{BaseURL: "https://news.example.com", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		p.db, digest.NewStore(p.db), subscribers.NewStore(p.db), p.signer, p.render)
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	post := func(path, form string) {
		t.Helper()
		before := func() int { _, f := snapshot(); return f }()
		req := httptest.NewRequest("POST", path, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("POST %s: %d", path, w.Code)
		}
		if _, f := snapshot(); f <= before {
			t.Fatalf("POST %s answered 200 without a durable (FULL) commit", path)
		}
	}

	// A send runs while readers act: the ledger's commits and theirs
	// interleave on the one writer connection.
	sink := testsupport.StartSMTP(t)
	relay, err := mailer.NewSMTP(mailer.Config{URL: sink.URL() + "?tls=none", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	sender := delivery.NewSender(delivery.Config{From: "Both Sides <digest@news.example.com>", BaseURL: "https://news.example.com",
		Connections: 2, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		p.db, p.render, p.signer, func() delivery.Conn { return relay.Open() })
	sent := make(chan error, 1)
	go func() { _, err := sender.Send(ctx, p.e); sent <- err }()

	for i := range 20 {
		sub, err := subscribers.NewStore(p.db).FindByEmail(ctx, addressOf(i))
		if err != nil {
			t.Fatal(err)
		}
		switch i % 2 {
		case 0:
			post("/unsubscribe/"+p.signer.Token(subscribers.PurposeUnsubscribe, sub.ID, time.Time{}), "List-Unsubscribe=One-Click")
		case 1:
			post("/preferences/"+p.signer.Token(subscribers.PurposePreferences, sub.ID, time.Time{}), "name=Reader&hour=7")
		}
	}
	if err := <-sent; err != nil {
		t.Fatalf("send: %v", err)
	}
	n, f := snapshot()
	t.Logf("%d commits NORMAL (the ledger and the rest), %d FULL (the 20 readers' requests)", n, f)
	if f != 20 {
		t.Fatalf("%d durable commits, want 20 (one per request): the ledger ran FULL, or a request did not", f)
	}
	if n < 10 {
		t.Fatalf("only %d NORMAL commits: the send's ledger did not commit with NORMAL", n)
	}
}
