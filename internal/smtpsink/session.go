package smtpsink

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// session is one client connection's conversation.
type session struct {
	srv    *Server
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
	mail   smtp.MailOptions
}

// Reset keeps the recipients' array for the next message: the hooks get
// to only for the time of their call.
func (s *session) Reset()        { s.from, s.to, s.mail = "", s.to[:0], smtp.MailOptions{} }
func (s *session) Logout() error { return nil }

// AuthMechanisms offers PLAIN and LOGIN when the server wants a password.
func (s *session) AuthMechanisms() []string {
	if s.srv.cfg.Username == "" {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

// Auth checks the credentials.
func (s *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != s.srv.cfg.Username || pass != s.srv.cfg.Password {
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
	if s.srv.cfg.Username != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	if s.srv.cfg.RequireTLS {
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
	if h := s.srv.DropData; h != nil && h(s.to) {
		// Read a little of the message, then hang up without a reply.
		io.CopyN(io.Discard, r, 512)
		s.conn.Conn().Close()
		return fmt.Errorf("connection dropped by the test")
	}
	data, err := s.read(r)
	if err != nil {
		return fmt.Errorf("read data: %w", err)
	}
	if h := s.srv.OnData; h != nil {
		if err := h(s.to, data); err != nil {
			if errors.Is(err, HangUp) {
				s.conn.Conn().Close()
			}
			return err
		}
	}
	s.srv.keep(s, data)
	if h := s.srv.DropAfter; h != nil && h(s.to) {
		s.conn.Conn().Close()
		return fmt.Errorf("connection dropped by the test after the message")
	}
	if h := s.srv.Accepted; h != nil {
		h(s.to)
	}
	return nil
}

// read reads the message; only one that is kept, or that OnData looks at,
// is buffered: a CountOnly server costs what io.Discard does.
func (s *session) read(r io.Reader) ([]byte, error) {
	if s.srv.CountOnly && s.srv.OnData == nil {
		_, err := io.Copy(io.Discard, r)
		return nil, err
	}
	var b bytes.Buffer
	_, err := io.Copy(&b, r)
	return b.Bytes(), err
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
