// Command sink is the drills' SMTP sink: an SMTP server on 127.0.0.1 that
// keeps nothing but reports, one line each on stdout, every connection
// opened ("open") and closed ("close") and every message received ("msg ID
// RCPT...", once its content is read and before the reply). With -ack it
// answers 250 only after reading "ok ID" on stdin, so that the drill
// decides what happens between a message's arrival and its reply.
//
// The drills build it without the race detector: thousands of messages
// through a race-instrumented server in the test binary would take
// minutes. Its first line is "addr HOST:PORT".
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

type sink struct {
	ack bool

	mu   sync.Mutex
	out  *bufio.Writer
	next int
	wait map[int]chan struct{}
}

func (s *sink) emit(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.out, format+"\n", args...)
	s.out.Flush()
}

// acks reads "ok ID" lines and releases the messages waiting for them.
func (s *sink) acks(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var id int
		if _, err := fmt.Sscanf(sc.Text(), "ok %d", &id); err != nil {
			continue
		}
		s.mu.Lock()
		if c, ok := s.wait[id]; ok {
			close(c)
			delete(s.wait, id)
		}
		s.mu.Unlock()
	}
	// stdin closed: the drill is gone; stop.
	os.Exit(0)
}

type session struct {
	s  *sink
	to []string
}

func (x *session) Reset()                                    { x.to = nil }
func (x *session) Logout() error                             { return nil }
func (x *session) Mail(string, *smtp.MailOptions) error      { return nil }
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error { x.to = append(x.to, to); return nil }
func (x *session) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s := x.s
	s.mu.Lock()
	s.next++
	id := s.next
	var c chan struct{}
	if s.ack {
		c = make(chan struct{})
		s.wait[id] = c
	}
	s.mu.Unlock()
	s.emit("msg %d %s", id, strings.Join(x.to, " "))
	if c != nil {
		<-c
	}
	return nil
}

type countingListener struct {
	net.Listener
	s *sink
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.s.emit("open")
	return &conn{Conn: c, s: l.s}, nil
}

type conn struct {
	net.Conn
	s    *sink
	once sync.Once
}

func (c *conn) Close() error {
	c.once.Do(func() { c.s.emit("close") })
	return c.Conn.Close()
}

func main() {
	ack := flag.Bool("ack", false, "reply 250 only after \"ok ID\" on stdin")
	flag.Parse()
	s := &sink{ack: *ack, out: bufio.NewWriter(os.Stdout), wait: map[int]chan struct{}{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 100
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.ErrorLog = nopLogger{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sink:", err)
		os.Exit(1)
	}
	s.emit("addr %s", ln.Addr())
	go s.acks(os.Stdin)
	if err := srv.Serve(countingListener{Listener: ln, s: s}); err != nil {
		fmt.Fprintln(os.Stderr, "sink:", err)
		os.Exit(1)
	}
}

// nopLogger drops go-smtp's per-connection error lines: a drill kills
// clients on purpose.
type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}
