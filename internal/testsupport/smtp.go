package testsupport

import (
	"context"
	"net/url"
	"testing"
	"time"

	"bothsides/internal/smtpsink"
)

// Received is one message an SMTPServer accepted.
type Received = smtpsink.Message

// SMTPServer is a real SMTP server on 127.0.0.1 that keeps what it receives
// (see smtpsink.Server for the hooks and switches: OnMail, OnRcpt, OnData,
// DropData, Accepted, Discard, Sync, Conns, Messages, To). Set the hooks
// before sending; each may return an *smtp.SMTPError (see Reply) to refuse
// a command.
type SMTPServer struct {
	*smtpsink.Server

	// CAFile is the PEM file of the certificate authority that signed the
	// server's certificate, when started with TLS.
	CAFile string
	opts   SMTPOptions
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
func Reply(code int, text string) error { return smtpsink.Reply(code, text) }

// HangUp, returned by OnData, closes the connection without a reply
// (smtpsink.HangUp).
var HangUp = smtpsink.HangUp

// StartSMTP starts an SMTP server on a free loopback port, stopped when the
// test ends.
func StartSMTP(tb testing.TB) *SMTPServer {
	tb.Helper()
	return StartSMTPWith(tb, SMTPOptions{})
}

// StartSMTPWith starts an SMTP server with TLS or authentication.
func StartSMTPWith(tb testing.TB, opts SMTPOptions) *SMTPServer {
	tb.Helper()
	s := &SMTPServer{opts: opts}
	cfg := smtpsink.Config{RequireTLS: opts.RequireTLS, Implicit: opts.Implicit,
		Username: opts.Username, Password: opts.Password,
		MaxMessageBytes: opts.MaxMessageBytes, UTF8: opts.UTF8}
	if opts.TLS || opts.Implicit {
		cfg.TLS, s.CAFile = testCertificate(tb)
	}
	var err error
	if s.Server, err = smtpsink.Listen(cfg); err != nil {
		tb.Fatal(err)
	}
	go s.Serve()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			s.Close()
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

// WaitFor waits until n messages for addr have arrived, for mail sent in
// the background, and returns them; it fails the test after 30 seconds.
func (s *SMTPServer) WaitFor(tb testing.TB, addr string, n int) []Received {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := s.Server.WaitFor(ctx, addr, n)
	if err != nil {
		tb.Fatalf("smtp: %d message(s) for %s after 30s, want %d", len(s.To(addr)), addr, n)
	}
	return got
}
