package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"bothsides/bounce"
	"bothsides/internal/testsupport"
	"bothsides/sqlite"
	"bothsides/subscribers"
)

// dsnFor writes the delivery status notification a relay sends back when
// the destination refuses msg's recipient with 550 5.1.1, quoting msg's
// header as Postfix does.
func dsnFor(rcpt, envelope string, msg []byte) []byte {
	head, _, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	return fmt.Appendf(nil, "From: MAILER-DAEMON@relay.news.example.com (Mail Delivery System)\r\n"+
		"To: %s\r\nSubject: Undelivered Mail Returned to Sender\r\nDate: Fri, 27 Nov 2026 07:10:00 +0000\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n"+
		"--b1\r\nContent-Type: text/plain\r\n\r\n<%s>: host mx.example.org said: 550 5.1.1 no such user\r\n\r\n"+
		"--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.news.example.com\r\n\r\n"+
		"Final-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 no such user\r\n\r\n"+
		"--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n%s\r\n\r\n--b1--\r\n", envelope, rcpt, rcpt, head)
}

// arfFor writes a Yahoo-shaped complaint about msg, with the whole message
// and no token in the envelope: only the signed header names the delivery.
func arfFor(msg []byte) []byte {
	return fmt.Appendf(nil, "From: Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.com>\r\n"+
		"To: bounces@bounce.example.com\r\nSubject: FW: digest\r\nDate: Fri, 27 Nov 2026 09:00:00 +0000\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"b2\"\r\n\r\n"+
		"--b2\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n\r\n"+
		"--b2\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: Yahoo!-Mail-Feedback/2.0\r\nVersion: 0.1\r\n\r\n"+
		"--b2\r\nContent-Type: message/rfc822\r\n\r\n%s\r\n--b2--\r\n", msg)
}

// TestMailpit_BounceAddress sends an edition with a bounce address through
// mailpit, then brings a bounce and a complaint back to the store: mailpit
// sees the VERP envelope sender, DKIM verifies with the delivery header,
// and each report changes its own reader only.
func TestMailpit_BounceAddress(t *testing.T) {
	readers := []string{"ana@example.com", "ben@example.org", "chidi@example.net"}
	c, mp, pub := mailpitCLI(t, readers...)
	c.env["BOTHSIDES_BOUNCE_ADDRESS"] = "bounces@bounce.example.com"
	c.must("", "send", "--date", "2026-11-27")
	msgs := byRecipient(t, mp.WaitMessages(t, len(readers)))
	raws := map[string][]byte{}
	envelopes := map[string]string{}
	for _, r := range readers {
		raw := mp.Raw(t, msgs[r].ID)
		m, err := testsupport.ParseMail(raw)
		if err != nil {
			t.Fatal(err)
		}
		rp := m.Header.Get("Return-Path")
		token := strings.TrimSuffix(strings.TrimPrefix(rp, "<bounces+"), "@bounce.example.com>")
		if token == rp || token == "" || m.Header.Get("X-Bothsides-Delivery") != token {
			t.Fatalf("%s: Return-Path %q, X-Bothsides-Delivery %q: want bounces+TOKEN@bounce.example.com and the same token",
				r, rp, m.Header.Get("X-Bothsides-Delivery"))
		}
		if _, err := testsupport.VerifyDKIM(raw, "s1", "news.example.com", pub); err != nil {
			t.Fatalf("%s: DKIM: %v", r, err)
		}
		raws[r], envelopes[r] = raw, strings.Trim(rp, "<>")
	}

	ctx := context.Background()
	db, err := sqlite.Open(ctx, c.env["BOTHSIDES_DB"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	signer, err := subscribers.NewSignerFrom(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	store := bounce.New(db, bounce.Config{Signer: signer, BounceLimit: 1, Logger: slog.New(slog.DiscardHandler)})
	if rc, err := store.Receive(ctx, "smtp", envelopes["ben@example.org"], dsnFor("ben@example.org", envelopes["ben@example.org"], raws["ben@example.org"])); err != nil || rc.Events != 1 {
		t.Fatalf("receive DSN: %+v, %v", rc, err)
	}
	if rc, err := store.Receive(ctx, "imap", "bounces@bounce.example.com", arfFor(raws["ana@example.com"])); err != nil || rc.Events != 1 {
		t.Fatalf("receive ARF: %+v, %v", rc, err)
	}

	out := c.must("", "subscribers", "list")
	for _, want := range []string{"ana@example.com\t-\tcomplained", "ben@example.org\t-\tbounced", "chidi@example.net\t-\tactive"} {
		if !strings.Contains(out, want) {
			t.Errorf("subscribers list lacks %q:\n%s", want, out)
		}
	}
	out = c.must("", "bounces", "list", "--edition", "2026-11-27")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 ||
		!strings.Contains(lines[0], "complaint") || !strings.Contains(lines[1], "hard") || !strings.Contains(lines[1], "5.1.1") {
		t.Errorf("bounces list:\n%s", out)
	}
	var list []bounce.RecordJSON
	if err := json.Unmarshal([]byte(c.must("", "bounces", "list", "--json", "--kind", "hard")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Recipient != "ben@example.org" || list[0].MatchedBy != "token" || list[0].Edition != "2026-11-27" || list[0].Effect != bounce.EffectBounced {
		t.Errorf("bounces list --json --kind hard: %+v", list)
	}
	if out := c.must("", "subscribers", "show", "ana@example.com"); !regexp.MustCompile(`bounce events:\s+1\n`).MatchString(out) || !strings.Contains(out, "complaint") {
		t.Errorf("subscribers show:\n%s", out)
	}
	var access struct {
		Bounces []bounce.RecordJSON `json:"bounce_events"`
	}
	if err := json.Unmarshal([]byte(c.must("", "subscribers", "show", "--json", "ana@example.com")), &access); err != nil {
		t.Fatal(err)
	}
	if len(access.Bounces) != 1 || access.Bounces[0].Kind != "complaint" || access.Bounces[0].RawSize == 0 {
		t.Errorf("subscribers show --json: bounce_events %+v", access.Bounces)
	}
	c.must("", "subscribers", "remove", "ben@example.org")
	if out := c.must("", "bounces", "list"); strings.Contains(out, "ben@example.org") || !strings.Contains(out, "complaint") {
		t.Errorf("after erasing ben, bounces list:\n%s", out)
	}
}

func TestBounces_BadInput(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"send", "--date", "2026-11-27", "--bounce-address", "me+x@example.com"}, "", `must not contain "+"`},
		{[]string{"send", "--date", "2026-11-27"}, "Both Sides <b@example.com>", "want a bare address"},
		{[]string{"bounces", "list", "--kind", "bogus"}, "", `--kind "bogus"`},
		{[]string{"bounces", "list", "--limit", "0"}, "", "--limit 0"},
		{[]string{"bounces", "list", "--edition", "27/11/2026"}, "", "YYYY-MM-DD"},
		{[]string{"bounces", "list", "--edition", "2026-01-01"}, "", "2026-01-01"},
		{[]string{"bounces", "list", "--subscriber", "not an address"}, "", `--subscriber "not an address"`},
		{[]string{"bounces", "list", "--soft-bounce-limit", "0"}, "", "--soft-bounce-limit 0"},
	} {
		c.env["BOTHSIDES_BOUNCE_ADDRESS"] = tc.env
		_, _, err := c.run("", tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("bothsides %s: err %v, want it to say %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

// TestPostfix_BounceAddress sends an edition with a bounce address through
// strict Postfix (STARTTLS, AUTH, strict_rfc821_envelopes): Postfix takes
// the VERP envelope sender and relays it as it is, each token names its
// own reader's delivery, and DKIM, which signs the delivery header, still
// verifies after the relay.
func TestPostfix_BounceAddress(t *testing.T) {
	c, pf, pub := postfixCLI(t)
	c.env["BOTHSIDES_BOUNCE_ADDRESS"] = "bounces@bounce.example.com"
	readers := []string{"ana@example.com", "ben@example.org"}
	for _, r := range readers {
		c.must("", "subscribers", "add", r)
	}
	if out := c.must("", "send", "--date", "2026-11-27"); !strings.Contains(out, "2 sent, 0 failed") {
		t.Fatalf("send: %q", out)
	}
	pf.WaitMessages(t, len(readers))
	ctx := context.Background()
	db, err := sqlite.Open(ctx, c.env["BOTHSIDES_DB"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	signer, err := subscribers.NewSignerFrom(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range readers {
		got := pf.Sink.To(r)
		if len(got) != 1 {
			t.Fatalf("%s: %d messages at the sink", r, len(got))
		}
		token, ok := strings.CutPrefix(got[0].From, "bounces+")
		token, ok2 := strings.CutSuffix(token, "@bounce.example.com")
		if !ok || !ok2 {
			t.Fatalf("%s: envelope sender after Postfix %q, want bounces+TOKEN@bounce.example.com", r, got[0].From)
		}
		_, id, err := signer.VerifyDelivery(token, time.Now())
		if err != nil {
			t.Fatalf("%s: token %q: %v", r, token, err)
		}
		if s, err := subscribers.NewStore(db).Find(ctx, id); err != nil || s.Email != r {
			t.Errorf("%s: the token names subscriber %d (%v)", r, id, err)
		}
		checkRelayed(t, got[0].Data, pub)
		m, err := testsupport.ParseMail(got[0].Data)
		if err != nil {
			t.Fatal(err)
		}
		if m.Header.Get("X-Bothsides-Delivery") != token {
			t.Errorf("%s: X-Bothsides-Delivery %q, want %q", r, m.Header.Get("X-Bothsides-Delivery"), token)
		}
	}
}
