package digest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"bothsides/mailer"
	"bothsides/sqlite"
	"bothsides/subscribers"
)

// Mailer delivers one message built from a mailer.Message: single mails
// such as confirmations. *mailer.SMTP and *mailer.Outbox are Mailers.
type Mailer interface {
	Send(ctx context.Context, m *mailer.Message) error
}

// Conn is one connection that sends ready-made messages: *mailer.SMTP (one
// SMTP conversation) or *mailer.Outbox. A send opens Connections of them.
type Conn interface {
	SendRaw(ctx context.Context, from, to string, m mailer.Raw) error
	Close() error
}

// SenderConfig configures a Sender. Zero values take the defaults noted.
type SenderConfig struct {
	From              string // required
	ReplyTo           string
	BaseURL           string // required: links point here
	UnsubscribeMailto string // optional mailto: URI for List-Unsubscribe
	// Connections is how many connections send at once; default 4.
	Connections int
	// Rate caps messages per second over all connections; 0 is unlimited.
	Rate float64
	// MaxAttempts bounds the tries of one message; default 5.
	MaxAttempts int
	// RetryBase is the first retry's delay, doubled each time with jitter;
	// default 1m.
	RetryBase time.Duration
	// RetryMaxAge stops retrying a message queued longer ago; default 12h.
	RetryMaxAge time.Duration
	// BounceLimit is how many hard bounces suppress a subscriber (status
	// bounced); default 3.
	BounceLimit int
	// PauseAfter is how many failures in a row, with no success between,
	// pause the edition: a relay that refuses everything must not burn
	// through the list. Default 50.
	PauseAfter int
	// BatchSize is how many ledger rows are read per page; default 500.
	BatchSize int
	Logger    *slog.Logger
	// Metrics, when set, counts what the sender does.
	Metrics *Metrics
}

// Sender mails editions to subscribers through the delivery ledger.
type Sender struct {
	cfg    SenderConfig
	db     *sqlite.DB
	render *Renderer
	signer *subscribers.Signer
	dial   func() Conn
	// Sleep waits between retry rounds; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error

	progress progress
}

// NewSender returns a sender; dial opens one connection of the pool.
func NewSender(cfg SenderConfig, db *sqlite.DB, r *Renderer, signer *subscribers.Signer, dial func() Conn) *Sender {
	if cfg.Connections <= 0 {
		cfg.Connections = 4
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = time.Minute
	}
	if cfg.RetryMaxAge <= 0 {
		cfg.RetryMaxAge = 12 * time.Hour
	}
	if cfg.BounceLimit <= 0 {
		cfg.BounceLimit = 3
	}
	if cfg.PauseAfter <= 0 {
		cfg.PauseAfter = 50
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 500
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &Sender{cfg: cfg, db: db, render: r, signer: signer, dial: dial, Sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Start marks an edition as sending and, the first time, freezes its
// audience: one queued ledger row per active subscriber. It returns how many
// rows it created. A paused or cancelled edition is not started.
func (s *Sender) Start(ctx context.Context, e *Edition) (int64, error) {
	now := sqlite.Time(s.db.Now())
	var created int64
	var status, reason string
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT status, pause_reason FROM editions WHERE id = ?`, e.ID).Scan(&status, &reason); err != nil {
			return fmt.Errorf("edition %d: %w", e.ID, err)
		}
		if status != "assembled" {
			return nil
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO deliveries (edition_id, subscriber_id, status, created_at, updated_at)
			SELECT ?, id, 'queued', ?, ? FROM subscribers WHERE `+subscribers.Mailable+`
			ON CONFLICT DO NOTHING`, e.ID, now, now, now)
		if err != nil {
			return fmt.Errorf("queue deliveries: %w", err)
		}
		created, _ = res.RowsAffected()
		status = "sending"
		_, err = tx.ExecContext(ctx, `UPDATE editions SET status = 'sending', started_at = ? WHERE id = ?`, now, e.ID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("start edition %s: %w", e.Date, err)
	}
	e.Status = status
	switch status {
	case "cancelled":
		return 0, fmt.Errorf("%s %s: %w", e.Schedule, e.Date, ErrCancelled)
	case "paused":
		if reason != "" {
			return 0, fmt.Errorf("%s %s (%s): %w; resume it to send the rest", e.Schedule, e.Date, reason, ErrPaused)
		}
		return 0, fmt.Errorf("%s %s: %w; resume it to send the rest", e.Schedule, e.Date, ErrPaused)
	}
	return created, nil
}

// Send mails e to every subscriber in its ledger that has not been mailed
// yet, over Connections connections, retrying temporary failures, and
// returns the final counts. It holds the edition's lease meanwhile: a second
// Send of the same edition, here or in another process, gets ErrLeased.
// It stops when ctx ends or when the edition is paused or cancelled
// (ErrPaused), withdrawing the messages in progress before their final dot
// and recording every outcome known; calling it again resumes from the
// ledger, and so does a start after a crash: nobody is skipped, and only the
// messages the relay took just before a crash, at most one per connection,
// can be mailed twice.
func (s *Sender) Send(ctx context.Context, e *Edition) (Stats, error) {
	lease, err := AcquireLease(s.db.Path, e.ID)
	if err != nil {
		return Stats{}, fmt.Errorf("send %s %s: %w", e.Schedule, e.Date, err)
	}
	finished := false
	defer func() { lease.Release(finished) }()
	if _, err := s.Start(ctx, e); err != nil {
		return Stats{}, err
	}
	if e.Status == "sent" {
		finished = true
		return LedgerStats(ctx, s.db.R, e.ID)
	}
	host, _ := os.Hostname()
	// Rows left "sending" by a crash were in flight: send them again. We
	// hold the lease, so nobody else is sending them.
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'queued' WHERE edition_id = ? AND status = 'sending'`, e.ID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE editions SET sender = ? WHERE id = ?`, fmt.Sprintf("%s pid %d", host, os.Getpid()), e.ID)
		return err
	})
	if err != nil {
		return Stats{}, fmt.Errorf("requeue in-flight deliveries: %w", err)
	}
	defer s.db.W.ExecContext(context.WithoutCancel(ctx), `UPDATE editions SET sender = '' WHERE id = ?`, e.ID)

	rendered, err := s.render.Render(e)
	if err != nil {
		return Stats{}, err
	}
	mail, err := s.newEditionMail(e, rendered)
	if err != nil {
		return Stats{}, err
	}
	stats, err := LedgerStats(ctx, s.db.R, e.ID)
	if err != nil {
		return stats, err
	}
	s.progress.reset(stats, time.Now())
	s.cfg.Metrics.setQueue(stats.Pending())
	log := s.cfg.Logger.With("edition", e.Date, "schedule", e.Schedule)
	log.Info("sending edition", "subscribers", stats.Total, "pending", stats.Pending(), "connections", s.cfg.Connections, "rate", s.cfg.Rate)

	stmts, err := prepareStatements(ctx, s.db.W)
	if err != nil {
		return stats, err
	}
	defer stmts.close()
	r := &run{s: s, e: e, mail: mail, log: log, variants: newVariants(mail, e), stmts: stmts, pending: stats.Pending()}
	if s.cfg.Rate > 0 {
		r.limiter = rate.NewLimiter(rate.Limit(s.cfg.Rate), 1)
	} else {
		r.limiter = rate.NewLimiter(rate.Inf, 1)
	}
	idle := 0
	for {
		attempted, err := r.pass(ctx)
		if err != nil {
			return stats, err
		}
		if stats, err = LedgerStats(context.WithoutCancel(ctx), s.db.R, e.ID); err != nil {
			return stats, err
		}
		if err := r.stopped(ctx); err != nil {
			return stats, err
		}
		if err := ctx.Err(); err != nil {
			return stats, err
		}
		if stats.Pending() == 0 {
			if _, err := s.db.W.ExecContext(ctx, `UPDATE editions SET status = 'sent', finished_at = ? WHERE id = ? AND status = 'sending'`,
				sqlite.Time(s.db.Now()), e.ID); err != nil {
				return stats, fmt.Errorf("finish edition: %w", err)
			}
			finished = true
			e.Status = "sent"
			log.Info("edition sent", "sent", stats.Sent, "failed", stats.Failed, "skipped", stats.Skipped)
			return stats, nil
		}
		if attempted > 0 {
			idle = 0
			continue
		}
		if stats.Queued+stats.Sending > 0 {
			// Rows no pass could claim: should not happen; do not spin.
			if idle++; idle > 3 {
				return stats, fmt.Errorf("send %s: %d deliveries queued but none could be claimed", e.Date, stats.Queued+stats.Sending)
			}
			continue
		}
		// Only retries remain, none due yet: wait for the first.
		var next sql.NullString
		if err := s.db.R.QueryRowContext(ctx, `SELECT MIN(next_attempt_at) FROM deliveries
			WHERE edition_id = ? AND status = 'retry'`, e.ID).Scan(&next); err != nil {
			return stats, fmt.Errorf("next retry: %w", err)
		}
		wait := time.Second
		if t, err := sqlite.ParseNullTime(next); err == nil && !t.IsZero() {
			wait = max(t.Sub(s.db.Now()), 10*time.Millisecond)
		}
		log.Info("waiting to retry", "retries", stats.Retry, "wait", wait.Round(time.Second).String())
		if err := s.Sleep(ctx, wait); err != nil {
			return stats, err
		}
	}
}

// job is one ledger row to send.
type job struct {
	subscriberID int64
	email, name  string
	topics       string // the subscriber's favoured topics, as stored (JSON)
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

// mailableAt4 is subscribers.Mailable with the time as parameter ?4.
var mailableAt4 = strings.Replace(subscribers.Mailable, "?", "?4", 1)

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

// run is one Send: the state that outlives a pass.
type run struct {
	stmts   *statements
	s       *Sender
	e       *Edition
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
	var status, reason string
	err := r.s.db.R.QueryRowContext(context.WithoutCancel(ctx), `SELECT status, pause_reason FROM editions WHERE id = ?`, r.e.ID).Scan(&status, &reason)
	if err != nil {
		return fmt.Errorf("edition status: %w", err)
	}
	r.e.Status = status
	switch status {
	case "cancelled":
		r.log.Warn("edition cancelled; send stopped")
		return fmt.Errorf("%s %s: %w", r.e.Schedule, r.e.Date, ErrCancelled)
	case "paused":
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
	rows, err := r.s.db.R.QueryContext(ctx, `SELECT d.subscriber_id, s.email, s.name, s.topics, d.attempts, d.created_at
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
		if err := rows.Scan(&j.subscriberID, &j.email, &j.name, &j.topics, &j.attempts, &created); err != nil {
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
	em, err := r.mailFor(j.topics)
	if err == nil {
		m, err = em.build((*buf)[:0], r.s, *j, msgID)
		*buf = m.Data
	}
	if err != nil {
		return &outcome{job: *j, err: &mailer.Error{Stage: "build", Permanent: true, Err: err}}
	}
	m.Confirm = confirm
	start := time.Now()
	err = conn.SendRaw(ctx, r.mail.from, j.email, m)
	if err != nil && (errors.Is(err, errStopped) || ctx.Err() != nil && errors.Is(err, ctx.Err())) {
		// Aborted before the relay took it: back to the queue.
		return &outcome{job: *j, unsent: true}
	}
	return &outcome{job: *j, err: err, latency: time.Since(start)}
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
		var status string
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
			status = "paused"
		}
		now := sqlite.Time(r.s.db.Now())
		for i, q := range batch {
			if q.claim == nil {
				continue
			}
			if status != "sending" {
				replies[i].stop = true
				r.halt()
				continue
			}
			var got string
			err := tx.StmtContext(ctx, r.stmts.claim).QueryRowContext(ctx, r.e.ID, q.claim.subscriberID, q.msgID, now).Scan(&got)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				// Settled meanwhile: nothing to do.
			case err != nil:
				return fmt.Errorf("claim delivery %d: %w", q.claim.subscriberID, err)
			case got == "sending":
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
	reply := o.err.Error()
	if len(reply) > 500 {
		reply = reply[:500]
	}
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
		r.log.Warn("delivery failed", "subscriber", id, "attempts", attempts, "code", code, "permanent", permanent, "reply", reply)
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
		r.log.Info("delivery will be retried", "subscriber", id, "attempts", attempts, "code", code, "in", delay.Round(time.Second).String(), "reply", reply)
	}
	r.streak = append(r.streak, streakEntry{subscriberID: id, bounce: bounce})
	// Pause after PauseAfter failures in a row; and, on a short list, once
	// every message has failed without a single success (at least 3): a
	// wrong relay URL must not keep `send` retrying for hours.
	if len(r.streak) >= cfg.PauseAfter || !r.delivered && len(r.streak) >= max(r.pending, 3) {
		return r.trip(ctx, tx, reply)
	}
	return nil
}

// settleStreak counts the bounces of the failures in the streak and
// suppresses subscribers who reached the limit.
func (r *run) settleStreak(ctx context.Context, tx *sql.Tx) error {
	now := sqlite.Time(r.s.db.Now())
	for _, f := range r.streak {
		if !f.bounce {
			continue
		}
		var status string
		var bounces int
		err := tx.QueryRowContext(ctx, `UPDATE subscribers SET bounces = bounces + 1, updated_at = ?,
				status = CASE WHEN status = 'active' AND bounces + 1 >= ? THEN 'bounced' ELSE status END
			WHERE id = ? RETURNING status, bounces`, now, r.s.cfg.BounceLimit, f.subscriberID).Scan(&status, &bounces)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("count bounce %d: %w", f.subscriberID, err)
		}
		if status == "bounced" && bounces == r.s.cfg.BounceLimit {
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
	_, err := tx.ExecContext(ctx, `UPDATE editions SET status = 'paused', pause_reason = ? WHERE id = ? AND status = 'sending'`, r.tripped, r.e.ID)
	return err
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

// editionMail is an edition encoded once as MIME, in two variants (with
// and without the reader's name in the greeting), ready to be filled in
// per subscriber.
type editionMail struct {
	named, anon *mailer.Template
	from        string
	domain      string
}

// markerValues are the personal parts, in the order of the markers.
const numMarkers = 4

func (s *Sender) newEditionMail(e *Edition, r *Rendered) (*editionMail, error) {
	b := make([]byte, 8)
	rand.Read(b)
	nonce := hex.EncodeToString(b)
	var markers [numMarkers]string
	for i := range markers {
		markers[i] = fmt.Sprintf("bsmark%dy%s", i, nonce)
	}
	host := mailer.HostOf(s.cfg.BaseURL)
	base := mailer.TemplateConfig{
		From:              s.cfg.From,
		ReplyTo:           s.cfg.ReplyTo,
		Subject:           r.Subject,
		ListID:            fmt.Sprintf("Both Sides daily digest <%s.%s>", e.Schedule, host),
		FeedbackID:        fmt.Sprintf("%s:%s:digest:bothsides", e.Date, e.Schedule),
		UnsubscribeMailto: s.cfg.UnsubscribeMailto,
		Headers:           []mailer.Header{{Name: "Precedence", Value: "bulk"}},
		Markers:           markers[:],
	}
	m := &editionMail{}
	for i, name := range []string{markers[0], ""} {
		html, text := r.Personalize(Personal{Name: name, Email: markers[1], UnsubscribeURL: markers[2], PreferencesURL: markers[3]})
		cfg := base
		cfg.HTML, cfg.Text = html, text
		t, err := mailer.NewTemplate(cfg)
		if err != nil {
			return nil, fmt.Errorf("encode edition %s: %w", e.Date, err)
		}
		if i == 0 {
			m.named = t
		} else {
			m.anon = t
		}
	}
	m.from = m.named.Sender()
	m.domain = mailer.Domain(m.from)
	return m, nil
}

func (m *editionMail) size() int { return m.named.Size() + 1024 }

// messageID is unique per attempt and names the edition, subscriber and
// attempt, on the sender's domain.
func (m *editionMail) messageID(e *Edition, subscriberID int64, attempt int) string {
	b := make([]byte, 6)
	rand.Read(b)
	return fmt.Sprintf("e%d.s%d.a%d.%s@%s", e.ID, subscriberID, attempt, hex.EncodeToString(b), m.domain)
}

// build appends one subscriber's message to dst.
func (m *editionMail) build(dst []byte, s *Sender, j job, msgID string) (mailer.Raw, error) {
	unsub := s.cfg.BaseURL + "/unsubscribe/" + s.signer.Token(subscribers.PurposeUnsubscribe, j.subscriberID, time.Time{})
	prefs := s.cfg.BaseURL + "/preferences/" + s.signer.Token(subscribers.PurposePreferences, j.subscriberID, time.Time{})
	t := m.anon
	if j.name != "" {
		t = m.named
	}
	return t.Append(dst, &mailer.Recipient{
		To:          j.email,
		Name:        j.name,
		MessageID:   msgID,
		Date:        s.db.Now(),
		Unsubscribe: unsub,
		Values:      []string{j.name, j.email, unsub, prefs},
	})
}
