// Package smtpsink is an SMTP server on 127.0.0.1 that accepts what it is
// sent and keeps it, or only its envelope, or only a count, with switches
// to refuse chosen commands. The tests (through internal/testsupport), the
// bench command and the drills' sink process all run this one server.
package smtpsink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one message a Server accepted.
type Message struct {
	From string
	To   []string
	Data []byte
	// Size, Body and UTF8 are the MAIL FROM parameters the client gave:
	// SIZE=, BODY= and SMTPUTF8.
	Size int64
	Body string
	UTF8 bool
}

// Config is what a Server offers and enforces, fixed at Listen. The zero
// value is a plain server without TLS or authentication.
type Config struct {
	// TLS, when set, offers STARTTLS with this configuration.
	TLS *tls.Config
	// Implicit makes the listener TLS from the first byte (smtps); it
	// needs TLS.
	Implicit bool
	// RequireTLS refuses MAIL before STARTTLS.
	RequireTLS bool
	// Username and Password, when set, are required (AUTH PLAIN or LOGIN)
	// before MAIL.
	Username, Password string
	// MaxMessageBytes is the SIZE the server advertises and enforces;
	// default 10 MiB.
	MaxMessageBytes int64
	// UTF8 advertises SMTPUTF8.
	UTF8 bool
	// Timeout bounds each read and each write on a connection; default
	// 30 seconds.
	Timeout time.Duration
	// ErrorLog receives go-smtp's per-connection errors; nil writes them
	// to standard error.
	ErrorLog smtp.Logger
}

// Server is an SMTP server on a free loopback port. Set the hooks and
// switches before clients connect, then call Sync; each hook may return an
// *smtp.SMTPError (see Reply) to refuse a command. A hook's to is valid only
// until it returns.
type Server struct {
	Addr string // host:port

	// OnMail, when set, is called for each MAIL FROM.
	OnMail func(from string) error
	// OnRcpt, when set, is called for each RCPT TO.
	OnRcpt func(to string) error
	// OnData, when set, is called with the recipients and the message after
	// it was read; an error refuses the message.
	OnData func(to []string, data []byte) error
	// DropData, when set and returning true for a message's recipients,
	// closes the connection in the middle of the DATA transfer, before any
	// reply: the client sees a dropped connection.
	DropData func(to []string) bool
	// DropAfter, when set and returning true for a message's recipients,
	// keeps the message whole and then closes the connection without
	// replying to its final dot: the server has it, the client cannot know.
	DropAfter func(to []string) bool
	// Accepted, when set, is called after a message was stored and before
	// the server replies 250: blocking in it keeps the message in flight
	// on the client's side although the server has it.
	Accepted func(to []string)
	// OnOpen and OnClose, when set, are called as each client connection
	// is accepted and closed.
	OnOpen, OnClose func()

	// Discard, when set, keeps only the sender and recipients of each
	// message, not its content: for drills of thousands of messages.
	Discard bool
	// CountOnly, when set, keeps nothing of a message but that it came
	// (Count): Messages, To and WaitFor see none. The content is not even
	// buffered unless OnData wants it, so a message costs the least a
	// server can do: for benchmarks and for the drills' sink.
	CountOnly bool

	// Fast, set before Serve, answers with a minimal server of this
	// package's own instead of go-smtp's, which reads a message a byte at
	// a time: for benchmarks. It implies CountOnly and ignores the hooks,
	// TLS and authentication (fast.go).
	Fast bool

	fast  fastConns
	cfg   Config
	srv   *smtp.Server
	ln    net.Listener
	count atomic.Int64

	mu    sync.Mutex
	msgs  []Message
	auths []string
	// arrived is closed and replaced when a message is kept.
	arrived chan struct{}
	// connections open now and accepted in all.
	connsOpen, connsTotal int
}

// Listen opens a Server on a free port of 127.0.0.1; Serve answers on it.
func Listen(cfg Config) (*Server, error) {
	if cfg.Implicit && cfg.TLS == nil {
		return nil, errors.New("smtpsink: implicit TLS needs a TLS configuration")
	}
	s := &Server{cfg: cfg, arrived: make(chan struct{})}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, conn: c}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = cfg.TLS == nil
	s.srv.TLSConfig = cfg.TLS
	s.srv.MaxMessageBytes = 10 << 20
	if cfg.MaxMessageBytes > 0 {
		s.srv.MaxMessageBytes = cfg.MaxMessageBytes
	}
	s.srv.EnableSMTPUTF8 = cfg.UTF8
	s.srv.MaxRecipients = 100
	s.srv.ReadTimeout, s.srv.WriteTimeout = 30*time.Second, 30*time.Second
	if cfg.Timeout > 0 {
		s.srv.ReadTimeout, s.srv.WriteTimeout = cfg.Timeout, cfg.Timeout
	}
	if cfg.ErrorLog != nil {
		s.srv.ErrorLog = cfg.ErrorLog
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen smtp: %w", err)
	}
	s.Addr = ln.Addr().String()
	s.ln = countingListener{Listener: ln, s: s}
	if cfg.Implicit {
		s.ln = tls.NewListener(s.ln, cfg.TLS)
	}
	return s, nil
}

// Serve answers connections until Close or Shutdown.
func (s *Server) Serve() error {
	if s.Fast {
		return s.serveFast()
	}
	return s.srv.Serve(s.ln)
}

// Close stops the server and closes every connection at once.
func (s *Server) Close() error {
	if s.Fast {
		err := s.ln.Close()
		s.fast.closeAll()
		return err
	}
	return s.srv.Close()
}

// Shutdown stops the server, waiting for open connections to end until ctx
// is done (the fast server closes them at once).
func (s *Server) Shutdown(ctx context.Context) error {
	if s.Fast {
		return s.Close()
	}
	return s.srv.Shutdown(ctx)
}

// Sync publishes the hooks and switches set since the server started to
// the sessions that start after it. Call it once they are set and before a
// client connects: the connection itself does not order the caller's
// writes before the session's reads, and the race detector says so when
// the client is another process.
func (s *Server) Sync() {
	s.mu.Lock()
	s.mu.Unlock() // empty on purpose: Accept locks mu too
}

// HangUp, returned by OnData, closes the connection without a reply: a
// server that gave up on its client. Whatever the client wrote after the
// message (commands pipelined behind its final dot) is never read.
var HangUp = errors.New("smtpsink: hang up")

// Reply returns an SMTP error reply with code and text, e.g. Reply(451, "try later").
func Reply(code int, text string) error {
	return &smtp.SMTPError{Code: code, Message: text}
}

// Count returns how many messages were accepted since the start or the
// last Reset, whatever was kept of them.
func (s *Server) Count() int { return int(s.count.Load()) }

// Reset forgets the messages accepted so far and restarts Count.
func (s *Server) Reset() {
	s.mu.Lock()
	s.msgs = nil
	s.count.Store(0)
	s.mu.Unlock()
}

// Conns returns how many client connections are open now and how many
// were accepted since the start: a client that leaks connections leaves
// open > 0 after it is done.
func (s *Server) Conns() (open, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connsOpen, s.connsTotal
}

// Auths returns the SASL mechanisms clients authenticated with, in order.
func (s *Server) Auths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auths...)
}

// Messages returns a copy of what was kept so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.msgs))
	copy(out, s.msgs)
	return out
}

// To returns the messages kept for one recipient.
func (s *Server) To(addr string) []Message {
	var out []Message
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
// the background, and returns them; it gives up with ctx's error.
func (s *Server) WaitFor(ctx context.Context, addr string, n int) ([]Message, error) {
	return s.wait(ctx, n, func() []Message { return s.To(addr) })
}

// WaitAll waits until n messages have arrived in all and returns every
// message kept; it gives up with ctx's error.
func (s *Server) WaitAll(ctx context.Context, n int) ([]Message, error) {
	return s.wait(ctx, n, s.Messages)
}

// wait waits until got returns at least n messages.
func (s *Server) wait(ctx context.Context, n int, got func() []Message) ([]Message, error) {
	for {
		s.mu.Lock()
		arrived := s.arrived
		s.mu.Unlock()
		if msgs := got(); len(msgs) >= n {
			return msgs, nil
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// keep counts the message x has read and records it unless CountOnly.
func (s *Server) keep(x *session, data []byte) {
	s.count.Add(1)
	if s.CountOnly {
		return
	}
	m := Message{From: x.from, To: append([]string(nil), x.to...), Data: data,
		Size: x.mail.Size, Body: string(x.mail.Body), UTF8: x.mail.UTF8}
	if s.Discard {
		m.Data = nil
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
	s.mu.Unlock()
}
