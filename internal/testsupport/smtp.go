package testsupport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Received is one message an SMTPServer accepted.
type Received struct {
	From string
	To   []string
	Data []byte
}

// SMTPServer is a real SMTP server on 127.0.0.1 that keeps what it receives.
// Set the hooks before sending; each may return an *smtp.SMTPError (see
// Reply) to refuse a command.
type SMTPServer struct {
	Addr string // host:port

	// OnRcpt, when set, is called for each RCPT TO.
	OnRcpt func(to string) error
	// OnData, when set, is called with the recipients and the message after
	// it was read; an error refuses the message.
	OnData func(to []string, data []byte) error

	srv     *smtp.Server
	mu      sync.Mutex
	msgs    []Received
	arrived chan struct{} // closed and replaced when a message arrives
}

// Reply returns an SMTP error reply with code and text, e.g. Reply(451, "try later").
func Reply(code int, text string) error {
	return &smtp.SMTPError{Code: code, Message: text}
}

// StartSMTP starts an SMTP server on a free loopback port, stopped when the
// test ends.
func StartSMTP(tb testing.TB) *SMTPServer {
	tb.Helper()
	s := &SMTPServer{arrived: make(chan struct{})}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.MaxMessageBytes = 10 << 20
	s.srv.MaxRecipients = 100
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen smtp: %v", err)
	}
	s.Addr = ln.Addr().String()
	go s.srv.Serve(ln)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			s.srv.Close()
		}
	})
	return s
}

// URL is the smtp:// URL of the server.
func (s *SMTPServer) URL() string { return "smtp://" + s.Addr }

// Messages returns a copy of what was received so far.
func (s *SMTPServer) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Received, len(s.msgs))
	copy(out, s.msgs)
	return out
}

// To returns the messages received for one recipient.
func (s *SMTPServer) To(addr string) []Received {
	var out []Received
	for _, m := range s.Messages() {
		for _, t := range m.To {
			if strings.EqualFold(t, addr) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// WaitFor waits until n messages for addr have arrived, for mail sent in
// the background, and returns them; it fails the test after 30 seconds.
func (s *SMTPServer) WaitFor(tb testing.TB, addr string, n int) []Received {
	tb.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		arrived := s.arrived
		s.mu.Unlock()
		if got := s.To(addr); len(got) >= n {
			return got
		}
		select {
		case <-arrived:
		case <-deadline.C:
			tb.Fatalf("smtp: %d message(s) for %s after 30s, want %d", len(s.To(addr)), addr, n)
			return nil
		}
	}
}

type session struct {
	srv  *SMTPServer
	from string
	to   []string
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if h := s.srv.OnRcpt; h != nil {
		if err := h(to); err != nil {
			return err
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	var b bytes.Buffer
	if _, err := io.Copy(&b, r); err != nil {
		return fmt.Errorf("read data: %w", err)
	}
	if h := s.srv.OnData; h != nil {
		if err := h(s.to, b.Bytes()); err != nil {
			return err
		}
	}
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, Received{From: s.from, To: append([]string(nil), s.to...), Data: b.Bytes()})
	close(s.srv.arrived)
	s.srv.arrived = make(chan struct{})
	s.srv.mu.Unlock()
	return nil
}
