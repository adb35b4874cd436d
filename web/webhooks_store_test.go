package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"bothsides/bounce"
	"bothsides/internal/testsupport"
	"bothsides/sqlite"
	"bothsides/subscribers"
)

// newStoreWebhookFixture serves the webhooks over the real bounce store,
// with readers subscribed and edition 1 sent to each of them.
func newStoreWebhookFixture(t *testing.T, readers ...string) (*webhookFixture, *subscribers.Store, *subscribers.Signer) {
	t.Helper()
	ctx := context.Background()
	db, clock := testsupport.MustOpenDB(t)
	subs := subscribers.NewStore(db)
	for _, r := range readers {
		if _, err := subs.Add(ctx, r, ""); err != nil {
			t.Fatal(err)
		}
	}
	now := sqlite.Time(clock.Now())
	if _, err := db.W.Exec(`INSERT INTO editions (id, date, window_start, window_end, content, status, created_at)
		VALUES (1, '2026-11-27', ?, ?, '{}', 'sent', ?)`, now, now, now); err != nil {
		t.Fatal(err)
	}
	if _, err := db.W.Exec(`INSERT INTO deliveries (edition_id, subscriber_id, status, created_at, updated_at, sent_at)
		SELECT 1, id, 'sent', ?, ?, ? FROM subscribers`, now, now, now); err != nil {
		t.Fatal(err)
	}
	signer, err := subscribers.NewSignerFrom(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	f := &webhookFixture{db: db, clock: clock}
	f.start(t, bounce.New(db, bounce.Config{Signer: signer, Logger: quiet}))
	return f, subs, signer
}

// bounceRows is the stored events of source: "kind recipient matched_by effect".
func (f *webhookFixture) bounceRows(t *testing.T, source string) []string {
	t.Helper()
	rows, err := f.db.R.Query(`SELECT kind, recipient, matched_by, effect, edition_id IS NOT NULL FROM bounces WHERE source = ? ORDER BY id`, source)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var kind, rcpt, by, effect string
		var edition bool
		if err := rows.Scan(&kind, &rcpt, &by, &effect, &edition); err != nil {
			t.Fatal(err)
		}
		r := kind + " " + rcpt + " " + by + " " + effect
		if !edition {
			r += " (no edition)"
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func wantRows(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("bounces:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func wantSubscriber(t *testing.T, subs *subscribers.Store, email string, status subscribers.Status, bounces int) {
	t.Helper()
	s, err := subs.FindByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != status || s.Bounces != bounces {
		t.Fatalf("%s: status %s with %d bounces, want %s with %d", email, s.Status, s.Bounces, status, bounces)
	}
}

// TestWebhooks_Store: through the real store, a complaint makes the
// subscriber complained, a hard bounce counts, a soft one does not, and
// the same event posted twice (by SNS again, or signed afresh) records
// once.
func TestWebhooks_Store(t *testing.T) {
	t.Run("SES", func(t *testing.T) {
		f, subs, signer := newStoreWebhookFixture(t, "ann@example.org", "bob@example.net")
		ann, _ := subs.FindByEmail(context.Background(), "ann@example.org")
		// The complaint names the delivery by the VERP token SES reports as
		// the mail's source.
		complaint := strings.Replace(sesComplaint, `"source": "digest@example.com"`, `"source": "bounces+`+signer.DeliveryToken(1, ann.ID)+`@bounce.example.com"`, 1)
		body := f.sns.Sign(t, testsupport.SNSNotification(sesTopic, "msg-c", complaint), "2")
		for range 2 { // SNS delivers again when it missed the answer
			wantStatus(t, f.post(t, "/webhooks/ses", body), http.StatusOK, `"events": 1`)
		}
		body = f.sns.Sign(t, testsupport.SNSNotification(sesTopic, "msg-b", sesBounce("Permanent", "bob@example.net")), "1")
		for range 2 {
			wantStatus(t, f.post(t, "/webhooks/ses", body), http.StatusOK, `"events": 1`)
		}
		wantRows(t, f.bounceRows(t, "ses"), "complaint ann@example.org token complained", "hard bob@example.net recipient bounce counted")
		wantSubscriber(t, subs, "ann@example.org", subscribers.StatusComplained, 0)
		wantSubscriber(t, subs, "bob@example.net", subscribers.StatusActive, 1)
	})
	t.Run("SendGrid", func(t *testing.T) {
		f, subs, _ := newStoreWebhookFixture(t, "bob@example.net", "cy@example.net", "ann@example.org")
		body := []byte(sendGridEvents)
		for range 2 { // the second post signed afresh, a second later
			wantStatus(t, f.post(t, "/webhooks/sendgrid", body, f.sendGridHeaders(t, body)...), http.StatusOK, `"events": 5`)
			f.clock.Advance(1e9)
		}
		wantRows(t, f.bounceRows(t, "sendgrid"), "hard bob@example.net recipient bounce counted", "soft cy@example.net recipient ",
			"complaint ann@example.org recipient complained", "delivered dee@example.org   (no edition)", "hard eve@example.org   (no edition)")
		wantSubscriber(t, subs, "bob@example.net", subscribers.StatusActive, 1)
		wantSubscriber(t, subs, "cy@example.net", subscribers.StatusActive, 0)
		wantSubscriber(t, subs, "ann@example.org", subscribers.StatusComplained, 0)
	})
	t.Run("Postmark", func(t *testing.T) {
		f, subs, _ := newStoreWebhookFixture(t, "bob@example.net", "cy@example.net")
		for range 2 {
			wantStatus(t, f.post(t, "/webhooks/postmark", []byte(postmarkBounce), auth(postmarkUser, postmarkPass)...), http.StatusOK, `"events": 1`)
		}
		wantStatus(t, f.post(t, "/webhooks/postmark", []byte(postmarkBounce), auth(postmarkUser, "wrong-password-wrong")...), http.StatusUnauthorized, "wrong")
		// Without an ID the same body is still one event.
		soft := `{"RecordType": "Bounce", "Type": "SoftBounce", "Email": "cy@example.net", "Details": "smtp;452 4.2.2 Mailbox full"}`
		for range 2 {
			wantStatus(t, f.post(t, "/webhooks/postmark", []byte(soft), auth(postmarkUser, postmarkPass)...), http.StatusOK, `"events": 1`)
		}
		wantRows(t, f.bounceRows(t, "postmark"), "hard bob@example.net recipient bounce counted", "soft cy@example.net recipient ")
		wantSubscriber(t, subs, "bob@example.net", subscribers.StatusActive, 1)
	})
	t.Run("Mailgun", func(t *testing.T) {
		f, subs, _ := newStoreWebhookFixture(t, "bob@example.net")
		// Mailgun signs each post with a fresh token: the event's id makes
		// the second one a duplicate.
		for _, token := range []string{"tok-1", "tok-2"} {
			wantStatus(t, f.post(t, "/webhooks/mailgun", f.mailgunBody(mailgunKey, token, mailgunFailed)), http.StatusOK, `"events": 1`)
		}
		wantStatus(t, f.post(t, "/webhooks/mailgun", f.mailgunBody("key-another-one-0123456789", "tok-3", mailgunFailed)), http.StatusUnauthorized, "signature")
		wantRows(t, f.bounceRows(t, "mailgun"), "hard bob@example.net recipient bounce counted")
		wantSubscriber(t, subs, "bob@example.net", subscribers.StatusActive, 1)
	})
}
