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

// mailableAt4 is the subscribers.Mailable condition with the time as
// parameter ?4 of the claim statement.
var mailableAt4 = subscribers.MailableAt("?4")

// statements are the hot path's SQL, prepared once per send on the writer
// connection.
type statements struct {
	status, claim, sent *sql.Stmt
}

func prepareStatements(ctx context.Context, db *sql.DB) (*statements, error) {
	var st statements
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = db.PrepareContext(ctx, q)
		return s
	}
	st.status = prep(`SELECT status FROM editions WHERE id = ?`)
	// Claim the row only if the subscriber is still active at this moment:
	// an unsubscribe during the send stops this message.
	st.claim = prep(`UPDATE deliveries SET
			status = CASE WHEN EXISTS (SELECT 1 FROM subscribers WHERE id = ?2 AND ` + mailableAt4 + `) THEN 'sending' ELSE 'skipped' END,
			last_reply = CASE WHEN EXISTS (SELECT 1 FROM subscribers WHERE id = ?2 AND ` + mailableAt4 + `) THEN last_reply
				ELSE 'not sent: subscriber is ' || (SELECT CASE WHEN status = 'active' THEN 'paused' ELSE status END
					FROM subscribers WHERE id = ?2) END,
			message_id = ?3, updated_at = ?4
		WHERE edition_id = ?1 AND subscriber_id = ?2 AND status IN ('queued', 'retry')
		RETURNING status`)
	st.sent = prep(`UPDATE deliveries SET status = 'sent', attempts = attempts + 1, last_code = 250,
			last_reply = '250 accepted', sent_at = ?, updated_at = ?, next_attempt_at = NULL
		WHERE edition_id = ? AND subscriber_id = ?`)
	if err != nil {
		st.close()
		return nil, fmt.Errorf("prepare ledger statements: %w", err)
	}
	return &st, nil
}

func (st *statements) close() {
	for _, s := range []*sql.Stmt{st.status, st.claim, st.sent} {
		if s != nil {
			s.Close()
		}
	}
}

// commitLoop records outcomes and claims jobs, grouping the requests of
// all connections that are waiting into one short write transaction. No
// transaction is ever open during an SMTP exchange.
func (r *run) commitLoop(ctx context.Context) {
	ctx = context.WithoutCancel(ctx) // outcomes are recorded even on shutdown
	batch := make([]*request, 0, 64)
	for first := range r.reqs {
		batch = append(batch[:0], first)
	drain:
		for len(batch) < cap(batch) {
			select {
			case q, ok := <-r.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, q)
			default:
				break drain
			}
		}
		r.commit(ctx, batch)
	}
}

// tally is what one transaction changed, applied to the counters after it
// commits.
type tally struct {
	sent, failed, retried, skipped, claimed int
	latencies                               []time.Duration
}

func (r *run) commit(ctx context.Context, batch []*request) {
	replies := make([]reply, len(batch))
	var t tally
	err := r.s.db.Tx(ctx, func(tx *sql.Tx) error {
		t = tally{}
		var status digest.EditionStatus
		if err := tx.StmtContext(ctx, r.stmts.status).QueryRowContext(ctx, r.e.ID).Scan(&status); err != nil {
			return fmt.Errorf("edition status: %w", err)
		}
		for _, q := range batch {
			for _, o := range q.done {
				if err := r.record(ctx, tx, o, &t); err != nil {
					return err
				}
			}
		}
		if r.tripped != "" {
			status = digest.EditionPaused
		}
		now := sqlite.Time(r.s.db.Now())
		for i, q := range batch {
			if q.claim == nil {
				continue
			}
			if status != digest.EditionSending {
				replies[i].stop = true
				r.halt()
				continue
			}
			var got Status
			err := tx.StmtContext(ctx, r.stmts.claim).QueryRowContext(ctx, r.e.ID, q.claim.subscriberID, q.msgID, now).Scan(&got)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				// Settled meanwhile: nothing to do.
			case err != nil:
				return fmt.Errorf("claim delivery %d: %w", q.claim.subscriberID, err)
			case got == StatusSending:
				replies[i].claimed = true
				t.claimed++
			default:
				t.skipped++
			}
		}
		return nil
	})
	if err != nil {
		r.setErr(fmt.Errorf("ledger: %w", err))
		for i := range replies {
			replies[i] = reply{err: err}
		}
	} else {
		r.apply(t)
	}
	if r.tripped != "" {
		r.halt()
	}
	for i, q := range batch {
		q.reply <- replies[i]
	}
}

// record writes one outcome into the ledger.
func (r *run) record(ctx context.Context, tx *sql.Tx, o *outcome, t *tally) error {
	cfg := &r.s.cfg
	nowT := r.s.db.Now()
	now := sqlite.Time(nowT)
	id := o.subscriberID
	if o.unsent {
		_, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'queued', updated_at = ?
			WHERE edition_id = ? AND subscriber_id = ? AND status = 'sending'`, now, r.e.ID, id)
		return err
	}
	t.latencies = append(t.latencies, o.latency)
	if o.err != nil && r.tripped != "" {
		// The breaker has tripped: what was still in flight then goes back
		// to the queue with the rest.
		_, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'queued', updated_at = ?
			WHERE edition_id = ? AND subscriber_id = ? AND status = 'sending'`, now, r.e.ID, id)
		return err
	}
	if o.err == nil {
		if _, err := tx.StmtContext(ctx, r.stmts.sent).ExecContext(ctx, now, now, r.e.ID, id); err != nil {
			return fmt.Errorf("record delivery %d: %w", id, err)
		}
		t.sent++
		r.delivered = true
		// The relay works: the failures before this one were real.
		return r.settleStreak(ctx, tx)
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
				last_reply = ?, updated_at = ?, next_attempt_at = NULL
			WHERE edition_id = ? AND subscriber_id = ?`, code, reply, now, r.e.ID, id); err != nil {
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
				last_reply = ?, next_attempt_at = ?, updated_at = ?
			WHERE edition_id = ? AND subscriber_id = ?`, code, reply, sqlite.Time(nowT.Add(delay)), now, r.e.ID, id); err != nil {
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
	r.claims.Add(int64(t.claimed))
	m := r.s.cfg.Metrics
	m.observe(t)
	m.setQueue(int(p.pending()))
}

// backoff is exponential with jitter in [d/2, d], at most 6 hours.
func backoff(base time.Duration, attempts int) time.Duration {
	d := min(base<<min(attempts-1, 16), 6*time.Hour)
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}
