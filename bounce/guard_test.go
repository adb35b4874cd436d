package bounce_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"bothsides/bounce"
	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/sqlite"
	"bothsides/subscribers"
)

func TestDomainFamily(t *testing.T) {
	for _, tt := range []struct{ domain, want string }{
		{"gmail.com", bounce.DomainGmail},
		{"GMail.Com", bounce.DomainGmail},
		{"googlemail.com", bounce.DomainGmail},
		{"yahoo.com", bounce.DomainYahoo},
		{"yahoo.co.uk", bounce.DomainYahoo},
		{"ymail.com", bounce.DomainYahoo},
		{"aol.com", bounce.DomainYahoo},
		{"outlook.com", bounce.DomainOutlook},
		{"hotmail.com", bounce.DomainOutlook},
		{"hotmail.fr", bounce.DomainOutlook},
		{"live.com", bounce.DomainOutlook},
		{"msn.com", bounce.DomainOutlook},
		{"example.org", bounce.DomainOther},
		{"gmail.com.evil.org", bounce.DomainOther},
		{"mail.yahoo.example", bounce.DomainOther},
		{"yahoo.com.br", bounce.DomainYahoo},
		{"hotmail.co.uk", bounce.DomainOutlook},
		{"live.nl", bounce.DomainOutlook},
		{"live.acme.com", bounce.DomainOther},
		{"outlook.example.org", bounce.DomainOther},
		{"yahoo", bounce.DomainOther},
		{"", bounce.DomainOther},
	} {
		if got := bounce.DomainFamily(tt.domain); got != tt.want {
			t.Errorf("DomainFamily(%q) = %q, want %q", tt.domain, got, tt.want)
		}
	}
}

// ledger is an edition and its deliveries written straight into a real
// database: n subscribers at domains in turn, all sent, the first hard of
// them refused with 550 at SMTP time.
type ledger struct {
	db      *sqlite.DB
	edition int64
	subs    []int64
}

var fixtureDomains = []string{"gmail.com", "yahoo.com", "hotmail.com", "example.org"}

func newLedger(t testing.TB, db *sqlite.DB, date string, status digest.EditionStatus, n, hard int) *ledger {
	t.Helper()
	l := &ledger{db: db}
	now := sqlite.Time(testsupport.Epoch)
	err := db.Tx(context.Background(), func(tx *sql.Tx) error {
		res, err := tx.Exec(`INSERT INTO editions (date, schedule, window_start, window_end, content, status, created_at, started_at)
			VALUES (?, 'default', ?, ?, '{}', ?, ?, ?)`, date, now, now, status, now, now)
		if err != nil {
			return err
		}
		l.edition, _ = res.LastInsertId()
		for i := range n {
			email := fmt.Sprintf("reader%d-%s@%s", i, date, fixtureDomains[i%len(fixtureDomains)])
			res, err := tx.Exec(`INSERT INTO subscribers (email, status, created_at, updated_at) VALUES (?, 'active', ?, ?)`, email, now, now)
			if err != nil {
				return err
			}
			id, _ := res.LastInsertId()
			l.subs = append(l.subs, id)
			st, code, reply := "sent", 250, "250 ok"
			if i < hard {
				st, code, reply = "failed", 550, "550 5.1.1 no such user"
			}
			if _, err := tx.Exec(`INSERT INTO deliveries (edition_id, subscriber_id, status, attempts, last_code, last_reply, created_at, updated_at)
				VALUES (?, ?, ?, 1, ?, ?, ?, ?)`, l.edition, id, st, code, reply, now, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func editionStatus(t testing.TB, db *sqlite.DB, id int64) (digest.EditionStatus, string) {
	t.Helper()
	var st digest.EditionStatus
	var reason string
	if err := db.R.QueryRow(`SELECT status, pause_reason FROM editions WHERE id = ?`, id).Scan(&st, &reason); err != nil {
		t.Fatal(err)
	}
	return st, reason
}

func newGuard(t *testing.T, db *sqlite.DB) *bounce.Guard {
	t.Helper()
	g, err := bounce.NewGuard(bounce.GuardConfig{}, db)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGuard_BounceRate(t *testing.T) {
	ctx := context.Background()
	t.Run("AtTheLimit", func(t *testing.T) {
		db, _ := testsupport.MustOpenDB(t)
		l := newLedger(t, db, "2026-11-27", digest.EditionSending, 600, 30) // 5.00 %
		v, err := newGuard(t, db).Check(ctx, l.edition)
		if err != nil {
			t.Fatal(err)
		}
		if v.Level != bounce.LevelOK || v.Paused {
			t.Fatalf("Check = %+v, want ok: 5 %% does not pass 5 %%", v)
		}
		if st, _ := editionStatus(t, db, l.edition); st != digest.EditionSending {
			t.Fatalf("status %s, want sending", st)
		}
	})
	t.Run("OverTheLimit", func(t *testing.T) {
		db, _ := testsupport.MustOpenDB(t)
		l := newLedger(t, db, "2026-11-27", digest.EditionSending, 600, 31) // 5.17 %
		g := newGuard(t, db)
		r, err := bounce.EditionReputation(ctx, db.R, l.edition)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := r.Total.Hard, 31; got != want {
			t.Fatalf("Hard = %d, want %d", got, want)
		}
		if got, want := r.Total.Attempted(), 600; got != want {
			t.Fatalf("Attempted = %d, want %d", got, want)
		}
		// 600 readers over 4 domains in turn, the first 31 refused: 8 of
		// them each at gmail, yahoo and hotmail (outlook.com), 7 at others.
		if got := r.Domains[2]; got.Domain != bounce.DomainOutlook || got.Hard != 8 || got.Sent != 142 {
			t.Fatalf("outlook.com counts %+v, want 8 hard and 142 sent", got)
		}
		v, err := g.Check(ctx, l.edition)
		if err != nil {
			t.Fatal(err)
		}
		if v.Level != bounce.LevelOver || !v.Paused {
			t.Fatalf("Check = %+v, want over and paused", v)
		}
		st, reason := editionStatus(t, db, l.edition)
		if st != digest.EditionPaused || !strings.Contains(reason, "hard-bounce rate 5.17 %") {
			t.Fatalf("edition %s %q, want paused with the hard-bounce rate as reason", st, reason)
		}
		// An operator resumes: the guard does not pause it again for the
		// same limit.
		if err := digest.SetEditionStatus(ctx, db, l.edition, digest.EditionSending); err != nil {
			t.Fatal(err)
		}
		if v, err := g.Check(ctx, l.edition); err != nil || v.Paused {
			t.Fatalf("Check after resume = %+v, %v; want no second pause", v, err)
		}
		if st, _ := editionStatus(t, db, l.edition); st != digest.EditionSending {
			t.Fatalf("status after resume and check %s, want sending", st)
		}
	})
	t.Run("TooFew", func(t *testing.T) {
		db, _ := testsupport.MustOpenDB(t)
		l := newLedger(t, db, "2026-11-27", digest.EditionSending, 499, 100)
		v, err := newGuard(t, db).Check(ctx, l.edition)
		if err != nil {
			t.Fatal(err)
		}
		if v.Level != bounce.LevelTooFew || v.Paused {
			t.Fatalf("Check = %+v, want too few: 499 deliveries", v)
		}
	})
	t.Run("AlreadySent", func(t *testing.T) {
		db, _ := testsupport.MustOpenDB(t)
		l := newLedger(t, db, "2026-11-27", digest.EditionSent, 600, 60)
		v, err := newGuard(t, db).Check(ctx, l.edition)
		if err != nil {
			t.Fatal(err)
		}
		if v.Level != bounce.LevelOver || v.Paused {
			t.Fatalf("Check = %+v, want over but not paused: the edition is sent", v)
		}
		if st, _ := editionStatus(t, db, l.edition); st != digest.EditionSent {
			t.Fatalf("status %s, want sent", st)
		}
	})
}

func TestGuard_Config(t *testing.T) {
	db, _ := testsupport.MustOpenDB(t)
	for _, cfg := range []bounce.GuardConfig{{MaxComplaintRate: 3}, {MaxBounceRate: -0.1}, {MinDeliveries: -1}} {
		if _, err := bounce.NewGuard(cfg, db); err == nil {
			t.Errorf("NewGuard(%+v) = nil error", cfg)
		}
	}
}

// gather returns the value of the metric name with the labels given.
func gather(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue next
				}
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

func TestGuard_Collector(t *testing.T) {
	db, _ := testsupport.MustOpenDB(t)
	newLedger(t, db, "2026-11-26", digest.EditionSent, 40, 4)
	g := newGuard(t, db)
	reg := prometheus.NewRegistry()
	reg.MustRegister(g.Collector())
	if v, ok := gather(t, reg, "bothsides_reputation_messages", map[string]string{"edition": "2026-11-26", "domain": "gmail.com", "outcome": "hard"}); !ok || v != 1 {
		t.Fatalf("gmail.com hard = %v (found %v), want 1", v, ok)
	}
	if v, ok := gather(t, reg, "bothsides_reputation_messages", map[string]string{"edition": "2026-11-26", "domain": "other", "outcome": "sent"}); !ok || v != 9 {
		t.Fatalf("other sent = %v (found %v), want 9", v, ok)
	}
	if v, ok := gather(t, reg, "bothsides_reputation_rate", map[string]string{"edition": "2026-11-26", "domain": "all", "rate": "hard_bounce"}); !ok || v != 0.1 {
		t.Fatalf("all hard_bounce rate = %v (found %v), want 0.1", v, ok)
	}
	if v, ok := gather(t, reg, "bothsides_reputation_scrape_error", nil); !ok || v != 0 {
		t.Fatalf("scrape error = %v (found %v), want 0", v, ok)
	}
}

// TestGuard_ComplaintRate records complaints through the store wrapped by
// the guard, as the intakes do: the check after each event pauses the
// edition when the rate passes 0.3 %, not before.
func TestGuard_ComplaintRate(t *testing.T) {
	ctx := context.Background()
	db, _ := testsupport.MustOpenDB(t)
	l := newLedger(t, db, "2026-11-27", digest.EditionSending, 1000, 0)
	sign := subscribers.NewSigner(sampleKey)
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	g, err := bounce.NewGuard(bounce.GuardConfig{Logger: log}, db)
	if err != nil {
		t.Fatal(err)
	}
	rec := g.Recorder(bounce.New(db, bounce.Config{Signer: sign, Logger: slog.New(slog.DiscardHandler)}))
	complain := func(i int) {
		t.Helper()
		ev := bounce.Event{Kind: bounce.KindComplaint, Source: "smtp", Token: sign.DeliveryToken(l.edition, l.subs[i]),
			Raw: []byte(fmt.Sprintf("complaint %d", i))}
		if err := rec.Record(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	complain(0) // 0.1 %: a warning
	if !strings.Contains(logs.String(), "reputation guard: warning") || !strings.Contains(logs.String(), "complaint rate 0.10 %") {
		t.Fatalf("log after 1 complaint in 1000:\n%s", logs.String())
	}
	complain(1)
	complain(2) // 3 of 1000: 0.3 %, at the limit
	if st, _ := editionStatus(t, db, l.edition); st != digest.EditionSending {
		t.Fatalf("after 3 complaints in 1000: %s, want sending", st)
	}
	r, err := bounce.EditionReputation(ctx, db.R, l.edition)
	if err != nil {
		t.Fatal(err)
	}
	if v := g.Judge(r); v.Level != bounce.LevelWarning || r.Total.Complaints != 3 {
		t.Fatalf("Judge = %+v with %d complaints, want a warning with 3", v, r.Total.Complaints)
	}
	complain(2) // the same report again counts once
	if st, _ := editionStatus(t, db, l.edition); st != digest.EditionSending {
		t.Fatalf("after a duplicate complaint: %s, want sending", st)
	}
	complain(3) // 0.4 %
	st, reason := editionStatus(t, db, l.edition)
	if st != digest.EditionPaused || !strings.Contains(reason, "complaint rate 0.40 % passed the limit of 0.30 %") {
		t.Fatalf("after 4 complaints in 1000: %s %q, want paused with the complaint rate", st, reason)
	}
}

// TestGuard_Reputation: the guard's copy of the ledger's split by domain
// follows the ledger, and its totals agree with the cheap ones.
func TestGuard_Reputation(t *testing.T) {
	ctx := context.Background()
	db, _ := testsupport.MustOpenDB(t)
	l := newLedger(t, db, "2026-11-27", digest.EditionSending, 40, 4)
	g := newGuard(t, db)
	first, err := g.Reputation(ctx, l.edition)
	if err != nil {
		t.Fatal(err)
	}
	if got := first.Domains[0]; got.Domain != bounce.DomainGmail || got.Sent != 9 || got.Hard != 1 {
		t.Fatalf("gmail.com %+v, want 9 sent and 1 hard", got)
	}
	// Reader 4 (gmail.com) is refused too: the split is read again.
	if _, err := db.W.Exec(`UPDATE deliveries SET status = 'failed', last_code = 550 WHERE subscriber_id = ?`, l.subs[4]); err != nil {
		t.Fatal(err)
	}
	again, err := g.Reputation(ctx, l.edition)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Domains[0]; got.Sent != 8 || got.Hard != 2 {
		t.Fatalf("gmail.com after a refusal %+v, want 8 sent and 2 hard", got)
	}
	totals, err := bounce.EditionTotals(ctx, db.R, l.edition)
	if err != nil {
		t.Fatal(err)
	}
	if totals.Total != again.Total {
		t.Fatalf("EditionTotals %+v, Reputation's total %+v: want the same", totals.Total, again.Total)
	}
}
