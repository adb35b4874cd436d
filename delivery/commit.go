package delivery

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"time"

	"bothsides/digest"
	"bothsides/mailer"
	"bothsides/sqlite"
	"bothsides/subscribers"
)

// mailableAt3 is the subscribers.Mailable condition with the time as
// parameter ?3 of the check statement.
var mailableAt3 = subscribers.MailableAt("?3")

// statements are the hot path's SQL, prepared once per send: the check a
// connection makes before each message (on the read pool, no write), and
// the batch of accepted messages (on the writer).
type statements struct {
	check, sent *sql.Stmt
}

func prepareStatements(ctx context.Context, db *sqlite.DB) (*statements, error) {
	var st statements
	var err error
	prep := func(conn *sql.DB, q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = conn.PrepareContext(ctx, q)
		return s
	}
	// The edition's status, and why subscriber ?2 may not be mailed now
	// ('' when it may; 0 asks about nobody): an unsubscribe or a pause
	// during the send stops that reader's message, a pause or a cancel of
	// the edition stops the send.
	st.check = prep(db.R, `SELECT e.status,
			CASE WHEN ?2 = 0 OR EXISTS (SELECT 1 FROM subscribers WHERE id = ?2 AND `+mailableAt3+`) THEN ''
				ELSE COALESCE((SELECT CASE WHEN status = 'active' THEN 'paused' ELSE status END
					FROM subscribers WHERE id = ?2), 'removed') END
		FROM editions e WHERE e.id = ?1`)
	st.sent = prep(db.W, markSent)
	if err != nil {
		st.close()
		return nil, fmt.Errorf("prepare ledger statements: %w", err)
	}
	return &st, nil
}

func (st *statements) close() {
	for _, s := range []*sql.Stmt{st.check, st.sent} {
		if s != nil {
			s.Close()
		}
	}
}

// check reads the edition's status and why j may not be mailed now ("" if
// it may; j may be nil).
func (r *run) check(ctx context.Context, j *job) (digest.EditionStatus, string, error) {
	var id int64
	if j != nil {
		id = j.subscriberID
	}
	var status digest.EditionStatus
	var why string
	err := r.stmts.check.QueryRowContext(context.WithoutCancel(ctx), r.e.ID, id, sqlite.Time(r.s.db.Now())).Scan(&status, &why)
	if err != nil {
		return "", "", fmt.Errorf("ledger: edition status: %w", err)
	}
	return status, why, nil
}

// How long, and how many, accepted messages wait for their ledger
// transaction: the journal holds them meanwhile.
const (
	flushEvery = 20 * time.Millisecond
	flushAt    = 512
)

// commitLoop records outcomes. Accepted messages (journaled by their
// connection already) and skipped readers are recorded in batches, every
// flushEvery or flushAt outcomes, so that one transaction's fixed cost
// (its commit, the WAL's page writes) is shared by them all; a failure is
// recorded at once, with the batch before it, while its connection waits:
// the breaker and the bounce counts see the outcomes in order. No
// transaction is ever open during an SMTP exchange.
func (r *run) commitLoop(ctx context.Context) {
	ctx = context.WithoutCancel(ctx) // outcomes are recorded even on shutdown
	var pend []*outcome
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	for {
		select {
		case q, ok := <-r.reqs:
			if !ok {
				if len(pend) > 0 {
					r.commit(ctx, pend, nil)
				}
				return
			}
			pend = append(pend, q.done...)
			if q.reply == nil && len(pend) < flushAt {
				continue
			}
			r.commit(ctx, pend, q.reply)
			pend = pend[:0]
		case <-tick.C:
			if len(pend) > 0 {
				r.commit(ctx, pend, nil)
				pend = pend[:0]
			}
		}
	}
}

// tally is what one transaction changed, applied to the counters after it
// commits.
type tally struct {
	sent, failed, retried, skipped int
	latencies                      []time.Duration
}

// commit records a batch of outcomes in one transaction: the accepted
// messages first, then the others in order. answer, when set,
// gets the reply.
func (r *run) commit(ctx context.Context, batch []*outcome, answer chan<- reply) {
	var t tally
	err := r.s.db.Tx(ctx, func(tx *sql.Tx) error {
		t = tally{}
		now := sqlite.Time(r.s.db.Now())
		sent := tx.StmtContext(ctx, r.stmts.sent)
		accepted := 0
		for _, o := range batch {
			if !o.accepted() {
				continue
			}
			res, err := sent.ExecContext(ctx, now, r.e.ID, o.subscriberID, o.msgID)
			if err != nil {
				return fmt.Errorf("record delivery %d: %w", o.subscriberID, err)
			}
			n, _ := res.RowsAffected()
			t.sent += int(n)
			t.latencies = append(t.latencies, o.latency)
			accepted++
		}
		if accepted > 0 {
			r.delivered = true
			// The relay works: the failures before these were real.
			if err := r.settleStreak(ctx, tx); err != nil {
				return err
			}
		}
		for _, o := range batch {
			if !o.accepted() {
				if err := r.record(ctx, tx, o, &t); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		r.setErr(fmt.Errorf("ledger: %w", err))
	} else {
		r.apply(t)
		for _, o := range batch {
			if o.journal != nil {
				o.journal.done(1)
			}
		}
	}
	if r.tripped != "" {
		r.halt()
	}
	if answer != nil {
		answer <- reply{stop: r.tripped != "", err: err}
	}
}

// record writes into the ledger an outcome other than an accepted message
// (commit records those): a skipped reader, or a refusal or retry.
func (r *run) record(ctx context.Context, tx *sql.Tx, o *outcome, t *tally) error {
	cfg := &r.s.cfg
	nowT := r.s.db.Now()
	now := sqlite.Time(nowT)
	id := o.subscriberID
	if o.skipped != "" {
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'skipped', last_reply = 'not sent: subscriber is ' || ?,
				updated_at = ?, next_attempt_at = NULL
			WHERE edition_id = ? AND subscriber_id = ? AND status IN ('queued', 'retry')`, o.skipped, now, r.e.ID, id); err != nil {
			return fmt.Errorf("record skipped delivery %d: %w", id, err)
		}
		t.skipped++
		return nil
	}
	t.latencies = append(t.latencies, o.latency)
	if r.tripped != "" {
		// The breaker has tripped: what was still in flight then stays in
		// the queue with the rest.
		return nil
	}
	// The ledger keeps the relay's reply whole, address included: the
	// admin reads it there beside the subscriber it is about, and it goes
	// with the row when the subscriber is erased. Logs and the pause
	// reason (kept on the edition, past any erasure) get it redacted.
	reply := o.err.Error()
	if len(reply) > 500 {
		reply = reply[:500]
	}
	logged := mailer.RedactAddresses(reply)
	code, stage := mailer.Code(o.err), mailer.Stage(o.err)
	attempts := o.attempts + 1
	permanent := mailer.IsPermanent(o.err)
	// Only a refusal of the recipient or of the content is a bounce; a
	// refused sender (MAIL FROM) is the relay's or our problem.
	bounce := permanent && (stage == "rcpt" || stage == "data")
	tooOld := !o.createdAt.IsZero() && nowT.Sub(o.createdAt) > cfg.RetryMaxAge
	if permanent || attempts >= cfg.MaxAttempts || tooOld {
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'failed', attempts = attempts + 1, last_code = ?,
				last_reply = ?, message_id = ?, updated_at = ?, next_attempt_at = NULL
			WHERE edition_id = ? AND subscriber_id = ?`, code, reply, o.msgID, now, r.e.ID, id); err != nil {
			return fmt.Errorf("record failure %d: %w", id, err)
		}
		t.failed++
		r.log.Warn("delivery failed", "subscriber", id, "attempts", attempts, "code", code, "permanent", permanent, "reply", logged)
	} else {
		delay := backoff(cfg.RetryBase, attempts)
		if code == 0 && attempts == 1 {
			// A dropped connection: the message goes back to the queue at
			// once, to be sent over a fresh connection.
			delay = 0
		}
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'retry', attempts = attempts + 1, last_code = ?,
				last_reply = ?, message_id = ?, next_attempt_at = ?, updated_at = ?
			WHERE edition_id = ? AND subscriber_id = ?`, code, reply, o.msgID, sqlite.Time(nowT.Add(delay)), now, r.e.ID, id); err != nil {
			return fmt.Errorf("record retry %d: %w", id, err)
		}
		t.retried++
		r.log.Info("delivery will be retried", "subscriber", id, "attempts", attempts, "code", code, "in", delay.Round(time.Second).String(), "reply", logged)
	}
	r.streak = append(r.streak, streakEntry{subscriberID: id, bounce: bounce})
	// Pause after PauseAfter failures in a row; and, on a short list, once
	// every message has failed without a single success (at least 3): a
	// wrong relay URL must not keep `send` retrying for hours.
	if len(r.streak) >= cfg.PauseAfter || !r.delivered && len(r.streak) >= max(r.pending, 3) {
		return r.trip(ctx, tx, logged)
	}
	return nil
}

// settleStreak counts the bounces of the failures in the streak and
// suppresses subscribers who reached the limit.
func (r *run) settleStreak(ctx context.Context, tx *sql.Tx) error {
	for _, f := range r.streak {
		if !f.bounce {
			continue
		}
		status, bounces, err := r.s.subs.CountBounce(ctx, tx, f.subscriberID, r.s.cfg.BounceLimit)
		if err != nil && !errors.Is(err, subscribers.ErrNotFound) {
			return err
		}
		if status == subscribers.StatusBounced && bounces == r.s.cfg.BounceLimit {
			r.log.Warn("subscriber suppressed after hard bounces", "subscriber", f.subscriberID, "bounces", bounces)
		}
	}
	r.streak = r.streak[:0]
	return nil
}

// trip pauses the edition after PauseAfter failures in a row. The messages
// of the streak go back to the queue (their attempt not counted, their
// bounces not tallied): the relay, not the subscribers, was the problem.
func (r *run) trip(ctx context.Context, tx *sql.Tx, last string) error {
	n := len(r.streak)
	for _, f := range r.streak {
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'queued', attempts = MAX(attempts - 1, 0), next_attempt_at = NULL
			WHERE edition_id = ? AND subscriber_id = ? AND status IN ('failed', 'retry')`, r.e.ID, f.subscriberID); err != nil {
			return fmt.Errorf("requeue %d: %w", f.subscriberID, err)
		}
	}
	r.streak = r.streak[:0]
	r.tripped = fmt.Sprintf("the relay refused %d messages in a row with no success; last reply: %s", n, last)
	return digest.PauseSending(ctx, tx, r.e.ID, r.tripped)
}

// apply adds a committed transaction's tally to the progress and metrics.
func (r *run) apply(t tally) {
	p := &r.s.progress
	p.sent.Add(int64(t.sent))
	p.failed.Add(int64(t.failed))
	p.skipped.Add(int64(t.skipped))
	p.retried.Add(int64(t.retried))
	m := r.s.cfg.Metrics
	m.observe(t)
	m.setQueue(int(p.pending()))
}

// backoff is exponential with jitter in [d/2, d], at most 6 hours.
func backoff(base time.Duration, attempts int) time.Duration {
	d := min(base<<min(attempts-1, 16), 6*time.Hour)
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}
