package digest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"bothsides/mailer"
	"bothsides/sqlite"
	"bothsides/subscribers"
)

// Mailer delivers one message. *mailer.SMTP and *mailer.Outbox are Mailers.
type Mailer interface {
	Send(ctx context.Context, m *mailer.Message) error
}

// SenderConfig configures a Sender. Zero values take the defaults noted.
type SenderConfig struct {
	From              string // required
	ReplyTo           string
	BaseURL           string // required: links point here
	UnsubscribeMailto string // optional mailto: for List-Unsubscribe
	MaxAttempts       int    // per message before it fails; default 5
	RetryBase         time.Duration
	RetryMaxAge       time.Duration // give up retrying after this; default 12h
	BatchSize         int           // ledger rows claimed per query; default 200
	Logger            *slog.Logger
}

// Sender mails editions to subscribers through the delivery ledger.
type Sender struct {
	cfg      SenderConfig
	db       *sqlite.DB
	render   *Renderer
	signer   *subscribers.Signer
	mailer   Mailer
	Progress func(Stats) // called after each message when set
	// Sleep waits between retry rounds; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// NewSender returns a sender.
func NewSender(cfg SenderConfig, db *sqlite.DB, r *Renderer, signer *subscribers.Signer, m Mailer) *Sender {
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 30 * time.Second
	}
	if cfg.RetryMaxAge <= 0 {
		cfg.RetryMaxAge = 12 * time.Hour
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 200
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &Sender{cfg: cfg, db: db, render: r, signer: signer, mailer: m, Sleep: sleepCtx}
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

// Stats counts an edition's ledger.
type Stats struct {
	Total, Queued, Sending, Sent, Retry, Failed, Skipped int
}

// Pending is the number of deliveries not yet settled.
func (s Stats) Pending() int { return s.Queued + s.Sending + s.Retry }

// LedgerStats returns the counts of an edition's deliveries.
func LedgerStats(ctx context.Context, db *sql.DB, editionID int64) (Stats, error) {
	rows, err := db.QueryContext(ctx, `SELECT status, COUNT(*) FROM deliveries WHERE edition_id = ? GROUP BY status`, editionID)
	if err != nil {
		return Stats{}, fmt.Errorf("ledger stats: %w", err)
	}
	defer rows.Close()
	var s Stats
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return Stats{}, err
		}
		switch st {
		case "queued":
			s.Queued = n
		case "sending":
			s.Sending = n
		case "sent":
			s.Sent = n
		case "retry":
			s.Retry = n
		case "failed":
			s.Failed = n
		case "skipped":
			s.Skipped = n
		}
		s.Total += n
	}
	return s, rows.Err()
}

// Start marks an edition as sending and, the first time, freezes its
// audience: one queued ledger row per active subscriber. It returns how many
// rows it created.
func (s *Sender) Start(ctx context.Context, e *Edition) (int64, error) {
	now := sqlite.Time(s.db.Now())
	var created int64
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var status string
		if err := tx.QueryRowContext(ctx, `SELECT status FROM editions WHERE id = ?`, e.ID).Scan(&status); err != nil {
			return fmt.Errorf("edition %d: %w", e.ID, err)
		}
		if status == "cancelled" {
			return fmt.Errorf("edition %s was cancelled", e.Date)
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
		_, err = tx.ExecContext(ctx, `UPDATE editions SET status = 'sending', started_at = ? WHERE id = ?`, now, e.ID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("start edition %s: %w", e.Date, err)
	}
	e.Status = "sending"
	return created, nil
}

// job is one claimed ledger row.
type job struct {
	subscriberID int64
	email, name  string
	status       string
	attempts     int
	createdAt    string
}

// Send mails e to every subscriber in its ledger that has not been mailed
// yet, retrying temporary failures, and returns the final counts. It can be
// called again after a crash or an interruption: what was sent is not sent
// again.
func (s *Sender) Send(ctx context.Context, e *Edition) (Stats, error) {
	if _, err := s.Start(ctx, e); err != nil {
		return Stats{}, err
	}
	rendered, err := s.render.Render(e)
	if err != nil {
		return Stats{}, err
	}
	// Rows left "sending" by a crash were in flight: send them again.
	if _, err := s.db.W.ExecContext(ctx, `UPDATE deliveries SET status = 'queued' WHERE edition_id = ? AND status = 'sending'`, e.ID); err != nil {
		return Stats{}, fmt.Errorf("requeue in-flight deliveries: %w", err)
	}
	log := s.cfg.Logger.With("edition", e.Date, "schedule", e.Schedule)
	for {
		n, err := s.round(ctx, e, rendered)
		if err != nil {
			return Stats{}, err
		}
		stats, err := LedgerStats(ctx, s.db.R, e.ID)
		if err != nil {
			return stats, err
		}
		if stats.Pending() == 0 {
			_, err := s.db.W.ExecContext(ctx, `UPDATE editions SET status = 'sent', finished_at = ? WHERE id = ? AND status = 'sending'`,
				sqlite.Time(s.db.Now()), e.ID)
			if err != nil {
				return stats, fmt.Errorf("finish edition: %w", err)
			}
			log.Info("edition sent", "sent", stats.Sent, "failed", stats.Failed, "skipped", stats.Skipped)
			return stats, nil
		}
		if n > 0 {
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
		log.Info("waiting to retry", "retries", stats.Retry, "wait", wait.String())
		if err := s.Sleep(ctx, wait); err != nil {
			return stats, err
		}
	}
}

// round sends every due delivery once and returns how many it attempted.
func (s *Sender) round(ctx context.Context, e *Edition, r *Rendered) (int, error) {
	var after int64
	attempted := 0
	for {
		now := sqlite.Time(s.db.Now())
		rows, err := s.db.R.QueryContext(ctx, `SELECT d.subscriber_id, s.email, s.name, s.status, d.attempts, d.created_at
			FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
			WHERE d.edition_id = ? AND d.subscriber_id > ?
			  AND (d.status = 'queued' OR (d.status = 'retry' AND d.next_attempt_at <= ?))
			ORDER BY d.subscriber_id LIMIT ?`, e.ID, after, now, s.cfg.BatchSize)
		if err != nil {
			return attempted, fmt.Errorf("next deliveries: %w", err)
		}
		var jobs []job
		for rows.Next() {
			var j job
			if err := rows.Scan(&j.subscriberID, &j.email, &j.name, &j.status, &j.attempts, &j.createdAt); err != nil {
				rows.Close()
				return attempted, fmt.Errorf("next deliveries: %w", err)
			}
			jobs = append(jobs, j)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return attempted, fmt.Errorf("next deliveries: %w", err)
		}
		if len(jobs) == 0 {
			return attempted, nil
		}
		for _, j := range jobs {
			after = j.subscriberID
			if err := ctx.Err(); err != nil {
				return attempted, err
			}
			attempted++
			if err := s.deliver(ctx, e, r, j); err != nil {
				return attempted, err
			}
		}
	}
}

// deliver claims, sends and records one delivery. Only ledger errors are
// returned; a failed send is recorded in the ledger.
func (s *Sender) deliver(ctx context.Context, e *Edition, r *Rendered, j job) error {
	// Claim the row, and re-check the subscriber's status at this moment: an
	// unsubscribe during the send must stop this message.
	var status string
	var claimed int64
	now := sqlite.Time(s.db.Now())
	msgID := fmt.Sprintf("e%d.s%d.a%d.%s", e.ID, j.subscriberID, j.attempts+1, mailer.NewMessageID(s.cfg.From))
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT status FROM subscribers WHERE id = ?`, j.subscriberID).Scan(&status); err != nil {
			return err
		}
		if status != string(subscribers.StatusActive) {
			_, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'skipped', last_reply = ?, updated_at = ?
				WHERE edition_id = ? AND subscriber_id = ? AND status IN ('queued', 'retry')`,
				"subscriber is "+status, now, e.ID, j.subscriberID)
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'sending', attempts = attempts + 1, message_id = ?, updated_at = ?
			WHERE edition_id = ? AND subscriber_id = ? AND status IN ('queued', 'retry')`,
			msgID, now, e.ID, j.subscriberID)
		if err != nil {
			return err
		}
		claimed, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("claim delivery %d: %w", j.subscriberID, err)
	}
	if claimed == 0 {
		return nil
	}
	m := s.message(e, r, j, msgID)
	sendErr := s.mailer.Send(ctx, m)
	return s.record(ctx, e, j, sendErr)
}

// message builds the personalised message for one subscriber.
func (s *Sender) message(e *Edition, r *Rendered, j job, msgID string) *mailer.Message {
	unsub := s.cfg.BaseURL + "/unsubscribe/" + s.signer.Token(subscribers.PurposeUnsubscribe, j.subscriberID, time.Time{})
	prefs := s.cfg.BaseURL + "/preferences/" + s.signer.Token(subscribers.PurposePreferences, j.subscriberID, time.Time{})
	htmlPart, textPart := r.Personalize(Personal{Name: j.name, Email: j.email, UnsubscribeURL: unsub, PreferencesURL: prefs})
	host := mailer.HostOf(s.cfg.BaseURL)
	return &mailer.Message{
		From:              s.cfg.From,
		ReplyTo:           s.cfg.ReplyTo,
		To:                j.email,
		ToName:            j.name,
		Subject:           r.Subject,
		MessageID:         msgID,
		Date:              s.db.Now(),
		Unsubscribe:       unsub,
		UnsubscribeMailto: s.cfg.UnsubscribeMailto,
		Headers: []mailer.Header{
			{Name: "List-Id", Value: fmt.Sprintf("Both Sides daily digest <%s.%s>", e.Schedule, host)},
			{Name: "Feedback-ID", Value: fmt.Sprintf("%s:%s:digest:bothsides", e.Date, e.Schedule)},
			{Name: "Precedence", Value: "bulk"},
		},
		HTML: htmlPart,
		Text: textPart,
	}
}

// record writes the outcome of one send into the ledger.
func (s *Sender) record(ctx context.Context, e *Edition, j job, sendErr error) error {
	nowT := s.db.Now()
	now := sqlite.Time(nowT)
	// The outcome must be recorded even if ctx was cancelled mid-send.
	ctx = context.WithoutCancel(ctx)
	if sendErr == nil {
		_, err := s.db.W.ExecContext(ctx, `UPDATE deliveries SET status = 'sent', last_reply = '250 OK', sent_at = ?, updated_at = ?
			WHERE edition_id = ? AND subscriber_id = ?`, now, now, e.ID, j.subscriberID)
		if err != nil {
			return fmt.Errorf("record delivery %d: %w", j.subscriberID, err)
		}
		return nil
	}
	reply := sendErr.Error()
	if len(reply) > 500 {
		reply = reply[:500]
	}
	attempts := j.attempts + 1
	created, _ := sqlite.ParseTime(j.createdAt)
	permanent := mailer.IsPermanent(sendErr)
	tooOld := !created.IsZero() && nowT.Sub(created) > s.cfg.RetryMaxAge
	if permanent || attempts >= s.cfg.MaxAttempts || tooOld {
		err := s.db.Tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'failed', last_reply = ?, updated_at = ?
				WHERE edition_id = ? AND subscriber_id = ?`, reply, now, e.ID, j.subscriberID); err != nil {
				return err
			}
			if permanent {
				_, err := tx.ExecContext(ctx, `UPDATE subscribers SET bounces = bounces + 1, updated_at = ? WHERE id = ?`, now, j.subscriberID)
				return err
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("record failure %d: %w", j.subscriberID, err)
		}
		s.cfg.Logger.Warn("delivery failed", "edition", e.Date, "subscriber", j.subscriberID, "attempts", attempts, "permanent", permanent, "reply", reply)
		return nil
	}
	next := nowT.Add(backoff(s.cfg.RetryBase, attempts))
	_, err := s.db.W.ExecContext(ctx, `UPDATE deliveries SET status = 'retry', last_reply = ?, next_attempt_at = ?, updated_at = ?
		WHERE edition_id = ? AND subscriber_id = ?`, reply, sqlite.Time(next), now, e.ID, j.subscriberID)
	if err != nil {
		return fmt.Errorf("record retry %d: %w", j.subscriberID, err)
	}
	s.cfg.Logger.Info("delivery will be retried", "edition", e.Date, "subscriber", j.subscriberID, "attempts", attempts, "reply", reply)
	return nil
}

// backoff is exponential with full jitter in [d/2, d].
func backoff(base time.Duration, attempts int) time.Duration {
	d := base << min(attempts-1, 10)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// ErrPaused is returned when an edition was paused or cancelled mid-send.
var ErrPaused = errors.New("edition paused")

// Failure is one failed delivery.
type Failure struct {
	Email     string
	Attempts  int
	LastReply string
}

// Failures lists an edition's failed deliveries.
func Failures(ctx context.Context, db *sql.DB, editionID int64, limit int) ([]Failure, error) {
	rows, err := db.QueryContext(ctx, `SELECT s.email, d.attempts, d.last_reply
		FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
		WHERE d.edition_id = ? AND d.status = 'failed' ORDER BY d.subscriber_id LIMIT ?`, editionID, limit)
	if err != nil {
		return nil, fmt.Errorf("list failures: %w", err)
	}
	defer rows.Close()
	var out []Failure
	for rows.Next() {
		var f Failure
		if err := rows.Scan(&f.Email, &f.Attempts, &f.LastReply); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}
