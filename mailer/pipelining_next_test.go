package mailer_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"bothsides/internal/testsupport"
	"bothsides/mailer"
)

// chain sends the messages to tos on c one after the other, each handing
// over the next (Raw.Next) as a sender with the next message in hand does,
// and returns each SendRaw's error.
func chain(t *testing.T, c *mailer.SMTP, from string, tos ...string) []error {
	t.Helper()
	msgs := make([]mailer.Raw, len(tos))
	for i, to := range tos {
		msgs[i] = rawMessage(t, to)
	}
	errs := make([]error, len(tos))
	for i := range tos {
		m := msgs[i]
		if i+1 < len(tos) {
			n := &mailer.Next{From: from, To: tos[i+1], Raw: msgs[i+1]}
			m.Next = func() *mailer.Next { return n }
		}
		errs[i] = c.SendRaw(context.Background(), from, tos[i], m)
	}
	return errs
}

// TestSMTP_PipeliningNext checks that the next message's MAIL, RCPT and
// DATA go in the write of the final dot (RFC 2920), and that every reply is
// still the outcome of its own message.
func TestSMTP_PipeliningNext(t *testing.T) {
	const from = "digest@news.example.com"
	dial := func(t *testing.T, url string) *mailer.SMTP {
		t.Helper()
		c, err := mailer.NewSMTP(mailer.Config{URL: url, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	t.Run("OneWrite", func(t *testing.T) {
		srv := startStrictServer(t, "PIPELINING", "SIZE 10240000")
		c := dial(t, "smtp://"+srv.addr+"?tls=none")
		tos := []string{"a@example.org", "b@example.org", "c@example.org"}
		for i, err := range chain(t, c, from, tos...) {
			if err != nil {
				t.Fatalf("SendRaw to %s: %v", tos[i], err)
			}
		}
		// Each dot but the last arrives with the next message's commands.
		for _, to := range tos[1:] {
			m := rawMessage(t, to)
			want := fmt.Sprintf(".\r\nMAIL FROM:<%s> SIZE=%d\r\nRCPT TO:<%s>\r\nDATA\r\n", from, len(m.Data), to)
			found := false
			for _, ch := range srv.Chunks() {
				found = found || strings.HasSuffix(ch, want)
			}
			if !found {
				t.Errorf("no read ended with %q", want)
			}
		}
		if got, n := srv.Conns(), len(srv.Messages()); got != 1 || n != 3 {
			t.Fatalf("%d connections, %d messages; want 1 and 3", got, n)
		}
		if got := srv.Commands("RSET"); len(got) != 0 {
			t.Fatalf("RSET sent %d times, want none", len(got))
		}
	})
	t.Run("NotAdvertised", func(t *testing.T) {
		srv := startStrictServer(t, "SIZE 10240000")
		c := dial(t, "smtp://"+srv.addr+"?tls=none")
		for _, err := range chain(t, c, from, "a@example.org", "b@example.org") {
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, ch := range srv.Chunks() {
			if strings.Contains(ch, ".\r\nMAIL") {
				t.Fatalf("commands sent with the dot to a relay without PIPELINING: %q", ch)
			}
		}
		if got := len(srv.Messages()); got != 2 {
			t.Fatalf("server took %d messages, want 2", got)
		}
	})
	t.Run("SecondRcptRefused", func(t *testing.T) {
		// The second message's RCPT is refused after the first's dot:
		// the first is sent, the second bounces (550 at rcpt, DATA's own
		// refusal read and set aside), no body is sent for it, and the
		// third goes on the same connection after one RSET.
		srv := testsupport.StartSMTP(t)
		srv.OnRcpt = func(to string) error {
			if strings.HasPrefix(to, "gone@") {
				return testsupport.Reply(550, "5.1.1 no such user")
			}
			return nil
		}
		srv.Sync()
		c := dial(t, srv.URL())
		errs := chain(t, c, from, "a@example.org", "gone@example.org", "c@example.org")
		if errs[0] != nil || errs[2] != nil {
			t.Fatalf("errors %v, want the first and third sent", errs)
		}
		if mailer.Stage(errs[1]) != "rcpt" || mailer.Code(errs[1]) != 550 || !mailer.IsPermanent(errs[1]) {
			t.Fatalf("second: %v (stage %q), want a permanent 550 at rcpt", errs[1], mailer.Stage(errs[1]))
		}
		msgs := srv.Messages()
		if len(msgs) != 2 || msgs[0].To[0] != "a@example.org" || msgs[1].To[0] != "c@example.org" {
			t.Fatalf("server took %d messages (%v), want a and c", len(msgs), msgs)
		}
		if _, total := srv.Conns(); total != 1 {
			t.Fatalf("%d connections, want 1", total)
		}
	})
	t.Run("DotRefused", func(t *testing.T) {
		// 451 to the first message's dot: its own temporary failure; the
		// second message, begun in the same write, goes on without RSET.
		srv := testsupport.StartSMTP(t)
		srv.OnData = func(to []string, _ []byte) error {
			if to[0] == "a@example.org" {
				return testsupport.Reply(451, "4.3.0 try later")
			}
			return nil
		}
		srv.Sync()
		c := dial(t, srv.URL())
		errs := chain(t, c, from, "a@example.org", "b@example.org")
		if mailer.Stage(errs[0]) != "data" || mailer.Code(errs[0]) != 451 || mailer.IsPermanent(errs[0]) {
			t.Fatalf("first: %v, want a temporary 451 at data", errs[0])
		}
		if errs[1] != nil {
			t.Fatalf("second: %v", errs[1])
		}
		if msgs := srv.Messages(); len(msgs) != 1 || msgs[0].To[0] != "b@example.org" {
			t.Fatalf("server took %v, want b only", msgs)
		}
		if _, total := srv.Conns(); total != 1 {
			t.Fatalf("%d connections, want 1", total)
		}
	})
	t.Run("DropAfterDot", func(t *testing.T) {
		// The relay takes the first message and hangs up before its
		// reply: the first's outcome is unknown (no code: retried), the
		// second's begun transaction is lost with the connection, and
		// the second is sent whole on a new one.
		srv := testsupport.StartSMTP(t)
		srv.DropAfter = func(to []string) bool { return to[0] == "a@example.org" }
		srv.Sync()
		c := dial(t, srv.URL())
		errs := chain(t, c, from, "a@example.org", "b@example.org")
		var me *mailer.Error
		if !errors.As(errs[0], &me) || me.Code != 0 || me.Permanent {
			t.Fatalf("first: %v, want a failure without a code (retry)", errs[0])
		}
		if errs[1] != nil {
			t.Fatalf("second: %v", errs[1])
		}
		msgs := srv.Messages()
		if len(msgs) != 2 || msgs[0].To[0] != "a@example.org" || msgs[1].To[0] != "b@example.org" {
			t.Fatalf("server took %v, want a then b", msgs)
		}
		if _, total := srv.Conns(); total != 2 {
			t.Fatalf("%d connections, want 2", total)
		}
	})
	t.Run("421AfterDot", func(t *testing.T) {
		srv := startStrictServer(t, "PIPELINING")
		refuse := false
		srv.Refuse(func(line string) string {
			// The strict server reads the pipelined MAIL after the dot.
			if strings.HasPrefix(line, "MAIL") && refuse {
				refuse = false
				return "421 4.3.2 Service shutting down"
			}
			refuse = true
			return ""
		})
		c := dial(t, "smtp://"+srv.addr+"?tls=none")
		errs := chain(t, c, from, "a@example.org", "b@example.org")
		if errs[0] != nil {
			t.Fatalf("first: %v", errs[0])
		}
		// The 421 is the second message's own outcome: temporary, retried
		// on a new connection.
		var me *mailer.Error
		if !errors.As(errs[1], &me) || me.Code != 421 || me.Permanent || me.Stage != "mail" {
			t.Fatalf("second: %v, want a temporary 421 at mail", errs[1])
		}
		if err := c.SendRaw(context.Background(), from, "b@example.org", rawMessage(t, "b@example.org")); err != nil {
			t.Fatalf("second, retried: %v", err)
		}
		if got := srv.Conns(); got != 2 {
			t.Fatalf("%d connections, want 2", got)
		}
		if got := len(srv.Messages()); got != 2 {
			t.Fatalf("server took %d messages, want 2", got)
		}
	})
	t.Run("DKIM", func(t *testing.T) {
		// The next message is signed before its commands go (its SIZE
		// counts the signature); each arrives with its own signature,
		// made once, and SIZE as declared.
		srv := testsupport.StartSMTP(t)
		pub, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		d, err := mailer.NewDKIM(key, "s1", "news.example.com")
		if err != nil {
			t.Fatal(err)
		}
		c, err := mailer.NewSMTP(mailer.Config{URL: srv.URL(), Timeout: 5 * time.Second, DKIM: d})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, err := range chain(t, c, from, "a@example.org", "b@example.org", "c@example.org") {
			if err != nil {
				t.Fatal(err)
			}
		}
		msgs := srv.Messages()
		if len(msgs) != 3 {
			t.Fatalf("server took %d messages, want 3", len(msgs))
		}
		for _, m := range msgs {
			if vs, err := testsupport.VerifyDKIM(m.Data, "s1", "news.example.com", pub); err != nil || len(vs) != 1 {
				t.Fatalf("%s: DKIM %v (%d signatures), want one that verifies", m.To[0], err, len(vs))
			}
			if m.Size != int64(len(m.Data)) {
				t.Fatalf("%s: SIZE=%d for %d bytes", m.To[0], m.Size, len(m.Data))
			}
		}
		if _, total := srv.Conns(); total != 1 {
			t.Fatalf("%d connections, want 1", total)
		}
	})
	t.Run("OtherMessage", func(t *testing.T) {
		// The caller promised b but sends c: the begun transaction is
		// discarded by hanging up (b never arrives), c is sent whole.
		srv := testsupport.StartSMTP(t)
		c := dial(t, srv.URL())
		a, b := rawMessage(t, "a@example.org"), rawMessage(t, "b@example.org")
		a.Next = func() *mailer.Next { return &mailer.Next{From: from, To: "b@example.org", Raw: b} }
		if err := c.SendRaw(context.Background(), from, "a@example.org", a); err != nil {
			t.Fatal(err)
		}
		if err := c.SendRaw(context.Background(), from, "c@example.org", rawMessage(t, "c@example.org")); err != nil {
			t.Fatal(err)
		}
		msgs := srv.Messages()
		if len(msgs) != 2 || msgs[0].To[0] != "a@example.org" || msgs[1].To[0] != "c@example.org" {
			t.Fatalf("server took %v, want a then c", msgs)
		}
	})
	t.Run("CloseWithBegun", func(t *testing.T) {
		srv := testsupport.StartSMTP(t)
		c := dial(t, srv.URL())
		a, b := rawMessage(t, "a@example.org"), rawMessage(t, "b@example.org")
		a.Next = func() *mailer.Next { return &mailer.Next{From: from, To: "b@example.org", Raw: b} }
		if err := c.SendRaw(context.Background(), from, "a@example.org", a); err != nil {
			t.Fatal(err)
		}
		c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for {
			if open, _ := srv.Conns(); open == 0 {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatal("connection still open after Close")
			case <-time.After(10 * time.Millisecond):
			}
		}
		if msgs := srv.Messages(); len(msgs) != 1 {
			t.Fatalf("server took %d messages, want a only", len(msgs))
		}
	})
}
