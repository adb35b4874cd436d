package bounce

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	netmail "net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // the charsets of reports in the wild
	"github.com/emersion/go-message/textproto"
)

// DeliveryHeader is the header field every edition message carries when a
// bounce address is set: the delivery token, signed, which a complaint
// report (ARF) or a bounce that quotes the message brings back.
const DeliveryHeader = "X-Bothsides-Delivery"

// ErrNotReport is returned by ParseMessage for a message that is neither a
// delivery report, a complaint nor an auto-reply.
var ErrNotReport = errors.New("not a delivery report, complaint or auto-reply")

// maxPart bounds how much of one MIME part is read.
const maxPart = 1 << 20

// ParseMessage reads one message that came back to the bounce address and
// returns its events, one per recipient it reports on: RFC 3464 delivery
// status notifications (and RFC 6533 message/global-delivery-status), RFC
// 5965 ARF complaints, the common bounces whose status is only in the text,
// and RFC 3834 auto-replies. envelopeTo is the address it was delivered to
// (the RCPT TO, or the mailbox's Delivered-To), whose VERP token names the
// delivery; failing that, the token is read from the returned message's
// signed header or its envelope sender. Events carry Raw but no Source. A
// message it cannot read is an error that says why.
func ParseMessage(raw []byte, envelopeTo string) ([]Event, error) {
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, fmt.Errorf("read message: %w", err)
	}
	if e.Header.Len() == 0 {
		return nil, errors.New("read message: no header fields")
	}
	p := &parsed{}
	if err := p.walk(e); err != nil {
		return nil, err
	}
	var evs []Event
	switch {
	case p.feedback != nil:
		evs, err = p.arf()
	case p.status != nil:
		evs, err = p.dsn()
	case p.reportType == "disposition-notification":
		// A read receipt (RFC 8098): nothing went wrong.
		evs = []Event{{Kind: KindAutoReply, Diagnostic: "disposition notification"}}
	default:
		evs, err = p.text(&e.Header)
	}
	if err != nil {
		return nil, err
	}
	token := verpToken(envelopeTo)
	if token == "" {
		token = p.originalToken()
	}
	if token == "" {
		token = p.textToken
	}
	at := parseDate(e.Header.Get("Date"))
	for i := range evs {
		evs[i].Raw = raw
		if evs[i].Token == "" {
			evs[i].Token = token
		}
		if evs[i].At.IsZero() && !at.IsZero() {
			evs[i].At = at
		}
	}
	return evs, nil
}

// parsed holds the parts of a message that matter for a report.
type parsed struct {
	reportType string
	status     []byte // message/delivery-status or message/global-delivery-status
	feedback   []byte // message/feedback-report
	original   []byte // message/rfc822, text/rfc822-headers and their global forms
	texts      []string
	textToken  string // the signed header quoted in a bounce's text
}

func (p *parsed) walk(e *message.Entity) error {
	err := e.Walk(func(path []int, part *message.Entity, err error) error {
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			return err
		}
		mt, params, _ := part.Header.ContentType()
		if mt == "" && len(path) == 0 {
			mt = "text/plain"
		}
		if strings.HasPrefix(mt, "multipart/") {
			if mt == "multipart/report" && p.reportType == "" {
				p.reportType = strings.ToLower(params["report-type"])
			}
			return nil
		}
		body, rerr := io.ReadAll(io.LimitReader(part.Body, maxPart))
		if rerr != nil && !message.IsUnknownCharset(rerr) {
			return fmt.Errorf("read MIME part %v (%s): %w", path, mt, rerr)
		}
		switch mt {
		case "message/delivery-status", "message/global-delivery-status":
			if p.status == nil {
				p.status = body
			}
		case "message/feedback-report":
			if p.feedback == nil {
				p.feedback = body
			}
		case "message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers", "message/rfc822-headers":
			if p.original == nil {
				p.original = body
			}
		case "text/plain", "text/html":
			s := string(body)
			if mt == "text/html" {
				s = stripTags(s)
			}
			p.texts = append(p.texts, s)
		}
		return nil
	})
	if err != nil && p.status == nil && p.feedback == nil {
		// A report cut short (a size cap, a broken relay) still counts for
		// the parts read before the break: the report part comes first.
		return fmt.Errorf("read MIME structure: %w", err)
	}
	return nil
}

// fieldBlocks reads a report body made of header blocks separated by blank
// lines (RFC 3464 §2.1, RFC 5965 §3.1). A block that does not read as
// header fields is skipped; none at all is an error.
func fieldBlocks(body []byte) ([]textproto.Header, error) {
	var blocks []textproto.Header
	var cur bytes.Buffer
	flush := func() {
		if cur.Len() == 0 {
			return
		}
		cur.WriteString("\r\n")
		h, err := textproto.ReadHeader(bufio.NewReader(&cur))
		if err == nil && h.Len() > 0 {
			blocks = append(blocks, h)
		}
		cur.Reset()
	}
	for line := range strings.Lines(string(body)) {
		l := strings.TrimRight(line, "\r\n")
		if strings.TrimSpace(l) == "" {
			flush()
			continue
		}
		cur.WriteString(l + "\r\n")
	}
	flush()
	if len(blocks) == 0 {
		return nil, errors.New("report has no fields")
	}
	return blocks, nil
}

// dsn reads a delivery status notification: the per-message fields, then
// one block of per-recipient fields for each recipient.
func (p *parsed) dsn() ([]Event, error) {
	blocks, err := fieldBlocks(p.status)
	if err != nil {
		return nil, fmt.Errorf("delivery-status: %w", err)
	}
	msgAt := parseDate(blocks[0].Get("Arrival-Date"))
	var evs []Event
	var skipped []string
	for _, b := range blocks {
		if b.Get("Final-Recipient") == "" && b.Get("Action") == "" {
			continue // the per-message block
		}
		rcpt := reportAddress(b.Get("Final-Recipient"))
		if rcpt == "" {
			rcpt = reportAddress(b.Get("Original-Recipient"))
		}
		action := strings.ToLower(strings.TrimSpace(firstWord(b.Get("Action"))))
		diag := cleanText(diagnosticText(b.Get("Diagnostic-Code")))
		status := findStatus(b.Get("Status"))
		if status == "" || status == "5.0.0" || status == "4.0.0" {
			if s := findStatus(diag); s != "" {
				status = s
			}
		}
		ev := Event{Status: status, Diagnostic: diag, Recipient: rcpt, At: parseDate(b.Get("Last-Attempt-Date"))}
		if ev.At.IsZero() {
			ev.At = msgAt
		}
		switch action {
		case "delivered", "relayed", "expanded":
			ev.Kind = KindDelivered
		case "delayed":
			ev.Kind = KindSoft
		case "failed", "":
			ev.Kind = Classify(status, diag)
		default:
			// One recipient's odd block does not hide the others'.
			skipped = append(skipped, fmt.Sprintf("recipient %q: unknown Action %q", rcpt, action))
			continue
		}
		evs = append(evs, ev)
	}
	if len(evs) == 0 && len(skipped) > 0 {
		return nil, fmt.Errorf("delivery-status: %s", strings.Join(skipped, "; "))
	}
	if len(evs) == 0 {
		return nil, errors.New("delivery-status: no per-recipient fields (Final-Recipient, Action)")
	}
	return evs, nil
}

// arf reads an abuse report (RFC 5965): abuse, fraud, virus and other are
// complaints; not-spam and auth-failure are stored with no effect.
func (p *parsed) arf() ([]Event, error) {
	blocks, err := fieldBlocks(p.feedback)
	if err != nil {
		return nil, fmt.Errorf("feedback-report: %w", err)
	}
	h := blocks[0]
	ft := strings.ToLower(strings.TrimSpace(h.Get("Feedback-Type")))
	if ft == "" {
		return nil, errors.New("feedback-report: no Feedback-Type field")
	}
	kind := KindComplaint
	switch ft {
	case "abuse", "fraud", "virus", "other":
	case "not-spam", "auth-failure", "dkim", "spf":
		kind = KindFeedback
	default:
		return nil, fmt.Errorf("feedback-report: unknown Feedback-Type %q", ft)
	}
	ev := Event{Kind: kind, Diagnostic: "feedback type " + ft, At: parseDate(h.Get("Arrival-Date"))}
	if ua := cleanText(h.Get("User-Agent")); ua != "" {
		ev.Diagnostic += " from " + ua
	}
	ev.Recipient = reportAddress(h.Get("Original-Rcpt-To"))
	if oh := p.originalHeader(); oh != nil && ev.Recipient == "" {
		// Outlook.com names the reporting reader in a header of its own.
		ev.Recipient = headerAddress(oh.Get("X-HmXmrOriginalRecipient"))
		if ev.Recipient == "" {
			ev.Recipient = headerAddress(oh.Get("To"))
		}
	}
	ev.Token = verpToken(reportAddress(h.Get("Original-Mail-From")))
	if t := p.originalToken(); t != "" {
		ev.Token = t // the signed header is the message's own
	}
	return []Event{ev}, nil
}

// text reads a message that is not a report: a bounce in words only
// (qmail, old Exim and Exchange, many hosted systems), or an auto-reply.
func (p *parsed) text(h *message.Header) ([]Event, error) {
	subject, _ := h.Text("Subject")
	from := strings.ToLower(h.Get("From"))
	failed := h.Get("X-Failed-Recipients")
	bounce := failed != "" || bounceSender.MatchString(from) || bounceSubject.MatchString(subject)
	if !bounce && isAutoReply(h, subject) {
		return []Event{{Kind: KindAutoReply, Diagnostic: cleanText(subject)}}, nil
	}
	if !bounce {
		return nil, ErrNotReport
	}
	body := strings.Join(p.texts, "\n")
	ev := Event{}
	// The diagnostic is the line that holds a status code, else the first
	// line that reads like an explanation.
	for line := range strings.Lines(body) {
		if !strings.ContainsAny(line, "45") {
			continue // no status code can be in it: spare the regular expressions
		}
		if s := findStatus(line); s != "" && s[0] != '2' {
			ev.Status, ev.Diagnostic = s, cleanText(line)
			break
		}
		if ev.Diagnostic == "" && smtpCode(line) != "" {
			ev.Diagnostic = cleanText(line)
		}
	}
	if ev.Diagnostic == "" {
		ev.Diagnostic = cleanText(subject)
	}
	if failed != "" {
		ev.Recipient = headerAddress(strings.Split(failed, ",")[0])
	}
	if ev.Recipient == "" {
		ev.Recipient = firstAddress(body)
	}
	if ev.Recipient == "" {
		if oh := p.originalHeader(); oh != nil {
			ev.Recipient = headerAddress(oh.Get("To"))
		}
	}
	ev.Kind = Classify(ev.Status, ev.Diagnostic+"\n"+body)
	if ev.Status == "" && ev.Kind == KindSoft && !failurePhrase.MatchString(body+subject) {
		// A message from a mail system that states no failure.
		return nil, ErrNotReport
	}
	if m := tokenInText.FindStringSubmatch(body); m != nil {
		p.textToken = strings.ToLower(m[1])
	}
	return []Event{ev}, nil
}

// originalHeader is the returned message's header, when the report has it.
func (p *parsed) originalHeader() *message.Header {
	if p.original == nil {
		return nil
	}
	h, err := textproto.ReadHeader(bufio.NewReader(io.MultiReader(bytes.NewReader(p.original), strings.NewReader("\r\n\r\n"))))
	if err != nil {
		return nil
	}
	return &message.Header{Header: h}
}

// originalToken is the token in the returned message: its signed header,
// else a VERP token in its Return-Path.
func (p *parsed) originalToken() string {
	h := p.originalHeader()
	if h == nil {
		return ""
	}
	if t := strings.TrimSpace(h.Get(DeliveryHeader)); t != "" && tokenShape(t) {
		return strings.ToLower(t)
	}
	return verpToken(headerAddress(h.Get("Return-Path")))
}

// verpToken returns the token in a VERP address, local+TOKEN@domain, or "".
func verpToken(addr string) string {
	addr = strings.Trim(strings.TrimSpace(addr), "<>")
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return ""
	}
	_, tok, ok := strings.Cut(addr[:at], "+")
	if !ok || !tokenShape(tok) {
		return ""
	}
	return strings.ToLower(tok)
}

// tokenShape says whether s could be a delivery token: letters and the
// digits 2-7, of a plausible length.
func tokenShape(s string) bool {
	if len(s) < 8 || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// reportAddress reads "rfc822; user@example.com" (an address type, a
// semicolon and the address) as the address. RFC 6533's utf-8 type may
// hold \x{HEX} escapes.
func reportAddress(v string) string {
	v = strings.TrimSpace(v)
	if _, a, ok := strings.Cut(v, ";"); ok {
		v = a
	}
	v = strings.Trim(strings.TrimSpace(v), "<>")
	v = unescapeUTF8(v)
	if !strings.Contains(v, "@") || strings.ContainsAny(v, " \t\r\n") {
		return ""
	}
	return v
}

// unescapeUTF8 decodes the \x{HEX} escapes of RFC 6533's utf-8-addr-xtext.
func unescapeUTF8(s string) string {
	if !strings.Contains(s, `\x{`) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, `\x{`)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		var r rune
		if _, err := fmt.Sscanf(s[i+3:i+j], "%X", &r); err != nil || r <= 0 || r > 0x10FFFF {
			b.WriteString(s[:i+j+1])
		} else {
			b.WriteString(s[:i])
			b.WriteRune(r)
		}
		s = s[i+j+1:]
	}
}

// headerAddress reads the first address of a header value, or "".
func headerAddress(v string) string {
	v = strings.TrimSpace(v)
	if v == "" || v == "<>" {
		return ""
	}
	if a, err := netmail.ParseAddress(v); err == nil {
		return a.Address
	}
	if list, err := netmail.ParseAddressList(v); err == nil && len(list) > 0 {
		return list[0].Address
	}
	return reportAddress(v)
}

// diagnosticText reads "smtp; 550 5.1.1 ..." as the server's words.
func diagnosticText(v string) string {
	if t, rest, ok := strings.Cut(v, ";"); ok && !strings.ContainsAny(strings.TrimSpace(t), " \t") {
		return rest
	}
	return v
}

func firstWord(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " \t(;"); i >= 0 {
		return s[:i]
	}
	return s
}

// cleanText unfolds and trims a diagnostic to one line of at most 1000
// bytes.
func cleanText(s string) string { return clip(s, 1000) }

// clip unfolds s to one line and cuts it to at most n bytes, not inside a
// UTF-8 sequence.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	s = s[:n]
	// Drop a sequence the cut left incomplete.
	for i := len(s) - 1; i >= 0 && i >= len(s)-4; i-- {
		if c := s[i]; c < 0x80 {
			break
		} else if c >= 0xC0 {
			if !utf8.FullRuneInString(s[i:]) {
				s = s[:i]
			}
			break
		}
	}
	return s
}

func parseDate(v string) time.Time {
	if v = strings.TrimSpace(v); v == "" {
		return time.Time{}
	}
	t, err := netmail.ParseDate(v)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
