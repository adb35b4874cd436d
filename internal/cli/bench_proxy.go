package cli

import (
	"net"
	"sync"
	"time"
)

// delayProxy is a TCP proxy on 127.0.0.1 that forwards each connection to
// a target and holds every chunk it reads for a fixed delay before writing
// it on, in each direction: a round trip through it takes twice the delay
// longer, as over a network, while chunks keep flowing behind each other
// (it is a pipe with latency, not a stop-and-wait relay). bench --rtt puts
// it between both clients and the sink.
type delayProxy struct {
	Addr   string // host:port to dial instead of the target
	target string
	delay  time.Duration
	ln     net.Listener

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// proxyChunk is the most one read takes from a connection.
const proxyChunk = 32 << 10

var proxyBufs = sync.Pool{New: func() any { b := make([]byte, proxyChunk); return &b }}

// startDelayProxy listens on a free loopback port and forwards to target,
// delaying each direction by delay (half the round trip).
func startDelayProxy(target string, delay time.Duration) (*delayProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &delayProxy{Addr: ln.Addr().String(), target: target, delay: delay, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Close stops listening, closes every forwarded connection and waits for
// their goroutines.
func (p *delayProxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil // track refuses connections from now on
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *delayProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.forward(c)
	}
}

// track records c as open, or closes it and returns false after Close.
func (p *delayProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *delayProxy) forward(client net.Conn) {
	defer p.wg.Done()
	if !p.track(client) {
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil || !p.track(server) {
		client.Close()
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); delayCopy(server, client, p.delay) }()
	go func() { defer wg.Done(); delayCopy(client, server, p.delay) }()
	wg.Wait()
	client.Close()
	server.Close()
	p.mu.Lock()
	delete(p.conns, client) // a no-op on the nil map after Close
	delete(p.conns, server)
	p.mu.Unlock()
}

// delayCopy copies src to dst, writing each chunk delay after it was read.
// A reader goroutine stamps the chunks so that the delay runs for each
// from its own arrival, whatever the writer is doing. At src's end it
// half-closes dst, so that a QUIT's reply and the close still pass.
func delayCopy(dst, src net.Conn, delay time.Duration) {
	type chunk struct {
		buf *[]byte
		n   int
		due time.Time
	}
	chunks := make(chan chunk, 64)
	go func() {
		defer close(chunks)
		for {
			buf := proxyBufs.Get().(*[]byte)
			n, err := src.Read(*buf)
			if n > 0 {
				chunks <- chunk{buf, n, time.Now().Add(delay)}
			} else {
				proxyBufs.Put(buf)
			}
			if err != nil {
				return
			}
		}
	}()
	failed := false
	for c := range chunks {
		if !failed {
			if d := time.Until(c.due); d > 0 {
				time.Sleep(d)
			}
			if _, err := dst.Write((*c.buf)[:c.n]); err != nil {
				failed = true
				src.Close() // ends the reader; the rest is drained unwritten
			}
		}
		proxyBufs.Put(c.buf)
	}
	if tc, ok := dst.(*net.TCPConn); ok && !failed {
		tc.CloseWrite()
		return
	}
	dst.Close()
}
