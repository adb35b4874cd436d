package bounce_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"bothsides/bounce"
	"bothsides/internal/testsupport"
)

// scriptedReceiver answers by the message's content: "UNREADABLE" is
// unparsed, "FAIL-ONCE" fails the first time.
type scriptedReceiver struct {
	mu     sync.Mutex
	calls  []received
	failed bool
	// first, when set, runs during the first call.
	first func()
}

func (s *scriptedReceiver) Receive(_ context.Context, source, to string, raw []byte) (bounce.Receipt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, received{source, to, append([]byte(nil), raw...)})
	if s.first != nil {
		s.first()
		s.first = nil
	}
	switch {
	case bytes.Contains(raw, []byte("FAIL-ONCE")) && !s.failed:
		s.failed = true
		return bounce.Receipt{}, errors.New("database is locked")
	case bytes.Contains(raw, []byte("UNREADABLE")):
		return bounce.Receipt{Unparsed: true, Reason: "no delivery report in it"}, nil
	}
	return bounce.Receipt{Events: 1}, nil
}

func (s *scriptedReceiver) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.calls...)
}

// imapClient logs in to d as its account over implicit TLS.
func imapClient(t *testing.T, d *testsupport.Dovecot) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialTLS(d.IMAPSAddr, &imapclient.Options{TLSConfig: d.TLS})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(d.User, d.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

func appendMessage(t *testing.T, c *imapclient.Client, folder, msg string) {
	t.Helper()
	cmd := c.Append(folder, int64(len(msg)), nil)
	if _, err := cmd.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("APPEND: %v", err)
	}
}

// flagsBySubject lists folder's messages: subject -> flags.
func flagsBySubject(t *testing.T, c *imapclient.Client, folder string) map[string][]imap.Flag {
	t.Helper()
	if _, err := c.Select(folder, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	out := map[string][]imap.Flag{}
	msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{Flags: true, Envelope: true}).Collect()
	if err != nil {
		if strings.Contains(err.Error(), "Invalid messageset") || strings.Contains(err.Error(), "No messages") {
			return out
		}
		t.Fatalf("FETCH: %v", err)
	}
	for _, m := range msgs {
		out[m.Envelope.Subject] = m.Flags
	}
	return out
}

func report(subject, deliveredTo, body string) string {
	return "Delivered-To: " + deliveredTo + "\r\nTo: someone-else@example.org\r\nFrom: MAILER-DAEMON@relay.example.net\r\nSubject: " + subject +
		"\r\nDate: Tue, 1 Dec 2026 06:00:00 +0000\r\n\r\n" + body + "\r\n"
}

func TestMailbox_Poll(t *testing.T) {
	d := testsupport.StartDovecot(t)
	admin := imapClient(t, d)
	appendMessage(t, admin, "INBOX", report("dsn", "bounces+tok1@bounce.example.com", "The mail could not be delivered."))
	appendMessage(t, admin, "INBOX", report("garbage", "bounces@bounce.example.com", "UNREADABLE"))
	appendMessage(t, admin, "INBOX", report("busy", "bounces+tok2@bounce.example.com", "FAIL-ONCE"))
	appendMessage(t, admin, "INBOX", report("big", "bounces@bounce.example.com", strings.Repeat("0123456789abcdef\r\n", 200)))

	rcv := &scriptedReceiver{}
	m, err := bounce.NewMailbox(bounce.MailboxConfig{URL: d.URL(false, "INBOX"), Address: "bounces@bounce.example.com", MaxMessageBytes: 2000}, rcv)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.String(), d.Password) {
		t.Fatalf("String() = %q shows the password", m.String())
	}
	ctx := context.Background()
	res, err := m.Poll(ctx)
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}
	if want := (bounce.PollResult{Recorded: 1, Unparsed: 1, TooBig: 1, Failed: 1}); res != want {
		t.Fatalf("Poll = %+v, want %+v", res, want)
	}
	calls := rcv.received()
	if len(calls) != 3 {
		t.Fatalf("Receive called %d times, want 3 (the big one is not read)", len(calls))
	}
	if calls[0].source != "imap" || calls[0].to != "bounces+tok1@bounce.example.com" {
		t.Fatalf("Receive(%q, %q), want imap and the Delivered-To address", calls[0].source, calls[0].to)
	}
	if !bytes.Contains(calls[0].raw, []byte("The mail could not be delivered.")) {
		t.Fatalf("raw = %q", calls[0].raw)
	}

	flags := flagsBySubject(t, admin, "INBOX")
	if len(flags) != 4 {
		t.Fatalf("INBOX holds %d messages, want all 4: nothing is deleted", len(flags))
	}
	has := func(subject string, f imap.Flag) bool { return slices.Contains(flags[subject], f) }
	if !has("dsn", bounce.FlagRecorded) || !has("dsn", imap.FlagSeen) {
		t.Errorf("recorded message flags %v, want %s and \\Seen", flags["dsn"], bounce.FlagRecorded)
	}
	if !has("garbage", bounce.FlagUnparsed) || has("garbage", imap.FlagSeen) {
		t.Errorf("unparsed message flags %v, want %s and not \\Seen", flags["garbage"], bounce.FlagUnparsed)
	}
	if !has("big", bounce.FlagTooBig) || has("big", imap.FlagSeen) {
		t.Errorf("big message flags %v, want %s and not \\Seen", flags["big"], bounce.FlagTooBig)
	}
	if len(flags["busy"]) != 0 {
		t.Errorf("message whose Receive failed has flags %v, want none (read again next poll)", flags["busy"])
	}

	// The next poll reads only the one that failed.
	res, err = m.Poll(ctx)
	if err != nil {
		t.Fatalf("second Poll: %v", err)
	}
	if want := (bounce.PollResult{Recorded: 1}); res != want {
		t.Fatalf("second Poll = %+v, want %+v", res, want)
	}
	calls = rcv.received()
	if len(calls) != 4 || calls[3].to != "bounces+tok2@bounce.example.com" {
		t.Fatalf("after the second poll: %d calls, last to %q", len(calls), calls[len(calls)-1].to)
	}
	if res, _ := m.Poll(ctx); res != (bounce.PollResult{}) {
		t.Fatalf("third Poll = %+v, want nothing", res)
	}
}

func TestMailbox_MoveSTARTTLS(t *testing.T) {
	d := testsupport.StartDovecot(t)
	admin := imapClient(t, d)
	if err := admin.Create("Recorded", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	appendMessage(t, admin, "INBOX", report("dsn", "bounces+tok1@bounce.example.com", "The mail could not be delivered."))
	appendMessage(t, admin, "INBOX", report("garbage", "bounces@bounce.example.com", "UNREADABLE"))

	rcv := &scriptedReceiver{}
	m, err := bounce.NewMailbox(bounce.MailboxConfig{URL: d.URL(true, "INBOX") + "&move=Recorded"}, rcv)
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Poll(context.Background())
	if err != nil {
		t.Fatalf("Poll over STARTTLS: %v", err)
	}
	if want := (bounce.PollResult{Recorded: 1, Unparsed: 1}); res != want {
		t.Fatalf("Poll = %+v, want %+v", res, want)
	}
	inbox := flagsBySubject(t, admin, "INBOX")
	if _, ok := inbox["garbage"]; !ok || len(inbox) != 1 {
		t.Fatalf("INBOX = %v, want only the unparsed message left in place", inbox)
	}
	moved := flagsBySubject(t, admin, "Recorded")
	if f, ok := moved["dsn"]; !ok || !slices.Contains(f, bounce.FlagRecorded) {
		t.Fatalf("Recorded = %v, want the recorded message, flagged", moved)
	}
}

// TestMailbox_Gone: a message another client expunges between the search
// and its fetch is passed over; the rest of the poll goes on.
func TestMailbox_Gone(t *testing.T) {
	d := testsupport.StartDovecot(t)
	admin := imapClient(t, d)
	for _, s := range []string{"one", "two", "three"} {
		appendMessage(t, admin, "INBOX", report(s, "bounces@bounce.example.com", "Report "+s))
	}
	if _, err := admin.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	rcv := &scriptedReceiver{first: func() {
		// While the poller holds "one", someone deletes "two" for good.
		if err := admin.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			t.Error(err)
		}
		if err := admin.Expunge().Close(); err != nil {
			t.Error(err)
		}
	}}
	m, err := bounce.NewMailbox(bounce.MailboxConfig{URL: d.URL(false, "INBOX")}, rcv)
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Poll(context.Background())
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}
	if want := (bounce.PollResult{Recorded: 2}); res != want {
		t.Fatalf("Poll = %+v, want %+v", res, want)
	}
	calls := rcv.received()
	if len(calls) != 2 || !bytes.Contains(calls[1].raw, []byte("Report three")) {
		t.Fatalf("Receive got %d messages, the last %q; want one and three", len(calls), calls[len(calls)-1].raw)
	}
}

func TestMailbox_Errors(t *testing.T) {
	t.Run("BadURL", func(t *testing.T) {
		for _, u := range []string{
			"pop3://u:secret-pw@host/INBOX",
			"imaps://host/INBOX",
			"imaps://u@host/INBOX",
			"imaps://u:secret-pw@/INBOX",
			"imaps://u:secret-pw@host/INBOX?delete=yes",
			"imaps://u:secret-pw@host/INBOX?move=INBOX",
			"imaps://u:secret-pw@host/INBOX?ca=/nonexistent/ca.pem",
			"imaps://u:secret-pw@host:99999x/INBOX",
			"imaps://u:secret-pw@ho st/\x7f",
		} {
			_, err := bounce.NewMailbox(bounce.MailboxConfig{URL: u}, &scriptedReceiver{})
			if err == nil {
				t.Errorf("NewMailbox(%q) = nil error", u)
				continue
			}
			if strings.Contains(err.Error(), "secret-pw") {
				t.Errorf("NewMailbox(%q) = %q shows the password", u, err)
			}
		}
	})
	t.Run("WrongPassword", func(t *testing.T) {
		d := testsupport.StartDovecot(t)
		u := strings.Replace(d.URL(false, "INBOX"), d.Password, "wrong-secret-pw", 1)
		m, err := bounce.NewMailbox(bounce.MailboxConfig{URL: u, Timeout: 10 * time.Second}, &scriptedReceiver{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Poll(context.Background())
		if err == nil || !strings.Contains(err.Error(), "log in") {
			t.Fatalf("Poll = %v, want a login error", err)
		}
		if strings.Contains(err.Error(), "wrong-secret-pw") {
			t.Fatalf("error %q shows the password", err)
		}
	})
}
