package mailer

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/textproto"
)

// One message's SMTP transaction, written on go-mail's text connection
// (smtp.Client.Text): go-mail dials, starts TLS, authenticates and says
// EHLO; the commands of a message are ours, so that they can be pipelined
// (RFC 2920) and the message can go to the socket in one write.

var (
	crlf = []byte("\r\n")
	dot  = []byte(".\r\n")
)

// begin opens the transaction: MAIL FROM, RCPT TO and DATA. When the relay
// advertises PIPELINING the three commands go in one write and their three
// replies are read after it (RFC 2920 3.1: DATA is the last command of the
// group); otherwise each waits for its reply. Either way every reply is
// read, the first refusal is returned with its stage (mail, rcpt, data), and
// the connection is left ready for the next message (RSET) or dropped.
func (s *SMTP) begin(mailLine, rcptLine string) error {
	t := s.conn.Text
	if !s.pipelining {
		if err := command(t, mailLine, 250); err != nil {
			return s.fail("mail", err)
		}
		if err := command(t, rcptLine, 250); err != nil {
			return s.fail("rcpt", err)
		}
		if err := command(t, "DATA", 354); err != nil {
			return s.fail("data", err)
		}
		return nil
	}
	id := t.Next()
	t.StartRequest(id)
	t.W.WriteString(mailLine)
	t.W.Write(crlf)
	t.W.WriteString(rcptLine)
	t.W.WriteString("\r\nDATA\r\n")
	err := t.W.Flush()
	t.EndRequest(id)
	t.StartResponse(id)
	if err != nil {
		t.EndResponse(id)
		return s.fail("mail", err)
	}
	var failed error
	var stage string
	dataStarted := false
	for i, step := range [...]struct {
		stage string
		code  int
	}{{"mail", 250}, {"rcpt", 250}, {"data", 354}} {
		_, _, err := t.ReadResponse(step.code)
		if err == nil {
			dataStarted = i == 2
			continue
		}
		var te *textproto.Error
		if isReply := errors.As(err, &te); !isReply || te.Code == 421 {
			// No reply (EOF, reset, timeout) or the relay is closing:
			// the connection is gone. A 421 says more than an earlier
			// refusal (the relay may have refused because it is going
			// down): the message is retried.
			if failed == nil || isReply {
				failed, stage = err, step.stage
			}
			t.EndResponse(id)
			s.drop()
			return replyError(stage, failed)
		}
		if failed == nil {
			// Typically RCPT refused (550), then DATA answered 554 or
			// 503 "no valid recipients" (RFC 2920 3.1): the refusal of
			// RCPT is the outcome, a bounce.
			failed, stage = err, step.stage
		}
	}
	t.EndResponse(id)
	if failed == nil {
		return nil
	}
	if dataStarted {
		// A relay that took DATA after refusing MAIL or RCPT waits for a
		// message: only hanging up ends it without one.
		s.drop()
		return replyError(stage, failed)
	}
	return s.fail(stage, failed)
}

// data writes the message and its final dot, and reads the relay's reply.
// confirm, when set, runs first: an error withdraws the message by hanging
// up before the dot, so the relay discards it. On a plain TCP connection
// the DKIM signature, the message and the dot go in one writev; over TLS
// through the text connection's buffer, which a write larger than it
// bypasses.
func (s *SMTP) data(to string, sig, msg []byte, dotSafe bool, confirm func() error) error {
	c := s.conn
	t := c.Text
	if err := c.UpdateDeadline(s.dataTimeout); err != nil {
		s.drop()
		return &Error{Stage: "data", Err: err}
	}
	if confirm != nil {
		if err := confirm(); err != nil {
			s.drop() // in DATA: hanging up is the only way to withdraw
			return fmt.Errorf("message to %s withdrawn before its end: %w", to, err)
		}
	}
	id := t.Next()
	t.StartRequest(id)
	var err error
	switch {
	case !dotSafe && needsDotStuffing(msg) || !bytes.HasSuffix(msg, crlf):
		w := t.DotWriter()
		if _, err = w.Write(sig); err == nil {
			if _, err = w.Write(msg); err == nil {
				err = w.Close()
			}
		}
	case s.raw != nil:
		// No line starts with a dot and the message ends with CRLF:
		// the bytes go as they are, without dot-stuffing (which copies
		// one byte at a time), and without a copy into the buffer.
		if t.W.Buffered() > 0 {
			err = t.W.Flush()
		}
		if err == nil {
			bufs := net.Buffers{sig, msg, dot}
			_, err = bufs.WriteTo(s.raw)
		}
	default:
		t.W.Write(sig)
		t.W.Write(msg)
		t.W.Write(dot)
		err = t.W.Flush()
	}
	t.EndRequest(id)
	t.StartResponse(id)
	if err == nil {
		_, _, err = t.ReadResponse(250)
	}
	t.EndResponse(id)
	if err != nil {
		return s.fail("data", err)
	}
	return nil
}

// command sends one SMTP command and reads its reply, which must have the
// given code.
func command(t *textproto.Conn, line string, code int) error {
	id, err := t.Cmd("%s", line)
	if err != nil {
		return err
	}
	t.StartResponse(id)
	defer t.EndResponse(id)
	_, _, err = t.ReadResponse(code)
	return err
}
