package bounce_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/textproto"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"bothsides/bounce"
	"bothsides/internal/testsupport"
)

// fakeReceiver records what it is handed; err and unparsed choose its
// answer.
type fakeReceiver struct {
	mu       sync.Mutex
	got      []received
	err      error
	unparsed bool
}

type received struct {
	source, to string
	raw        []byte
}

func (f *fakeReceiver) Receive(_ context.Context, source, to string, raw []byte) (bounce.Receipt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return bounce.Receipt{}, f.err
	}
	f.got = append(f.got, received{source, to, append([]byte(nil), raw...)})
	if f.unparsed {
		return bounce.Receipt{Unparsed: true, Reason: "no report"}, nil
	}
	return bounce.Receipt{Events: 1}, nil
}

func (f *fakeReceiver) received() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.got...)
}

// startListener serves a Listener for bounces@bounce.example.com on a free
// loopback port.
func startListener(t *testing.T, cfg bounce.ListenerConfig, rcv bounce.Receiver) string {
	t.Helper()
	if cfg.Address == "" {
		cfg.Address = "bounces@bounce.example.com"
	}
	l, err := bounce.NewListener(cfg, rcv)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := l.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// client is one SMTP conversation, command by command.
type client struct {
	t testing.TB
	c *textproto.Conn
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := &client{t: t, c: textproto.NewConn(conn)}
	t.Cleanup(func() { c.c.Close() })
	c.expect(220)
	return c
}

// cmd sends a command and returns the reply's code and text.
func (c *client) cmd(format string, args ...any) (int, string) {
	c.t.Helper()
	id, err := c.c.Cmd(format, args...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.c.StartResponse(id)
	defer c.c.EndResponse(id)
	code, msg, err := c.c.ReadResponse(0)
	if err != nil && code == 0 {
		c.t.Fatalf("%s: %v", format, err)
	}
	return code, msg
}

func (c *client) expect(want int) string {
	c.t.Helper()
	code, msg, err := c.c.ReadResponse(want)
	if err != nil {
		c.t.Fatalf("reply %d %q, want %d: %v", code, msg, want, err)
	}
	return msg
}

// send runs a whole transaction from the null sender to rcpt and returns
// DATA's final reply.
func (c *client) send(rcpt, msg string) (int, string) {
	c.t.Helper()
	if code, text := c.cmd("MAIL FROM:<>"); code != 250 {
		c.t.Fatalf("MAIL FROM:<> = %d %s, want 250", code, text)
	}
	if code, text := c.cmd("RCPT TO:<%s>", rcpt); code != 250 {
		c.t.Fatalf("RCPT TO:<%s> = %d %s, want 250", rcpt, code, text)
	}
	if code, text := c.cmd("DATA"); code != 354 {
		c.t.Fatalf("DATA = %d %s", code, text)
	}
	w := c.c.DotWriter()
	w.Write([]byte(msg))
	w.Close()
	code, text, _ := c.c.ReadResponse(0)
	return code, text
}

const listenerDSN = "From: MAILER-DAEMON@relay.example.net\r\nTo: bounces+tok@bounce.example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\nThe mail could not be delivered.\r\n"

func TestListener_Receive(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		rcv := &fakeReceiver{}
		c := dial(t, startListener(t, bounce.ListenerConfig{}, rcv))
		c.cmd("EHLO relay.example.net")
		if code, text := c.send("bounces+AbC-12_x@Bounce.Example.COM", listenerDSN); code != 250 {
			t.Fatalf("DATA = %d %s, want 250", code, text)
		}
		got := rcv.received()
		if len(got) != 1 {
			t.Fatalf("Receive called %d times, want 1", len(got))
		}
		if got[0].source != "smtp" || got[0].to != "bounces+AbC-12_x@Bounce.Example.COM" {
			t.Fatalf("Receive(%q, %q), want smtp and the RCPT address as given", got[0].source, got[0].to)
		}
		if !strings.Contains(string(got[0].raw), "Subject: Undelivered Mail Returned to Sender") {
			t.Fatalf("raw = %q", got[0].raw)
		}
	})
	t.Run("WithoutToken", func(t *testing.T) {
		rcv := &fakeReceiver{}
		c := dial(t, startListener(t, bounce.ListenerConfig{}, rcv))
		c.cmd("HELO relay.example.net")
		if code, _ := c.send("bounces@bounce.example.com", listenerDSN); code != 250 {
			t.Fatalf("DATA = %d, want 250", code)
		}
		if n := len(rcv.received()); n != 1 {
			t.Fatalf("Receive called %d times, want 1", n)
		}
	})
	t.Run("Unparsed", func(t *testing.T) {
		rcv := &fakeReceiver{unparsed: true}
		c := dial(t, startListener(t, bounce.ListenerConfig{}, rcv))
		c.cmd("EHLO relay.example.net")
		if code, _ := c.send("bounces@bounce.example.com", "garbage\r\n"); code != 250 {
			t.Fatalf("DATA = %d, want 250: an unparsed message is stored", code)
		}
	})
	t.Run("ReceiveError", func(t *testing.T) {
		rcv := &fakeReceiver{err: errors.New("database is locked")}
		c := dial(t, startListener(t, bounce.ListenerConfig{}, rcv))
		c.cmd("EHLO relay.example.net")
		code, text := c.send("bounces@bounce.example.com", listenerDSN)
		if code != 451 {
			t.Fatalf("DATA = %d %s, want 451 (try later)", code, text)
		}
		if strings.Contains(text, "locked") {
			t.Fatalf("reply %q shows an internal error", text)
		}
	})
}

func TestListener_Refuse(t *testing.T) {
	t.Run("OtherRecipients", func(t *testing.T) {
		rcv := &fakeReceiver{}
		c := dial(t, startListener(t, bounce.ListenerConfig{}, rcv))
		c.cmd("EHLO relay.example.net")
		if code, _ := c.cmd("MAIL FROM:<someone@example.org>"); code != 250 {
			t.Fatalf("MAIL = %d", code)
		}
		for _, rcpt := range []string{
			"victim@gmail.com",                    // a relay attempt
			"bounces@gmail.com",                   // the local part elsewhere
			"postmaster@bounce.example.com",       // another local part here
			"bouncesx@bounce.example.com",         // a longer local part
			"x+bounces@bounce.example.com",        // the tag first
			"bounces@sub.bounce.example.com",      // a subdomain
			"bounces@bounce.example.com.evil.org", // a suffix
		} {
			code, text := c.cmd("RCPT TO:<%s>", rcpt)
			if code != 550 {
				t.Errorf("RCPT TO:<%s> = %d %s, want 550", rcpt, code, text)
			}
		}
		if code, _ := c.cmd("DATA"); code/100 == 3 {
			t.Fatalf("DATA accepted with no valid recipient")
		}
		if n := len(rcv.received()); n != 0 {
			t.Fatalf("Receive called %d times, want 0", n)
		}
	})
	t.Run("TooBig", func(t *testing.T) {
		rcv := &fakeReceiver{}
		c := dial(t, startListener(t, bounce.ListenerConfig{MaxMessageBytes: 1000}, rcv))
		c.cmd("EHLO relay.example.net")
		_, ehlo := c.cmd("EHLO relay.example.net")
		if !strings.Contains(ehlo, "SIZE 1000") {
			t.Fatalf("EHLO = %q, want SIZE 1000 advertised", ehlo)
		}
		if code, text := c.cmd("MAIL FROM:<> SIZE=5000"); code != 552 {
			t.Fatalf("MAIL FROM:<> SIZE=5000 = %d %s, want 552", code, text)
		}
		code, text := c.send("bounces@bounce.example.com", listenerDSN+strings.Repeat("xxxxxxxxxxxxxxxxxx\r\n", 100))
		if code != 552 || !strings.Contains(text, "at most 1000 bytes") {
			t.Fatalf("DATA = %d %q, want 552 naming the limit", code, text)
		}
		if n := len(rcv.received()); n != 0 {
			t.Fatalf("Receive called %d times, want 0", n)
		}
		// The connection goes on.
		if code, _ := c.send("bounces@bounce.example.com", listenerDSN); code != 250 {
			t.Fatalf("next DATA = %d, want 250", code)
		}
	})
	t.Run("TooManyConnections", func(t *testing.T) {
		addr := startListener(t, bounce.ListenerConfig{MaxConnections: 1}, &fakeReceiver{})
		first := dial(t, addr)
		first.cmd("EHLO relay.example.net")
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		code, text, _ := textproto.NewConn(conn).ReadResponse(0)
		if code != 421 {
			t.Fatalf("second connection greeted %d %s, want 421", code, text)
		}
		// The first is still served, and its place is given back on QUIT.
		if code, _ := first.cmd("NOOP"); code != 250 {
			t.Fatalf("NOOP = %d", code)
		}
		first.cmd("QUIT")
		first.c.Close()
		for range 100 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			code, _, _ = textproto.NewConn(c).ReadResponse(0)
			c.Close()
			if code == 220 {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("a connection after the first closed greeted %d, want 220", code)
	})
	t.Run("BadAddress", func(t *testing.T) {
		for _, a := range []string{"", "bounces", "@example.com", "bounces+x@example.com", "bounces@"} {
			if _, err := bounce.NewListener(bounce.ListenerConfig{Address: a}, &fakeReceiver{}); err == nil {
				t.Errorf("NewListener(%q) = nil error", a)
			}
		}
	})
}

func TestListener_STARTTLS(t *testing.T) {
	caFile, certFile, keyFile := testsupport.WriteTestCertificate(t, t.TempDir())
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	rcv := &fakeReceiver{}
	addr := startListener(t, bounce.ListenerConfig{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}, rcv)
	c := dial(t, addr)
	if _, ehlo := c.cmd("EHLO relay.example.net"); !strings.Contains(ehlo, "STARTTLS") {
		t.Fatalf("EHLO = %q, want STARTTLS", ehlo)
	}
	c.c.Close()

	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	plain := &client{t: t, c: textproto.NewConn(conn)}
	plain.expect(220)
	plain.cmd("EHLO relay.example.net")
	if code, _ := plain.cmd("STARTTLS"); code != 220 {
		t.Fatalf("STARTTLS = %d", code)
	}
	tc := tls.Client(conn, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	sec := &client{t: t, c: textproto.NewConn(tc)}
	defer sec.c.Close()
	sec.cmd("EHLO relay.example.net")
	if code, text := sec.send("bounces+t@bounce.example.com", listenerDSN); code != 250 {
		t.Fatalf("DATA over TLS = %d %s", code, text)
	}
	if n := len(rcv.received()); n != 1 {
		t.Fatalf("Receive called %d times, want 1", n)
	}
}
