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

// outcome is what became of one job.
type outcome struct {
	job
	msgID   string
	err     error
	unsent  bool     // released without an SMTP transaction (shutdown, pause)
	skipped string   // not sent: why the subscriber may not be mailed now
	journal *journal // the journal it was appended to, if any
	latency time.Duration
}

// accepted says the relay took the message.
func (o *outcome) accepted() bool { return o.err == nil && !o.unsent && o.skipped == "" }

// request hands the committer outcomes to record; with reply set the
// connection waits for them to be committed.
type request struct {
	done  []*outcome
	reply chan<- reply
}

type reply struct {
	stop bool // the breaker tripped
	err  error
}

// run is one Send: the state that outlives a pass.
type run struct {
	stmts *statements
	// journals are the connections' journal files, the ith connection's
	// at i, opened by the first pass and kept for the send.
	journals []*journal
	s        *Sender
	e        *digest.Edition
	mail     *editionMail
	log      *slog.Logger
	limiter  *rate.Limiter
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
	for i := len(r.journals); i < k; i++ {
		j, err := openJournal(fmt.Sprintf("%s.%d", JournalPath(r.s.db.Path, r.e.ID), i+1))
		if err != nil {
			return 0, err
		}
		r.journals = append(r.journals, j)
	}
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
	for i := range k {
		workers.Add(1)
		go func() {
			defer workers.Done()
			conn := r.s.dial()
			defer conn.Close()
			r.work(ctx, conn, r.journals[i])
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
		// The journal keeps what the ledger may lack: the next send
		// replays it.
		return r.claims.Load(), *p
	}
	// Every accepted message of the pass is in the ledger now.
	for _, j := range r.journals {
		if err := j.clear(); err != nil {
			return r.claims.Load(), err
		}
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

// work is one connection's loop. Before each message's final dot it
// checks, in one read, that the edition is still sending and that the
// reader of the message after it may still be mailed; that next message is
// then built and its MAIL, RCPT and DATA go with this one's dot. Right
// after the relay's 250 the message goes into the journal (one append)
// and, in the background, to the committer, which records such messages in
// batches; a refusal is recorded before the connection goes on. So at any
// moment each connection has at most one message accepted but in neither
// journal nor ledger: that bounds the duplicates after a crash by the
// number of connections.
func (r *run) work(ctx context.Context, conn Conn, jr *journal) {
	// Two buffers: the next message may be built while this one is still
	// going out, so that its commands go with this one's final dot.
	var bufs [2][]byte
	bufs[0] = make([]byte, 0, r.mail.size())
	k := 0               // the buffer of cur's message
	var pre *mailer.Next // cur's message and envelope sender, built ahead (in bufs[k])
	var cur, cand *job   // cur may be sent; cand is not checked yet
	var curID string
	answers := make(chan reply, 1)
	for {
		if cur == nil {
			if cand == nil {
				cand = r.next(ctx)
			}
			if cand == nil {
				return
			}
			ok, err := r.admit(ctx, cand)
			if err != nil {
				return
			}
			if ok {
				cur, curID = cand, r.mail.messageID(r.e, cand.subscriberID, cand.attempts+1)
			}
			cand = nil
			continue
		}
		next := r.next(ctx)
		var nextID string
		checked := false
		var ahead *mailer.Next
		confirm := func() error {
			checked = true
			status, why, err := r.check(ctx, next)
			if err != nil {
				r.setErr(err)
				return errStopped
			}
			if status != digest.EditionSending {
				r.halt()
				return errStopped
			}
			select {
			case <-r.stopCh:
				return errStopped
			default:
			}
			if next != nil {
				if why != "" {
					r.skip(next, why)
					next = nil
				} else {
					r.claims.Add(1)
					nextID = r.mail.messageID(r.e, next.subscriberID, next.attempts+1)
				}
			}
			return ctx.Err()
		}
		// Called after confirm, before the dot: the next message, when the
		// rate allows it now. It never waits.
		handNext := func() *mailer.Next {
			if next == nil || ctx.Err() != nil || !r.limiter.Allow() {
				return nil
			}
			m, from, err := r.build(*next, nextID, &bufs[1-k])
			if err != nil {
				return nil // its own deliver reports it
			}
			ahead = &mailer.Next{From: from, To: next.email, Raw: m}
			return ahead
		}
		o := r.deliver(ctx, conn, cur, curID, pre, &bufs[k], confirm, handNext)
		cur, pre = nil, nil
		if !r.settle(o, jr, answers) {
			return // the rows not begun are still queued
		}
		switch {
		case next == nil:
		case !checked:
			cand = next
		default:
			cur, curID = next, nextID
			if ahead != nil {
				pre, k = ahead, 1-k
			}
		}
	}
}

// admit checks, before a message is begun with no other in flight on its
// connection, that the edition is sending and j's reader may be mailed. An
// error stops the connection.
func (r *run) admit(ctx context.Context, j *job) (bool, error) {
	status, why, err := r.check(ctx, j)
	switch {
	case err != nil:
		r.setErr(err)
		return false, err
	case status != digest.EditionSending:
		r.halt()
		return false, errStopped
	case why != "":
		r.skip(j, why)
		return false, nil
	}
	r.claims.Add(1)
	return true, nil
}

// skip records, in the next batch, that j's reader may not be mailed now.
func (r *run) skip(j *job, why string) {
	r.reqs <- &request{done: []*outcome{{job: *j, skipped: why}}}
}

// settle hands an outcome to the committer: an accepted message is
// journaled first and recorded in the next batch; a failure is recorded
// now. It says whether the connection may go on.
func (r *run) settle(o *outcome, jr *journal, answers chan reply) bool {
	if o.unsent {
		return false
	}
	if o.accepted() {
		err := jr.accepted(o.subscriberID, o.msgID)
		if err == nil {
			o.journal = jr
			r.reqs <- &request{done: []*outcome{o}}
			return true
		}
		r.setErr(err) // and record it now, as the journal cannot
	}
	r.reqs <- &request{done: []*outcome{o}, reply: answers}
	rep := <-answers
	return rep.err == nil && !rep.stop && r.failed.Load() == nil
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

// deliver sends one claimed job; confirm runs before the message's final
// dot and aborts it with an error; next hands over the message after it
// (mailer.Raw.Next). pre is the job's message when it was built ahead,
// with its rate token taken; otherwise it is built into buf.
func (r *run) deliver(ctx context.Context, conn Conn, j *job, msgID string, pre *mailer.Next, buf *[]byte, confirm func() error, next func() *mailer.Next) *outcome {
	var m mailer.Raw
	var from string
	if pre != nil {
		m, from = pre.Raw, pre.From
	} else {
		if err := r.limiter.Wait(ctx); err != nil {
			return &outcome{job: *j, unsent: true}
		}
		var err error
		if m, from, err = r.build(*j, msgID, buf); err != nil {
			return &outcome{job: *j, msgID: msgID, err: &mailer.Error{Stage: "build", Permanent: true, Err: err}}
		}
	}
	m.Confirm, m.Next = confirm, next
	start := time.Now()
	err := conn.SendRaw(ctx, from, j.email, m)
	if err != nil && (errors.Is(err, errStopped) || ctx.Err() != nil && errors.Is(err, ctx.Err())) {
		// Aborted before the relay took it: back to the queue.
		return &outcome{job: *j, unsent: true}
	}
	return &outcome{job: *j, msgID: msgID, err: err, latency: time.Since(start)}
}

// build makes j's message in buf, which it keeps for the next one.
func (r *run) build(j job, msgID string, buf *[]byte) (mailer.Raw, string, error) {
	em, err := r.mailFor(j.topics)
	if err != nil {
		return mailer.Raw{}, "", err
	}
	m, from, err := em.build((*buf)[:0], r.s, r.e.ID, j, msgID)
	*buf = m.Data
	return m, from, err
}
