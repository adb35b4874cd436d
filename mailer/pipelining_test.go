package mailer_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"bothsides/internal/testsupport"
	"bothsides/mailer"
)

// TestSMTP_Pipelining checks RFC 2920 against the scripted strict server:
// what goes in one write, and what each refusal in a pipelined group
// becomes.
func TestSMTP_Pipelining(t *testing.T) {
	ctx := context.Background()
	const from = "digest@news.example.com"
	dial := func(t *testing.T, srv *strictServer) *mailer.SMTP {
		t.Helper()
		c, err := mailer.NewSMTP(mailer.Config{URL: "smtp://" + srv.addr + "?tls=none", Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	group := func(m mailer.Raw, to string) string {
		return fmt.Sprintf("MAIL FROM:<%s> SIZE=%d\r\nRCPT TO:<%s>\r\nDATA\r\n", from, len(m.Data), to)
	}
	t.Run("OneWrite", func(t *testing.T) {
		srv := startStrictServer(t, "PIPELINING", "SIZE 10240000", "ENHANCEDSTATUSCODES")
		c := dial(t, srv)
		var sent []string
		for _, to := range []string{"a@example.org", "b@example.org"} {
			m := rawMessage(t, to)
			sent = append(sent, string(m.Data))
			if err := c.SendRaw(ctx, from, to, m); err != nil {
				t.Fatalf("SendRaw to %s: %v", to, err)
			}
			// MAIL, RCPT and DATA arrive together, nothing else with them.
			want, found := group(m, to), false
			for _, ch := range srv.Chunks() {
				found = found || ch == want
			}
			if !found {
				t.Fatalf("no read returned exactly %q; reads: %q", want, srv.Chunks())
			}
		}
		if got := srv.Messages(); len(got) != 2 || got[0] != sent[0] || got[1] != sent[1] {
			t.Fatalf("server took %d messages (intact: %v), want the 2 sent", len(got), len(got) == 2 && got[0] == sent[0] && got[1] == sent[1])
		}
		if got := srv.Conns(); got != 1 {
			t.Fatalf("%d connections, want 1", got)
		}
	})
	t.Run("NotAdvertised", func(t *testing.T) {
		srv := startStrictServer(t, "SIZE 10240000")
		c := dial(t, srv)
		m := rawMessage(t, "a@example.org")
		if err := c.SendRaw(ctx, from, "a@example.org", m); err != nil {
			t.Fatalf("SendRaw: %v", err)
		}
		// Each command waits for its reply: one per read.
		for _, ch := range srv.Chunks() {
			if strings.Contains(ch, "RCPT TO:") && (strings.Contains(ch, "MAIL FROM:") || strings.Contains(ch, "DATA\r\n")) {
				t.Fatalf("commands pipelined to a relay that does not offer it: %q", ch)
			}
		}
		if got := srv.Commands("MAIL", "RCPT", "DATA"); len(got) != 3 {
			t.Fatalf("commands %q, want MAIL, RCPT, DATA", got)
		}
		if got := len(srv.Messages()); got != 1 {
			t.Fatalf("server took %d messages, want 1", got)
		}
	})
	t.Run("RcptRefused", func(t *testing.T) {
		// 550 to RCPT, then 554 to the pipelined DATA (no valid
		// recipients): a bounce at stage rcpt, and the connection goes on.
		srv := startStrictServer(t, "PIPELINING", "SIZE 10240000")
		srv.Refuse(func(line string) string {
			if strings.HasPrefix(line, "RCPT TO:<gone@") {
				return "550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown"
			}
			return ""
		})
		c := dial(t, srv)
		err := c.SendRaw(ctx, from, "gone@example.org", rawMessage(t, "gone@example.org"))
		var me *mailer.Error
		if !errors.As(err, &me) || me.Stage != "rcpt" || me.Code != 550 || !me.Permanent {
			t.Fatalf("err = %v, want a permanent 550 at stage rcpt", err)
		}
		if err := c.SendRaw(ctx, from, "b@example.org", rawMessage(t, "b@example.org")); err != nil {
			t.Fatalf("next message: %v", err)
		}
		if got := srv.Conns(); got != 1 {
			t.Fatalf("%d connections, want the same one for the next message", got)
		}
		if got := srv.Commands("RSET"); len(got) != 1 {
			t.Fatalf("RSET sent %d times, want once after the refusal", len(got))
		}
		if got := srv.Messages(); len(got) != 1 {
			t.Fatalf("server took %d messages, want 1", len(got))
		}
	})
	t.Run("MailRefused", func(t *testing.T) {
		// 550 to MAIL, then 503 to RCPT and DATA: stage mail, never a bounce.
		srv := startStrictServer(t, "PIPELINING")
		refuse := true
		srv.Refuse(func(line string) string {
			if strings.HasPrefix(line, "MAIL") && refuse {
				refuse = false
				return "550 5.7.1 Sender refused"
			}
			return ""
		})
		c := dial(t, srv)
		err := c.SendRaw(ctx, from, "a@example.org", rawMessage(t, "a@example.org"))
		if mailer.Stage(err) != "mail" || mailer.Code(err) != 550 {
			t.Fatalf("err = %v (stage %q), want 550 at stage mail", err, mailer.Stage(err))
		}
		if err := c.SendRaw(ctx, from, "b@example.org", rawMessage(t, "b@example.org")); err != nil {
			t.Fatalf("next message: %v", err)
		}
		if got := srv.Conns(); got != 1 {
			t.Fatalf("%d connections, want 1", got)
		}
	})
	t.Run("DataAfterRefusal", func(t *testing.T) {
		// A relay that answers 354 although it refused the recipient
		// waits for a message: hang up rather than send an empty one.
		srv := startStrictServer(t, "PIPELINING")
		srv.Refuse(func(line string) string {
			switch {
			case strings.HasPrefix(line, "RCPT TO:<gone@"):
				return "550 5.1.1 User unknown"
			case line == "DATA":
				return "354 go ahead"
			}
			return ""
		})
		c := dial(t, srv)
		err := c.SendRaw(ctx, from, "gone@example.org", rawMessage(t, "gone@example.org"))
		if mailer.Stage(err) != "rcpt" || mailer.Code(err) != 550 {
			t.Fatalf("err = %v (stage %q), want 550 at stage rcpt", err, mailer.Stage(err))
		}
		if err := c.SendRaw(ctx, from, "b@example.org", rawMessage(t, "b@example.org")); err != nil {
			t.Fatalf("next message: %v", err)
		}
		if got, n := srv.Conns(), len(srv.Messages()); got != 2 || n != 1 {
			t.Fatalf("%d connections, %d messages; want 2 (hung up after the 354) and 1", got, n)
		}
	})
	for _, stage := range []string{"mail", "rcpt", "data"} {
		t.Run("421At"+stage, func(t *testing.T) {
			srv := startStrictServer(t, "PIPELINING")
			verb := map[string]string{"mail": "MAIL", "rcpt": "RCPT", "data": "DATA"}[stage]
			refuse := true
			srv.Refuse(func(line string) string {
				if strings.HasPrefix(line, verb) && refuse {
					refuse = false
					return "421 4.3.2 Service shutting down"
				}
				return ""
			})
			c := dial(t, srv)
			err := c.SendRaw(ctx, from, "a@example.org", rawMessage(t, "a@example.org"))
			var me *mailer.Error
			if !errors.As(err, &me) || me.Code != 421 || me.Permanent || me.Stage != stage {
				t.Fatalf("err = %v, want a temporary 421 at %s", err, stage)
			}
			if err := c.SendRaw(ctx, from, "b@example.org", rawMessage(t, "b@example.org")); err != nil {
				t.Fatalf("after the 421: %v", err)
			}
			if got := srv.Conns(); got != 2 {
				t.Fatalf("%d connections, want 2 (a new one after the 421)", got)
			}
		})
	}
	t.Run("ConfirmWithdraws", func(t *testing.T) {
		// Confirm fails after the pipelined group's replies: the message
		// is withdrawn by hanging up, never ended with a dot.
		srv := startStrictServer(t, "PIPELINING", "SIZE 10240000")
		c := dial(t, srv)
		stop := errors.New("edition paused")
		m := rawMessage(t, "a@example.org")
		m.Confirm = func() error { return stop }
		if err := c.SendRaw(ctx, from, "a@example.org", m); !errors.Is(err, stop) {
			t.Fatalf("err = %v, want the Confirm error", err)
		}
		if got := srv.Commands("DATA"); len(got) != 1 {
			t.Fatalf("DATA sent %d times, want once", len(got))
		}
		if got := len(srv.Messages()); got != 0 {
			t.Fatalf("server took %d messages, want none", got)
		}
		m = rawMessage(t, "b@example.org")
		confirmed := false
		m.Confirm = func() error { confirmed = true; return nil }
		if err := c.SendRaw(ctx, from, "b@example.org", m); err != nil || !confirmed {
			t.Fatalf("next message: %v (confirmed %v)", err, confirmed)
		}
		if got, n := srv.Conns(), len(srv.Messages()); got != 2 || n != 1 {
			t.Fatalf("%d connections, %d messages; want 2 and 1", got, n)
		}
	})
}

// TestSMTP_PipeliningSink runs the refused recipient against go-smtp's
// server, which advertises PIPELINING and answers the DATA after a refused
// RCPT with its own code.
func TestSMTP_PipeliningSink(t *testing.T) {
	ctx := context.Background()
	srv := testsupport.StartSMTP(t)
	srv.OnRcpt = func(to string) error {
		if strings.HasPrefix(to, "gone@") {
			return testsupport.Reply(550, "5.1.1 no such user")
		}
		return nil
	}
	srv.Sync()
	c, err := mailer.NewSMTP(mailer.Config{URL: srv.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.SendRaw(ctx, "digest@news.example.com", "gone@example.org", rawMessage(t, "gone@example.org"))
	if mailer.Stage(err) != "rcpt" || mailer.Code(err) != 550 || !mailer.IsPermanent(err) {
		t.Fatalf("err = %v (stage %q), want a permanent 550 at stage rcpt", err, mailer.Stage(err))
	}
	for _, to := range []string{"a@example.org", "b@example.org"} {
		if err := c.SendRaw(ctx, "digest@news.example.com", to, rawMessage(t, to)); err != nil {
			t.Fatalf("send to %s: %v", to, err)
		}
	}
	if got := len(srv.Messages()); got != 2 {
		t.Fatalf("server took %d messages, want 2", got)
	}
	if _, total := srv.Conns(); total != 1 {
		t.Fatalf("%d connections, want 1", total)
	}
}
