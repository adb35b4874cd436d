package bounce_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bothsides/bounce"
)

func readSample(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// crlf turns a sample's LF line ends into the CRLF of the wire.
func crlf(b []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
}

// The samples' tokens are made by sampleSigner: edition 1, subscribers 1-8.
const (
	tok1 = "aaaqcgimlh445ioch4c2s"
	tok2 = "aaaqegyd7ntdyxdr57rnc"
	tok3 = "aaaqgcddvh2uig742wgv4"
	tok4 = "aaaqiqmdxzikg5geupfio"
	tok5 = "aaaqkjr2y6ig2lfqnb6t4"
	tok6 = "aaaqmqtoazii53fcxailw"
	tok7 = "aaaqocd5w7qqm3htdpyiw"
	tok8 = "aaaqre5ttm7lyjfjfwq7k"
)

type want struct {
	kind              bounce.Kind
	status, recipient string
	token             string
	diagnostic        string // a part of it
}

var samples = []struct {
	file, envelopeTo string
	want             []want
}{
	{"postfix_dsn.eml", "bounces+" + tok1 + "@bounce.example.com",
		[]want{{bounce.KindHard, "5.1.1", "ana.lima@example.net", tok1, "User unknown in virtual mailbox table"}}},
	// No token in the envelope: the returned message's signed header names it.
	{"exim_dsn.eml", "bounces@bounce.example.com",
		[]want{{bounce.KindHard, "5.0.0", "bruno.keller@example.org", tok2, "No such user here"}}},
	{"exchange_dsn.eml", "bounces+" + tok3 + "@bounce.example.com",
		[]want{{bounce.KindSoft, "5.2.2", "chidi.obi@example.com", tok3, "mailbox full"}}},
	{"gmail_dsn.eml", "", // from a mailbox with no Delivered-To given
		[]want{{bounce.KindHard, "5.1.1", "dana.reyes@example.com", tok4, "does not exist"}}},
	{"gmail_delayed.eml", "bounces+" + tok4 + "@bounce.example.com",
		[]want{{bounce.KindSoft, "4.4.1", "dana.reyes@example.com", tok4, "did not accept"}}},
	{"yahoo_dsn.eml", "bounces+" + tok5 + "@bounce.example.com",
		[]want{{bounce.KindHard, "5.0.0", "elif.demir@example.net", tok5, "doesn't have a example.net account"}}},
	{"yahoo_arf.eml", "bounces@bounce.example.com",
		[]want{{bounce.KindComplaint, "", "farah.nasser@example.com", tok6, "feedback type abuse from Yahoo!-Mail-Feedback/2.0"}}},
	{"outlook_arf.eml", "bounces@bounce.example.com",
		[]want{{bounce.KindComplaint, "", "gabriel.ito@example.net", tok7, "Microsoft JMRP"}}},
	{"out_of_office.eml", "bounces+" + tok8 + "@bounce.example.com",
		[]want{{bounce.KindAutoReply, "", "", tok8, "Automatic reply"}}},
	{"qmail_plain.eml", "bounces+" + tok1 + "@bounce.example.com",
		[]want{{bounce.KindHard, "5.1.1", "ana.lima@example.net", tok1, "User unknown"}}},
	// An MTA that lower-cased nothing but upper-cased the local part.
	{"qmail_plain.eml", "BOUNCES+" + "AAAQCGIMLH445IOCH4C2S" + "@bounce.example.com",
		[]want{{bounce.KindHard, "5.1.1", "ana.lima@example.net", tok1, "User unknown"}}},
	{"global_dsn.eml", "bounces+" + tok2 + "@bounce.example.com",
		[]want{{bounce.KindHard, "5.1.10", "josé.núñez@例え.example", tok2, "null MX"}}},
	{"postfix_two_recipients.eml", "newsletter@example.org",
		[]want{
			{bounce.KindHard, "5.1.1", "ivo.marek@example.com", "", "User unknown"},
			{bounce.KindSoft, "4.2.2", "jun.park@example.com", "", "Over quota"},
		}},
}

func TestParseMessage_Samples(t *testing.T) {
	for _, tc := range samples {
		for _, ends := range []string{"LF", "CRLF"} {
			t.Run(tc.file+"/"+ends, func(t *testing.T) {
				raw := readSample(t, tc.file)
				if ends == "CRLF" {
					raw = crlf(raw)
				}
				evs, err := bounce.ParseMessage(raw, tc.envelopeTo)
				if err != nil {
					t.Fatalf("ParseMessage: %v", err)
				}
				if got, want := len(evs), len(tc.want); got != want {
					t.Fatalf("%d events, want %d: %+v", got, want, evs)
				}
				for i, w := range tc.want {
					ev := evs[i]
					if ev.Kind != w.kind || ev.Status != w.status || ev.Recipient != w.recipient || ev.Token != w.token {
						t.Errorf("event %d = kind %q status %q recipient %q token %q, want %q %q %q %q",
							i, ev.Kind, ev.Status, ev.Recipient, ev.Token, w.kind, w.status, w.recipient, w.token)
					}
					if !bytes.Contains([]byte(ev.Diagnostic), []byte(w.diagnostic)) {
						t.Errorf("event %d Diagnostic = %q, want it to contain %q", i, ev.Diagnostic, w.diagnostic)
					}
					if !bytes.Equal(ev.Raw, raw) {
						t.Errorf("event %d Raw is not the message", i)
					}
					if ev.At.IsZero() {
						t.Errorf("event %d At is zero", i)
					}
				}
			})
		}
	}
}

func TestParseMessage_Details(t *testing.T) {
	t.Run("Dates", func(t *testing.T) {
		evs, err := bounce.ParseMessage(readSample(t, "gmail_dsn.eml"), "")
		if err != nil {
			t.Fatal(err)
		}
		// Last-Attempt-Date: Fri, 27 Nov 2026 07:15:02 -0800 (PST)
		if got, want := evs[0].At, time.Date(2026, 11, 27, 15, 15, 2, 0, time.UTC); !got.Equal(want) {
			t.Errorf("At = %v, want %v", got, want)
		}
	})
	t.Run("UnknownActionOfOneRecipient", func(t *testing.T) {
		raw := dsn("Final-Recipient: rfc822; a@example.com\r\nAction: exploded\r\n\r\n" +
			"Final-Recipient: rfc822; b@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n")
		evs, err := bounce.ParseMessage(raw, "")
		if err != nil || len(evs) != 1 || evs[0].Recipient != "b@example.com" {
			t.Fatalf("events %+v, %v: want b's alone", evs, err)
		}
		_, err = bounce.ParseMessage(dsn("Final-Recipient: rfc822; a@example.com\r\nAction: exploded\r\n"), "")
		if err == nil || !strings.Contains(err.Error(), `unknown Action "exploded"`) {
			t.Errorf("err = %v, want it to name the Action", err)
		}
	})
	t.Run("NotAReport", func(t *testing.T) {
		_, err := bounce.ParseMessage([]byte("From: ana@example.com\r\nSubject: thanks\r\n\r\nLoved today's edition.\r\n"), "")
		if !errors.Is(err, bounce.ErrNotReport) {
			t.Errorf("err = %v, want ErrNotReport", err)
		}
		if _, err := bounce.ParseMessage([]byte("no header at all"), ""); err == nil {
			t.Error("a message without a header parsed")
		}
	})
	t.Run("Truncated", func(t *testing.T) {
		// Cut inside the returned header, after the report part: still read.
		raw := readSample(t, "postfix_dsn.eml")
		raw = raw[:bytes.Index(raw, []byte("Subject: Both Sides"))]
		evs, err := bounce.ParseMessage(raw, "")
		if err != nil || len(evs) != 1 || evs[0].Kind != bounce.KindHard || evs[0].Status != "5.1.1" {
			t.Fatalf("truncated DSN: %+v, %v", evs, err)
		}
	})
	t.Run("FeedbackNotSpam", func(t *testing.T) {
		raw := strings.Replace(string(readSample(t, "yahoo_arf.eml")), "Feedback-Type: abuse", "Feedback-Type: not-spam", 1)
		evs, err := bounce.ParseMessage([]byte(raw), "")
		if err != nil || evs[0].Kind != bounce.KindFeedback {
			t.Errorf("events %+v, %v: want feedback", evs, err)
		}
	})
}

func dsn(status string) []byte {
	return []byte("From: MAILER-DAEMON@relay.example.org\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.example.org\r\n\r\n" + status + "\r\n--b--\r\n")
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		status, diag string
		want         bounce.Kind
	}{
		{"5.1.1", "", bounce.KindHard},
		{"5.1.10", "null MX", bounce.KindHard},
		{"5.1.7", "bad sender", bounce.KindSoft},
		{"5.2.1", "disabled", bounce.KindHard},
		{"5.2.2", "mailbox full", bounce.KindSoft},
		{"5.2.3", "too long", bounce.KindSoft},
		{"5.4.7", "delivery time expired", bounce.KindSoft},
		{"5.7.1", "message rejected as spam", bounce.KindSoft},
		{"4.2.2", "over quota", bounce.KindSoft},
		{"5.0.0", "550 No such user here", bounce.KindHard},
		{"5.0.0", "554 refused", bounce.KindSoft},
		{"", "550 5.1.1 user unknown", bounce.KindHard},
		{"", "451 try later, user unknown", bounce.KindSoft},
		{"", "550 mailbox unavailable", bounce.KindHard},
		{"", "", bounce.KindSoft},
	} {
		if got := bounce.Classify(tc.status, tc.diag); got != tc.want {
			t.Errorf("Classify(%q, %q) = %s, want %s", tc.status, tc.diag, got, tc.want)
		}
	}
}
