package smtpsink

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// The fast server is what Fast switches to: a minimal SMTP server of its
// own for benchmarks, since go-smtp reads a message's content a byte at a
// time (some 90 % of a benchmark's CPU time went there). It speaks EHLO,
// HELO, MAIL, RCPT, DATA, RSET, NOOP and QUIT with PIPELINING; it reads
// every message whole, line by line, to its final dot, and counts it; it
// keeps nothing, and offers no TLS, AUTH or hooks. Its replies are
// buffered and written when the client has nothing more pending (as
// Postfix does), so a pipelined group is answered in one write.

// fastConns tracks the fast server's open connections, for Close.
type fastConns struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func (f *fastConns) add(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	if f.conns == nil {
		f.conns = map[net.Conn]struct{}{}
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *fastConns) remove(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
}

func (f *fastConns) closeAll() {
	f.mu.Lock()
	f.closed = true
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
}

// serveFast accepts connections for the fast server until the listener
// is closed.
func (s *Server) serveFast() error {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if !s.fast.add(c) {
			c.Close()
			return nil
		}
		go func() {
			defer s.fast.remove(c)
			defer c.Close()
			s.fastConn(c)
		}()
	}
}

// fastConn is one client's conversation with the fast server.
func (s *Server) fastConn(c net.Conn) {
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriterSize(c, 4<<10)
	timeout := s.srv.ReadTimeout
	reply := func(line string) {
		w.WriteString(line)
		w.WriteString("\r\n")
	}
	reply("220 localhost ESMTP bothsides sink")
	mail, rcpts := false, 0
	for {
		if r.Buffered() == 0 {
			// Nothing more pipelined: answer what was asked.
			if w.Flush() != nil {
				return
			}
		}
		c.SetDeadline(time.Now().Add(timeout))
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		line = bytes.TrimRight(line, "\r\n")
		verb := line
		if i := bytes.IndexByte(line, ' '); i >= 0 {
			verb = line[:i]
		}
		switch {
		case eq(verb, "EHLO"):
			mail, rcpts = false, 0
			reply("250-localhost")
			reply("250-PIPELINING")
			reply("250-8BITMIME")
			reply("250-ENHANCEDSTATUSCODES")
			reply(fmt.Sprintf("250 SIZE %d", s.srv.MaxMessageBytes))
		case eq(verb, "HELO"):
			mail, rcpts = false, 0
			reply("250 localhost")
		case eq(verb, "MAIL"):
			if mail {
				reply("503 5.5.1 Nested MAIL command")
				continue
			}
			mail = true
			reply("250 2.1.0 Ok")
		case eq(verb, "RCPT"):
			if !mail {
				reply("503 5.5.1 Need MAIL first")
				continue
			}
			rcpts++
			reply("250 2.1.5 Ok")
		case eq(verb, "DATA"):
			if rcpts == 0 {
				reply("554 5.5.1 No valid recipients")
				continue
			}
			reply("354 End data with <CR><LF>.<CR><LF>")
			if w.Flush() != nil {
				return
			}
			if !s.fastData(c, r, timeout) {
				return
			}
			s.count.Add(1)
			mail, rcpts = false, 0
			reply("250 2.0.0 Ok: queued")
		case eq(verb, "RSET"):
			mail, rcpts = false, 0
			reply("250 2.0.0 Ok")
		case eq(verb, "NOOP"):
			reply("250 2.0.0 Ok")
		case eq(verb, "QUIT"):
			reply("221 2.0.0 Bye")
			w.Flush()
			return
		default:
			reply("502 5.5.2 Command not recognized")
		}
	}
}

// fastData reads a message's content up to the line that is a lone dot,
// a line at a time (a line longer than the buffer is read in pieces),
// and reports whether it found it.
func (s *Server) fastData(c net.Conn, r *bufio.Reader, timeout time.Duration) bool {
	start := true // at the start of a line
	c.SetDeadline(time.Now().Add(timeout))
	for {
		line, err := r.ReadSlice('\n')
		switch {
		case err == nil:
			if start && len(line) == 3 && line[0] == '.' && line[1] == '\r' {
				return true
			}
			start = true
		case errors.Is(err, bufio.ErrBufferFull):
			start = false
		default:
			return false
		}
	}
}

// eq reports whether an SMTP verb is v, in any case.
func eq(verb []byte, v string) bool { return bytes.EqualFold(verb, []byte(v)) }
