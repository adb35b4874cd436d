package smtpsink

import (
	"net"
	"sync"
)

// countingListener counts the connections it accepts and their closing.
type countingListener struct {
	net.Listener
	s *Server
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.s.mu.Lock()
	l.s.connsOpen++
	l.s.connsTotal++
	l.s.mu.Unlock()
	if h := l.s.OnOpen; h != nil {
		h()
	}
	return &countedConn{Conn: c, s: l.s}, nil
}

type countedConn struct {
	net.Conn
	s    *Server
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		c.s.connsOpen--
		c.s.mu.Unlock()
		if h := c.s.OnClose; h != nil {
			h()
		}
	})
	return c.Conn.Close()
}
