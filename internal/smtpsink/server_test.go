package smtpsink_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"bothsides/internal/smtpsink"
)

// start serves s until the test ends.
func start(t *testing.T, cfg smtpsink.Config, set func(*smtpsink.Server)) *smtpsink.Server {
	t.Helper()
	s, err := smtpsink.Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if set != nil {
		set(s)
	}
	go s.Serve()
	t.Cleanup(func() { s.Close() })
	return s
}

// send sends one message over a new connection.
func send(t *testing.T, s *smtpsink.Server, to ...string) error {
	t.Helper()
	c, err := smtp.Dial(s.Addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SendMail("from@example.com", to, strings.NewReader("Subject: hi\r\n\r\nhello\r\n")); err != nil {
		return err
	}
	return c.Quit()
}

func TestServer_Keep(t *testing.T) {
	t.Run("All", func(t *testing.T) {
		s := start(t, smtpsink.Config{}, nil)
		if err := send(t, s, "a@example.com", "b@example.com"); err != nil {
			t.Fatal(err)
		}
		got := s.Messages()
		if len(got) != 1 || got[0].From != "from@example.com" || len(got[0].To) != 2 || !strings.Contains(string(got[0].Data), "hello") {
			t.Fatalf("Messages=%+v, want one from from@example.com to two with its content", got)
		}
		if got, want := len(s.To("B@example.com")), 1; got != want {
			t.Fatalf("len(To)=%d, want %d", got, want)
		}
	})
	t.Run("Discard", func(t *testing.T) {
		s := start(t, smtpsink.Config{}, func(s *smtpsink.Server) { s.Discard = true })
		if err := send(t, s, "a@example.com"); err != nil {
			t.Fatal(err)
		}
		if got := s.Messages(); len(got) != 1 || got[0].To[0] != "a@example.com" || got[0].Data != nil {
			t.Fatalf("Messages=%+v, want the envelope only", got)
		}
	})
	t.Run("CountOnly", func(t *testing.T) {
		s := start(t, smtpsink.Config{}, func(s *smtpsink.Server) { s.CountOnly = true })
		for range 3 {
			if err := send(t, s, "a@example.com"); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := s.Count(), 3; got != want {
			t.Fatalf("Count=%d, want %d", got, want)
		}
		if got := s.Messages(); len(got) != 0 {
			t.Fatalf("Messages=%d, want none", len(got))
		}
		s.Reset()
		if got, want := s.Count(), 0; got != want {
			t.Fatalf("Count after Reset=%d, want %d", got, want)
		}
	})
}

func TestServer_Hooks(t *testing.T) {
	t.Run("RefuseRcpt", func(t *testing.T) {
		s := start(t, smtpsink.Config{}, func(s *smtpsink.Server) {
			s.OnRcpt = func(string) error { return smtpsink.Reply(550, "no such user") }
		})
		var e *smtp.SMTPError
		if err := send(t, s, "a@example.com"); !errors.As(err, &e) || e.Code != 550 {
			t.Fatalf("err=%v, want 550", err)
		}
		if got := s.Count(); got != 0 {
			t.Fatalf("Count=%d, want 0", got)
		}
	})
	t.Run("OnDataCountOnly", func(t *testing.T) {
		// OnData sees the content even when nothing is kept.
		got := make(chan string, 1)
		s := start(t, smtpsink.Config{}, func(s *smtpsink.Server) {
			s.CountOnly = true
			s.OnData = func(_ []string, b []byte) error { got <- string(b); return nil }
		})
		if err := send(t, s, "a@example.com"); err != nil {
			t.Fatal(err)
		}
		if data := <-got; !strings.Contains(data, "hello") {
			t.Fatalf("OnData got %q, want the content", data)
		}
	})
	t.Run("Connections", func(t *testing.T) {
		events := make(chan string, 4)
		s := start(t, smtpsink.Config{}, func(s *smtpsink.Server) {
			s.OnOpen = func() { events <- "open" }
			s.OnClose = func() { events <- "close" }
		})
		if err := send(t, s, "a@example.com"); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"open", "close"} {
			select {
			case got := <-events:
				if got != want {
					t.Fatalf("event %q, want %q", got, want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("no %q event", want)
			}
		}
		if open, total := s.Conns(); open != 0 || total != 1 {
			t.Fatalf("Conns=%d, %d, want 0, 1", open, total)
		}
	})
}

func TestServer_WaitFor(t *testing.T) {
	s := start(t, smtpsink.Config{}, nil)
	go send(t, s, "a@example.com")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got, err := s.WaitFor(ctx, "a@example.com", 1); err != nil || len(got) != 1 {
		t.Fatalf("WaitFor=%d, %v, want 1 message", len(got), err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.WaitFor(ctx, "a@example.com", 2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err=%v, want the deadline", err)
	}
}

func TestListen_ErrImplicitWithoutTLS(t *testing.T) {
	if _, err := smtpsink.Listen(smtpsink.Config{Implicit: true}); err == nil {
		t.Fatal("Listen with Implicit and no TLS: no error")
	}
}

// BenchmarkServer_CountOnly is the server's cost per message in the bench
// command's setup: one connection, a 110 kB message, nothing kept.
func BenchmarkServer_CountOnly(b *testing.B) {
	s, err := smtpsink.Listen(smtpsink.Config{Timeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	s.CountOnly = true
	go s.Serve()
	defer s.Close()
	var body bytes.Buffer
	dw := textproto.NewWriter(bufio.NewWriter(&body)).DotWriter()
	dw.Write(bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n"), 1500))
	dw.Close()
	nc, err := net.Dial("tcp", s.Addr)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	c := textproto.NewConn(nc)
	cmd := func(code int, format string, args ...any) {
		if format != "" {
			c.PrintfLine(format, args...)
		}
		if _, _, err := c.ReadResponse(code); err != nil {
			b.Fatal(err)
		}
	}
	cmd(220, "")
	cmd(250, "EHLO bench.localhost")
	b.SetBytes(int64(body.Len()))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		cmd(250, "MAIL FROM:<a@example.com>")
		cmd(250, "RCPT TO:<r%d@example.com>", i)
		cmd(354, "DATA")
		c.W.Write(body.Bytes())
		c.W.Flush()
		cmd(250, "")
	}
	if got, want := s.Count(), b.N; got != want {
		b.Fatalf("Count=%d, want %d", got, want)
	}
}

// TestServer_Fast checks the benchmark's server: every message counted
// once however it is written (one command at a time, pipelined, the next
// message's commands behind the dot), a line that starts with a dot or is
// longer than the read buffer not taken for the end, and refusals where
// SMTP wants them.
func TestServer_Fast(t *testing.T) {
	s := start(t, smtpsink.Config{}, func(s *smtpsink.Server) { s.Fast = true })
	t.Run("Messages", func(t *testing.T) {
		s.Reset()
		for range 3 {
			if err := send(t, s, "a@example.com"); err != nil {
				t.Fatal(err)
			}
		}
		if got := s.Count(); got != 3 {
			t.Fatalf("Count=%d, want 3", got)
		}
	})
	t.Run("Pipelined", func(t *testing.T) {
		s.Reset()
		conn, err := net.Dial("tcp", s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		text := textproto.NewConn(conn)
		if _, _, err := text.ReadResponse(220); err != nil {
			t.Fatal(err)
		}
		long := strings.Repeat("x", 100<<10) // past the 64 KB buffer
		// A lone dot inside a long line, a stuffed dot line, then the next
		// message's commands behind the dot, and a refused DATA.
		body := "Subject: hi\r\n\r\n" + long + ".\r\n" + "..\r\n" + ". not the end\r\n"
		fmt.Fprintf(text.W, "EHLO t\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
		text.W.Flush()
		for _, code := range []int{250, 250, 250, 354} {
			if _, _, err := text.ReadResponse(code); err != nil {
				t.Fatalf("want %d: %v", code, err)
			}
		}
		fmt.Fprintf(text.W, "%s.\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<c@example.com>\r\nDATA\r\n", body)
		text.W.Flush()
		for _, code := range []int{250, 250, 250, 354} {
			if _, _, err := text.ReadResponse(code); err != nil {
				t.Fatalf("want %d: %v", code, err)
			}
		}
		fmt.Fprintf(text.W, "short\r\n.\r\nMAIL FROM:<a@example.com>\r\nDATA\r\nRSET\r\nQUIT\r\n")
		text.W.Flush()
		for _, code := range []int{250, 250, 554, 250, 221} {
			if _, _, err := text.ReadResponse(code); err != nil {
				t.Fatalf("want %d: %v", code, err)
			}
		}
		if got := s.Count(); got != 2 {
			t.Fatalf("Count=%d, want 2", got)
		}
	})
	t.Run("Close", func(t *testing.T) {
		conn, err := net.Dial("tcp", s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		bufio.NewReader(conn).ReadString('\n')
		s.Close()
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Read(make([]byte, 1)); err == nil {
			t.Fatal("connection still open after Close")
		}
	})
}
