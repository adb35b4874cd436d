package mailer

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
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
	client      *mail.Client
	conn        *smtp.Client
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
	return &SMTP{host: host, opts: opts, timeout: cfg.Timeout, dataTimeout: cfg.DataTimeout, dkim: cfg.DKIM}, nil
}

// Open returns another connection to the same relay, for a pool.
func (s *SMTP) Open() *SMTP {
	return &SMTP{host: s.host, opts: s.opts, timeout: s.timeout, dataTimeout: s.dataTimeout, dkim: s.dkim}
}

// dial connects, says EHLO, starts TLS and authenticates, all through
// go-mail, and keeps the SMTP conversation for the messages that follow.
func (s *SMTP) dial(ctx context.Context) error {
	if s.conn != nil {
		return nil
	}
	c, err := mail.NewClient(s.host, s.opts...)
	if err != nil {
		return &Error{Stage: "connect", Err: err}
	}
	sc, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return classify("connect", fmt.Errorf("connect to %s: %w", s.host, err))
	}
	s.client, s.conn = c, sc
	return nil
}

// drop closes the connection after a failure so the next send redials.
func (s *SMTP) drop() {
	if s.conn != nil {
		s.conn.Close()
	}
	s.client, s.conn = nil, nil
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
	msg := m.Data
	var sig []byte
	if s.dkim != nil {
		var err error
		if sig, err = s.dkim.Sign(msg, m.BodyOffset); err != nil {
			return &Error{Stage: "dkim", Permanent: true, Err: err}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
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
	if err := s.envelope(from, to, msg, m.DotSafe, len(sig)+len(msg)); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return s.fail("data", err)
	}
	if err := c.UpdateDeadline(s.dataTimeout); err != nil {
		s.drop()
		return &Error{Stage: "data", Err: err}
	}
	if !m.DotSafe && needsDotStuffing(msg) || !bytes.HasSuffix(msg, []byte("\r\n")) {
		if _, err := w.Write(sig); err != nil {
			return s.fail("data", err)
		}
		if _, err := w.Write(msg); err != nil {
			return s.fail("data", err)
		}
	} else {
		// No line starts with a dot and the message ends with CRLF, so
		// dot-stuffing would copy it unchanged one byte at a time (a
		// quarter of the CPU of a send): write it straight to the
		// connection's buffer. Nothing has gone through the dot writer,
		// so its Close ends the data with "\r\n.\r\n" and reads the reply:
		// the message goes without its own final CRLF.
		if _, err := c.Text.W.Write(sig); err != nil {
			return s.fail("data", err)
		}
		if _, err := c.Text.W.Write(msg[:len(msg)-2]); err != nil {
			return s.fail("data", err)
		}
	}
	if m.Confirm != nil {
		if err := m.Confirm(); err != nil {
			s.drop() // mid-DATA: hanging up is the only way to withdraw
			return fmt.Errorf("message to %s withdrawn before its end: %w", to, err)
		}
	}
	if err := w.Close(); err != nil {
		return s.fail("data", err)
	}
	return nil
}

// envelope starts the transaction: MAIL FROM and RCPT TO, each address in
// angle brackets (RFC 5321 4.1.2; go-mail's low-level client writes what it
// is given, and strict relays refuse a bare address), with only the ESMTP
// parameters the relay advertised and the message needs: SIZE= whenever
// SIZE is advertised (a message over the relay's limit fails here, before
// any data goes), SMTPUTF8 only for an address that is not ASCII,
// BODY=8BITMIME only for content that is not 7-bit.
func (s *SMTP) envelope(from, to string, msg []byte, dotSafe bool, size int) error {
	c := s.conn
	// A Template's message is 7-bit with short lines in its body by
	// construction; only its header, where the personal values go, needs
	// checking. Anything else is checked whole.
	check := msg
	if dotSafe {
		check = msg[:headerEnd(msg)]
	}
	eightBit, long := scanLines(check)
	if long > 0 {
		return &Error{Stage: "message", Permanent: true,
			Err: fmt.Errorf("line %d is longer than the 998 octets SMTP allows (RFC 5321 4.5.3.1.6)", long)}
	}
	params := ""
	if ok, limit := c.Extension("SIZE"); ok {
		if n, err := strconv.ParseInt(strings.TrimSpace(limit), 10, 64); err == nil && n > 0 && int64(size) > n {
			return &Error{Stage: "size", Permanent: true,
				Err: fmt.Errorf("message of %d bytes is over the relay's limit of %d bytes (its SIZE)", size, n)}
		}
		params += " SIZE=" + strconv.Itoa(size)
	}
	if eightBit {
		if ok, _ := c.Extension("8BITMIME"); ok {
			params += " BODY=8BITMIME"
		}
	}
	if !isASCII(from) || !isASCII(to) {
		if ok, _ := c.Extension("SMTPUTF8"); !ok {
			return &Error{Stage: "mail", Permanent: true,
				Err: fmt.Errorf("relay does not offer SMTPUTF8, needed for the address %q", firstNonASCII(from, to))}
		}
		params += " SMTPUTF8"
	}
	if err := validateAddr(from); err != nil {
		return &Error{Stage: "mail", Permanent: true, Err: fmt.Errorf("envelope sender: %w", err)}
	}
	if err := validateAddr(to); err != nil {
		return &Error{Stage: "rcpt", Permanent: true, Err: fmt.Errorf("recipient: %w", err)}
	}
	if err := command(c, "MAIL FROM:<"+from+">"+params); err != nil {
		return s.fail("mail", err)
	}
	if err := command(c, "RCPT TO:<"+to+">"); err != nil {
		return s.fail("rcpt", err)
	}
	return nil
}

// command sends one SMTP command and reads its reply, which must be 250.
func command(c *smtp.Client, line string) error {
	id, err := c.Text.Cmd("%s", line)
	if err != nil {
		return err
	}
	c.Text.StartResponse(id)
	defer c.Text.EndResponse(id)
	_, _, err = c.Text.ReadResponse(250)
	return err
}

// validateAddr refuses what cannot stand between angle brackets in an
// SMTP command.
func validateAddr(a string) error {
	if a == "" || strings.ContainsAny(a, "<>\r\n \t") {
		return fmt.Errorf("%q is not a mailbox address", a)
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func firstNonASCII(a, b string) string {
	if !isASCII(a) {
		return a
	}
	return b
}

// headerEnd returns the length of msg's header, blank line included.
func headerEnd(msg []byte) int {
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	return len(msg)
}

// scanLines reports whether b has a byte outside 7-bit ASCII, and the
// number (from 1) of its first line over 998 octets without its CRLF, or 0.
func scanLines(b []byte) (eightBit bool, longLine int) {
	for n := 1; len(b) > 0; n++ {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) > 998 && longLine == 0 {
			longLine = n
		}
		if !eightBit {
			for _, c := range line {
				if c >= 0x80 {
					eightBit = true
					break
				}
			}
		}
	}
	return eightBit, longLine
}

// needsDotStuffing reports whether b must go through SMTP's dot-stuffing:
// it has a line that starts with a dot, a bare CR or LF, or does not end
// with CRLF.
func needsDotStuffing(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	if b[0] == '.' || !bytes.HasSuffix(b, []byte("\r\n")) || bytes.Contains(b, []byte("\n.")) {
		return true
	}
	return bytes.Count(b, []byte("\n")) != bytes.Count(b, []byte("\r\n")) || bytes.Count(b, []byte("\r")) != bytes.Count(b, []byte("\r\n"))
}

// fail classifies an error of the SMTP conversation. A reply from the relay
// leaves the connection usable after RSET, except 421 (closing); anything
// else (EOF, reset, timeout) drops it, to be redialed.
func (s *SMTP) fail(stage string, err error) error {
	e := classify(stage, err)
	var te *textproto.Error
	if errors.As(err, &te) && (te.Code == 552 || te.Code == 554) && strings.Contains(te.Msg, "5.3.4") {
		// Message too big for the relay (RFC 3463 5.3.4): the message's
		// fault, not the reader's, so never a bounce.
		e.(*Error).Stage = "size"
	}
	var me *Error
	if errors.As(e, &me) && me.Code != 0 && me.Code != 421 {
		if rerr := s.conn.Reset(); rerr == nil {
			return e
		}
	}
	s.drop()
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
	err := s.conn.Quit()
	if err != nil {
		s.conn.Close()
	}
	s.client, s.conn = nil, nil
	return err
}
