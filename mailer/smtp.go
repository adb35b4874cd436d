package mailer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/wneessen/go-mail"
)

// Config describes an SMTP relay.
type Config struct {
	// URL is smtp://[user:pass@]host:port (STARTTLS when offered) or
	// smtps://[user:pass@]host:port (implicit TLS). Query parameters:
	// tls=required|opportunistic|none, ca=/path/to/ca.pem,
	// auth=plain|login|cram-md5|auto, insecure=1 (skip certificate checks).
	URL string
	// Timeout bounds dialing and each SMTP command; default 30s.
	Timeout time.Duration
	// HELO is the name announced to the relay; default the client's host name.
	HELO string
}

// SMTP sends messages through one reused go-mail connection. It is safe for
// concurrent use; messages go out one at a time. Open several for a pool.
type SMTP struct {
	mu     sync.Mutex
	opts   []mail.Option
	host   string
	client *mail.Client
	dialed bool
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

// NewSMTP returns a sender for the relay in cfg. It dials on first use.
func NewSMTP(cfg Config) (*SMTP, error) {
	host, opts, err := ParseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	opts = append(opts, mail.WithTimeout(timeout))
	if cfg.HELO != "" {
		opts = append(opts, mail.WithHELO(cfg.HELO))
	}
	return &SMTP{host: host, opts: opts}, nil
}

func (s *SMTP) dial(ctx context.Context) error {
	if s.dialed {
		return nil
	}
	c, err := mail.NewClient(s.host, s.opts...)
	if err != nil {
		return err
	}
	if err := c.DialWithContext(ctx); err != nil {
		return err
	}
	s.client, s.dialed = c, true
	return nil
}

// drop closes the connection after a failure so the next send redials.
func (s *SMTP) drop() {
	if s.client != nil {
		s.client.Close()
	}
	s.client, s.dialed = nil, false
}

// Send delivers m over the connection, dialing or redialing as needed.
func (s *SMTP) Send(ctx context.Context, m *Message) error {
	if m.MessageID == "" {
		m.MessageID = NewMessageID(m.From)
	}
	msg, err := Build(m)
	if err != nil {
		return &Error{Permanent: true, Err: err}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.dial(ctx); err != nil {
		s.drop()
		return &Error{Err: fmt.Errorf("connect to %s: %w", s.host, err)}
	}
	if err := s.client.Send(msg); err != nil {
		return s.classify(err)
	}
	return nil
}

// classify turns a go-mail error into an *Error. go-mail reports a dropped
// connection as a non-temporary SendError with code 0: that is a network
// failure to retry after redialing, never a bounce.
func (s *SMTP) classify(err error) error {
	var se *mail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		if code == 0 || code == 421 {
			s.drop()
		} else {
			// The conversation is still good; clear the failed transaction.
			if rerr := s.client.Reset(); rerr != nil {
				s.drop()
			}
		}
		return &Error{Code: code, Permanent: code >= 500 && code < 600, Err: err}
	}
	s.drop()
	return &Error{Err: err}
}

// Close ends the SMTP conversation.
func (s *SMTP) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return nil
	}
	err := s.client.Close()
	s.client, s.dialed = nil, false
	return err
}
