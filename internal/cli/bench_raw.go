package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
)

// rawSend sends n copies of msg over conns connections with the least an
// SMTP client can do: EHLO once, then per message MAIL, RCPT, DATA and the
// message, dot-stuffed once beforehand. With pipelined (RFC 2920, which the
// sink advertises) MAIL, RCPT and DATA go in one write and their three
// replies are read after it, then the message and its end in one write and
// its reply, the next message's commands going with that dot: one round
// trip per message. Without, it waits for each reply: four round trips.
func rawSend(ctx context.Context, addr string, conns, n int, pipelined bool, from string, msg []byte) error {
	var stuffed bytes.Buffer
	dw := textproto.NewWriter(bufio.NewWriter(&stuffed)).DotWriter()
	dw.Write(msg)
	dw.Close()
	body := stuffed.Bytes()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rawConn(ctx, addr, n, &next, pipelined, from, body); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func rawConn(ctx context.Context, addr string, n int, next *atomic.Int64, pipelined bool, from string, body []byte) error {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	c := textproto.NewConn(nc)
	if _, _, err := c.ReadResponse(220); err != nil {
		return err
	}
	cmd := func(code int, format string, args ...any) error {
		if err := c.PrintfLine(format, args...); err != nil {
			return err
		}
		_, _, err := c.ReadResponse(code)
		return err
	}
	if err := c.PrintfLine("EHLO bench.localhost"); err != nil {
		return err
	}
	_, ext, err := c.ReadResponse(250)
	if err != nil {
		return err
	}
	if pipelined && !advertises(ext, "PIPELINING") {
		return fmt.Errorf("raw client: the sink does not advertise PIPELINING")
	}
	if pipelined {
		return rawPipelined(c, nc, next, n, from, body)
	}
	for {
		i := next.Add(1)
		if i > int64(n) {
			return cmd(221, "QUIT")
		}
		if err := cmd(250, "MAIL FROM:<%s>", from); err != nil {
			return err
		}
		if err := cmd(250, "RCPT TO:<raw%d@example.com>", i); err != nil {
			return err
		}
		if err := cmd(354, "DATA"); err != nil {
			return err
		}
		if _, err := nc.Write(body); err != nil {
			return err
		}
		if _, _, err := c.ReadResponse(250); err != nil {
			return err
		}
	}
}

// rawPipelined is the pipelined raw client's loop: MAIL, RCPT and DATA in
// one write, then the message, its final dot and the next message's three
// commands in one write (RFC 2920), so that each message costs one round
// trip: the dot's reply and the next three come back together.
func rawPipelined(c *textproto.Conn, nc net.Conn, next *atomic.Int64, n int, from string, body []byte) error {
	group := func(dst []byte, i int64) []byte {
		return fmt.Appendf(dst, "MAIL FROM:<%s>\r\nRCPT TO:<raw%d@example.com>\r\nDATA\r\n", from, i)
	}
	i := next.Add(1)
	if i > int64(n) {
		_, err := nc.Write([]byte("QUIT\r\n"))
		return err
	}
	if _, err := nc.Write(group(nil, i)); err != nil {
		return err
	}
	var cmds []byte
	for {
		for _, code := range []int{250, 250, 354} {
			if _, _, err := c.ReadResponse(code); err != nil {
				return err
			}
		}
		i = next.Add(1)
		cmds = cmds[:0]
		if i <= int64(n) {
			cmds = group(cmds, i)
		} else {
			cmds = append(cmds, "QUIT\r\n"...)
		}
		bufs := net.Buffers{body, cmds}
		if _, err := bufs.WriteTo(nc); err != nil {
			return err
		}
		if _, _, err := c.ReadResponse(250); err != nil {
			return err
		}
		if i > int64(n) {
			_, _, err := c.ReadResponse(221)
			return err
		}
	}
}

// advertises reports whether an EHLO reply's text lists keyword.
func advertises(ehlo, keyword string) bool {
	for _, line := range strings.Split(ehlo, "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.EqualFold(f[0], keyword) {
			return true
		}
	}
	return false
}
