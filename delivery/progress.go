package delivery

import (
	"sync/atomic"
	"time"
)

// progress counts a running send for progress bars and logs. Counters are
// updated after each ledger transaction commits.
type progress struct {
	total, baseSent, baseFailed, baseSkipped atomic.Int64
	sent, failed, skipped, retried           atomic.Int64
	started                                  atomic.Int64 // unix nanoseconds
}

func (p *progress) reset(s Stats, now time.Time) {
	p.total.Store(int64(s.Total))
	p.baseSent.Store(int64(s.Sent))
	p.baseFailed.Store(int64(s.Failed))
	p.baseSkipped.Store(int64(s.Skipped))
	p.sent.Store(0)
	p.failed.Store(0)
	p.skipped.Store(0)
	p.retried.Store(0)
	p.started.Store(now.UnixNano())
}

func (p *progress) pending() int64 {
	return p.total.Load() - p.baseSent.Load() - p.sent.Load() - p.baseFailed.Load() - p.failed.Load() - p.baseSkipped.Load() - p.skipped.Load()
}

// Progress is a snapshot of a running send.
type Progress struct {
	Total   int // deliveries in the edition's ledger
	Sent    int // sent, this run and before
	Failed  int
	Skipped int
	Pending int // not settled yet: queued, in flight or waiting to retry
	// SentNow and Retried count this run only; Elapsed is its duration.
	SentNow int
	Retried int
	Elapsed time.Duration
}

// Rate is this run's messages per second.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.SentNow) / p.Elapsed.Seconds()
}

// ETA is the time left at this run's rate, or 0 when unknown.
func (p Progress) ETA() time.Duration {
	r := p.Rate()
	if r <= 0 || p.Pending == 0 {
		return 0
	}
	return time.Duration(float64(p.Pending) / r * float64(time.Second))
}

// Progress returns a snapshot of the send in progress (or the last one).
func (s *Sender) Progress() Progress {
	p := &s.progress
	var el time.Duration
	if st := p.started.Load(); st != 0 {
		el = time.Since(time.Unix(0, st))
	}
	return Progress{
		Total:   int(p.total.Load()),
		Sent:    int(p.baseSent.Load() + p.sent.Load()),
		Failed:  int(p.baseFailed.Load() + p.failed.Load()),
		Skipped: int(p.baseSkipped.Load() + p.skipped.Load()),
		Pending: int(p.pending()),
		SentNow: int(p.sent.Load()),
		Retried: int(p.retried.Load()),
		Elapsed: el,
	}
}
