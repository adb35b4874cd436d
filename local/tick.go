package local

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/schedule"
	"bothsides/sqlite"
)

// Config configures a Ticker. Zero values take the defaults noted.
type Config struct {
	// Grace: a subscriber due longer ago than this (the server was down)
	// does not get that date's edition late; they are next due at their
	// following run. Default 6h, as the scheduler's.
	Grace time.Duration
	// Batch is how many due rows one transaction hands to the ledger;
	// default 5000.
	Batch  int
	Logger *slog.Logger
}

// Ticker sends the local schedules. Every minute Tick hands the subscribers
// whose local time has come to the delivery ledger, and the editions with
// queued deliveries are sent through the Sender, the same engine as every
// other send (pool, retries, breaker, pause and cancel).
type Ticker struct {
	cfg       Config
	db        *sqlite.DB
	schedules *schedule.Store
	stories   *digest.Store
	sender    *delivery.Sender

	locMu sync.Mutex
	locs  map[string]*time.Location // nil: unknown zone

	tickMu sync.Mutex // one Tick at a time

	mu      sync.Mutex
	running map[int64]bool // editions being sent by a background loop
	wake    chan struct{}  // closed when deliveries are queued
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	runner  *schedule.Runner
}

// New returns a ticker. It takes over sender's Sleep so that a send
// waiting for a retry wakes up when new subscribers are queued.
func New(cfg Config, db *sqlite.DB, schedules *schedule.Store, stories *digest.Store, sender *delivery.Sender) *Ticker {
	if cfg.Grace <= 0 {
		cfg.Grace = 6 * time.Hour
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 5000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Ticker{cfg: cfg, db: db, schedules: schedules, stories: stories, sender: sender,
		locs: map[string]*time.Location{}, running: map[int64]bool{}, wake: make(chan struct{}), ctx: ctx, cancel: cancel}
	sleep := sender.Sleep
	sender.Sleep = func(ctx context.Context, d time.Duration) error {
		t.mu.Lock()
		wake := t.wake
		t.mu.Unlock()
		sctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			select {
			case <-wake:
				stop()
			case <-sctx.Done():
			}
		}()
		err := sleep(sctx, d)
		if err != nil && ctx.Err() == nil {
			return nil // woken: new deliveries to send
		}
		return err
	}
	return t
}

// Result is what one Tick did.
type Result struct {
	Queued    int // subscribers handed to the ledger
	Skipped   int // due but not queued: already mailed that edition, paused, no longer active, or the edition was cancelled
	Missed    int // due longer ago than the grace period (the server was down)
	NoEdition int // due on a date whose edition has no stories
	Dirty     int // subscribers whose due time was recomputed
	// Editions have queued deliveries from this tick.
	Editions []*digest.Edition
}

// Tick brings the due index up to date (new local schedules, changed
// subscribers) and hands every subscriber due by now to the ledger of their
// local date's edition. It sends nothing: Flush or the background loop do.
func (t *Ticker) Tick(ctx context.Context) (Result, error) {
	t.tickMu.Lock()
	defer t.tickMu.Unlock()
	var res Result
	now := t.db.Now()
	list, err := t.localSchedules(ctx)
	if err != nil {
		return res, err
	}
	for _, ls := range list {
		if err := t.ensureBuilt(ctx, ls, now); err != nil {
			return res, err
		}
	}
	if res.Dirty, err = t.drainDirty(ctx, list, now); err != nil {
		return res, err
	}
	for _, ls := range list {
		if !ls.Enabled {
			continue
		}
		if err := t.queue(ctx, ls, now, &res); err != nil {
			return res, err
		}
		if err := t.settleStatus(ctx, ls, now); err != nil {
			return res, err
		}
	}
	if res.Queued > 0 {
		t.mu.Lock()
		close(t.wake)
		t.wake = make(chan struct{})
		t.mu.Unlock()
	}
	if res.Queued+res.Missed+res.NoEdition > 0 {
		t.cfg.Logger.Info("local tick", "queued", res.Queued, "skipped", res.Skipped, "missed", res.Missed,
			"no_edition", res.NoEdition, "editions", len(res.Editions))
	}
	return res, nil
}

// due is one row of local_due that has fallen due.
type due struct {
	subscriberID int64
	zone         string
	minute       int
	at           time.Time
	date         string
}

// queue hands ls's due subscribers to the ledger, a batch per transaction.
func (t *Ticker) queue(ctx context.Context, ls localSchedule, now time.Time, res *Result) error {
	// Runs that fell due before the schedule was last changed or resumed
	// are not caught up, as with the scheduler.
	since := ls.UpdatedAt.Truncate(time.Minute).Add(-time.Second)
	editions := map[string]*digest.Edition{}
	seen := map[int64]bool{}
	for range 10_000 { // bounded: each pass advances every row it reads
		batch, err := t.dueRows(ctx, ls.ID, now)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		// The edition of each date, opened once: assembled by the first
		// zone that reaches it, its window ending at that zone's time.
		first := map[string]time.Time{}
		for _, d := range batch {
			if f, ok := first[d.date]; !ok || d.at.Before(f) {
				first[d.date] = d.at
			}
		}
		dates := make([]string, 0, len(first))
		for date := range first {
			dates = append(dates, date)
		}
		sort.Strings(dates)
		for _, date := range dates {
			if _, ok := editions[date]; ok {
				continue
			}
			run := schedule.Run{Schedule: ls.Schedule, Date: date, Due: first[date]}
			e, err := t.stories.Open(ctx, run.EditionParams(now))
			switch {
			case errors.Is(err, digest.ErrNoStories):
				t.cfg.Logger.Warn("local edition has no stories; its subscribers due now get none", "schedule", ls.Name, "date", date, "err", err)
				editions[date] = nil
			case err != nil:
				return fmt.Errorf("open edition %s %s: %w", ls.Name, date, err)
			default:
				editions[date] = e
			}
		}
		var touched []*digest.Edition
		err = t.db.Tx(ctx, func(tx *sql.Tx) error {
			touched = touched[:0]
			return t.hand(ctx, tx, ls, batch, editions, now, since, res, &touched)
		})
		if err != nil {
			return fmt.Errorf("queue local deliveries of %s: %w", ls.Name, err)
		}
		for _, e := range touched {
			if !seen[e.ID] {
				seen[e.ID] = true
				res.Editions = append(res.Editions, e)
			}
		}
		if len(batch) < t.cfg.Batch {
			return nil
		}
	}
	return nil
}

// dueRows reads the next batch of rows due by now, through local_due_at.
func (t *Ticker) dueRows(ctx context.Context, scheduleID int64, now time.Time) ([]due, error) {
	rows, err := t.db.R.QueryContext(ctx, dueQuery, scheduleID, sqlite.Time(now), t.cfg.Batch)
	if err != nil {
		return nil, fmt.Errorf("due subscribers: %w", err)
	}
	defer rows.Close()
	var out []due
	for rows.Next() {
		var d due
		var at string
		if err := rows.Scan(&d.subscriberID, &d.zone, &d.minute, &at, &d.date); err != nil {
			return nil, fmt.Errorf("due subscribers: %w", err)
		}
		if d.at, err = sqlite.ParseTime(at); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// dueQuery finds the due rows of one schedule in due order through the
// index on (schedule_id, due_at): its cost grows with the rows due, not with
// the subscribers or zones (TestDueQuery_UsesIndex checks the plan).
const dueQuery = `SELECT subscriber_id, zone, minute, due_at, local_date FROM local_due
	WHERE schedule_id = ? AND due_at <= ? ORDER BY due_at LIMIT ?`

// hand queues one batch in tx: a ledger row per mailable subscriber (the
// ledger's key makes it at most one per edition), and every row advanced to
// the subscriber's next local date.
func (t *Ticker) hand(ctx context.Context, tx *sql.Tx, ls localSchedule, batch []due, editions map[string]*digest.Edition,
	now, since time.Time, res *Result, touched *[]*digest.Edition) error {
	queue, err := delivery.PrepareQueue(ctx, tx)
	if err != nil {
		return err
	}
	defer queue.Close()
	advance, err := tx.PrepareContext(ctx, `UPDATE local_due SET due_at = ?, local_date = ?
		WHERE subscriber_id = ? AND schedule_id = ? AND due_at = ?`)
	if err != nil {
		return err
	}
	defer advance.Close()
	status := map[int64]digest.EditionStatus{}
	queued := map[int64]int{}
	// Rows of one zone, time and date advance alike: compute it once.
	type nextKey struct {
		zone   string
		minute int
		date   string
	}
	type nextRun struct {
		at   time.Time
		date string
	}
	nexts := map[nextKey]nextRun{}
	var r Result
	for _, d := range batch {
		e := editions[d.date]
		switch {
		case now.Sub(d.at) > t.cfg.Grace || !d.at.After(since):
			r.Missed++
		case e == nil:
			r.NoEdition++
		default:
			st, ok := status[e.ID]
			if !ok {
				if err := tx.QueryRowContext(ctx, `SELECT status FROM editions WHERE id = ?`, e.ID).Scan(&st); err != nil {
					return fmt.Errorf("edition %d: %w", e.ID, err)
				}
				status[e.ID] = st
			}
			if st == digest.EditionCancelled {
				r.Skipped++
				break
			}
			added, err := queue.Add(ctx, e.ID, d.subscriberID, d.zone, now)
			if err != nil {
				return err
			}
			if added {
				r.Queued++
				queued[e.ID]++
			} else {
				r.Skipped++
			}
		}
		k := nextKey{d.zone, d.minute, d.date}
		nr, ok := nexts[k]
		if !ok {
			nr.at, nr.date = t.next(d, t.loadZone(d.zone, ls.spec), now)
			nexts[k] = nr
		}
		if _, err := advance.ExecContext(ctx, sqlite.Time(nr.at), nr.date, d.subscriberID, ls.ID, sqlite.Time(d.at)); err != nil {
			return fmt.Errorf("advance %d: %w", d.subscriberID, err)
		}
	}
	for _, e := range editions {
		if e == nil || queued[e.ID] == 0 {
			continue
		}
		// The sender starts an edition by queueing every subscriber; a
		// local edition has its ledger filled zone by zone instead, so it
		// is marked sending here, and reopened when an earlier zone's send
		// had already finished it.
		if err := digest.StartOrReopen(ctx, tx, e.ID, now); err != nil {
			return fmt.Errorf("start edition %d: %w", e.ID, err)
		}
		*touched = append(*touched, e)
	}
	res.Queued += r.Queued
	res.Skipped += r.Skipped
	res.Missed += r.Missed
	res.NoEdition += r.NoEdition
	return nil
}

// next is a handled row's next run: the local date after the one it was due
// for (a date the zone skips has none), or the first run after now when
// that is already beyond the grace period.
func (t *Ticker) next(d due, loc *time.Location, now time.Time) (time.Time, string) {
	date := d.date
	for range 3 {
		date = schedule.NextDate(date)
		if at, ok := schedule.LocalRun(date, d.minute/60, d.minute%60, loc); ok {
			if now.Sub(at) > t.cfg.Grace {
				break
			}
			return at, date
		}
	}
	return schedule.NextLocal(now, loc, d.minute/60, d.minute%60)
}
