package bounce

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"bothsides/digest"
	"bothsides/sqlite"
)

// The reputation guard's defaults: Gmail's and Yahoo's published complaint
// limit (0.3 %) with a warning from their recommended ceiling (0.1 %), and
// a hard-bounce rate that marks a list in trouble.
const (
	DefaultMaxComplaintRate  = 0.003
	DefaultWarnComplaintRate = 0.001
	DefaultMaxBounceRate     = 0.05
	DefaultMinDeliveries     = 500
)

// GuardConfig configures the reputation guard; zero values take the
// defaults.
type GuardConfig struct {
	// MaxComplaintRate and MaxBounceRate: an edition whose complaint rate
	// or hard-bounce rate passes one (is greater) is paused.
	MaxComplaintRate, MaxBounceRate float64
	// WarnComplaintRate: from this complaint rate the edition is flagged
	// in the log (once per edition) and the console.
	WarnComplaintRate float64
	// MinDeliveries is the attempted deliveries an edition needs before it
	// is judged.
	MinDeliveries int
	Logger        *slog.Logger
	Now           func() time.Time
}

// Level is what the guard makes of an edition's rates.
type Level string

// The levels.
const (
	LevelTooFew  Level = "too few" // fewer than MinDeliveries attempted: not judged
	LevelOK      Level = "ok"
	LevelWarning Level = "warning" // complaints at or above the warning rate
	LevelOver    Level = "over"    // a limit passed: paused if it was sending
)

// Verdict is the guard's reading of one edition.
type Verdict struct {
	Level  Level
	Reason string // why, when warning or over
	// Paused is set when this check paused the edition.
	Paused bool
}

// Guard is the reputation guard: it computes an edition's rates and pauses
// an edition being sent when one passes its limit.
type Guard struct {
	cfg GuardConfig
	db  *sqlite.DB
	log *slog.Logger

	mu     sync.Mutex
	warned map[int64]bool
	// splits keeps each edition's ledger split by domain with the ledger
	// counts it was made from: read again only when they change.
	splits map[int64]cachedSplit

	// A check after each recorded event is coalesced: while one runs,
	// others only mark that another is due.
	checking sync.Mutex
	dirty    atomic.Bool
}

// NewGuard returns a Guard over db.
func NewGuard(cfg GuardConfig, db *sqlite.DB) (*Guard, error) {
	if cfg.MaxComplaintRate == 0 {
		cfg.MaxComplaintRate = DefaultMaxComplaintRate
	}
	if cfg.WarnComplaintRate == 0 {
		cfg.WarnComplaintRate = min(DefaultWarnComplaintRate, cfg.MaxComplaintRate)
	}
	if cfg.MaxBounceRate == 0 {
		cfg.MaxBounceRate = DefaultMaxBounceRate
	}
	if cfg.MinDeliveries == 0 {
		cfg.MinDeliveries = DefaultMinDeliveries
	}
	for _, r := range []float64{cfg.MaxComplaintRate, cfg.MaxBounceRate, cfg.WarnComplaintRate} {
		if r < 0 || r > 1 {
			return nil, fmt.Errorf("reputation guard: rate %g: want a fraction from 0 to 1 (0.003 is 0.3 %%)", r)
		}
	}
	if cfg.MinDeliveries < 0 {
		return nil, fmt.Errorf("reputation guard: minimum deliveries %d: want a positive number", cfg.MinDeliveries)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Now().UTC() }
	}
	return &Guard{cfg: cfg, db: db, log: cfg.Logger, warned: map[int64]bool{}, splits: map[int64]cachedSplit{}}, nil
}

type cachedSplit struct {
	key   ledgerKey
	split ledgerSplit
}

// Reputation is EditionReputation with the ledger's split by domain kept
// while the ledger's counts stay the same.
func (g *Guard) Reputation(ctx context.Context, id int64) (Reputation, error) {
	return editionReputation(ctx, g.db.R, id, func(key ledgerKey, split func() (ledgerSplit, error)) (ledgerSplit, error) {
		g.mu.Lock()
		c, ok := g.splits[id]
		g.mu.Unlock()
		if ok && c.key == key {
			return c.split, nil
		}
		s, err := split()
		if err != nil {
			return nil, err
		}
		g.mu.Lock()
		if len(g.splits) > 100 {
			clear(g.splits)
		}
		g.splits[id] = cachedSplit{key, s}
		g.mu.Unlock()
		return s, nil
	})
}

// Config is the guard's configuration with the defaults applied.
func (g *Guard) Config() GuardConfig { return g.cfg }

// Judge reads r against the limits, without acting.
func (g *Guard) Judge(r Reputation) Verdict {
	t := r.Total
	if t.Attempted() < g.cfg.MinDeliveries {
		return Verdict{Level: LevelTooFew}
	}
	if rate := t.ComplaintRate(); rate > g.cfg.MaxComplaintRate {
		return Verdict{Level: LevelOver, Reason: fmt.Sprintf("complaint rate %s passed the limit of %s (%d complaints, %d delivered)",
			Percent(rate), Percent(g.cfg.MaxComplaintRate), t.Complaints, t.Delivered())}
	}
	if rate := t.BounceRate(); rate > g.cfg.MaxBounceRate {
		return Verdict{Level: LevelOver, Reason: fmt.Sprintf("hard-bounce rate %s passed the limit of %s (%d hard bounces, %d attempted)",
			Percent(rate), Percent(g.cfg.MaxBounceRate), t.Hard, t.Attempted())}
	}
	if rate := t.ComplaintRate(); rate >= g.cfg.WarnComplaintRate {
		return Verdict{Level: LevelWarning, Reason: fmt.Sprintf("complaint rate %s, at or above the warning level of %s (the limit is %s)",
			Percent(rate), Percent(g.cfg.WarnComplaintRate), Percent(g.cfg.MaxComplaintRate))}
	}
	return Verdict{Level: LevelOK}
}

// Percent writes a rate as a percentage with two decimals: "0.31 %".
func Percent(rate float64) string { return fmt.Sprintf("%.2f %%", rate*100) }

// Check judges edition id and acts: over a limit, an edition being sent is
// paused (digest.PauseSending, with the reason shown by `editions show`),
// once per limit, so that an operator's resume holds; a warning is logged
// once per edition.
func (g *Guard) Check(ctx context.Context, id int64) (Verdict, error) {
	r, err := EditionTotals(ctx, g.db.R, id)
	if err != nil {
		return Verdict{}, err
	}
	v := g.Judge(r)
	switch v.Level {
	case LevelWarning:
		g.warnOnce(r, v)
	case LevelOver:
		paused, err := g.pause(ctx, r)
		if err != nil {
			return v, err
		}
		v.Paused = paused
		if paused {
			g.log.Warn("reputation guard: edition paused", "edition", r.Date, "schedule", r.Schedule, "reason", v.Reason)
		} else {
			g.warnOnce(r, v)
		}
	}
	return v, nil
}

func (g *Guard) warnOnce(r Reputation, v Verdict) {
	g.mu.Lock()
	seen := g.warned[r.EditionID]
	g.warned[r.EditionID] = true
	g.mu.Unlock()
	if !seen {
		g.log.Warn("reputation guard: "+string(v.Level), "edition", r.Date, "schedule", r.Schedule, "status", r.Status, "reason", v.Reason)
	}
}

// pause pauses r's edition if it is sending and the guard has not paused
// it for this limit before.
func (g *Guard) pause(ctx context.Context, r Reputation) (bool, error) {
	kind, rate := "complaint", r.Total.ComplaintRate()
	if rate <= g.cfg.MaxComplaintRate {
		kind, rate = "bounce", r.Total.BounceRate()
	}
	v := g.Judge(r)
	paused := false
	err := g.db.Tx(ctx, func(tx *sql.Tx) error {
		var status digest.EditionStatus
		if err := tx.QueryRowContext(ctx, `SELECT status FROM editions WHERE id = ?`, r.EditionID).Scan(&status); err != nil {
			return err
		}
		if status != digest.EditionSending {
			return nil
		}
		res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO reputation_pauses (edition_id, kind, rate, attempted, at) VALUES (?, ?, ?, ?, ?)`,
			r.EditionID, kind, rate, r.Total.Attempted(), sqlite.Time(g.cfg.Now()))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // paused for this once already, and resumed since
		}
		paused = true
		return digest.PauseSending(ctx, tx, r.EditionID, "reputation guard: "+v.Reason)
	})
	if err != nil {
		return false, fmt.Errorf("reputation guard: pause edition %d: %w", r.EditionID, err)
	}
	return paused, nil
}

// CheckSending checks every edition being sent: the ones the guard can
// still pause.
func (g *Guard) CheckSending(ctx context.Context) error {
	rows, err := g.db.R.QueryContext(ctx, `SELECT id FROM editions WHERE status = 'sending'`)
	if err != nil {
		return fmt.Errorf("reputation guard: editions being sent: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := g.Check(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// after runs CheckSending after an event was recorded; calls that arrive
// while a check runs are folded into one more check after it.
func (g *Guard) after(ctx context.Context) {
	g.dirty.Store(true)
	for g.dirty.Load() {
		if !g.checking.TryLock() {
			return // the running check will see dirty and go again
		}
		for g.dirty.Swap(false) {
			if err := g.CheckSending(context.WithoutCancel(ctx)); err != nil {
				g.log.Error("reputation guard: check failed", "err", err)
			}
		}
		g.checking.Unlock()
	}
}

// Recorder returns next wrapped so that each event recorded is followed by
// a check of the editions being sent.
func (g *Guard) Recorder(next Recorder) Recorder { return guardedRecorder{g, next} }

// Receiver returns next wrapped so that each message received is followed
// by a check of the editions being sent.
func (g *Guard) Receiver(next Receiver) Receiver { return guardedReceiver{g, next} }

type guardedRecorder struct {
	g    *Guard
	next Recorder
}

func (r guardedRecorder) Record(ctx context.Context, ev Event) error {
	if err := r.next.Record(ctx, ev); err != nil {
		return err
	}
	r.g.after(ctx)
	return nil
}

type guardedReceiver struct {
	g    *Guard
	next Receiver
}

func (r guardedReceiver) Receive(ctx context.Context, source, envelopeTo string, raw []byte) (Receipt, error) {
	rc, err := r.next.Receive(ctx, source, envelopeTo, raw)
	if err == nil && rc.Events > 0 {
		r.g.after(ctx)
	}
	return rc, err
}
