package testsupport

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one message an SMTPServer accepted.
type Received struct {
	From string
	To   []string
	Data []byte
	// Size, Body and UTF8 are the MAIL FROM parameters the client gave:
	// SIZE=, BODY= and SMTPUTF8.
	Size int64
	Body string
	UTF8 bool
}

// SMTPServer is a real SMTP server on 127.0.0.1 that keeps what it receives.
// Set the hooks before sending; each may return an *smtp.SMTPError (see
// Reply) to refuse a command.
type SMTPServer struct {
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
	// Accepted, when set, is called after a message was stored and before
	// the server replies 250: blocking in it keeps the message in flight
	// on the client's side although the server has it.
	Accepted func(to []string)

	// Discard, when set, keeps only the sender and recipients of each
	// message, not its content: for drills of thousands of messages.
	Discard bool

	// CAFile is the PEM file of the certificate authority that signed the
	// server's certificate, when started with TLS.
	CAFile string
	opts   SMTPOptions

	srv   *smtp.Server
	mu    sync.Mutex
	msgs  []Received
	auths []string
	// arrived is closed and replaced when a message arrives.
	arrived chan struct{}
	// conns counts connections: open now and accepted in all.
	connsOpen, connsTotal int
}

// Conns returns how many client connections are open now and how many
// were accepted since the start: a client that leaks connections leaves
// open > 0 after it is done.
func (s *SMTPServer) Conns() (open, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connsOpen, s.connsTotal
}

// Sync publishes the hooks and switches set since the server started to
// the sessions that start after it. Call it once they are set and before a
// client connects: the connection itself does not order the test's writes
// before the session's reads, and the race detector says so when the
// client is another process.
func (s *SMTPServer) Sync() {
	s.mu.Lock()
	s.mu.Unlock() // empty on purpose: Accept locks mu too
}

// countingListener counts the connections it accepts and their closing.
type countingListener struct {
	net.Listener
	s *SMTPServer
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.s.mu.Lock()
	l.s.connsOpen++
	l.s.connsTotal++
	l.s.mu.Unlock()
	return &countedConn{Conn: c, s: l.s}, nil
}

type countedConn struct {
	net.Conn
	s    *SMTPServer
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		c.s.connsOpen--
		c.s.mu.Unlock()
	})
	return c.Conn.Close()
}

// SMTPOptions switch on TLS and authentication for StartSMTPWith.
type SMTPOptions struct {
	// TLS offers STARTTLS with a certificate for 127.0.0.1 and localhost
	// signed by a CA generated for the test (see CAFile).
	TLS bool
	// Implicit makes the listener TLS from the first byte (smtps).
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
}

// Reply returns an SMTP error reply with code and text, e.g. Reply(451, "try later").
func Reply(code int, text string) error {
	return &smtp.SMTPError{Code: code, Message: text}
}

// StartSMTP starts an SMTP server on a free loopback port, stopped when the
// test ends.
func StartSMTP(tb testing.TB) *SMTPServer {
	tb.Helper()
	return StartSMTPWith(tb, SMTPOptions{})
}

// StartSMTPWith starts an SMTP server with TLS or authentication.
func StartSMTPWith(tb testing.TB, opts SMTPOptions) *SMTPServer {
	tb.Helper()
	s := &SMTPServer{opts: opts, arrived: make(chan struct{})}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, conn: c}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.MaxMessageBytes = 10 << 20
	if opts.MaxMessageBytes > 0 {
		s.srv.MaxMessageBytes = opts.MaxMessageBytes
	}
	s.srv.EnableSMTPUTF8 = opts.UTF8
	s.srv.MaxRecipients = 100
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	var ln net.Listener
	var err error
	if opts.TLS || opts.Implicit {
		var conf *tls.Config
		conf, s.CAFile = testCertificate(tb)
		s.srv.TLSConfig = conf
		s.srv.AllowInsecureAuth = false
	}
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen smtp: %v", err)
	}
	s.Addr = ln.Addr().String()
	ln = countingListener{Listener: ln, s: s}
	if opts.Implicit {
		ln = tls.NewListener(ln, s.srv.TLSConfig)
	}
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

// URL is the smtp:// URL of the server (smtps:// when implicit TLS), with
// the credentials and the ca= parameter the server needs.
func (s *SMTPServer) URL() string {
	u := "smtp://"
	if s.opts.Implicit {
		u = "smtps://"
	}
	if s.opts.Username != "" {
		u += url.UserPassword(s.opts.Username, s.opts.Password).String() + "@"
	}
	u += s.Addr
	if s.CAFile != "" {
		u += "?ca=" + url.QueryEscape(s.CAFile)
	}
	return u
}

// Auths returns the SASL mechanisms clients authenticated with, in order.
func (s *SMTPServer) Auths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auths...)
}

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
	srv    *SMTPServer
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
	mail   smtp.MailOptions
}

func (s *session) Reset()        { s.from, s.to, s.mail = "", nil, smtp.MailOptions{} }
func (s *session) Logout() error { return nil }

// AuthMechanisms offers PLAIN and LOGIN when the server wants a password.
func (s *session) AuthMechanisms() []string {
	if s.srv.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

// Auth checks the credentials.
func (s *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != s.srv.opts.Username || pass != s.srv.opts.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		s.authed = true
		s.srv.mu.Lock()
		s.srv.auths = append(s.srv.auths, mech)
		s.srv.mu.Unlock()
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	if s.srv.opts.Username != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	if s.srv.opts.RequireTLS {
		if _, ok := s.conn.TLSConnectionState(); !ok {
			return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "must issue STARTTLS first"}
		}
	}
	if h := s.srv.OnMail; h != nil {
		if err := h(from); err != nil {
			return err
		}
	}
	s.from = from
	if opts != nil {
		s.mail = *opts
	}
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
	if h := s.srv.DropData; h != nil && h(s.to) {
		// Read a little of the message, then hang up without a reply.
		io.CopyN(&b, r, 512)
		s.conn.Conn().Close()
		return fmt.Errorf("connection dropped by the test")
	}
	if _, err := io.Copy(&b, r); err != nil {
		return fmt.Errorf("read data: %w", err)
	}
	if h := s.srv.OnData; h != nil {
		if err := h(s.to, b.Bytes()); err != nil {
			return err
		}
	}
	s.srv.mu.Lock()
	rec := Received{From: s.from, To: append([]string(nil), s.to...), Data: b.Bytes(),
		Size: s.mail.Size, Body: string(s.mail.Body), UTF8: s.mail.UTF8}
	if s.srv.Discard {
		rec.Data = nil
	}
	s.srv.msgs = append(s.srv.msgs, rec)
	close(s.srv.arrived)
	s.srv.arrived = make(chan struct{})
	s.srv.mu.Unlock()
	if h := s.srv.Accepted; h != nil {
		h(s.to)
	}
	return nil
}

// loginServer is the server side of AUTH LOGIN, which go-sasl lacks.
type loginServer struct {
	step  int
	user  string
	check func(user, pass string) error
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step++
		if len(resp) > 0 { // initial response carries the user name
			l.user = string(resp)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user = string(resp)
		l.step++
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}
