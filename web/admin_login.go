package web

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Why a login attempt was refused before its password was checked.
var (
	errLoginBusy    = errors.New("an attempt from this network is in progress")
	errLoginBackoff = errors.New("this network must wait after a failed attempt")
	errLoginQueue   = errors.New("too many login attempts waiting")
)

const (
	// loginWindow is how long a failure counts: a network's count, and the
	// count over all networks, start again after this long without one.
	loginWindow = 15 * time.Minute
	// globalStep failures over all networks within the window double every
	// failed attempt's delay (a guesser spread over many networks).
	globalStep = 10
	// maxClients bounds the per-network table; idle entries are swept past it.
	maxClients = 1024
	// checkSlots password checks run at once: PBKDF2 is slow by design, and
	// parallel requests must not multiply its cost, but the admin's check
	// need not wait behind a guesser's.
	checkSlots = 2
)

// loginGuard admits admin password checks. A client network (see
// Server.clientNetwork) has one attempt in flight at a time, and none
// before the backoff of its last failure has passed; at most cap attempts
// wait for or are in the check, of which checkSlots run at once. Every failure doubles the network's next delay, and every
// globalStep failures over all networks double everyone's. No lock is held
// while an attempt waits: a failed attempt's delay holds only its network's
// slot.
type loginGuard struct {
	base, max time.Duration
	cap       int
	check     chan struct{} // a token per password check running

	mu      sync.Mutex
	clients map[string]*loginClient
	queued  int       // admitted attempts not yet through the check
	global  int       // failures over all networks in the window
	lastAny time.Time // the last failure of any network
}

// loginClient is one network's record.
type loginClient struct {
	failures int
	last     time.Time // its last failure
	until    time.Time // no attempt before
	busy     bool      // an attempt in flight, its delay included
}

func newLoginGuard(base, maxDelay time.Duration, queueCap int) *loginGuard {
	if maxDelay < base {
		maxDelay = base
	}
	return &loginGuard{base: base, max: maxDelay, cap: queueCap, check: make(chan struct{}, checkSlots), clients: map[string]*loginClient{}}
}

// loginTicket is one admitted attempt.
type loginTicket struct {
	g       *loginGuard
	c       *loginClient
	client  string
	queued  bool
	checked bool
}

// admit takes the network's slot and a place in the queue, or says why
// not and when to come back.
func (g *loginGuard) admit(client string, now time.Time) (*loginTicket, time.Duration, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.clients) > maxClients {
		for k, c := range g.clients {
			if !c.busy && now.Sub(c.last) > loginWindow && !now.Before(c.until) {
				delete(g.clients, k)
			}
		}
	}
	c := g.clients[client]
	if c == nil {
		c = &loginClient{}
		g.clients[client] = c
	}
	wait := c.until.Sub(now)
	switch {
	case c.busy:
		return nil, max(wait, time.Second), errLoginBusy
	case wait > 0:
		return nil, wait, errLoginBackoff
	case g.queued >= g.cap:
		return nil, time.Second, errLoginQueue
	}
	c.busy, g.queued = true, g.queued+1
	return &loginTicket{g: g, c: c, client: client, queued: true}, 0, nil
}

// enter waits for the password check. A client that hangs up while it
// waits leaves the queue: nothing of its was checked.
func (t *loginTicket) enter(ctx context.Context) error {
	select {
	case t.g.check <- struct{}{}:
		t.checked = true
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// leave ends the password check and frees the place in the queue.
func (t *loginTicket) leave() {
	if t.checked {
		<-t.g.check
		t.checked = false
	}
	if t.queued {
		t.g.mu.Lock()
		t.g.queued--
		t.g.mu.Unlock()
		t.queued = false
	}
}

// fail records a wrong password and returns the delay before the answer:
// base doubled per earlier failure of the network or per globalStep
// failures of all of them, at most max. The network's next attempt is
// refused until the delay has passed, whether or not its client waits.
func (t *loginTicket) fail(now time.Time) time.Duration {
	g := t.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Sub(t.c.last) > loginWindow {
		t.c.failures = 0
	}
	if now.Sub(g.lastAny) > loginWindow {
		g.global = 0
	}
	t.c.failures++
	t.c.last = now
	g.global++
	g.lastAny = now
	d := g.base
	for n := max(t.c.failures-1, g.global/globalStep); n > 0 && d < g.max; n-- {
		d *= 2
	}
	d = min(d, g.max)
	t.c.until = now.Add(d)
	return d
}

// succeed forgets the network's failures.
func (t *loginTicket) succeed() {
	t.g.mu.Lock()
	t.c.failures, t.c.until = 0, time.Time{}
	t.g.mu.Unlock()
}

// done frees the network's slot; call it once the answer is written.
func (t *loginTicket) done() {
	t.leave()
	t.g.mu.Lock()
	defer t.g.mu.Unlock()
	t.c.busy = false
	if t.c.failures == 0 && t.g.clients[t.client] == t.c {
		delete(t.g.clients, t.client)
	}
}
