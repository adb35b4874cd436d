// Command sink is the drills' SMTP sink: an smtpsink.Server on 127.0.0.1
// that keeps nothing but reports, one line each on stdout, every
// connection opened ("open") and closed ("close") and every message
// received ("msg ID RCPT...", once its content is read and before the
// reply). With -ack it answers 250 only after reading "ok ID" on stdin, so
// that the drill decides what happens between a message's arrival and its
// reply.
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
	"os"
	"strings"
	"sync"

	"bothsides/internal/smtpsink"
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

// accepted reports a message and, with -ack, holds its reply until the
// drill acknowledges it.
func (s *sink) accepted(to []string) {
	s.mu.Lock()
	s.next++
	id := s.next
	var c chan struct{}
	if s.ack {
		c = make(chan struct{})
		s.wait[id] = c
	}
	s.mu.Unlock()
	s.emit("msg %d %s", id, strings.Join(to, " "))
	if c != nil {
		<-c
	}
}

func main() {
	ack := flag.Bool("ack", false, "reply 250 only after \"ok ID\" on stdin")
	flag.Parse()
	s := &sink{ack: *ack, out: bufio.NewWriter(os.Stdout), wait: map[int]chan struct{}{}}
	srv, err := smtpsink.Listen(smtpsink.Config{ErrorLog: nopLogger{}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sink:", err)
		os.Exit(1)
	}
	srv.CountOnly = true
	srv.Accepted = s.accepted
	srv.OnOpen = func() { s.emit("open") }
	srv.OnClose = func() { s.emit("close") }
	s.emit("addr %s", srv.Addr)
	go s.acks(os.Stdin)
	if err := srv.Serve(); err != nil {
		fmt.Fprintln(os.Stderr, "sink:", err)
		os.Exit(1)
	}
}

// nopLogger drops go-smtp's per-connection error lines: a drill kills
// clients on purpose.
type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}
