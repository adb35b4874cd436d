package mailer

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// envelope checks a message against what SMTP and the relay allow and
// returns its MAIL FROM and RCPT TO lines (without CRLF): each address in
// angle brackets (RFC 5321 4.1.2; strict relays refuse a bare address),
// with only the ESMTP parameters the relay advertised and the message
// needs: SIZE= whenever SIZE is advertised (a message over the relay's
// limit fails here, before anything is sent), SMTPUTF8 only for an address
// that is not ASCII, BODY=8BITMIME only for content that is not 7-bit.
// ext looks up an advertised extension (smtp.Client.Extension).
func envelope(ext func(string) (bool, string), from, to string, msg []byte, dotSafe bool, size int) (mailLine, rcptLine string, err error) {
	// A Template's message is 7-bit with short lines in its body by
	// construction; only its header, where the personal values go, needs
	// checking. Anything else is checked whole.
	check := msg
	if dotSafe {
		check = msg[:headerEnd(msg)]
	}
	eightBit, long := scanLines(check)
	if long > 0 {
		return "", "", &Error{Stage: "message", Permanent: true,
			Err: fmt.Errorf("line %d is longer than the 998 octets SMTP allows (RFC 5321 4.5.3.1.6)", long)}
	}
	params := ""
	if ok, limit := ext("SIZE"); ok {
		if n, err := strconv.ParseInt(strings.TrimSpace(limit), 10, 64); err == nil && n > 0 && int64(size) > n {
			return "", "", &Error{Stage: "size", Permanent: true,
				Err: fmt.Errorf("message of %d bytes is over the relay's limit of %d bytes (its SIZE)", size, n)}
		}
		params += " SIZE=" + strconv.Itoa(size)
	}
	if eightBit {
		if ok, _ := ext("8BITMIME"); ok {
			params += " BODY=8BITMIME"
		}
	}
	if !isASCII(from) || !isASCII(to) {
		if ok, _ := ext("SMTPUTF8"); !ok {
			return "", "", &Error{Stage: "mail", Permanent: true,
				Err: fmt.Errorf("relay does not offer SMTPUTF8, needed for the address %q", firstNonASCII(from, to))}
		}
		params += " SMTPUTF8"
	}
	if err := validateAddr(from); err != nil {
		return "", "", &Error{Stage: "mail", Permanent: true, Err: fmt.Errorf("envelope sender: %w", err)}
	}
	if err := validateAddr(to); err != nil {
		return "", "", &Error{Stage: "rcpt", Permanent: true, Err: fmt.Errorf("recipient: %w", err)}
	}
	return "MAIL FROM:<" + from + ">" + params, "RCPT TO:<" + to + ">", nil
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
