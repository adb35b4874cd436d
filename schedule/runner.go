package schedule

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"
)

// Runner runs jobs on cron schedules.
type Runner struct {
	c   *cron.Cron
	log *slog.Logger
}

// NewRunner returns a runner whose jobs never overlap themselves and whose
// panics are logged rather than fatal. The order of the wrappers matters:
// with Recover inside SkipIfStillRunning, a panic releases the skip lock.
func NewRunner(log *slog.Logger) *Runner {
	l := cron.VerbosePrintfLogger(slog.NewLogLogger(log.Handler(), slog.LevelDebug))
	c := cron.New(
		cron.WithParser(parser),
		cron.WithLocation(time.UTC),
		cron.WithChain(cron.SkipIfStillRunning(l), cron.Recover(l)),
	)
	return &Runner{c: c, log: log}
}

// Add schedules job on a raw cron spec (CRON_TZ= prefixes allowed) and
// returns its entry id for Remove.
func (r *Runner) Add(spec string, job func()) (cron.EntryID, error) {
	id, err := r.c.AddFunc(spec, job)
	if err != nil {
		return 0, fmt.Errorf("add schedule %q: %w", spec, err)
	}
	return id, nil
}

// Remove removes an entry.
func (r *Runner) Remove(id cron.EntryID) { r.c.Remove(id) }

// Start starts the runner in the background.
func (r *Runner) Start() { r.c.Start() }

// Stop stops scheduling and waits for running jobs, or for ctx.
func (r *Runner) Stop(ctx context.Context) {
	select {
	case <-r.c.Stop().Done():
	case <-ctx.Done():
	}
}
