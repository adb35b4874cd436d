package drills

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// sinkBin is the SMTP sink (drills/internal/sink) built by TestMain.
var sinkBin string

// sinkServer runs the SMTP sink in its own process and counts what it
// received per recipient.
type sinkServer struct {
	Addr  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	ack   bool

	mu          sync.Mutex
	by          map[string]int
	total       int
	open, conns int
	hook        func(total int)
	exited      chan struct{}
}

// startSink starts the sink. With ack, each message's 250 waits until the
// hook (see setHook) has returned: a hook that kills the sender does so
// between the message's arrival and its reply.
func startSink(t *testing.T, ack bool) *sinkServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	args := []string{}
	if ack {
		args = append(args, "-ack")
	}
	c := exec.CommandContext(ctx, sinkBin, args...)
	c.WaitDelay = 5 * time.Second
	stdin, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	s := &sinkServer{cmd: c, stdin: stdin, ack: ack, by: map[string]int{}, exited: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		defer close(s.exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.line(sc.Text(), ready)
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
		}
		cancel()
		c.Wait()
	})
	select {
	case s.Addr = <-ready:
	case <-s.exited:
		t.Fatal("the SMTP sink exited before listening")
	case <-time.After(30 * time.Second):
		t.Fatal("the SMTP sink did not start in 30s")
	}
	return s
}

func (s *sinkServer) line(l string, ready chan<- string) {
	kind, rest, _ := strings.Cut(l, " ")
	switch kind {
	case "addr":
		ready <- rest
	case "open":
		s.mu.Lock()
		s.open++
		s.conns++
		s.mu.Unlock()
	case "close":
		s.mu.Lock()
		s.open--
		s.mu.Unlock()
	case "msg":
		id, rcpts, _ := strings.Cut(rest, " ")
		s.mu.Lock()
		for _, a := range strings.Fields(rcpts) {
			s.by[a]++
		}
		s.total++
		n, hook := s.total, s.hook
		s.mu.Unlock()
		if hook != nil {
			hook(n)
		}
		if s.ack {
			io.WriteString(s.stdin, "ok "+id+"\n")
		}
	}
}

// URL is the sink's smtp:// URL.
func (s *sinkServer) URL() string { return "smtp://" + s.Addr + "?tls=none" }

// setHook sets what runs after each message arrives (with the running
// total), before the sink replies when it acks.
func (s *sinkServer) setHook(h func(total int)) {
	s.mu.Lock()
	s.hook = h
	s.mu.Unlock()
}

func (s *sinkServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// connections returns the connections open now and accepted in all.
func (s *sinkServer) connections() (open, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open, s.conns
}

// check fails unless each of the drill's n subscribers got the edition,
// with at most maxDup duplicates in all; it returns the duplicates.
func (s *sinkServer) check(t *testing.T, n, maxDup int) int {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	dups, missed := 0, 0
	for i := range n {
		switch k := s.by[addressOf(i)]; {
		case k == 0:
			missed++
			if missed <= 5 {
				t.Errorf("%s got nothing", addressOf(i))
			}
		case k > 1:
			dups += k - 1
		}
	}
	if missed > 0 || len(s.by) != n {
		t.Fatalf("%d of %d subscribers missed (%d addresses mailed)", missed, n, len(s.by))
	}
	if dups > maxDup {
		t.Fatalf("%d duplicates, want at most %d", dups, maxDup)
	}
	return dups
}
