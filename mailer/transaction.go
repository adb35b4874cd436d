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

// Next is a message to send after the current one on the same connection,
// handed over by Raw.Next so that its commands can go with the current
// message's final dot.
type Next struct {
	From, To string
	Raw      Raw
}

// pending is a message whose MAIL, RCPT and DATA were written after the
// previous message's dot, their replies not read yet.
type pending struct {
	from, to string
	data     []byte // the Raw.Data written for, to know it again
	sig      []byte // its DKIM signature, made before the commands went
}

// takePending returns the pending transaction when it is the one of this
// message, and clears it. A call for another message than the one begun
// hangs up first: the relay discards the begun transaction (at most its
// DATA was answered, no message was sent), and this one redials.
func (s *SMTP) takePending(from, to string, m Raw) *pending {
	p := s.pending
	if p == nil {
		return nil
	}
	s.pending = nil
	if p.from == from && p.to == to && len(p.data) == len(m.Data) && len(m.Data) > 0 && &p.data[0] == &m.Data[0] {
		return p
	}
	s.drop()
	return nil
}

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
	t.W.Write(commands(nil, mailLine, rcptLine))
	if err := t.W.Flush(); err != nil {
		return s.fail("mail", err)
	}
	return s.replies()
}

// resume reads the replies to the commands that went with the previous
// message's dot, under the command timeout.
func (s *SMTP) resume() error {
	if err := s.conn.UpdateDeadline(s.timeout); err != nil {
		s.drop()
		return &Error{Stage: "connect", Err: err}
	}
	return s.replies()
}

// commands appends a pipelined group of MAIL FROM, RCPT TO and DATA.
func commands(dst []byte, mailLine, rcptLine string) []byte {
	dst = append(dst, mailLine...)
	dst = append(dst, crlf...)
	dst = append(dst, rcptLine...)
	return append(dst, "\r\nDATA\r\n"...)
}

// replies reads the three replies of a pipelined MAIL, RCPT and DATA.
func (s *SMTP) replies() error {
	t := s.conn.Text
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

// ahead prepares the next message's commands to go with this message's
// dot: only with PIPELINING, and only for a message the caller already
// holds (Raw.Next). A next message that cannot be begun (its envelope or
// signature fails) is left to its own SendRaw, which fails the same way.
func (s *SMTP) ahead(m Raw) (*pending, []byte) {
	if !s.pipelining || m.Next == nil {
		return nil, nil
	}
	n := m.Next()
	if n == nil || len(n.Raw.Data) == 0 {
		return nil, nil
	}
	sig, err := s.sign(n.Raw)
	if err != nil {
		return nil, nil
	}
	mailLine, rcptLine, err := envelope(s.conn.Extension, n.From, n.To, n.Raw.Data, n.Raw.DotSafe, len(sig)+len(n.Raw.Data))
	if err != nil {
		return nil, nil
	}
	return &pending{from: n.From, to: n.To, data: n.Raw.Data, sig: sig}, commands(s.cmdBuf[:0], mailLine, rcptLine)
}

// data writes the message and its final dot, and reads the relay's reply.
// confirm, when set, runs first: an error withdraws the message by hanging
// up before the dot, so the relay discards it. Then the next message's
// commands, when the caller has one in hand (Raw.Next), go in the same
// write as the dot. On a plain TCP connection the DKIM signature, the
// message, the dot and those commands go in one writev; over TLS through
// the text connection's buffer, which a write larger than it bypasses.
func (s *SMTP) data(to string, sig []byte, m Raw) error {
	msg := m.Data
	c := s.conn
	t := c.Text
	if err := c.UpdateDeadline(s.dataTimeout); err != nil {
		s.drop()
		return &Error{Stage: "data", Err: err}
	}
	if m.Confirm != nil {
		if err := m.Confirm(); err != nil {
			s.drop() // in DATA: hanging up is the only way to withdraw
			return fmt.Errorf("message to %s withdrawn before its end: %w", to, err)
		}
	}
	next, cmds := s.ahead(m)
	s.cmdBuf = cmds[:0]
	var err error
	switch {
	case !m.DotSafe && needsDotStuffing(msg) || !bytes.HasSuffix(msg, crlf):
		w := t.DotWriter()
		if _, err = w.Write(sig); err == nil {
			if _, err = w.Write(msg); err == nil {
				err = w.Close()
			}
		}
		if err == nil && len(cmds) > 0 {
			t.W.Write(cmds)
			err = t.W.Flush()
		}
	case s.raw != nil:
		// No line starts with a dot and the message ends with CRLF:
		// the bytes go as they are, without dot-stuffing (which copies
		// one byte at a time), and without a copy into the buffer.
		if t.W.Buffered() > 0 {
			err = t.W.Flush()
		}
		if err == nil {
			bufs := net.Buffers{sig, msg, dot, cmds}
			_, err = bufs.WriteTo(s.raw)
		}
	default:
		t.W.Write(sig)
		t.W.Write(msg)
		t.W.Write(dot)
		t.W.Write(cmds)
		err = t.W.Flush()
	}
	if err == nil {
		_, _, err = t.ReadResponse(250)
	}
	if err == nil {
		s.pending = next
		return nil
	}
	var te *textproto.Error
	if next != nil && errors.As(err, &te) && te.Code != 421 {
		// The relay refused this message and goes on with the next
		// one's commands, already sent: no RSET between them.
		s.pending = next
		return replyError("data", err)
	}
	// No reply, or 421: this message's outcome is unknown (a retry), and
	// the next one's commands are lost with the connection.
	return s.fail("data", err)
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
