package bounce

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// The listener's defaults.
const (
	DefaultMaxMessageBytes = 1 << 20 // 1 MiB: a DSN or ARF report is a few kilobytes
	DefaultMaxConnections  = 20
	DefaultListenTimeout   = time.Minute
)

// ListenerConfig configures the SMTP intake. Address is required.
type ListenerConfig struct {
	// Address is the bounce address, "bounces@bounce.example.com": mail is
	// accepted for its local part, alone or with a "+TOKEN", at its domain
	// (in any case); any other recipient is refused with 550.
	Address string
	// Hostname is the name the server greets with; default the address's
	// domain.
	Hostname string
	// MaxMessageBytes is the SIZE advertised and enforced (552 over it);
	// default DefaultMaxMessageBytes.
	MaxMessageBytes int64
	// MaxConnections is how many clients may be connected at once; one
	// more is answered 421 and closed. Default DefaultMaxConnections.
	MaxConnections int
	// Timeout bounds each read and each write; default
	// DefaultListenTimeout.
	Timeout time.Duration
	// TLS, when set, offers STARTTLS.
	TLS *tls.Config
	// Logger receives one line per message; default slog.Default().
	Logger *slog.Logger
	// Metrics counts the messages; nil counts nothing.
	Metrics *IntakeMetrics
}

// Listener is the SMTP intake: a receive-only server (emersion/go-smtp)
// for the bounce address that hands each message to a Receiver. It never
// sends mail, so a bounce is never answered.
type Listener struct {
	cfg            ListenerConfig
	local, domain  string // the bounce address's parts, lower case
	srv            *smtp.Server
	rcv            Receiver
	log            *slog.Logger
	mu             sync.Mutex
	open           int
	ctx            context.Context
	cancel         context.CancelFunc
	refusedConnMsg []byte
}

// NewListener checks cfg and returns a Listener that hands what it accepts
// to rcv.
func NewListener(cfg ListenerConfig, rcv Receiver) (*Listener, error) {
	local, domain, ok := splitAddress(cfg.Address)
	if !ok || strings.Contains(local, "+") {
		return nil, fmt.Errorf("bounce listener: address %q: want local@domain without a +tag, such as bounces@bounce.example.com", cfg.Address)
	}
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultListenTimeout
	}
	if cfg.MaxMessageBytes < 0 || cfg.MaxConnections < 0 || cfg.Timeout < 0 {
		return nil, fmt.Errorf("bounce listener: size %d, connections %d, timeout %s: want positive values", cfg.MaxMessageBytes, cfg.MaxConnections, cfg.Timeout)
	}
	if cfg.Hostname == "" {
		cfg.Hostname = domain
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := &Listener{cfg: cfg, local: strings.ToLower(local), domain: strings.ToLower(domain), rcv: rcv, log: cfg.Logger}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.refusedConnMsg = []byte("421 4.7.0 " + cfg.Hostname + " too many connections, try again later\r\n")
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &listenSession{l: l}, nil
	}))
	s.Domain = cfg.Hostname
	s.MaxMessageBytes = cfg.MaxMessageBytes
	s.MaxRecipients = 10
	s.ReadTimeout, s.WriteTimeout = cfg.Timeout, cfg.Timeout
	s.TLSConfig = cfg.TLS
	s.ErrorLog = slogLogger{l.log}
	l.srv = s
	return l, nil
}

// Serve answers on ln until Close; it returns nil after Close.
func (l *Listener) Serve(ln net.Listener) error {
	err := l.srv.Serve(&capListener{Listener: ln, l: l})
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops accepting, ends the open conversations and lets a message
// being recorded finish its Receive (which then sees a cancelled context
// only if it outlives ctx).
func (l *Listener) Close(ctx context.Context) error {
	err := l.srv.Shutdown(ctx)
	l.cancel()
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// accepts reports whether rcpt is the bounce address, with or without a
// +TOKEN, and returns the token.
func (l *Listener) accepts(rcpt string) (token string, ok bool) {
	local, domain, ok := splitAddress(rcpt)
	if !ok || !strings.EqualFold(domain, l.domain) {
		return "", false
	}
	base, token, _ := strings.Cut(local, "+")
	return token, strings.EqualFold(base, l.local)
}

// splitAddress splits local@domain at its last @; both must be non-empty.
func splitAddress(addr string) (local, domain string, ok bool) {
	i := strings.LastIndexByte(addr, '@')
	if i <= 0 || i == len(addr)-1 || strings.ContainsAny(addr, " <>\t\r\n") {
		return "", "", false
	}
	return addr[:i], addr[i+1:], true
}

// capListener answers a connection over the cap with 421 and closes it.
type capListener struct {
	net.Listener
	l *Listener
}

func (c *capListener) Accept() (net.Conn, error) {
	for {
		conn, err := c.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c.l.mu.Lock()
		full := c.l.open >= c.l.cfg.MaxConnections
		if !full {
			c.l.open++
		}
		c.l.mu.Unlock()
		if !full {
			return &countedConn{Conn: conn, l: c.l}, nil
		}
		c.l.cfg.Metrics.refused("connection")
		c.l.log.Warn("bounce listener: connection refused, too many open", "max", c.l.cfg.MaxConnections)
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		conn.Write(c.l.refusedConnMsg)
		conn.Close()
	}
}

// countedConn gives its place back when closed.
type countedConn struct {
	net.Conn
	l    *Listener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// listenSession is one SMTP transaction's state.
type listenSession struct {
	l    *Listener
	from string
	to   []string
}

func (s *listenSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from // "" is the null sender every DSN comes from
	return nil
}

func (s *listenSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if _, ok := s.l.accepts(to); !ok {
		s.l.cfg.Metrics.refused("recipient")
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
			Message: "no such recipient here: this server takes only reports for " + s.l.local + "@" + s.l.domain + " (relaying denied)"}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *listenSession) Data(r io.Reader) error {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		if errors.Is(err, smtp.ErrDataTooLarge) {
			s.l.cfg.Metrics.refused("size")
			s.l.log.Warn("bounce listener: message over the size limit refused", "max_bytes", s.l.cfg.MaxMessageBytes)
			return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
				Message: fmt.Sprintf("message too big: this server takes reports of at most %d bytes", s.l.cfg.MaxMessageBytes)}
		}
		return err
	}
	raw := buf.Bytes()
	// One Receive per recipient: each names its own delivery by its token.
	for _, to := range s.to {
		rc, err := s.l.rcv.Receive(s.l.ctx, "smtp", to, raw)
		if err != nil {
			s.l.cfg.Metrics.received("smtp", "error")
			s.l.log.Error("bounce listener: report not recorded, the client is told to try later", "bytes", len(raw), "err", err)
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
				Message: "the report could not be recorded now; try again later"}
		}
		result := "recorded"
		if rc.Unparsed {
			result = "unparsed"
		}
		s.l.cfg.Metrics.received("smtp", result)
		s.l.log.Info("bounce listener: report received", "result", result, "events", rc.Events,
			"reason", rc.Reason, "bytes", len(raw), "null_sender", s.from == "")
	}
	return nil
}

func (s *listenSession) Reset()        { s.from, s.to = "", nil }
func (s *listenSession) Logout() error { return nil }

// slogLogger hands go-smtp's connection errors to slog at debug level:
// a client hanging up is no news.
type slogLogger struct{ log *slog.Logger }

func (s slogLogger) Printf(format string, v ...any) {
	s.log.Debug("bounce listener: " + fmt.Sprintf(format, v...))
}
func (s slogLogger) Println(v ...any) { s.log.Debug("bounce listener: " + fmt.Sprint(v...)) }
