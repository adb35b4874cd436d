package mailer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// Config describes an SMTP relay.
type Config struct {
	// URL is smtp://[user:pass@]host:port (STARTTLS when offered) or
	// smtps://[user:pass@]host:port (implicit TLS). Query parameters:
	// tls=required|opportunistic|none, ca=/path/to/ca.pem,
	// auth=plain|login|cram-md5|auto, insecure=1 (skip certificate checks).
	URL string
	// Timeout bounds dialing, the TLS and AUTH handshakes and each SMTP
	// command; default 30s.
	Timeout time.Duration
	// DataTimeout bounds sending one message's content and the relay's
	// reply to it; default 2m.
	DataTimeout time.Duration
	// HELO is the name announced to the relay; default the client's host name.
	HELO string
	// DKIM, when set, signs every message sent with SendRaw.
	DKIM *DKIM
}

// SMTP is one connection to a relay, dialed on first use, reused for many
// messages and redialed after a failure. It is safe for concurrent use but
// holds one SMTP conversation at a time: a pool is several SMTPs.
type SMTP struct {
	mu          sync.Mutex
	opts        []mail.Option
	host        string
	timeout     time.Duration
	dataTimeout time.Duration
	dkim        *DKIM
	ssl         bool // implicit TLS (smtps): go-mail dials
	client      *mail.Client
	conn        *smtp.Client
	// raw is the TCP connection under conn when no TLS runs over it, for
	// writing a message in one writev; nil otherwise.
	raw *net.TCPConn
	// pipelining says the relay advertised PIPELINING (RFC 2920).
	pipelining bool
	// pending is the next message whose MAIL, RCPT and DATA went with
	// the last dot, their replies unread; nil when none.
	pending *pending
	cmdBuf  []byte // reused for the commands that go with a dot
}

// ParseURL checks an SMTP URL and returns the go-mail options it stands for.
func ParseURL(raw string) (host string, opts []mail.Option, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", nil, fmt.Errorf("smtp url: %w", err)
	}
	q := u.Query()
	var port int
	switch u.Scheme {
	case "smtp":
		port = 25
		policy := mail.TLSOpportunistic
		switch q.Get("tls") {
		case "", "opportunistic":
		case "required", "starttls":
			policy = mail.TLSMandatory
		case "none":
			policy = mail.NoTLS
		default:
			return "", nil, fmt.Errorf("smtp url: tls=%q: want required, opportunistic or none", q.Get("tls"))
		}
		opts = append(opts, mail.WithTLSPortPolicy(policy))
	case "smtps":
		port = 465
		opts = append(opts, mail.WithSSL())
	default:
		return "", nil, fmt.Errorf("smtp url %q: scheme must be smtp or smtps", redact(u))
	}
	host = u.Hostname()
	if host == "" {
		return "", nil, fmt.Errorf("smtp url %q: no host", redact(u))
	}
	if p := u.Port(); p != "" {
		port, err = strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return "", nil, fmt.Errorf("smtp url %q: bad port %q", redact(u), p)
		}
	}
	opts = append(opts, mail.WithPort(port))
	tlsConf := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if ca := q.Get("ca"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return "", nil, fmt.Errorf("smtp url: ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return "", nil, fmt.Errorf("smtp url: ca %s: no PEM certificate found", ca)
		}
		tlsConf.RootCAs = pool
	}
	if q.Get("insecure") == "1" || q.Get("insecure") == "true" {
		tlsConf.InsecureSkipVerify = true
	}
	opts = append(opts, mail.WithTLSConfig(tlsConf))
	if u.User != nil && u.User.Username() != "" {
		pass, _ := u.User.Password()
		auth := mail.SMTPAuthAutoDiscover
		switch q.Get("auth") {
		case "", "auto":
		case "plain":
			auth = mail.SMTPAuthPlain
		case "login":
			auth = mail.SMTPAuthLogin
		case "cram-md5":
			auth = mail.SMTPAuthCramMD5
		default:
			return "", nil, fmt.Errorf("smtp url: auth=%q: want plain, login, cram-md5 or auto", q.Get("auth"))
		}
		opts = append(opts, mail.WithSMTPAuth(auth), mail.WithUsername(u.User.Username()), mail.WithPassword(pass))
	}
	return host, opts, nil
}

// redact hides the password of an SMTP URL for messages and logs.
func redact(u *url.URL) string { return u.Redacted() }

// Redact returns raw with its password hidden.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable smtp url)"
	}
	return u.Redacted()
}

// NewSMTP returns a connection to the relay in cfg. It dials on first use.
func NewSMTP(cfg Config) (*SMTP, error) {
	host, opts, err := ParseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.DataTimeout <= 0 {
		cfg.DataTimeout = 2 * time.Minute
	}
	opts = append(opts, mail.WithTimeout(cfg.Timeout))
	if cfg.HELO != "" {
		opts = append(opts, mail.WithHELO(cfg.HELO))
	}
	u, _ := url.Parse(cfg.URL) // checked by ParseURL
	return &SMTP{host: host, opts: opts, timeout: cfg.Timeout, dataTimeout: cfg.DataTimeout, dkim: cfg.DKIM, ssl: u.Scheme == "smtps"}, nil
}

// Open returns another connection to the same relay, for a pool.
func (s *SMTP) Open() *SMTP {
	return &SMTP{host: s.host, opts: s.opts, timeout: s.timeout, dataTimeout: s.dataTimeout, dkim: s.dkim, ssl: s.ssl}
}

// dial connects, says EHLO, starts TLS and authenticates, all through
// go-mail, and keeps the SMTP conversation for the messages that follow.
// Without implicit TLS it dials the TCP connection itself (go-mail's dial
// hook), to keep it for writev while no TLS runs over it.
func (s *SMTP) dial(ctx context.Context) error {
	if s.conn != nil {
		return nil
	}
	opts := s.opts
	var tcp *net.TCPConn
	if !s.ssl {
		// A hook replaces go-mail's dialer, which does implicit TLS
		// itself: only without it.
		opts = append(opts[:len(opts):len(opts)], mail.WithDialContextFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			conn, err := d.DialContext(ctx, network, addr)
			if t, ok := conn.(*net.TCPConn); ok {
				tcp = t
			}
			return conn, err
		}))
	}
	c, err := mail.NewClient(s.host, opts...)
	if err != nil {
		return &Error{Stage: "connect", Err: err}
	}
	sc, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return classify("connect", fmt.Errorf("connect to %s: %w", s.host, err))
	}
	s.client, s.conn = c, sc
	s.raw = nil
	if _, tls := sc.TLSConnectionState(); !tls {
		s.raw = tcp
	}
	s.pipelining, _ = sc.Extension("PIPELINING")
	return nil
}

// drop closes the connection after a failure so the next send redials.
func (s *SMTP) drop() {
	if s.conn != nil {
		s.conn.Close()
	}
	s.client, s.conn, s.raw, s.pending = nil, nil, nil, nil
}

// Send builds m with go-mail and delivers it like an edition's copy, through
// SendRaw: the same envelope, the same checks and the same DKIM signature
// for single messages such as confirmations and test mails.
func (s *SMTP) Send(ctx context.Context, m *Message) error {
	from, raw, err := Encode(m)
	if err != nil {
		return err
	}
	return s.SendRaw(ctx, from, m.To, raw)
}

// SendRaw delivers one ready message (CRLF line endings, headers and body)
// from the envelope sender to one recipient, DKIM-signing it first when the
// connection has a key. It dials or redials as needed; a failure comes back
// as an *Error saying whether it is permanent. Only the caller's
// cancellation before the transaction starts stops it: a transaction once
// begun runs to its end or its timeout, so that its outcome is known.
func (s *SMTP) SendRaw(ctx context.Context, from, to string, m Raw) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if p := s.takePending(from, to, m); p != nil {
		// MAIL, RCPT and DATA went with the previous message's dot.
		if err := s.resume(); err != nil {
			return err
		}
		return s.data(to, p.sig, m)
	}
	sig, err := s.sign(m)
	if err != nil {
		return err
	}
	if err := s.dial(ctx); err != nil {
		return err
	}
	c := s.conn
	if err := c.UpdateDeadline(s.timeout); err != nil {
		s.drop()
		return &Error{Stage: "connect", Err: err}
	}
	mailLine, rcptLine, err := envelope(c.Extension, from, to, m.Data, m.DotSafe, len(sig)+len(m.Data))
	if err != nil {
		return err
	}
	if err := s.begin(mailLine, rcptLine); err != nil {
		return err
	}
	return s.data(to, sig, m)
}

// sign returns the DKIM signature of m when the connection has a key.
func (s *SMTP) sign(m Raw) ([]byte, error) {
	if s.dkim == nil {
		return nil, nil
	}
	sig, err := s.dkim.Sign(m.Data, m.BodyOffset)
	if err != nil {
		return nil, &Error{Stage: "dkim", Permanent: true, Err: err}
	}
	return sig, nil
}

// fail classifies an error of the SMTP conversation. A reply from the relay
// leaves the connection usable after RSET, except 421 (closing); anything
// else (EOF, reset, timeout) drops it, to be redialed.
func (s *SMTP) fail(stage string, err error) error {
	e := replyError(stage, err)
	if e.Code != 0 && e.Code != 421 {
		if rerr := s.conn.Reset(); rerr == nil {
			return e
		}
	}
	s.drop()
	return e
}

// replyError classifies an error of the SMTP conversation at stage.
func replyError(stage string, err error) *Error {
	e := classify(stage, err).(*Error)
	var te *textproto.Error
	if errors.As(err, &te) && (te.Code == 552 || te.Code == 554) && strings.Contains(te.Msg, "5.3.4") {
		// Message too big for the relay (RFC 3463 5.3.4): the message's
		// fault, not the reader's, so never a bounce.
		e.Stage = "size"
	}
	return e
}

// classify reads the SMTP reply code out of err, if it has one. A failure
// to connect (including TLS and AUTH) is never permanent for a message: it
// says nothing about the recipient, and the edition's breaker pauses the
// send if the relay keeps refusing.
func classify(stage string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		return &Error{Stage: stage, Code: te.Code, Permanent: stage != "connect" && te.Code >= 500 && te.Code < 600, Err: err}
	}
	return &Error{Stage: stage, Err: err}
}

// Close ends the SMTP conversation with QUIT.
func (s *SMTP) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	if s.pending != nil {
		// A begun transaction that will not be sent: only hanging up
		// ends it without a message.
		err := s.conn.Close()
		s.drop()
		return err
	}
	err := s.conn.Quit()
	if err != nil {
		s.conn.Close()
	}
	s.client, s.conn, s.raw = nil, nil, nil
	return err
}
