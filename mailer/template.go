package mailer

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"mime"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// TemplateConfig describes a message sent to many recipients: the parts
// every copy shares, and the markers in the bodies where each recipient's
// values go.
type TemplateConfig struct {
	From    string // "Both Sides <digest@example.com>"
	ReplyTo string // optional
	Subject string
	// ListID is the List-Id value, e.g. "Both Sides daily <default.news.example.com>".
	ListID string
	// FeedbackID is the Feedback-ID value (Gmail's feedback loop).
	FeedbackID string
	// UnsubscribeMailto is an optional mailto: URI added to List-Unsubscribe.
	UnsubscribeMailto string
	// Headers are further constant header fields, e.g. Precedence.
	Headers []Header
	// Text and HTML are the bodies with Markers where the recipient's
	// values go; a marker must not contain characters that HTML escaping or
	// quoted-printable encoding change (use letters and digits).
	Text, HTML []byte
	Markers    []string
}

// Template is a MIME message encoded once, ready to be filled in for each
// recipient by copying bytes: the bodies are quoted-printable encoded ahead
// of time around the markers, so a copy costs a memory copy plus the
// encoding of a few short values rather than building and encoding a whole
// message.
type Template struct {
	from      string // envelope sender
	domain    string
	head      []byte // constant header fields
	ctype     []byte // Content-Type, blank line, first boundary and part header
	text      []qpSegment
	mid       []byte // boundary and the HTML part's header
	html      []qpSegment
	tail      []byte // closing boundary
	unsubTail string // ", <mailto:...>" or ""
	markers   int
	size      int
	bodyOff   int // offset of the body in ctype
}

// qpSegment is an encoded literal run followed by a value slot (-1: none).
type qpSegment struct {
	lit  []byte
	slot int
}

// Recipient is what differs between copies of a Template.
type Recipient struct {
	To        string // bare address
	Name      string // display name, optional
	MessageID string // without angle brackets
	Date      time.Time
	// Unsubscribe is the one-click https URL for List-Unsubscribe.
	Unsubscribe string
	// Values fill the markers, in the order of TemplateConfig.Markers, as
	// plain text; they are HTML-escaped in the HTML part.
	Values []string
	// Headers are further header fields of this copy alone, e.g. the
	// signed delivery header; one line each.
	Headers []Header
}

// NewTemplate encodes cfg once.
func NewTemplate(cfg TemplateConfig) (*Template, error) {
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("from %q: %w", cfg.From, err)
	}
	t := &Template{from: from.Address, domain: Domain(from.Address), markers: len(cfg.Markers)}
	for _, m := range cfg.Markers {
		if m == "" || strings.ContainsFunc(m, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) {
			return nil, fmt.Errorf("template marker %q: want letters and digits only", m)
		}
	}
	var h []byte
	h = appendHeader(h, "From", from.String())
	if cfg.ReplyTo != "" {
		rt, err := mail.ParseAddress(cfg.ReplyTo)
		if err != nil {
			return nil, fmt.Errorf("reply-to %q: %w", cfg.ReplyTo, err)
		}
		h = appendHeader(h, "Reply-To", rt.String())
	}
	h = appendHeader(h, "Subject", encodeWords(cleanHeader(cfg.Subject)))
	h = appendHeader(h, "MIME-Version", "1.0")
	if cfg.ListID != "" {
		h = appendHeader(h, "List-Id", cleanHeader(cfg.ListID))
	}
	h = appendHeader(h, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	if cfg.FeedbackID != "" {
		h = appendHeader(h, "Feedback-ID", cleanHeader(cfg.FeedbackID))
	}
	for _, x := range cfg.Headers {
		h = appendHeader(h, x.Name, cleanHeader(x.Value))
	}
	t.head = h
	if cfg.UnsubscribeMailto != "" {
		if !strings.HasPrefix(cfg.UnsubscribeMailto, "mailto:") {
			return nil, fmt.Errorf("unsubscribe mailto %q: want a mailto: URI", cfg.UnsubscribeMailto)
		}
		t.unsubTail = ", <" + cleanHeader(cfg.UnsubscribeMailto) + ">"
	}

	b := make([]byte, 12)
	rand.Read(b)
	// "=_" never occurs in quoted-printable output, so the boundary cannot
	// collide with any body.
	boundary := "=_bs" + hex.EncodeToString(b)
	t.ctype = []byte("Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n" +
		"--" + boundary + "\r\n" +
		"Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	t.mid = []byte("\r\n--" + boundary + "\r\n" +
		"Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	t.tail = []byte("\r\n--" + boundary + "--\r\n")
	t.bodyOff = strings.Index(string(t.ctype), "\r\n\r\n") + 4
	if !utf8.Valid(cfg.Text) || !utf8.Valid(cfg.HTML) {
		return nil, errors.New("template body is not valid UTF-8")
	}
	// Line ends are LF or CRLF in the bodies and CRLF on the wire.
	t.text = encodeSegments(bytes.ReplaceAll(cfg.Text, []byte("\r\n"), []byte("\n")), cfg.Markers)
	t.html = encodeSegments(bytes.ReplaceAll(cfg.HTML, []byte("\r\n"), []byte("\n")), cfg.Markers)
	t.size = len(t.head) + len(t.ctype) + len(t.mid) + len(t.tail) + 512
	for _, s := range append(t.text, t.html...) {
		t.size += len(s.lit)
	}
	return t, nil
}

// Sender is the envelope sender (MAIL FROM) of the template's messages.
func (t *Template) Sender() string { return t.from }

// Size is about how many bytes one copy takes, for sizing buffers.
func (t *Template) Size() int { return t.size }

// Raw is a complete message, ready for SMTP.
type Raw struct {
	Data       []byte // header and body, CRLF line endings
	BodyOffset int    // where the body starts, after the blank line
	// DotSafe promises that every line ends in CRLF and none starts with a
	// dot, as Template's output does: the message then goes through SMTP
	// without dot-stuffing.
	DotSafe bool
	// Confirm, when set, is called once the relay has answered DATA with
	// 354, before the message and the final dot that asks the relay to take
	// it are written (they go in one write). An error aborts the message
	// (the connection is closed, so the relay discards it) and is returned
	// by SendRaw.
	Confirm func() error
}

// Append appends the complete message for r to dst and returns it.
func (t *Template) Append(dst []byte, r *Recipient) (Raw, error) {
	if len(r.Values) != t.markers {
		return Raw{Data: dst}, fmt.Errorf("recipient %s: %d values for %d markers", r.To, len(r.Values), t.markers)
	}
	if strings.ContainsAny(r.To, "\r\n<>") || strings.ContainsAny(r.MessageID, "\r\n<> ") {
		return Raw{Data: dst}, fmt.Errorf("recipient %q: bad address or message id", r.To)
	}
	dst = append(dst, t.head...)
	to := mail.Address{Name: cleanHeader(r.Name), Address: r.To}
	dst = appendHeader(dst, "To", to.String())
	dst = appendHeader(dst, "Date", r.Date.Format(time.RFC1123Z))
	dst = appendHeader(dst, "Message-ID", "<"+r.MessageID+">")
	if r.Unsubscribe != "" {
		dst = appendHeader(dst, "List-Unsubscribe", "<"+cleanHeader(r.Unsubscribe)+">"+t.unsubTail)
	}
	for _, h := range r.Headers {
		dst = appendHeader(dst, h.Name, cleanHeader(h.Value))
	}
	// The body starts after the Content-Type field's blank line.
	body := len(dst) + t.bodyOff
	dst = append(dst, t.ctype...)
	dst = t.fill(dst, t.text, r.Values, false)
	dst = append(dst, t.mid...)
	dst = t.fill(dst, t.html, r.Values, true)
	dst = append(dst, t.tail...)
	return Raw{Data: dst, BodyOffset: body, DotSafe: true}, nil
}

func (t *Template) fill(dst []byte, segs []qpSegment, vals []string, escape bool) []byte {
	for _, s := range segs {
		dst = append(dst, s.lit...)
		if s.slot >= 0 {
			v := vals[s.slot]
			if strings.ContainsAny(v, "\r\n") {
				v = cleanHeader(v) // values are one line: a name, an address, a URL
			}
			if escape {
				v = html.EscapeString(v)
			}
			dst = qpAppend(dst, v, true)
		}
	}
	return dst
}

// encodeSegments splits body at the markers and encodes each literal run.
// Every run but the last ends with a soft line break, so that each value
// starts on a fresh encoded line and no line grows past the limit.
func encodeSegments(body []byte, markers []string) []qpSegment {
	s := string(body)
	var segs []qpSegment
	for {
		best, slot := -1, -1
		for i, m := range markers {
			if j := strings.Index(s, m); j >= 0 && (best < 0 || j < best) {
				best, slot = j, i
			}
		}
		if best < 0 {
			return append(segs, qpSegment{lit: qpAppend(nil, s, false), slot: -1})
		}
		segs = append(segs, qpSegment{lit: qpAppend(nil, s[:best], true), slot: slot})
		s = s[best+len(markers[slot]):]
	}
}

const hexUpper = "0123456789ABCDEF"

// qpAppend appends s encoded as quoted-printable (RFC 2045) starting at the
// beginning of a line, with CRLF hard line breaks and lines of at most 76
// characters. With soft, an unfinished last line ends in a soft break.
func qpAppend(dst []byte, s string, soft bool) []byte {
	col := 0
	put := func(tok ...byte) {
		if col+len(tok) > 75 {
			dst = append(dst, '=', '\r', '\n')
			col = 0
		}
		if col == 0 && tok[0] == '.' {
			// No line starts with a dot, so the message needs no
			// dot-stuffing on its way through SMTP (see SMTP.SendRaw).
			dst = append(dst, '=', '2', 'E')
			col = 3
			return
		}
		dst = append(dst, tok...)
		col += len(tok)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n' || c == '\r' && i+1 < len(s) && s[i+1] == '\n':
			if c == '\r' {
				i++
			}
			dst = append(dst, '\r', '\n')
			col = 0
		case c == ' ' || c == '\t':
			// Whitespace before a line break or at the end must be encoded
			// so that no transport strips it.
			if i+1 == len(s) || s[i+1] == '\n' || s[i+1] == '\r' {
				put('=', hexUpper[c>>4], hexUpper[c&15])
			} else {
				put(c)
			}
		case c >= 33 && c <= 126 && c != '=':
			put(c)
		default:
			put('=', hexUpper[c>>4], hexUpper[c&15])
		}
	}
	if soft && col > 0 {
		dst = append(dst, '=', '\r', '\n')
	}
	return dst
}

// appendHeader appends "Name: value" folded at spaces so that lines stay
// under 78 characters where the value allows it.
func appendHeader(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	col := len(name) + 2
	for i := 0; value != ""; i++ {
		word, rest, found := strings.Cut(value, " ")
		if i > 0 {
			if col+1+len(word) > 78 {
				dst = append(dst, '\r', '\n', ' ')
				col = 1
			} else {
				dst = append(dst, ' ')
				col++
			}
		}
		dst = append(dst, word...)
		col += len(word)
		if !found {
			break
		}
		value = rest
	}
	return append(dst, '\r', '\n')
}

// encodeWords encodes a header value as RFC 2047 encoded words when it is
// not plain ASCII.
func encodeWords(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return mime.QEncoding.Encode("UTF-8", s)
		}
	}
	return s
}
