package web

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"bothsides/mailer"
)

// OutboxConfig sizes the background sending of sign-up mails. Zero values
// take the defaults noted.
type OutboxConfig struct {
	// Workers is how many sign-up mails are sent at once (default 4). The
	// Mailer must allow that many concurrent Sends: a relay that hangs then
	// holds one worker, not all sign-up mail.
	Workers int
	// Capacity bounds the sign-up mails held at once, queued, being sent or
	// waiting for a retry (default 1024). A sign-up that finds the outbox
	// full is refused with 503 before anything is stored.
	Capacity int
	// RetryDelays are the waits before the second, third … attempt of a mail
	// the relay refused temporarily (default 10s, 1m). A mail waiting for a
	// retry holds no worker.
	RetryDelays []time.Duration
	// After schedules a retry: f runs after d unless stop, called first,
	// returns true. Nil is time.AfterFunc; tests pass a clock they drive.
	After func(d time.Duration, f func()) (stop func() bool)
}

func (c OutboxConfig) withDefaults() OutboxConfig {
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.Capacity <= 0 {
		c.Capacity = 1024
	}
	if c.RetryDelays == nil {
		c.RetryDelays = []time.Duration{10 * time.Second, time.Minute}
	}
	if c.After == nil {
		c.After = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	return c
}

// drainTimeout bounds how long Close waits for the sign-up mails held.
const drainTimeout = 15 * time.Second

// outbox sends sign-up mails in the background, so that a sign-up answers
// at once and in the same time whether or not a mail goes out (the timing
// must not tell whether an address is subscribed). Workers send from one
// queue; a mail refused temporarily waits on a timer, not in a worker, and
// goes back to the queue when due. Room is reserved before the sign-up is
// stored (reserve), so a mail is never dropped for want of room: the
// sign-up is refused instead, honestly.
type outbox struct {
	cfg  OutboxConfig
	send func(context.Context, *mailer.Message) error
	log  *slog.Logger
	now  func() time.Time
	m    outboxMetrics

	q chan *outgoing // capacity cfg.Capacity: never full while held <= Capacity

	mu       sync.Mutex
	held     int                       // reserved slots: queued, sending or waiting
	closed   bool                      // Close called: no reservations, no retries
	waiting  map[*outgoing]func() bool // mails waiting for a retry, with their timer's stop
	refused  int                       // refusals not yet logged
	loggedAt time.Time                 // last refusal log line

	stop   chan struct{}
	base   context.Context // cancelled drainTimeout after Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// outgoing is one sign-up mail and the attempts made.
type outgoing struct {
	m        *mailer.Message
	attempts int
}

func newOutbox(cfg OutboxConfig, send func(context.Context, *mailer.Message) error, log *slog.Logger, now func() time.Time, reg prometheus.Registerer) *outbox {
	cfg = cfg.withDefaults()
	o := &outbox{cfg: cfg, send: send, log: log, now: now, m: newOutboxMetrics(reg),
		q: make(chan *outgoing, cfg.Capacity), waiting: map[*outgoing]func() bool{}, stop: make(chan struct{})}
	o.base, o.cancel = context.WithCancel(context.Background())
	for range cfg.Workers {
		o.wg.Add(1)
		go o.work()
	}
	return o
}

// reserve holds room for one mail. False means the outbox is full (or
// closing): the refusal is counted and logged, and the caller must tell the
// person signing up to try again.
func (o *outbox) reserve() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || o.held >= o.cfg.Capacity {
		o.m.refused.Inc()
		o.refused++
		// One line per quiet period, with the count, so that a flood does
		// not flood the log too.
		if now := o.now(); o.loggedAt.IsZero() || now.Sub(o.loggedAt) >= 10*time.Second {
			o.log.Warn("sign-up mail outbox full; sign-up refused with 503", "held", o.held, "capacity", o.cfg.Capacity,
				"closing", o.closed, "refused", o.refused)
			o.loggedAt, o.refused = now, 0
		}
		return false
	}
	o.held++
	o.m.held.Set(float64(o.held))
	return true
}

// release gives back a reservation no mail was added for.
func (o *outbox) release() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.held--
	o.m.held.Set(float64(o.held))
}

// add queues m in a slot reserve returned true for. It never blocks.
func (o *outbox) add(m *mailer.Message) {
	o.m.queued.Inc()
	o.q <- &outgoing{m: m}
}

func (o *outbox) work() {
	defer o.wg.Done()
	for {
		select {
		case j := <-o.q:
			o.attempt(j)
		case <-o.stop:
			for {
				select {
				case j := <-o.q:
					o.attempt(j)
				default:
					return
				}
			}
		}
	}
}

// attempt sends j once and settles it: sent, failed, dropped at shutdown,
// or handed to a timer for its next attempt.
func (o *outbox) attempt(j *outgoing) {
	if o.base.Err() != nil {
		o.log.Error("sign-up mail dropped at shutdown", "message_id", j.m.MessageID, "attempts", j.attempts)
		o.m.dropped.Inc()
		o.done()
		return
	}
	ctx, cancel := context.WithTimeout(o.base, 2*time.Minute)
	err := o.send(ctx, j.m)
	cancel()
	j.attempts++
	switch {
	case err == nil:
		o.log.Info("sign-up mail sent", "message_id", j.m.MessageID, "attempts", j.attempts)
		o.m.sent.Inc()
		o.done()
		return
	case mailer.IsPermanent(err) || j.attempts > len(o.cfg.RetryDelays):
		o.log.Error("sign-up mail failed", "message_id", j.m.MessageID, "attempts", j.attempts, "err", mailer.RedactError(err))
		o.m.failed.Inc()
		o.done()
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		o.log.Error("sign-up mail dropped at shutdown after a temporary failure", "message_id", j.m.MessageID, "attempts", j.attempts, "err", mailer.RedactError(err))
		o.m.dropped.Inc()
		o.doneLocked()
		return
	}
	delay := o.cfg.RetryDelays[j.attempts-1]
	o.log.Warn("sign-up mail will be retried", "message_id", j.m.MessageID, "attempts", j.attempts, "in", delay.String(), "err", mailer.RedactError(err))
	o.m.retried.Inc()
	o.waiting[j] = o.cfg.After(delay, func() { o.due(j) })
}

// due puts a mail whose retry time came back in the queue. Under the lock,
// so that Close cannot slip between the check and the send: a mail is
// either queued here or pulled forward by Close, never lost.
func (o *outbox) due(j *outgoing) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.waiting[j]; !ok {
		return // pulled forward by Close
	}
	delete(o.waiting, j)
	o.q <- j
}

func (o *outbox) done() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.doneLocked()
}

func (o *outbox) doneLocked() {
	o.held--
	o.m.held.Set(float64(o.held))
}

// close stops taking mail, pulls the retries still waiting forward for one
// last attempt, and waits for the workers to send what is held, for at
// most drainTimeout; the rest is logged and counted as dropped.
func (o *outbox) close() {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.closed = true
	for j, stop := range o.waiting {
		if stop() {
			delete(o.waiting, j)
			o.q <- j
		}
	}
	o.mu.Unlock()
	close(o.stop)
	t := time.AfterFunc(drainTimeout, o.cancel)
	o.wg.Wait()
	t.Stop()
	o.cancel()
}

// outboxMetrics count what becomes of sign-up mails.
type outboxMetrics struct {
	queued, sent, retried, failed, dropped, refused prometheus.Counter
	held                                            prometheus.Gauge
}

// newOutboxMetrics registers with reg (nil: counted but not exposed):
// bothsides_signup_mails_queued_total, _sent_total, _retried_total,
// _failed_total, _dropped_total (at shutdown), _refused_total (sign-ups
// answered 503 because the outbox was full) and the gauge
// bothsides_signup_mail_outbox (mails held).
func newOutboxMetrics(reg prometheus.Registerer) outboxMetrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "bothsides_signup_mails_" + name + "_total", Help: help})
	}
	m := outboxMetrics{
		queued:  c("queued", "Sign-up mails queued for sending."),
		sent:    c("sent", "Sign-up mails the relay accepted."),
		retried: c("retried", "Temporary failures of sign-up mails, each scheduled for another attempt."),
		failed:  c("failed", "Sign-up mails given up on: permanent failures and exhausted retries."),
		dropped: c("dropped", "Sign-up mails still held when shutdown's drain time ran out."),
		refused: c("refused", "Sign-ups answered 503 because the sign-up mail outbox was full."),
		held: prometheus.NewGauge(prometheus.GaugeOpts{Name: "bothsides_signup_mail_outbox",
			Help: "Sign-up mails held: queued, being sent or waiting for a retry."}),
	}
	if reg != nil {
		reg.MustRegister(m.queued, m.sent, m.retried, m.failed, m.dropped, m.refused, m.held)
	}
	return m
}
