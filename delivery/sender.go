// Package delivery sends editions: the lease on an edition, the frozen
// audience and its ledger (one row per edition and subscriber), the pipeline
// of connections with one committer, retries, the breaker that pauses a
// refused send, bounce counting, metrics and progress, and the edition's MIME
// message built once per send.
package delivery

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"bothsides/digest"
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

// Config configures a Sender. Zero values take the defaults noted.
type Config struct {
	From              string // required
	ReplyTo           string
	BaseURL           string // required: links point here
	UnsubscribeMailto string // optional mailto: URI for List-Unsubscribe
	// BounceAddress, when set, is the envelope sender of every edition
	// message with the delivery's token added to its local part (VERP,
	// bounces+TOKEN@bounce.example.com), and each message carries the token
	// in DeliveryHeader too. A bare address whose local part has no "+";
	// empty: the From address, as before.
	BounceAddress string
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
	cfg    Config
	db     *sqlite.DB
	subs   *subscribers.Store // bounces are counted through it
	render *digest.Renderer
	signer *subscribers.Signer
	dial   func() Conn
	// Sleep waits between retry rounds; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error

	progress progress
}

// NewSender returns a sender; dial opens one connection of the pool.
func NewSender(cfg Config, db *sqlite.DB, r *digest.Renderer, signer *subscribers.Signer, dial func() Conn) *Sender {
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
	return &Sender{cfg: cfg, db: db, subs: subscribers.NewStore(db), render: r, signer: signer, dial: dial, Sleep: sleepCtx}
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
func (s *Sender) Start(ctx context.Context, e *digest.Edition) (int64, error) {
	at := s.db.Now()
	now := sqlite.Time(at)
	var created int64
	var status digest.EditionStatus
	var reason string
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT status, pause_reason FROM editions WHERE id = ?`, e.ID).Scan(&status, &reason); err != nil {
			return fmt.Errorf("edition %d: %w", e.ID, err)
		}
		if status != digest.EditionAssembled {
			return nil
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO deliveries (edition_id, subscriber_id, status, created_at, updated_at)
			SELECT ?, id, 'queued', ?, ? FROM subscribers WHERE `+subscribers.Mailable+`
			ON CONFLICT DO NOTHING`, e.ID, now, now, now)
		if err != nil {
			return fmt.Errorf("queue deliveries: %w", err)
		}
		created, _ = res.RowsAffected()
		status = digest.EditionSending
		return digest.MarkSending(ctx, tx, e.ID, at)
	})
	if err != nil {
		return 0, fmt.Errorf("start edition %s: %w", e.Date, err)
	}
	e.Status = status
	switch status {
	case digest.EditionCancelled:
		return 0, fmt.Errorf("%s %s: %w", e.Schedule, e.Date, ErrCancelled)
	case digest.EditionPaused:
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
func (s *Sender) Send(ctx context.Context, e *digest.Edition) (Stats, error) {
	lease, err := AcquireLease(s.db.Path, e.ID)
	if err != nil {
		return Stats{}, fmt.Errorf("send %s %s: %w", e.Schedule, e.Date, err)
	}
	finished := false
	defer func() { lease.Release(finished) }()
	// Messages an interrupted send had the relay accept and had not yet
	// recorded go into the ledger first, whatever the edition's state now.
	if n, err := s.replayJournal(ctx, e.ID); err != nil {
		return Stats{}, fmt.Errorf("send %s %s: %w", e.Schedule, e.Date, err)
	} else if n > 0 {
		s.cfg.Logger.Info("recorded messages an interrupted send had delivered", "edition", e.Date, "schedule", e.Schedule, "messages", n)
	}
	if _, err := s.Start(ctx, e); err != nil {
		return Stats{}, err
	}
	if e.Status == digest.EditionSent {
		finished = true
		return LedgerStats(ctx, s.db.R, e.ID)
	}
	host, _ := os.Hostname()
	// Rows left "sending" by a crash of a version before the journal were
	// in flight: send them again. We hold the lease, so nobody else is
	// sending them.
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'queued' WHERE edition_id = ? AND status = 'sending'`, e.ID); err != nil {
			return err
		}
		return digest.SetSender(ctx, tx, e.ID, fmt.Sprintf("%s pid %d", host, os.Getpid()))
	})
	if err != nil {
		return Stats{}, fmt.Errorf("requeue in-flight deliveries: %w", err)
	}
	defer digest.SetSender(context.WithoutCancel(ctx), s.db.W, e.ID, "")

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

	stmts, err := prepareStatements(ctx, s.db)
	if err != nil {
		return stats, err
	}
	defer stmts.close()
	r := &run{s: s, e: e, mail: mail, log: log, variants: newVariants(mail, e), stmts: stmts, pending: stats.Pending()}
	defer func() {
		for _, j := range r.journals {
			j.close()
		}
	}()
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
			if err := digest.MarkSent(ctx, s.db.W, e.ID, s.db.Now()); err != nil {
				return stats, fmt.Errorf("finish edition: %w", err)
			}
			finished = true
			e.Status = digest.EditionSent
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
