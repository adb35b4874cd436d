// Package mailer turns bothsides messages into MIME mail and hands them to an
// SMTP relay or to an outbox folder. It is the only package that imports
// go-mail.
package mailer

import (
	"bytes"
	"errors"
	"fmt"
	netmail "net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/wneessen/go-mail"
)

// Header is one extra header field.
type Header struct {
	Name, Value string
}

// Message is one personalised mail, ready to build.
type Message struct {
	From      string // "Both Sides <digest@example.com>"
	ReplyTo   string // optional
	To        string // bare address
	ToName    string // optional display name
	Subject   string
	MessageID string // without angle brackets; generated on From's domain when empty
	Date      time.Time
	// Unsubscribe is the https (or, for local use, http) one-click URL;
	// UnsubscribeMailto an optional mailto: alternative.
	Unsubscribe       string
	UnsubscribeMailto string
	Headers           []Header
	HTML, Text        []byte
}

// Error is a failed send, classified for the ledger.
type Error struct {
	// Stage is where it failed: connect, mail, rcpt, data or dkim.
	Stage     string
	Code      int  // SMTP reply code, 0 when the server gave none (network, local)
	Permanent bool // a 5xx reply: retrying will not help
	Err       error
}

func (e *Error) Error() string {
	msg := e.Err.Error()
	if e.Stage != "" {
		msg = e.Stage + ": " + msg
	}
	if e.Code != 0 {
		return fmt.Sprintf("smtp %d: %s", e.Code, msg)
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// IsPermanent reports whether err is a permanent (5xx) delivery failure.
func IsPermanent(err error) bool {
	var me *Error
	return errors.As(err, &me) && me.Permanent
}

// Build assembles m as a go-mail message: multipart/alternative with the
// plain text first and the HTML last (the preferred part), and the headers
// bulk mail needs.
func Build(m *Message) (*mail.Msg, error) {
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	if err := msg.From(m.From); err != nil {
		return nil, fmt.Errorf("from %q: %w", m.From, err)
	}
	if m.ToName != "" {
		if err := msg.AddToFormat(cleanHeader(m.ToName), m.To); err != nil {
			return nil, fmt.Errorf("to %q: %w", m.To, err)
		}
	} else if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("to %q: %w", m.To, err)
	}
	if m.ReplyTo != "" {
		if err := msg.ReplyTo(m.ReplyTo); err != nil {
			return nil, fmt.Errorf("reply-to %q: %w", m.ReplyTo, err)
		}
	}
	msg.Subject(cleanHeader(m.Subject))
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	msg.SetDateWithValue(date)
	id := m.MessageID
	if id == "" {
		id = NewMessageID(m.From)
	}
	msg.SetMessageIDWithValue(id)
	if m.Unsubscribe != "" {
		uris := []string{m.Unsubscribe}
		if m.UnsubscribeMailto != "" {
			uris = append(uris, m.UnsubscribeMailto)
		}
		// go-mail's one-click helper takes only https; local http setups
		// still get both headers, written directly.
		msg.SetListUnsubscribe(uris...)
		msg.SetListUnsubscribePost()
	}
	for _, h := range m.Headers {
		msg.SetGenHeader(mail.Header(h.Name), cleanHeader(h.Value))
	}
	msg.SetBodyString(mail.TypeTextPlain, string(m.Text), mail.WithPartEncoding(mail.EncodingQP))
	msg.AddAlternativeString(mail.TypeTextHTML, string(m.HTML), mail.WithPartEncoding(mail.EncodingQP))
	return msg, nil
}

// Encode builds m (see Build) into a ready message and returns it with the
// envelope sender, From's bare address: what SendRaw takes. A missing
// Message-ID is made on From's domain.
func Encode(m *Message) (from string, raw Raw, err error) {
	if m.MessageID == "" {
		m.MessageID = NewMessageID(m.From)
	}
	addr, err := netmail.ParseAddress(m.From)
	if err != nil {
		return "", Raw{}, &Error{Stage: "build", Permanent: true, Err: fmt.Errorf("from %q: %w", m.From, err)}
	}
	msg, err := Build(m)
	if err != nil {
		return "", Raw{}, &Error{Stage: "build", Permanent: true, Err: err}
	}
	var b bytes.Buffer
	if _, err := msg.WriteTo(&b); err != nil {
		return "", Raw{}, &Error{Stage: "build", Permanent: true, Err: fmt.Errorf("write message: %w", err)}
	}
	data := b.Bytes()
	body := bytes.Index(data, []byte("\r\n\r\n"))
	if body < 0 {
		return "", Raw{}, &Error{Stage: "build", Permanent: true, Err: errors.New("built message has no body")}
	}
	return addr.Address, Raw{Data: data, BodyOffset: body + 4}, nil
}

// cleanHeader folds CR, LF and other control characters to spaces so that no
// value can start a header of its own.
func cleanHeader(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// Domain returns the domain of a From value such as "Name <a@b.example>".
func Domain(from string) string {
	if i := strings.LastIndex(from, "@"); i >= 0 {
		d := strings.TrimRight(from[i+1:], "> ")
		if d != "" {
			return d
		}
	}
	return "localhost"
}

// HostOf returns the host of a base URL, for ids and List-Id.
func HostOf(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil || u.Hostname() == "" {
		return "localhost"
	}
	return u.Hostname()
}

// Code returns the SMTP reply code behind err, or 0 when there was none.
func Code(err error) int {
	var me *Error
	if errors.As(err, &me) {
		return me.Code
	}
	return 0
}

// Stage returns where err happened: connect, mail, rcpt, data, dkim or "".
func Stage(err error) string {
	var me *Error
	if errors.As(err, &me) {
		return me.Stage
	}
	return ""
}
