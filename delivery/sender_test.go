package delivery_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/mailer"
	"bothsides/sample"
	"bothsides/sqlite"
	"bothsides/subscribers"
)

// fixture is a database with the sample stories, n subscribers, a frozen
// edition and an SMTP server on loopback.
type fixture struct {
	db     *sqlite.DB
	clock  *testsupport.Clock
	srv    *testsupport.SMTPServer
	subs   *subscribers.Store
	signer *subscribers.Signer
	render *digest.Renderer
	e      *digest.Edition
	ids    []int64 // subscriber ids, in order
	emails []string
}

func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	ctx := context.Background()
	db, clock := testsupport.MustOpenDB(t)
	f := &fixture{db: db, clock: clock, srv: testsupport.StartSMTP(t), subs: subscribers.NewStore(db)}
	stories, err := digest.ParseImport(bytes.NewReader(sample.Stories))
	if err != nil {
		t.Fatal(err)
	}
	store := digest.NewStore(db)
	if _, err := store.Import(ctx, stories); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		name := ""
		if i%3 != 2 {
			name = fmt.Sprintf("Reader %d", i)
		}
		s, err := f.subs.Add(ctx, fmt.Sprintf("r%03d@example.com", i), name)
		if err != nil {
			t.Fatal(err)
		}
		f.ids = append(f.ids, s.ID)
		f.emails = append(f.emails, s.Email)
	}
	f.e, err = store.Open(ctx, digest.AssembleParams{Date: "2026-11-27", WindowEnd: testsupport.Epoch})
	if err != nil {
		t.Fatal(err)
	}
	key, err := db.Secret(ctx, "token_secret")
	if err != nil {
		t.Fatal(err)
	}
	f.signer = subscribers.NewSigner(key)
	f.render, err = digest.NewRenderer(digest.RenderConfig{BaseURL: "https://news.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// sender returns a Sender to the fixture's SMTP server whose retry waits
// move the test clock instead of sleeping.
func (f *fixture) sender(t *testing.T, cfg delivery.Config, dkim *mailer.DKIM) *delivery.Sender {
	t.Helper()
	cfg.From = "Both Sides <digest@news.example.com>"
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg.BaseURL = "https://news.example.com"
	if cfg.Connections == 0 {
		cfg.Connections = 3
	}
	relay, err := mailer.NewSMTP(mailer.Config{URL: f.srv.URL(), Timeout: 5 * time.Second, DKIM: dkim})
	if err != nil {
		t.Fatal(err)
	}
	s := delivery.NewSender(cfg, f.db, f.render, f.signer, func() delivery.Conn { return relay.Open() })
	s.Sleep = func(ctx context.Context, d time.Duration) error {
		f.clock.Advance(d)
		return ctx.Err()
	}
	return s
}

// received counts the messages the server got per recipient.
func (f *fixture) received() map[string]int {
	n := map[string]int{}
	for _, m := range f.srv.Messages() {
		for _, to := range m.To {
			n[to]++
		}
	}
	return n
}

func (f *fixture) stats(t *testing.T) delivery.Stats {
	t.Helper()
	st, err := delivery.LedgerStats(context.Background(), f.db.R, f.e.ID)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (f *fixture) delivery(t *testing.T, email string) (status string, attempts, code int, reply string) {
	t.Helper()
	err := f.db.R.QueryRow(`SELECT d.status, d.attempts, d.last_code, d.last_reply FROM deliveries d
		JOIN subscribers s ON s.id = d.subscriber_id WHERE d.edition_id = ? AND s.email = ?`, f.e.ID, email).
		Scan(&status, &attempts, &code, &reply)
	if err != nil {
		t.Fatalf("delivery %s: %v", email, err)
	}
	return
}

func (f *fixture) editionStatus(t *testing.T) string {
	t.Helper()
	var s string
	if err := f.db.R.QueryRow(`SELECT status FROM editions WHERE id = ?`, f.e.ID).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSender_Send(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		f := newFixture(t, 30)
		reg := prometheus.NewRegistry()
		m := delivery.NewMetrics(reg)
		s := f.sender(t, delivery.Config{Connections: 4, Metrics: m}, nil)
		st, err := s.Send(ctx, f.e)
		if err != nil {
			t.Fatal(err)
		}
		if st.Sent != 30 || st.Pending() != 0 || st.Failed != 0 {
			t.Fatalf("stats %+v, want 30 sent", st)
		}
		got := f.received()
		for _, e := range f.emails {
			if got[e] != 1 {
				t.Fatalf("%s received %d copies, want 1", e, got[e])
			}
		}
		if got, want := f.editionStatus(t), "sent"; got != want {
			t.Fatalf("edition status %s, want %s", got, want)
		}
		if _, err := os.Stat(delivery.LeasePath(f.db.Path, f.e.ID)); !os.IsNotExist(err) {
			t.Fatalf("lock file left behind after a finished send: %v", err)
		}
		if _, err := os.Stat(delivery.JournalPath(f.db.Path, f.e.ID)); !os.IsNotExist(err) {
			t.Fatalf("journal left behind after a finished send: %v", err)
		}
		if got := testutil.ToFloat64(prometheusCounter(t, reg, "bothsides_messages_sent_total")); got != 30 {
			t.Fatalf("bothsides_messages_sent_total = %v, want 30", got)
		}
		if p := s.Progress(); p.Sent != 30 || p.Pending != 0 || p.Total != 30 {
			t.Fatalf("progress %+v", p)
		}
		// Sending again mails nobody.
		if _, err := s.Send(ctx, f.e); err != nil {
			t.Fatal(err)
		}
		if n := len(f.srv.Messages()); n != 30 {
			t.Fatalf("second send: server has %d messages, want 30", n)
		}
	})

	t.Run("HeadersAndBodyMatchPersonalize", func(t *testing.T) {
		f := newFixture(t, 3)
		s := f.sender(t, delivery.Config{UnsubscribeMailto: "mailto:leave@news.example.com"}, nil)
		if _, err := s.Send(ctx, f.e); err != nil {
			t.Fatal(err)
		}
		rendered, err := f.render.Render(f.e)
		if err != nil {
			t.Fatal(err)
		}
		for i, email := range f.emails {
			msgs := f.srv.To(email)
			if len(msgs) != 1 {
				t.Fatalf("%s: %d messages", email, len(msgs))
			}
			m, err := testsupport.ParseMail(msgs[0].Data)
			if err != nil {
				t.Fatal(err)
			}
			h := m.Header
			unsub := "https://news.example.com/unsubscribe/" + f.signer.Link(subscribers.PurposeUnsubscribe, f.ids[i], 0, f.clock.Now())
			for name, want := range map[string]string{
				"From":                  `"Both Sides" <digest@news.example.com>`,
				"List-Unsubscribe":      "<" + unsub + ">, <mailto:leave@news.example.com>",
				"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
				"List-Id":               "Both Sides daily digest <default.news.example.com>",
				"Feedback-Id":           "2026-11-27:default:digest:bothsides",
				"Date":                  "Fri, 27 Nov 2026 07:00:00 +0000",
				"Precedence":            "bulk",
			} {
				if got := h.Get(name); got != want {
					t.Errorf("%s: %s = %q, want %q", email, name, got, want)
				}
			}
			id := h.Get("Message-Id")
			if !strings.HasPrefix(id, fmt.Sprintf("<e%d.s%d.a1.", f.e.ID, f.ids[i])) || !strings.HasSuffix(id, "@news.example.com>") {
				t.Errorf("Message-ID %q not on the sender's domain", id)
			}
			if got := testsupport.DecodeHeader(h.Get("Subject")); got != rendered.Subject {
				t.Errorf("Subject %q, want %q", got, rendered.Subject)
			}
			sub, err := f.subs.Find(ctx, f.ids[i])
			if err != nil {
				t.Fatal(err)
			}
			wantHTML, wantText := rendered.Personalize(digest.Personal{Name: sub.Name, Email: sub.Email, UnsubscribeURL: unsub,
				PreferencesURL: "https://news.example.com/preferences/" + f.signer.Link(subscribers.PurposePreferences, f.ids[i], 0, f.clock.Now())})
			lf := func(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }
			if lf(m.HTML) != lf(string(wantHTML)) {
				t.Errorf("%s: HTML differs from Personalize's", email)
			}
			if lf(m.Text) != lf(string(wantText)) {
				t.Errorf("%s: text differs from Personalize's:\n%s\n---\n%s", email, m.Text, wantText)
			}
			if msgs[0].From != "digest@news.example.com" {
				t.Errorf("envelope sender %q", msgs[0].From)
			}
		}
	})

	t.Run("DKIMVerifiesOnEveryMessage", func(t *testing.T) {
		f := newFixture(t, 6)
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		d, err := mailer.NewDKIM(key, "bs2026", "news.example.com")
		if err != nil {
			t.Fatal(err)
		}
		s := f.sender(t, delivery.Config{UnsubscribeMailto: "mailto:leave@news.example.com"}, d)
		if _, err := s.Send(ctx, f.e); err != nil {
			t.Fatal(err)
		}
		msgs := f.srv.Messages()
		if len(msgs) != 6 {
			t.Fatalf("%d messages", len(msgs))
		}
		for _, m := range msgs {
			vs, err := testsupport.VerifyDKIM(m.Data, "bs2026", "news.example.com", key.Public())
			if err != nil {
				t.Fatalf("%s: %v", m.To[0], err)
			}
			keys := strings.ToLower(strings.Join(vs[0].HeaderKeys, ","))
			if !strings.Contains(keys, "list-unsubscribe,") || !strings.Contains(keys, "list-unsubscribe-post") {
				t.Fatalf("List-Unsubscribe headers not signed: %s", keys)
			}
		}
	})

	t.Run("TemporaryAndPermanentFailures", func(t *testing.T) {
		f := newFixture(t, 12)
		var mu sync.Mutex
		tries := map[string]int{}
		f.srv.OnRcpt = func(to string) error {
			mu.Lock()
			defer mu.Unlock()
			tries[to]++
			switch to {
			case f.emails[1]: // greylisted twice
				if tries[to] <= 2 {
					return testsupport.Reply(451, "greylisted, try again later")
				}
			case f.emails[2]: // no such user
				return testsupport.Reply(550, "no such user")
			case f.emails[3]: // relay closing once
				if tries[to] == 1 {
					return testsupport.Reply(421, "too busy, closing")
				}
			}
			return nil
		}
		var drops atomic.Int32
		f.srv.DropData = func(to []string) bool {
			return to[0] == f.emails[4] && drops.Add(1) == 1
		}
		s := f.sender(t, delivery.Config{Connections: 2, RetryBase: time.Minute}, nil)
		st, err := s.Send(ctx, f.e)
		if err != nil {
			t.Fatal(err)
		}
		if st.Sent != 11 || st.Failed != 1 || st.Pending() != 0 {
			t.Fatalf("stats %+v, want 11 sent and 1 failed", st)
		}
		got := f.received()
		for i, e := range f.emails {
			want := 1
			if i == 2 {
				want = 0
			}
			if got[e] != want {
				t.Errorf("%s received %d, want %d", e, got[e], want)
			}
		}
		status, attempts, code, reply := f.delivery(t, f.emails[2])
		if status != "failed" || attempts != 1 || code != 550 || !strings.Contains(reply, "no such user") {
			t.Errorf("permanent failure recorded as %s/%d/%d/%q", status, attempts, code, reply)
		}
		if status, attempts, _, _ := f.delivery(t, f.emails[1]); status != "sent" || attempts != 3 {
			t.Errorf("greylisted: %s after %d attempts, want sent after 3", status, attempts)
		}
		if status, attempts, _, _ := f.delivery(t, f.emails[4]); status != "sent" || attempts != 2 {
			t.Errorf("dropped mid-DATA: %s after %d attempts, want sent after 2", status, attempts)
		}
		sub, err := f.subs.Find(ctx, f.ids[2])
		if err != nil {
			t.Fatal(err)
		}
		var bounces int
		f.db.R.QueryRow(`SELECT bounces FROM subscribers WHERE id = ?`, f.ids[2]).Scan(&bounces)
		if bounces != 1 || sub.Status != subscribers.StatusActive {
			t.Errorf("after one hard bounce: %d bounces, status %s; want 1, active", bounces, sub.Status)
		}
		fails, err := delivery.Failures(ctx, f.db.R, f.e.ID, 10)
		if err != nil || len(fails) != 1 || fails[0].Email != f.emails[2] || fails[0].Code != 550 {
			t.Errorf("failures %+v, %v", fails, err)
		}
	})

	t.Run("HardBouncesSuppress", func(t *testing.T) {
		f := newFixture(t, 4)
		f.srv.OnRcpt = func(to string) error {
			if to == f.emails[0] {
				return testsupport.Reply(550, "no such user")
			}
			return nil
		}
		f.db.W.Exec(`UPDATE subscribers SET bounces = 1 WHERE id = ?`, f.ids[0])
		s := f.sender(t, delivery.Config{BounceLimit: 2}, nil)
		if _, err := s.Send(ctx, f.e); err != nil {
			t.Fatal(err)
		}
		sub, err := f.subs.Find(ctx, f.ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if sub.Status != subscribers.StatusBounced {
			t.Fatalf("status %s after reaching the bounce limit, want bounced", sub.Status)
		}
	})

	t.Run("RetriesAreBounded", func(t *testing.T) {
		f := newFixture(t, 3)
		f.srv.OnRcpt = func(to string) error {
			if to == f.emails[0] {
				return testsupport.Reply(451, "try later")
			}
			return nil
		}
		s := f.sender(t, delivery.Config{MaxAttempts: 3}, nil)
		st, err := s.Send(ctx, f.e)
		if err != nil {
			t.Fatal(err)
		}
		if st.Sent != 2 || st.Failed != 1 {
			t.Fatalf("stats %+v", st)
		}
		status, attempts, code, _ := f.delivery(t, f.emails[0])
		if status != "failed" || attempts != 3 || code != 451 {
			t.Fatalf("%s after %d attempts (code %d), want failed after 3 (451)", status, attempts, code)
		}
		var bounces int
		f.db.R.QueryRow(`SELECT bounces FROM subscribers WHERE id = ?`, f.ids[0]).Scan(&bounces)
		if bounces != 0 {
			t.Fatalf("temporary failures counted %d bounces", bounces)
		}
	})

	t.Run("RetriesAreBoundedInAge", func(t *testing.T) {
		f := newFixture(t, 2)
		f.srv.OnRcpt = func(to string) error {
			if to == f.emails[0] {
				return testsupport.Reply(451, "try later")
			}
			return nil
		}
		s := f.sender(t, delivery.Config{MaxAttempts: 100, RetryBase: time.Hour, RetryMaxAge: 3 * time.Hour}, nil)
		st, err := s.Send(ctx, f.e)
		if err != nil {
			t.Fatal(err)
		}
		if st.Failed != 1 {
			t.Fatalf("stats %+v", st)
		}
		if _, attempts, _, _ := f.delivery(t, f.emails[0]); attempts > 4 {
			t.Fatalf("%d attempts within 3 hours of hourly doubling backoff", attempts)
		}
		if age := f.clock.Now().Sub(testsupport.Epoch); age > 12*time.Hour {
			t.Fatalf("kept retrying for %v", age)
		}
	})

	t.Run("RelayRefusingEverythingPauses", func(t *testing.T) {
		f := newFixture(t, 40)
		f.srv.OnRcpt = func(string) error { return testsupport.Reply(554, "relay access denied") }
		s := f.sender(t, delivery.Config{Connections: 2, PauseAfter: 5}, nil)
		st, err := s.Send(ctx, f.e)
		if !errors.Is(err, delivery.ErrRelayRefusing) || !errors.Is(err, delivery.ErrPaused) {
			t.Fatalf("err = %v, want ErrRelayRefusing", err)
		}
		if !strings.Contains(err.Error(), "554") {
			t.Errorf("error %q does not show the relay's reply", err)
		}
		if st.Failed != 0 || st.Sent != 0 || st.Queued != 40 {
			t.Fatalf("stats %+v: the refused messages must go back to the queue", st)
		}
		var bounces int
		f.db.R.QueryRow(`SELECT SUM(bounces) FROM subscribers`).Scan(&bounces)
		if bounces != 0 {
			t.Fatalf("%d bounces counted against subscribers for the relay's refusal", bounces)
		}
		if got := f.editionStatus(t); got != "paused" {
			t.Fatalf("edition %s, want paused", got)
		}
		state, _ := delivery.EditionSendState(ctx, f.db.R, f.e.ID)
		if !strings.Contains(state.PauseReason, "refused 5 messages in a row") {
			t.Fatalf("pause reason %q", state.PauseReason)
		}
		// Sending a paused edition does nothing until it is resumed.
		if _, err := s.Send(ctx, f.e); !errors.Is(err, delivery.ErrPaused) {
			t.Fatalf("send of a paused edition: %v", err)
		}
		f.srv.OnRcpt = nil
		if err := digest.SetEditionStatus(ctx, f.db, f.e.ID, "sending"); err != nil {
			t.Fatal(err)
		}
		st, err = s.Send(ctx, f.e)
		if err != nil || st.Sent != 40 {
			t.Fatalf("after resume: %+v, %v", st, err)
		}
		for e, n := range f.received() {
			if n != 1 {
				t.Fatalf("%s received %d", e, n)
			}
		}
	})

	t.Run("PauseAndResume", func(t *testing.T) {
		f := newFixture(t, 40)
		var n atomic.Int32
		f.srv.Accepted = func([]string) {
			if n.Add(1) == 10 {
				if err := digest.SetEditionStatus(ctx, f.db, f.e.ID, "paused"); err != nil {
					t.Error(err)
				}
			}
		}
		s := f.sender(t, delivery.Config{Connections: 2}, nil)
		st, err := s.Send(ctx, f.e)
		if !errors.Is(err, delivery.ErrPaused) || errors.Is(err, delivery.ErrCancelled) {
			t.Fatalf("err = %v, want ErrPaused", err)
		}
		if st.Sent < 10 || st.Sent > 12 || st.Sending != 0 {
			t.Fatalf("paused after the 10th message with %+v: want 10 to 12 sent (one per connection in flight), none in flight", st)
		}
		if err := digest.SetEditionStatus(ctx, f.db, f.e.ID, "sending"); err != nil {
			t.Fatal(err)
		}
		st, err = s.Send(ctx, f.e)
		if err != nil || st.Sent != 40 {
			t.Fatalf("after resume: %+v, %v", st, err)
		}
		for _, e := range f.emails {
			if got := f.received()[e]; got != 1 {
				t.Fatalf("%s received %d", e, got)
			}
		}
	})

	t.Run("Cancel", func(t *testing.T) {
		f := newFixture(t, 20)
		var n atomic.Int32
		f.srv.Accepted = func([]string) {
			if n.Add(1) == 5 {
				digest.SetEditionStatus(ctx, f.db, f.e.ID, "cancelled")
			}
		}
		s := f.sender(t, delivery.Config{Connections: 1}, nil)
		if _, err := s.Send(ctx, f.e); !errors.Is(err, delivery.ErrCancelled) {
			t.Fatalf("err = %v, want ErrCancelled", err)
		}
		if _, err := s.Send(ctx, f.e); !errors.Is(err, delivery.ErrCancelled) {
			t.Fatalf("second send: err = %v, want ErrCancelled", err)
		}
		if got := len(f.srv.Messages()); got != 5 {
			t.Fatalf("%d messages after cancelling at the 5th", got)
		}
		if err := digest.SetEditionStatus(ctx, f.db, f.e.ID, "sending"); !errors.Is(err, digest.ErrBadTransition) {
			t.Fatalf("resuming a cancelled edition: %v", err)
		}
	})

	t.Run("UnsubscribeDuringSend", func(t *testing.T) {
		f := newFixture(t, 10)
		f.srv.OnRcpt = func(to string) error {
			if to == f.emails[2] {
				if err := f.subs.Unsubscribe(ctx, f.ids[7]); err != nil {
					t.Error(err)
				}
				// Another reader pauses delivery meanwhile.
				if _, err := f.db.W.Exec(`UPDATE subscribers SET paused_until = '2027-01-01T00:00:00Z' WHERE id = ?`, f.ids[8]); err != nil {
					t.Error(err)
				}
			}
			return nil
		}
		s := f.sender(t, delivery.Config{Connections: 1}, nil)
		st, err := s.Send(ctx, f.e)
		if err != nil {
			t.Fatal(err)
		}
		if st.Sent != 8 || st.Skipped != 2 {
			t.Fatalf("stats %+v, want 8 sent, 2 skipped", st)
		}
		if status, _, _, reply := f.delivery(t, f.emails[8]); status != "skipped" || !strings.Contains(reply, "paused") {
			t.Fatalf("paused reader: %s %q", status, reply)
		}
		if got := f.received()[f.emails[7]]; got != 0 {
			t.Fatalf("unsubscribed reader got %d messages", got)
		}
		if status, _, _, reply := f.delivery(t, f.emails[7]); status != "skipped" || !strings.Contains(reply, "unsubscribed") {
			t.Fatalf("ledger: %s %q", status, reply)
		}
	})

	t.Run("Interrupted", func(t *testing.T) {
		// Cancel the context mid-send (what SIGTERM does): the messages in
		// flight finish and are recorded, nothing is left in flight, and a
		// second run sends the rest with no duplicate.
		f := newFixture(t, 50)
		cctx, cancel := context.WithCancel(ctx)
		var n atomic.Int32
		f.srv.Accepted = func([]string) {
			if n.Add(1) == 20 {
				cancel()
			}
		}
		s := f.sender(t, delivery.Config{Connections: 4}, nil)
		st, err := s.Send(cctx, f.e)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if st.Sending != 0 || st.Sent < 20 || st.Sent > 24 {
			t.Fatalf("after interrupt: %+v", st)
		}
		if got := len(f.srv.Messages()); got != st.Sent {
			t.Fatalf("server has %d, ledger says %d sent", got, st.Sent)
		}
		f.srv.Accepted = nil
		if st, err = s.Send(ctx, f.e); err != nil || st.Sent != 50 {
			t.Fatalf("resume: %+v %v", st, err)
		}
		for _, e := range f.emails {
			if got := f.received()[e]; got != 1 {
				t.Fatalf("%s received %d", e, got)
			}
		}
	})
}

func prometheusCounter(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			v := mf.GetMetric()[0].GetCounter().GetValue()
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: "copy"})
			c.Add(v)
			return c
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

// TestSender_RepliesRedactedInLogs: a relay that echoes the recipient in
// its refusal gets the address redacted in the log and in the edition's
// pause reason (which outlives an erasure); the ledger row, erased with
// its subscriber, keeps the reply whole for the admin.
func TestSender_RepliesRedactedInLogs(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 6)
	f.srv.OnRcpt = func(to string) error {
		if to == f.emails[0] {
			return testsupport.Reply(550, "5.1.1 <"+to+">: Recipient address rejected: User unknown")
		}
		return testsupport.Reply(451, "4.2.2 <"+to+">: mailbox busy")
	}
	var logs bytes.Buffer
	s := f.sender(t, delivery.Config{Connections: 1, PauseAfter: 3,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}, nil)
	_, err := s.Send(ctx, f.e)
	if !errors.Is(err, delivery.ErrRelayRefusing) {
		t.Fatalf("err = %v, want ErrRelayRefusing", err)
	}
	out := logs.String()
	if !strings.Contains(out, "Recipient address rejected") || !strings.Contains(out, "***@example.com") {
		t.Fatalf("the refusal is not logged with its domain:\n%s", out)
	}
	state, _ := delivery.EditionSendState(ctx, f.db.R, f.e.ID)
	for _, where := range []struct{ name, text string }{{"log", out}, {"pause reason", state.PauseReason}, {"error", err.Error()}} {
		for _, addr := range f.emails {
			if strings.Contains(where.text, addr) {
				t.Fatalf("the %s holds %s:\n%s", where.name, addr, where.text)
			}
		}
	}
	if _, _, _, reply := f.delivery(t, f.emails[0]); !strings.Contains(reply, f.emails[0]) {
		t.Fatalf("ledger reply %q: want the relay's words, address included", reply)
	}
}

// handOverConn records, for each message, whether the worker handed over
// the next one before the dot (mailer.Raw.Next) and to whom.
type handOverConn struct {
	delivery.Conn
	mu     *sync.Mutex
	handed *[]string
}

func (c handOverConn) SendRaw(ctx context.Context, from, to string, m mailer.Raw) error {
	if next := m.Next; next != nil {
		m.Next = func() *mailer.Next {
			n := next()
			if n != nil {
				c.mu.Lock()
				*c.handed = append(*c.handed, n.To)
				c.mu.Unlock()
			}
			return n
		}
	}
	return c.Conn.SendRaw(ctx, from, to, m)
}

// TestSender_PipelinesNext sends over one connection through the sink with
// faults behind pipelined dots: the second reader's RCPT refused, a 451 to
// a dot, the connection dropped after another's dot. Each worker hands
// over its next message before the dot; every reply lands on its own
// message in the ledger; the dropped one is sent again (its one duplicate),
// and every other reader gets exactly one copy.
func TestSender_PipelinesNext(t *testing.T) {
	const n = 8
	f := newFixture(t, n)
	gone, late, dropped := f.emails[1], f.emails[3], f.emails[5]
	var once451, onceDrop atomic.Bool
	f.srv.OnRcpt = func(to string) error {
		if to == gone {
			return testsupport.Reply(550, "5.1.1 no such user")
		}
		return nil
	}
	f.srv.OnData = func(to []string, _ []byte) error {
		if to[0] == late && once451.CompareAndSwap(false, true) {
			return testsupport.Reply(451, "4.3.0 try later")
		}
		return nil
	}
	f.srv.DropAfter = func(to []string) bool { return to[0] == dropped && onceDrop.CompareAndSwap(false, true) }
	f.srv.Sync()
	relay, err := mailer.NewSMTP(mailer.Config{URL: f.srv.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var handed []string
	s := delivery.NewSender(delivery.Config{From: "Both Sides <digest@news.example.com>", BaseURL: "https://news.example.com",
		Connections: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, f.db, f.render, f.signer,
		func() delivery.Conn { return handOverConn{Conn: relay.Open(), mu: &mu, handed: &handed} })
	s.Sleep = func(ctx context.Context, d time.Duration) error { f.clock.Advance(d); return ctx.Err() }
	if _, err := s.Send(context.Background(), f.e); err != nil {
		t.Fatal(err)
	}
	got := f.received()
	for _, e := range f.emails {
		want := 1
		switch e {
		case gone:
			want = 0
		case dropped:
			want = 2 // taken, its reply lost: sent again
		}
		if got[e] != want {
			t.Errorf("%s: %d copies, want %d", e, got[e], want)
		}
	}
	for _, tc := range []struct {
		email    string
		status   string
		attempts int
		code     int
	}{{gone, "failed", 1, 550}, {late, "sent", 2, 250}, {dropped, "sent", 2, 250}, {f.emails[0], "sent", 1, 250}} {
		status, attempts, code, reply := f.delivery(t, tc.email)
		if status != tc.status || attempts != tc.attempts || code != tc.code {
			t.Errorf("%s: %s after %d attempts, code %d (%s); want %s, %d, %d", tc.email, status, attempts, code, reply, tc.status, tc.attempts, tc.code)
		}
	}
	// The first pass hands over each next reader before the dot, the
	// refused one included (its RCPT goes behind the first's dot), but not
	// the one after it: a message refused before its DATA has no dot.
	mu.Lock()
	defer mu.Unlock()
	want := []string{f.emails[1], f.emails[3], f.emails[4], f.emails[5], f.emails[6], f.emails[7]}
	if len(handed) < len(want) || fmt.Sprint(handed[:len(want)]) != fmt.Sprint(want) {
		t.Fatalf("handed over %v, want %v first", handed, want)
	}
}
