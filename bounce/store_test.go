package bounce_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"bothsides/bounce"
	"bothsides/internal/testsupport"
	"bothsides/sqlite"
	"bothsides/subscribers"
)

// sampleKey signs the tokens written into the samples.
var sampleKey = []byte("bounce-samples-key-not-a-secret!")

// fixture is a database with the samples' eight readers (ids 1-8) and
// edition 1 sent to each of them.
type fixture struct {
	db    *sqlite.DB
	clock *testsupport.Clock
	subs  *subscribers.Store
	store *bounce.Store
	sign  *subscribers.Signer
}

var readers = []string{"ana.lima@example.net", "bruno.keller@example.org", "chidi.obi@example.com",
	"dana.reyes@example.com", "elif.demir@example.net", "farah.nasser@example.com", "gabriel.ito@example.net",
	"hana.sato@example.org"}

func newFixture(t testing.TB, cfg bounce.Config) *fixture {
	t.Helper()
	db, clock := testsupport.MustOpenDB(t)
	f := &fixture{db: db, clock: clock, subs: subscribers.NewStore(db), sign: subscribers.NewSigner(sampleKey)}
	ctx := context.Background()
	for i, email := range readers {
		s, err := f.subs.Add(ctx, email, "")
		if err != nil {
			t.Fatal(err)
		}
		if s.ID != int64(i+1) {
			t.Fatalf("reader %s has id %d, want %d", email, s.ID, i+1)
		}
	}
	f.addEdition(t, 1, "2026-11-27")
	cfg.Signer = f.sign
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	f.store = bounce.New(db, cfg)
	return f
}

// addEdition adds an edition sent to every reader.
func (f *fixture) addEdition(t testing.TB, id int64, date string) {
	t.Helper()
	now := sqlite.Time(f.clock.Now())
	if _, err := f.db.W.Exec(`INSERT INTO editions (id, date, window_start, window_end, content, status, created_at)
		VALUES (?, ?, ?, ?, '{}', 'sent', ?)`, id, date, now, now, now); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.W.Exec(`INSERT INTO deliveries (edition_id, subscriber_id, status, created_at, updated_at, sent_at)
		SELECT ?, id, 'sent', ?, ?, ? FROM subscribers`, id, now, now, now); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) subscriber(t *testing.T, id int64) *subscribers.Subscriber {
	t.Helper()
	s, err := f.subs.Find(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type row struct {
	subscriber, edition                                                    sql.NullInt64
	kind, status, recipient, domain, matchedBy, effect, source, diagnostic string
	rawLen, rawSize                                                        int
}

func (f *fixture) rows(t *testing.T) []row {
	t.Helper()
	rs, err := f.db.R.Query(`SELECT subscriber_id, edition_id, kind, status, recipient, domain, matched_by, effect,
		source, diagnostic, length(raw), raw_size FROM bounces ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		var rawLen sql.NullInt64
		if err := rs.Scan(&r.subscriber, &r.edition, &r.kind, &r.status, &r.recipient, &r.domain, &r.matchedBy,
			&r.effect, &r.source, &r.diagnostic, &rawLen, &r.rawSize); err != nil {
			t.Fatal(err)
		}
		r.rawLen = int(rawLen.Int64)
		out = append(out, r)
	}
	return out
}

func TestStore_Receive_Samples(t *testing.T) {
	ctx := context.Background()
	// Each sample against its own database: the effect on the one reader
	// it names, and nobody else.
	cases := []struct {
		file, envelopeTo string
		subscriber       int64
		status           subscribers.Status
		bounces          int
		kind             bounce.Kind
		effect           string
	}{
		{"postfix_dsn.eml", "bounces+" + tok1 + "@bounce.example.com", 1, subscribers.StatusActive, 1, bounce.KindHard, bounce.EffectCounted},
		{"exim_dsn.eml", "bounces@bounce.example.com", 2, subscribers.StatusActive, 1, bounce.KindHard, bounce.EffectCounted},
		{"exchange_dsn.eml", "bounces+" + tok3 + "@bounce.example.com", 3, subscribers.StatusActive, 0, bounce.KindSoft, ""},
		{"gmail_dsn.eml", "", 4, subscribers.StatusActive, 1, bounce.KindHard, bounce.EffectCounted},
		{"yahoo_dsn.eml", "bounces+" + tok5 + "@bounce.example.com", 5, subscribers.StatusActive, 1, bounce.KindHard, bounce.EffectCounted},
		{"yahoo_arf.eml", "bounces@bounce.example.com", 6, subscribers.StatusComplained, 0, bounce.KindComplaint, bounce.EffectComplained},
		{"outlook_arf.eml", "bounces@bounce.example.com", 7, subscribers.StatusComplained, 0, bounce.KindComplaint, bounce.EffectComplained},
		{"out_of_office.eml", "bounces+" + tok8 + "@bounce.example.com", 8, subscribers.StatusActive, 0, bounce.KindAutoReply, ""},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			f := newFixture(t, bounce.Config{BounceLimit: 3})
			rc, err := f.store.Receive(ctx, "smtp", tc.envelopeTo, crlf(readSample(t, tc.file)))
			if err != nil {
				t.Fatal(err)
			}
			if rc.Events != 1 || rc.Unparsed {
				t.Fatalf("Receipt = %+v, want 1 event", rc)
			}
			rows := f.rows(t)
			if len(rows) != 1 {
				t.Fatalf("%d rows, want 1", len(rows))
			}
			r := rows[0]
			if r.subscriber.Int64 != tc.subscriber || r.edition.Int64 != 1 || r.matchedBy != "token" {
				t.Errorf("matched subscriber %v edition %v by %q, want %d, 1, token", r.subscriber, r.edition, r.matchedBy, tc.subscriber)
			}
			if bounce.Kind(r.kind) != tc.kind || r.effect != tc.effect || r.source != "smtp" {
				t.Errorf("kind %q effect %q source %q, want %q %q smtp", r.kind, r.effect, r.source, tc.kind, tc.effect)
			}
			for id := int64(1); id <= 8; id++ {
				s := f.subscriber(t, id)
				wantStatus, wantBounces := subscribers.StatusActive, 0
				if id == tc.subscriber {
					wantStatus, wantBounces = tc.status, tc.bounces
				}
				if s.Status != wantStatus || s.Bounces != wantBounces {
					t.Errorf("subscriber %d: status %s bounces %d, want %s %d", id, s.Status, s.Bounces, wantStatus, wantBounces)
				}
				if id == tc.subscriber && tc.status == subscribers.StatusComplained && s.UnsubscribedAt.IsZero() {
					t.Errorf("a complaint must count as an unsubscribe: unsubscribed_at is not set")
				}
			}
		})
	}
}

func TestStore_Receive(t *testing.T) {
	ctx := context.Background()
	t.Run("Duplicate", func(t *testing.T) {
		f := newFixture(t, bounce.Config{})
		raw := readSample(t, "postfix_dsn.eml")
		for range 2 {
			if _, err := f.store.Receive(ctx, "smtp", "bounces+"+tok1+"@bounce.example.com", raw); err != nil {
				t.Fatal(err)
			}
		}
		rc, err := f.store.Receive(ctx, "imap", "", raw) // the same report read from the mailbox
		if err != nil {
			t.Fatal(err)
		}
		if rc.Events != 0 {
			t.Errorf("a third copy recorded %d events, want 0", rc.Events)
		}
		if n := len(f.rows(t)); n != 1 {
			t.Errorf("%d rows, want 1", n)
		}
		if s := f.subscriber(t, 1); s.Bounces != 1 {
			t.Errorf("bounces = %d, want 1", s.Bounces)
		}
	})
	t.Run("ForgedToken", func(t *testing.T) {
		f := newFixture(t, bounce.Config{})
		// One letter of the MAC changed, in the envelope and in the header.
		forged := tok1[:len(tok1)-1] + "t"
		raw := strings.ReplaceAll(string(readSample(t, "postfix_dsn.eml")), tok1, forged)
		rc, err := f.store.Receive(ctx, "smtp", "bounces+"+forged+"@bounce.example.com", []byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if rc.Events != 1 {
			t.Fatalf("Receipt = %+v", rc)
		}
		r := f.rows(t)[0]
		if r.subscriber.Valid || r.matchedBy != "" || r.effect != "" || r.recipient != "ana.lima@example.net" {
			t.Errorf("forged token: row %+v, want unmatched with the recipient kept", r)
		}
		if s := f.subscriber(t, 1); s.Bounces != 0 || s.Status != subscribers.StatusActive {
			t.Errorf("forged token changed the subscriber: %+v", s)
		}
	})
	t.Run("OtherKeyToken", func(t *testing.T) {
		// A well-formed token signed with another key ring.
		f := newFixture(t, bounce.Config{})
		other := subscribers.NewSigner([]byte("some-other-database-key-00000000")).DeliveryToken(1, 1)
		if _, err := f.store.Receive(ctx, "smtp", "bounces+"+other+"@bounce.example.com", readSample(t, "qmail_plain.eml")); err != nil {
			t.Fatal(err)
		}
		// The quoted header still holds the real token; the envelope's
		// comes first and names nobody.
		if r := f.rows(t)[0]; r.subscriber.Valid {
			t.Errorf("a token of another key matched subscriber %d", r.subscriber.Int64)
		}
	})
	t.Run("UnsubscribeTokenIsNoDeliveryToken", func(t *testing.T) {
		f := newFixture(t, bounce.Config{})
		link := f.sign.Token(subscribers.PurposeUnsubscribe, 1, time.Time{})
		if _, _, err := f.sign.VerifyDelivery(link, f.clock.Now()); err == nil {
			t.Fatal("an unsubscribe token verified as a delivery token")
		}
		tok := f.sign.DeliveryToken(1, 1)
		if _, err := f.sign.Verify(subscribers.PurposeUnsubscribe, tok, f.clock.Now()); err == nil {
			t.Fatal("a delivery token verified as an unsubscribe token")
		}
	})
	t.Run("Unparsed", func(t *testing.T) {
		f := newFixture(t, bounce.Config{})
		raw := []byte("From: someone@example.com\r\nSubject: hello\r\n\r\nJust saying hello.\r\n")
		rc, err := f.store.Receive(ctx, "smtp", "bounces+"+tok1+"@bounce.example.com", raw)
		if err != nil {
			t.Fatal(err)
		}
		if !rc.Unparsed || !strings.Contains(rc.Reason, "not a delivery report") || rc.Events != 1 {
			t.Fatalf("Receipt = %+v, want unparsed with the reason", rc)
		}
		r := f.rows(t)[0]
		if r.kind != "unparsed" || !strings.Contains(r.diagnostic, "not a delivery report") || r.rawLen != len(raw) {
			t.Errorf("row %+v", r)
		}
		// The token matched, but an unparsed message has no effect.
		if s := f.subscriber(t, 1); s.Bounces != 0 || s.Status != subscribers.StatusActive {
			t.Errorf("unparsed message changed the subscriber: %+v", s)
		}
	})
	t.Run("MalformedReport", func(t *testing.T) {
		f := newFixture(t, bounce.Config{})
		raw := []byte("From: MAILER-DAEMON@example.org\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; example.org\r\n\r\n--b--\r\n")
		rc, err := f.store.Receive(ctx, "imap", "", raw)
		if err != nil {
			t.Fatal(err)
		}
		if !rc.Unparsed || !strings.Contains(rc.Reason, "no per-recipient fields") {
			t.Fatalf("Receipt = %+v", rc)
		}
	})
	t.Run("Hostile", func(t *testing.T) {
		f := newFixture(t, bounce.Config{})
		long := strings.Repeat("é\xff<script>", 2000)
		raw := []byte("From: MAILER-DAEMON@relay.example.org\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n" +
			"Final-Recipient: rfc822; a@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; " + long + "\r\n" +
			"--b\r\nContent-Type: text/plain\r\n\r\n" + strings.Repeat("padding line\r\n", 100000) + "--b--\r\n")
		if _, err := f.store.Receive(ctx, "smtp", "", raw); err != nil {
			t.Fatal(err)
		}
		out, err := f.store.Put(ctx, bounce.Event{Kind: bounce.KindSoft, Source: "ses", ExternalID: "x",
			Status: strings.Repeat("4", 100), Recipient: "b@example.com\r\nBcc: c@example.com" + strings.Repeat("x", 1000),
			Diagnostic: long})
		if err != nil || out.Duplicate {
			t.Fatal(out, err)
		}
		for _, r := range f.rows(t) {
			if len(r.diagnostic) > 1000 || len(r.recipient) > 320 || len(r.status) > 32 || r.rawLen > bounce.DefaultRawCap ||
				strings.ContainsAny(r.diagnostic+r.recipient, "\r\n") {
				t.Errorf("row not bounded to one line: diagnostic %d, recipient %d, status %d bytes, raw %d", len(r.diagnostic), len(r.recipient), len(r.status), r.rawLen)
			}
		}
		if r := f.rows(t)[0]; r.rawSize != len(raw) || r.rawLen != bounce.DefaultRawCap {
			t.Errorf("raw %d of %d bytes kept, want %d of %d", r.rawLen, r.rawSize, bounce.DefaultRawCap, len(raw))
		}
	})
	t.Run("RawCapped", func(t *testing.T) {
		f := newFixture(t, bounce.Config{RawCap: 1000})
		raw := readSample(t, "postfix_dsn.eml")
		if _, err := f.store.Receive(ctx, "smtp", "", raw); err != nil {
			t.Fatal(err)
		}
		if r := f.rows(t)[0]; r.rawLen != 1000 || r.rawSize != len(raw) {
			t.Errorf("raw kept %d of %d bytes, want 1000 of %d", r.rawLen, r.rawSize, len(raw))
		}
	})
}

func TestStore_Put(t *testing.T) {
	ctx := context.Background()
	t.Run("HardBouncesReachTheLimit", func(t *testing.T) {
		f := newFixture(t, bounce.Config{BounceLimit: 2})
		f.addEdition(t, 2, "2026-11-28")
		for i, e := range []int64{1, 1, 2} { // the second report of edition 1 counts once
			out, err := f.store.Put(ctx, bounce.Event{Kind: bounce.KindHard, Status: "5.1.1", Source: "ses",
				ExternalID: fmt.Sprint("ev", i), Token: f.sign.DeliveryToken(e, 3)})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{bounce.EffectCounted, "", bounce.EffectBounced}[i]
			if out.Effect != want {
				t.Errorf("report %d: effect %q, want %q", i, out.Effect, want)
			}
		}
		if s := f.subscriber(t, 3); s.Status != subscribers.StatusBounced || s.Bounces != 2 {
			t.Errorf("subscriber 3: %s with %d bounces, want bounced with 2", s.Status, s.Bounces)
		}
	})
	t.Run("SoftBouncesPersist", func(t *testing.T) {
		f := newFixture(t, bounce.Config{SoftLimit: 3, SoftWindow: 10 * 24 * time.Hour})
		put := func(edition int64, id string) bounce.Outcome {
			t.Helper()
			out, err := f.store.Put(ctx, bounce.Event{Kind: bounce.KindSoft, Status: "4.2.2", Source: "smtp",
				ExternalID: id, Token: f.sign.DeliveryToken(edition, 4)})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		for e := int64(2); e <= 6; e++ {
			f.addEdition(t, e, fmt.Sprintf("2026-11-%d", 26+e))
		}
		put(1, "a")
		put(1, "b") // delayed twice about one message: one edition
		put(2, "c")
		f.clock.Advance(11 * 24 * time.Hour) // the first two fall out of the window
		put(3, "d")
		if out := put(4, "e"); out.Effect != "" {
			t.Fatalf("two editions in the window suppressed: %+v", out)
		}
		if s := f.subscriber(t, 4); s.Status != subscribers.StatusActive {
			t.Fatalf("status %s before the limit", s.Status)
		}
		if out := put(5, "f"); out.Effect != bounce.EffectBounced {
			t.Fatalf("third edition in the window: effect %q, want bounced", out.Effect)
		}
		if s := f.subscriber(t, 4); s.Status != subscribers.StatusBounced || s.Bounces != 0 {
			t.Errorf("subscriber 4: %s with %d bounces, want bounced with 0", s.Status, s.Bounces)
		}
		// Made active again by an administrator: the old bounces do not
		// count a second time.
		if err := f.subs.SetStatus(ctx, 4, subscribers.StatusActive); err != nil {
			t.Fatal(err)
		}
		if out := put(6, "g"); out.Effect != "" {
			t.Errorf("the first soft bounce after reactivation suppressed again: %+v", out)
		}
		if s := f.subscriber(t, 4); s.Status != subscribers.StatusActive {
			t.Errorf("status %s after one soft bounce since reactivation", s.Status)
		}
	})
	t.Run("VerifiedByRecipient", func(t *testing.T) {
		f := newFixture(t, bounce.Config{})
		f.clock.Advance(time.Hour)
		f.addEdition(t, 2, "2026-11-28")
		out, err := f.store.Put(ctx, bounce.Event{Kind: bounce.KindComplaint, Source: "sendgrid", ExternalID: "sg1",
			Recipient: "Elif.Demir@EXAMPLE.net", Verified: true})
		if err != nil {
			t.Fatal(err)
		}
		if out.Matched != "recipient" || out.Effect != bounce.EffectComplained {
			t.Fatalf("outcome %+v", out)
		}
		r := f.rows(t)[0]
		if r.subscriber.Int64 != 5 || r.edition.Int64 != 2 || r.domain != "example.net" {
			t.Errorf("row %+v, want subscriber 5, edition 2 (the latest sent), domain example.net", r)
		}
	})
	t.Run("SecondComplaint", func(t *testing.T) {
		f := newFixture(t, bounce.Config{})
		for i, want := range []string{bounce.EffectComplained, ""} {
			out, err := f.store.Put(ctx, bounce.Event{Kind: bounce.KindComplaint, Source: "smtp", ExternalID: fmt.Sprint(i), Token: tok6})
			if err != nil || out.Effect != want {
				t.Errorf("complaint %d: %+v, %v; want effect %q", i, out, err, want)
			}
		}
	})
	t.Run("UnverifiedRecipientMatchesNothing", func(t *testing.T) {
		f := newFixture(t, bounce.Config{})
		out, err := f.store.Put(ctx, bounce.Event{Kind: bounce.KindComplaint, Source: "smtp", Recipient: "elif.demir@example.net",
			Raw: []byte("a report")})
		if err != nil {
			t.Fatal(err)
		}
		if out.Matched != "" || out.Effect != "" {
			t.Fatalf("outcome %+v", out)
		}
		if s := f.subscriber(t, 5); s.Status != subscribers.StatusActive {
			t.Errorf("an unverified report complained subscriber 5: %s", s.Status)
		}
	})
	t.Run("DuplicateExternalID", func(t *testing.T) {
		f := newFixture(t, bounce.Config{})
		ev := bounce.Event{Kind: bounce.KindHard, Status: "5.1.1", Source: "postmark", ExternalID: "pm-42", Token: f.sign.DeliveryToken(1, 2)}
		for i := range 2 {
			out, err := f.store.Put(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			if out.Duplicate != (i == 1) {
				t.Errorf("put %d: Duplicate = %v", i, out.Duplicate)
			}
		}
		if s := f.subscriber(t, 2); s.Bounces != 1 {
			t.Errorf("bounces = %d, want 1", s.Bounces)
		}
	})
	t.Run("ErasedSubscriber", func(t *testing.T) {
		f := newFixture(t, bounce.Config{})
		if _, err := f.store.Receive(ctx, "smtp", "", readSample(t, "postfix_dsn.eml")); err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.Put(ctx, bounce.Event{Kind: bounce.KindHard, Source: "smtp", Recipient: "ana.lima@example.net", Raw: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.subs.Erase(ctx, "ana.lima@example.net"); err != nil {
			t.Fatal(err)
		}
		if rows := f.rows(t); len(rows) != 0 {
			t.Errorf("%d events left after erasure: %+v", len(rows), rows)
		}
		// A late report with the erased reader's token matches nobody.
		out, err := f.store.Put(ctx, bounce.Event{Kind: bounce.KindHard, Source: "smtp", Token: tok1, Raw: []byte("late")})
		if err != nil || out.Matched != "" {
			t.Errorf("late report: %+v, %v", out, err)
		}
	})
	t.Run("ErrUnknownKind", func(t *testing.T) {
		f := newFixture(t, bounce.Config{})
		if _, err := f.store.Put(ctx, bounce.Event{Kind: "bogus", Source: "smtp"}); err == nil || !strings.Contains(err.Error(), `unknown kind "bogus"`) {
			t.Errorf("err = %v", err)
		}
		if n := len(f.rows(t)); n != 0 {
			t.Errorf("%d rows stored", n)
		}
	})
}

func TestStore_Prune(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, bounce.Config{})
	if _, err := f.store.Receive(ctx, "smtp", "", readSample(t, "postfix_dsn.eml")); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(29 * 24 * time.Hour)
	if n, err := f.store.Prune(ctx); err != nil || n != 0 {
		t.Fatalf("Prune at 29 days = %d, %v; want 0", n, err)
	}
	f.clock.Advance(2 * 24 * time.Hour)
	// Recording a later event prunes on the way (at most once an hour).
	if _, err := f.store.Receive(ctx, "smtp", "", readSample(t, "yahoo_arf.eml")); err != nil {
		t.Fatal(err)
	}
	rows := f.rows(t)
	if rows[0].rawLen != 0 || rows[0].rawSize == 0 || rows[1].rawLen == 0 {
		t.Errorf("after 31 days: raw %d/%d and %d bytes, want the first dropped", rows[0].rawLen, rows[0].rawSize, rows[1].rawLen)
	}
	// The hash stays: the same report again is still a duplicate.
	rc, err := f.store.Receive(ctx, "smtp", "", readSample(t, "postfix_dsn.eml"))
	if err != nil || rc.Events != 0 {
		t.Errorf("the pruned report again: %+v, %v", rc, err)
	}
}
