package delivery

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"bothsides/digest"
	"bothsides/mailer"
	"bothsides/sqlite"
)

// job is one ledger row to send.
type job struct {
	subscriberID int64
	email, name  string
	topics       string // the subscriber's favoured topics, as stored (JSON)
	generation   int64  // the subscriber's link generation, for the signed links
	attempts     int
	createdAt    time.Time
}

// outcome is what became of one claimed job.
type outcome struct {
	job
	err     error
	unsent  bool // released without an SMTP transaction (shutdown)
	latency time.Duration
}

// request is a worker's round trip to the committer: the outcome of its last
// message, and the next job it wants to claim.
type request struct {
	done  []*outcome
	claim *job
	msgID string
	reply chan reply
}

type reply struct {
	claimed bool
	stop    bool
	err     error
}

// run is one Send: the state that outlives a pass.
type run struct {
	stmts   *statements
	s       *Sender
	e       *digest.Edition
	mail    *editionMail
	log     *slog.Logger
	limiter *rate.Limiter
	// variants holds the edition rendered per favoured-topic variant.
	variants *variants
	// streak holds the failures since the last success, in commit order;
	// their bounces are counted only once a success shows the relay works.
	streak  []streakEntry
	tripped string // why the breaker paused the edition
	// pending is how many deliveries were pending when the send started;
	// delivered says whether any message went out since.
	pending   int
	delivered bool

	// per pass
	jobs   chan job
	reqs   chan *request
	stopCh chan struct{}
	stop   sync.Once
	failed atomic.Pointer[error]
	claims atomic.Int64
}

type streakEntry struct {
	subscriberID int64
	bounce       bool
}

// stopped returns ErrPaused or ErrCancelled when the edition no longer
// has status sending.
func (r *run) stopped(ctx context.Context) error {
	var status digest.EditionStatus
	var reason string
	err := r.s.db.R.QueryRowContext(context.WithoutCancel(ctx), `SELECT status, pause_reason FROM editions WHERE id = ?`, r.e.ID).Scan(&status, &reason)
	if err != nil {
		return fmt.Errorf("edition status: %w", err)
	}
	r.e.Status = status
	switch status {
	case digest.EditionCancelled:
		r.log.Warn("edition cancelled; send stopped")
		return fmt.Errorf("%s %s: %w", r.e.Schedule, r.e.Date, ErrCancelled)
	case digest.EditionPaused:
		if r.tripped != "" {
			r.log.Error("edition paused", "reason", r.tripped)
			return fmt.Errorf("%s %s paused: %s: %w", r.e.Schedule, r.e.Date, r.tripped, ErrRelayRefusing)
		}
		r.log.Warn("edition paused; send stopped", "reason", reason)
		return fmt.Errorf("%s %s: %w", r.e.Schedule, r.e.Date, ErrPaused)
	}
	return nil
}

func (r *run) halt() { r.stop.Do(func() { close(r.stopCh) }) }

func (r *run) setErr(err error) {
	r.failed.CompareAndSwap(nil, &err)
	r.halt()
}

// pass offers every due delivery once to the connections and returns how
// many it claimed.
func (r *run) pass(ctx context.Context) (int64, error) {
	k := r.s.cfg.Connections
	r.jobs = make(chan job, k)
	r.reqs = make(chan *request, k)
	r.stopCh = make(chan struct{})
	r.stop = sync.Once{}
	r.failed.Store(nil)
	r.claims.Store(0)

	committed := make(chan struct{})
	go func() {
		defer close(committed)
		r.commitLoop(ctx)
	}()
	var workers sync.WaitGroup
	for range k {
		workers.Add(1)
		go func() {
			defer workers.Done()
			conn := r.s.dial()
			defer conn.Close()
			r.work(ctx, conn)
		}()
	}
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		r.produce(ctx)
	}()
	workers.Wait()
	r.halt() // workers may all stop first (pause, error): release the producer
	<-produced
	close(r.reqs)
	<-committed
	// Failures at the end of a pass that no success followed are real as
	// far as we can tell: count their bounces now.
	if len(r.streak) > 0 && r.tripped == "" {
		err := r.s.db.Tx(context.WithoutCancel(ctx), func(tx *sql.Tx) error { return r.settleStreak(ctx, tx) })
		if err != nil {
			r.setErr(fmt.Errorf("record bounces: %w", err))
		}
	}
	if p := r.failed.Load(); p != nil {
		return r.claims.Load(), *p
	}
	return r.claims.Load(), nil
}

// produce pages through the due ledger rows in subscriber order (keyset
// paging: memory stays flat however long the list) and hands them out.
func (r *run) produce(ctx context.Context) {
	defer close(r.jobs)
	var after int64
	for {
		page, err := r.page(ctx, after)
		if err != nil {
			if ctx.Err() == nil {
				r.setErr(err)
			}
			return
		}
		if len(page) == 0 {
			return
		}
		for _, j := range page {
			select {
			case r.jobs <- j:
			case <-ctx.Done():
				return
			case <-r.stopCh:
				return
			}
		}
		after = page[len(page)-1].subscriberID
	}
}

func (r *run) page(ctx context.Context, after int64) ([]job, error) {
	now := sqlite.Time(r.s.db.Now())
	rows, err := r.s.db.R.QueryContext(ctx, `SELECT d.subscriber_id, s.email, s.name, s.topics, s.link_generation, d.attempts, d.created_at
		FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
		WHERE d.edition_id = ? AND d.subscriber_id > ?
		  AND (d.status = 'queued' OR (d.status = 'retry' AND d.next_attempt_at <= ?))
		ORDER BY d.subscriber_id LIMIT ?`, r.e.ID, after, now, r.s.cfg.BatchSize)
	if err != nil {
		return nil, fmt.Errorf("next deliveries: %w", err)
	}
	defer rows.Close()
	page := make([]job, 0, r.s.cfg.BatchSize)
	for rows.Next() {
		var j job
		var created string
		if err := rows.Scan(&j.subscriberID, &j.email, &j.name, &j.topics, &j.generation, &j.attempts, &created); err != nil {
			return nil, fmt.Errorf("next deliveries: %w", err)
		}
		j.createdAt, _ = sqlite.ParseTime(created)
		page = append(page, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("next deliveries: %w", err)
	}
	return page, nil
}

// work is one connection's loop. A worker always holds the next row
// claimed ahead; right after a message's 250 it sends the committer that
// outcome together with the claim of the row after next, and goes on with
// the row it holds. Before writing the final dot of that message it waits
// for the committer's answer: so the ledger write is off the critical path,
// yet a message is never accepted by the relay before the outcome of the
// previous one on its connection is committed. At any moment each
// connection has at most one message accepted but not recorded: that bounds
// the duplicates after a crash by the number of connections.
func (r *run) work(ctx context.Context, conn Conn) {
	var done []*outcome // outcomes not yet sent to the committer
	var cur *job        // claimed, to be sent next
	var curID string
	buf := make([]byte, 0, r.mail.size())
	replies := make(chan reply, 1)
	for {
		if cur == nil {
			// Nothing claimed: claim synchronously (and report what is done).
			next := r.next(ctx)
			if len(done) == 0 && next == nil {
				return
			}
			q := r.request(done, next, replies)
			done = nil
			rep := <-replies
			if rep.err != nil || rep.stop || next == nil {
				return
			}
			if rep.claimed {
				cur, curID = next, q.msgID
			}
			continue
		}
		// Claim the row after this one while this one goes out.
		next := r.next(ctx)
		q := r.request(done, next, replies)
		done = nil
		var rep reply
		answered := false
		wait := func() reply {
			if !answered {
				rep, answered = <-replies, true
			}
			return rep
		}
		o := r.deliver(ctx, conn, cur, curID, &buf, func() error {
			if rep := wait(); rep.err != nil || rep.stop {
				return errStopped
			}
			return ctx.Err()
		})
		wait()
		done = append(done, o)
		cur = nil
		if next != nil && rep.claimed {
			cur, curID = next, q.msgID
		}
		if rep.err != nil || rep.stop || ctx.Err() != nil {
			if cur != nil {
				done = append(done, &outcome{job: *cur, unsent: true})
				cur = nil
			}
			if rep.err == nil {
				r.request(done, nil, replies)
				<-replies
			}
			return
		}
	}
}

// errStopped aborts a message before its final dot: the edition was paused
// or cancelled, the ledger failed, or the process is stopping.
var errStopped = errors.New("send stopped before the end of the message")

// next returns the next job to claim, or nil when there is none or the
// pass is stopping.
func (r *run) next(ctx context.Context) *job {
	if ctx.Err() != nil {
		return nil
	}
	select {
	case j, ok := <-r.jobs:
		if ok {
			return &j
		}
	case <-ctx.Done():
	case <-r.stopCh:
	}
	return nil
}

// request sends the committer outcomes to record and a job to claim.
func (r *run) request(done []*outcome, claim *job, replies chan reply) *request {
	q := &request{done: done, claim: claim, reply: replies}
	if claim != nil {
		q.msgID = r.mail.messageID(r.e, claim.subscriberID, claim.attempts+1)
	}
	r.reqs <- q
	return q
}

// deliver sends one claimed job; confirm runs before the message's final
// dot and aborts it with an error.
func (r *run) deliver(ctx context.Context, conn Conn, j *job, msgID string, buf *[]byte, confirm func() error) *outcome {
	if err := r.limiter.Wait(ctx); err != nil {
		return &outcome{job: *j, unsent: true}
	}
	var m mailer.Raw
	var from string
	em, err := r.mailFor(j.topics)
	if err == nil {
		m, from, err = em.build((*buf)[:0], r.s, r.e.ID, *j, msgID)
		*buf = m.Data
	}
	if err != nil {
		return &outcome{job: *j, err: &mailer.Error{Stage: "build", Permanent: true, Err: err}}
	}
	m.Confirm = confirm
	start := time.Now()
	err = conn.SendRaw(ctx, from, j.email, m)
	if err != nil && (errors.Is(err, errStopped) || ctx.Err() != nil && errors.Is(err, ctx.Err())) {
		// Aborted before the relay took it: back to the queue.
		return &outcome{job: *j, unsent: true}
	}
	return &outcome{job: *j, err: err, latency: time.Since(start)}
}
