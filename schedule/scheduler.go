package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Errors the scheduler returns.
var (
	// ErrBusy: the schedule's previous edition is still going out; the run
	// waits until it has.
	ErrBusy = errors.New("the schedule's previous edition is still going out")
	// ErrClaimed: the run was sent or is being sent already.
	ErrClaimed = errors.New("this run was already sent or is being sent")
	// ErrStopped is what a Job returns (wrapped) when an admin paused or
	// cancelled its edition.
	ErrStopped = errors.New("stopped by an admin")
	// ErrShutdown: the scheduler is stopping and starts nothing new.
	ErrShutdown = errors.New("the scheduler is shutting down")
)

// Job sends the edition of one run. It must be safe to call again for the
// same run after an interruption (the delivery ledger makes sends resumable).
type Job func(ctx context.Context, r Run) error

// Config configures a Scheduler. Zero values take the defaults noted.
type Config struct {
	// Grace: on start, a run that fell due at most this long ago and has no
	// edition is sent now; an older one is recorded as missed. Default 6h.
	Grace time.Duration
	// Lookback bounds how far back start-up looks for missed runs. Default 7 days.
	Lookback time.Duration
	Logger   *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Manual leaves the cron runner off: the caller drives Check (tests).
	Manual bool
}

// Scheduler decides which runs are due and sends them, one at a time per
// schedule. Every decision is taken from the database by Check, keyed by
// schedule and date, so cron firing twice (a fall-back day) sends once, and
// cron not firing (a spring-forward day) is made up by the next minute's
// check.
type Scheduler struct {
	cfg   Config
	store *Store
	job   Job

	checkMu sync.Mutex // one Check at a time

	mu       sync.Mutex
	busy     map[string]Run // schedule name -> run going out
	started  time.Time
	stopping bool
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	runner  *Runner
	entries []cron.EntryID
	version string
}

// New returns a scheduler over the schedules in store; job sends a run.
func New(cfg Config, store *Store, job Job) *Scheduler {
	if cfg.Grace <= 0 {
		cfg.Grace = 6 * time.Hour
	}
	if cfg.Lookback <= 0 {
		cfg.Lookback = 7 * 24 * time.Hour
	}
	if cfg.Lookback < cfg.Grace {
		cfg.Lookback = cfg.Grace
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Scheduler{cfg: cfg, store: store, job: job, busy: map[string]Run{}, ctx: ctx, cancel: cancel}
}

// Grace is the configured grace period.
func (s *Scheduler) Grace() time.Duration { return s.cfg.Grace }

// Start takes stock after a (re)start and then schedules: interrupted runs
// are resumed within the grace period, runs missed while the server was
// down are sent (within the grace period) or recorded as missed, and, unless
// Manual, the cron runner starts.
func (s *Scheduler) Start(ctx context.Context) error {
	now := s.cfg.Now()
	s.mu.Lock()
	s.started = now
	s.mu.Unlock()
	if err := s.resumeInterrupted(ctx, now); err != nil {
		return err
	}
	if _, err := s.Check(ctx); err != nil {
		return err
	}
	if s.cfg.Manual {
		return nil
	}
	s.runner = NewRunner(s.cfg.Logger)
	// The minute tick is the safety net: it catches what cron skips and
	// picks up schedules changed by another process.
	if _, err := s.runner.Add("* * * * *", s.tick); err != nil {
		return err
	}
	if err := s.Reload(ctx); err != nil {
		return err
	}
	s.runner.Start()
	return nil
}

// resumeInterrupted handles runs left "started" by a process that stopped
// mid-send: resumed if due within the grace period, otherwise failed with
// advice.
func (s *Scheduler) resumeInterrupted(ctx context.Context, now time.Time) error {
	runs, err := s.store.Runs(ctx, RunStarted, 100)
	if err != nil {
		return err
	}
	for _, rec := range runs {
		sch, err := s.store.Get(ctx, rec.Schedule)
		if errors.Is(err, ErrNotFound) {
			s.store.finish(ctx, rec.Schedule, rec.Date, RunFailed, "interrupted, and the schedule was removed")
			continue
		}
		if err != nil {
			return err
		}
		r := Run{Schedule: *sch, Date: rec.Date, Due: rec.Due}
		if now.Sub(rec.Due) > s.cfg.Grace {
			detail := fmt.Sprintf("interrupted and not resumed: due %s, more than %s ago; resume with 'bothsides send --schedule %s --date %s'",
				rec.Due.UTC().Format(time.RFC3339), s.cfg.Grace, rec.Schedule, rec.Date)
			s.cfg.Logger.Warn("interrupted run not resumed", "schedule", rec.Schedule, "date", rec.Date)
			if err := s.store.finish(ctx, rec.Schedule, rec.Date, RunFailed, detail); err != nil {
				return err
			}
			continue
		}
		s.cfg.Logger.Info("resuming interrupted run", "schedule", rec.Schedule, "date", rec.Date)
		if err := s.start(r, false); err != nil && !errors.Is(err, ErrBusy) {
			return err
		}
	}
	return nil
}

// Decision is what Check did about one due run.
type Decision struct {
	Run    Run
	Action string // "sent" (started now), "waiting" (previous still going out), "missed"
}

// Check looks at every enabled schedule's runs due up to now and not yet
// settled: it starts each one (at most one per schedule at a time), or,
// for a run that fell due before this process started and longer ago than
// the grace period, records it as missed.
func (s *Scheduler) Check(ctx context.Context) ([]Decision, error) {
	s.checkMu.Lock()
	defer s.checkMu.Unlock()
	now := s.cfg.Now()
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if started.IsZero() {
		started = now
	}
	list, err := s.store.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []Decision
	for _, cs := range s.cronSchedules(list) {
		sch, spec := cs.sch, cs.spec
		// Runs due before the schedule was last changed (or resumed) are
		// not this schedule's to catch up.
		since := sch.UpdatedAt.Truncate(time.Minute).Add(-time.Second)
		if lb := now.Add(-s.cfg.Lookback); since.Before(lb) {
			since = lb
		}
		for _, due := range spec.Between(since, now) {
			r := Run{Schedule: sch, Date: spec.DateOf(due), Due: due}
			done, err := s.store.settled(ctx, sch.Name, r.Date)
			if err != nil {
				return out, err
			}
			if done {
				continue
			}
			if due.Before(started) && now.Sub(due) > s.cfg.Grace {
				detail := fmt.Sprintf("the server was down when it fell due and it is more than %s late; send it with 'bothsides send --schedule %s --date %s'",
					s.cfg.Grace, sch.Name, r.Date)
				if ok, err := s.store.recordMissed(ctx, r, detail); err != nil {
					return out, err
				} else if ok {
					s.cfg.Logger.Warn("run missed", "schedule", sch.Name, "date", r.Date, "due", due.UTC().Format(time.RFC3339))
					out = append(out, Decision{Run: r, Action: "missed"})
				}
				continue
			}
			err = s.start(r, false)
			switch {
			case errors.Is(err, ErrBusy):
				s.cfg.Logger.Info("run waits for the previous edition", "schedule", sch.Name, "date", r.Date)
				out = append(out, Decision{Run: r, Action: "waiting"})
			case errors.Is(err, ErrClaimed), errors.Is(err, ErrShutdown):
			case err != nil:
				return out, err
			default:
				out = append(out, Decision{Run: r, Action: "sent"})
			}
			if err != nil {
				break // the later runs of this schedule wait their turn
			}
		}
	}
	return out, nil
}

// Launch sends the run now, whatever its schedule says: an admin's "send
// now", or a retry or resume of a failed, stopped or missed run. It returns
// ErrBusy while another edition of the schedule is going out.
func (s *Scheduler) Launch(r Run) error { return s.start(r, true) }

// start claims r and runs the job in the background.
func (s *Scheduler) start(r Run, retry bool) error {
	name := r.Schedule.Name
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return ErrShutdown
	}
	if _, ok := s.busy[name]; ok {
		s.mu.Unlock()
		return ErrBusy
	}
	s.busy[name] = r
	s.wg.Add(1)
	s.mu.Unlock()
	unbusy := func() {
		s.mu.Lock()
		delete(s.busy, name)
		s.mu.Unlock()
	}
	release := func() { unbusy(); s.wg.Done() }
	ok := true
	if retry || !s.resuming(r) {
		var err error
		ok, err = s.store.claim(s.ctx, r, retry)
		if err != nil {
			release()
			return err
		}
	}
	if !ok {
		release()
		return ErrClaimed
	}
	s.cfg.Logger.Info("run starting", "schedule", name, "date", r.Date, "due", r.Due.UTC().Format(time.RFC3339))
	go func() {
		defer s.wg.Done()
		status, detail := s.runJob(r)
		if err := s.store.finish(context.WithoutCancel(s.ctx), name, r.Date, status, detail); err != nil {
			s.cfg.Logger.Error("record run", "schedule", name, "date", r.Date, "err", err)
		}
		unbusy()
		// A run of this schedule may have been waiting for this one; it
		// starts before Wait returns.
		if s.ctx.Err() == nil {
			if _, err := s.Check(s.ctx); err != nil && s.ctx.Err() == nil {
				s.cfg.Logger.Error("schedule check", "err", err)
			}
		}
	}()
	return nil
}

// resuming reports whether r is an interrupted run being resumed at start:
// its record is "started" already, so it is not claimed again.
func (s *Scheduler) resuming(r Run) bool {
	rec, err := s.store.RunOf(s.ctx, r.Schedule.Name, r.Date)
	return err == nil && rec.Status == RunStarted
}

// runJob runs the job with panics recovered and returns the run's status.
func (s *Scheduler) runJob(r Run) (status, detail string) {
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Logger.Error("run panicked", "schedule", r.Schedule.Name, "date", r.Date, "panic", p)
			status, detail = RunFailed, fmt.Sprintf("panic: %v", p)
		}
	}()
	err := s.job(s.ctx, r)
	switch {
	case err == nil:
		s.cfg.Logger.Info("run done", "schedule", r.Schedule.Name, "date", r.Date)
		return RunDone, ""
	case errors.Is(err, ErrStopped):
		s.cfg.Logger.Info("run stopped", "schedule", r.Schedule.Name, "date", r.Date, "reason", err)
		return RunStopped, err.Error()
	case s.ctx.Err() != nil:
		// Shutdown: stays "started" so that the next start resumes it.
		s.cfg.Logger.Info("run interrupted by shutdown", "schedule", r.Schedule.Name, "date", r.Date)
		return RunStarted, "interrupted by shutdown"
	default:
		s.cfg.Logger.Error("run failed", "schedule", r.Schedule.Name, "date", r.Date, "err", err)
		return RunFailed, err.Error()
	}
}

// Running returns the runs going out now, by schedule name.
func (s *Scheduler) Running() map[string]Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Run, len(s.busy))
	for k, v := range s.busy {
		out[k] = v
	}
	return out
}

// Wait blocks until no run is going out.
func (s *Scheduler) Wait() { s.wg.Wait() }

// tick is the cron job of every entry.
func (s *Scheduler) tick() {
	if v, err := s.store.Version(s.ctx); err == nil && v != s.loadedVersion() {
		if err := s.Reload(s.ctx); err != nil {
			s.cfg.Logger.Error("reload schedules", "err", err)
		}
	}
	if _, err := s.Check(s.ctx); err != nil && s.ctx.Err() == nil {
		s.cfg.Logger.Error("schedule check", "err", err)
	}
}

func (s *Scheduler) loadedVersion() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// Reload replaces the cron entries with one per enabled schedule. Call it
// after adding, changing, pausing or removing a schedule; the minute tick
// also notices changes made by another process.
func (s *Scheduler) Reload(ctx context.Context) error {
	version, err := s.store.Version(ctx)
	if err != nil {
		return err
	}
	list, err := s.store.List(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version = version
	if s.runner == nil {
		return nil
	}
	for _, id := range s.entries {
		s.runner.Remove(id)
	}
	s.entries = s.entries[:0]
	for _, cs := range s.cronSchedules(list) {
		spec := cs.spec
		// robfig fires at the spec's minute; Check decides what to send.
		id, err := s.runner.Add(spec.Raw, s.tick)
		if err != nil {
			return err
		}
		s.entries = append(s.entries, id)
	}
	s.cfg.Logger.Debug("schedules loaded", "entries", len(s.entries))
	return nil
}

// Stop stops the cron runner (waiting for a running tick), then cancels the
// runs going out (each stops between two messages, recorded) and waits for
// them, or for ctx.
func (s *Scheduler) Stop(ctx context.Context) {
	s.mu.Lock()
	s.stopping = true
	runner := s.runner
	s.mu.Unlock()
	if runner != nil {
		runner.Stop(ctx)
	}
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// cronSchedule is an enabled schedule this scheduler sends, with its spec.
type cronSchedule struct {
	sch  Schedule
	spec *Spec
}

// cronSchedules keeps the enabled schedules with a valid spec that are not
// local: local ones are sent subscriber by subscriber by the local-time
// ticker, on its own minute tick. A bad spec is logged and passed over.
func (s *Scheduler) cronSchedules(list []Schedule) []cronSchedule {
	var out []cronSchedule
	for _, sch := range list {
		if !sch.Enabled {
			continue
		}
		spec, err := sch.Parsed()
		if err != nil {
			s.cfg.Logger.Error("schedule has a bad spec", "schedule", sch.Name, "err", err)
			continue
		}
		if spec.Local {
			continue
		}
		out = append(out, cronSchedule{sch, spec})
	}
	return out
}
