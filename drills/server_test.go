package drills

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// server is a `bothsides serve` process on a free loopback port.
type server struct {
	t    *testing.T
	URL  string
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan error
}

// syncBuffer is a bytes.Buffer safe for a process's writes and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serve starts `bothsides serve` with the site's environment plus env, and
// waits until it answers /healthz. It is stopped (SIGTERM) when the test
// ends, or earlier by stop.
func (s *site) serve(env map[string]string, args ...string) *server {
	s.t.Helper()
	addr := freeAddr(s.t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	c := s.command(ctx, append([]string{"serve", "--addr", addr, "--schedule", "off"}, args...)...)
	for k, v := range env {
		c.Env = append(c.Env, k+"="+v)
	}
	c.Env = append(c.Env, "BOTHSIDES_BASE_URL=http://"+addr)
	logs := &syncBuffer{}
	c.Stdout, c.Stderr = logs, logs
	if err := c.Start(); err != nil {
		cancel()
		s.t.Fatal(err)
	}
	srv := &server{t: s.t, URL: "http://" + addr, cmd: c, logs: logs, done: make(chan error, 1)}
	go func() { srv.done <- c.Wait(); cancel() }()
	s.t.Cleanup(func() { srv.stop() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(srv.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return srv
			}
		}
		select {
		case err := <-srv.done:
			s.t.Fatalf("serve exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("serve did not answer /healthz in 20s: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for the server to exit.
func (srv *server) stop() error {
	if srv.cmd.ProcessState != nil {
		return nil
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-srv.done:
		srv.done <- err
		return err
	case <-time.After(30 * time.Second):
		srv.cmd.Process.Kill()
		return fmt.Errorf("serve did not stop within 30s of SIGTERM")
	}
}

// do sends one request and returns the response with its body read.
func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func newRequest(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return req
}
