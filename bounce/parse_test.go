package bounce_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

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
