package bounce_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"bothsides/bounce"
)

// checkEvents holds for whatever ParseMessage returns: an error and no
// events, or at least one event of a known kind with one-line fields.
func checkEvents(t *testing.T, evs []bounce.Event, err error) {
	t.Helper()
	if err != nil {
		if len(evs) != 0 {
			t.Fatalf("error %v with %d events", err, len(evs))
		}
		return
	}
	if len(evs) == 0 {
		t.Fatal("no error and no events")
	}
	for _, ev := range evs {
		switch ev.Kind {
		case bounce.KindHard, bounce.KindSoft, bounce.KindComplaint, bounce.KindAutoReply, bounce.KindDelivered, bounce.KindFeedback:
		default:
			t.Fatalf("kind %q", ev.Kind)
		}
		for name, v := range map[string]string{"Recipient": ev.Recipient, "Diagnostic": ev.Diagnostic, "Status": ev.Status, "Token": ev.Token} {
			if strings.ContainsAny(v, "\r\n") {
				t.Fatalf("%s %q holds a line break", name, v)
			}
		}
		if len(ev.Diagnostic) > 1000 {
			t.Fatalf("Diagnostic of %d bytes", len(ev.Diagnostic))
		}
		if ev.Status != "" && !utf8.ValidString(ev.Status) {
			t.Fatalf("Status %q", ev.Status)
		}
	}
}

// dsnAround wraps a delivery-status body in a report, as a relay sends it.
func dsnAround(ctype, body string) []byte {
	return []byte("From: MAILER-DAEMON@relay.example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"fz\"\r\n\r\n" +
		"--fz\r\nContent-Type: text/plain\r\n\r\nnotification\r\n" +
		"--fz\r\nContent-Type: " + ctype + "\r\n\r\n" + body + "\r\n" +
		"--fz\r\nContent-Type: text/rfc822-headers\r\n\r\nX-Bothsides-Delivery: aaaqcgimlh445ioch4c2s\r\n\r\n--fz--\r\n")
}

// FuzzParseDSN feeds the delivery-status part of a report (per-message and
// per-recipient fields) and whole messages from the samples.
func FuzzParseDSN(f *testing.F) {
	f.Add("Reporting-MTA: dns; a.example\r\n\r\nFinal-Recipient: rfc822; x@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n", false)
	f.Add("Final-Recipient: utf-8; jos\\x{E9}@example.com\r\nAction: delayed\r\nStatus: 4.4.7\r\nDiagnostic-Code: smtp; 451 4.4.7 later\r\n", true)
	f.Add("Final-Recipient: rfc822;a@b\r\nAction: relayed\r\n\r\nFinal-Recipient: rfc822;c@d\r\nAction: failed\r\nDiagnostic-Code: smtp; 550 no such user\r\n", false)
	f.Add("Action: bogus\r\n", false)
	f.Add("", false)
	for _, name := range []string{"postfix_dsn.eml", "exim_dsn.eml", "exchange_dsn.eml", "gmail_dsn.eml", "gmail_delayed.eml",
		"yahoo_dsn.eml", "global_dsn.eml", "postfix_two_recipients.eml", "qmail_plain.eml"} {
		f.Add(string(readSample(f, name)), false)
	}
	f.Fuzz(func(t *testing.T, in string, global bool) {
		// A whole message as it is, and the same text as the status part.
		evs, err := bounce.ParseMessage([]byte(in), "bounces+aaaqcgimlh445ioch4c2s@bounce.example.com")
		checkEvents(t, evs, err)
		ctype := "message/delivery-status"
		if global {
			ctype = "message/global-delivery-status"
		}
		evs, err = bounce.ParseMessage(dsnAround(ctype, in), "")
		checkEvents(t, evs, err)
	})
}

// arfAround wraps a feedback-report body and an original message in an ARF
// report.
func arfAround(report, original string) []byte {
	return []byte("From: feedback@fbl.example.net\r\nSubject: complaint\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"fz\"\r\n\r\n" +
		"--fz\r\nContent-Type: text/plain\r\n\r\nabuse report\r\n" +
		"--fz\r\nContent-Type: message/feedback-report\r\n\r\n" + report + "\r\n" +
		"--fz\r\nContent-Type: message/rfc822\r\n\r\n" + original + "\r\n--fz--\r\n")
}

// FuzzParseARF feeds the feedback-report part and the returned message of
// a complaint.
func FuzzParseARF(f *testing.F) {
	orig := "From: digest@news.example.com\r\nTo: reader@example.com\r\nX-Bothsides-Delivery: aaaqcgimlh445ioch4c2s\r\n\r\nbody\r\n"
	f.Add("Feedback-Type: abuse\r\nUser-Agent: test/1.0\r\nVersion: 1\r\nOriginal-Rcpt-To: reader@example.com\r\n", orig)
	f.Add("Feedback-Type: not-spam\r\nVersion: 1\r\n", "X-HmXmrOriginalRecipient: <r@example.net>\r\n\r\n")
	f.Add("Feedback-Type: abuse\r\nOriginal-Mail-From: <bounces+aaaqcgimlh445ioch4c2s@bounce.example.com>\r\n", "")
	f.Add("Feedback-Type: wat\r\n", orig)
	f.Add("", "")
	f.Add(string(readSample(f, "yahoo_arf.eml")), "")
	f.Add(string(readSample(f, "outlook_arf.eml")), "")
	f.Fuzz(func(t *testing.T, report, original string) {
		evs, err := bounce.ParseMessage([]byte(report), "")
		checkEvents(t, evs, err)
		evs, err = bounce.ParseMessage(arfAround(report, original), "bounces@bounce.example.com")
		checkEvents(t, evs, err)
	})
}
