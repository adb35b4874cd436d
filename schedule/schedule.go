// Package schedule decides when editions go out: it parses cron specs with
// their time zones and runs the send job on robfig/cron with the wrappers
// bothsides relies on.
package schedule

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// DefaultSpec sends at 07:00 UTC every day.
const DefaultSpec = "CRON_TZ=UTC 0 7 * * *"

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Spec is a parsed cron spec and the zone its times are in.
type Spec struct {
	Raw      string
	Location *time.Location
	sched    cron.Schedule
}

// Parse reads a robfig/cron v3 spec, optionally prefixed with CRON_TZ= or
// TZ= and a zone name, as in "CRON_TZ=Europe/London 0 7 * * 1-5".
func Parse(spec string) (*Spec, error) {
	spec = strings.TrimSpace(spec)
	loc := time.UTC
	rest := spec
	for _, prefix := range []string{"CRON_TZ=", "TZ="} {
		if strings.HasPrefix(rest, prefix) {
			zone, after, ok := strings.Cut(rest[len(prefix):], " ")
			if !ok {
				return nil, fmt.Errorf("schedule %q: nothing after the time zone", spec)
			}
			l, err := time.LoadLocation(zone)
			if err != nil {
				return nil, fmt.Errorf("schedule %q: unknown time zone %q", spec, zone)
			}
			loc, rest = l, strings.TrimSpace(after)
			break
		}
	}
	s, err := parser.Parse(rest)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", spec, err)
	}
	return &Spec{Raw: spec, Location: loc, sched: s}, nil
}

// Next returns the first run strictly after t.
func (s *Spec) Next(t time.Time) time.Time {
	return s.sched.Next(t.In(s.Location))
}

// OnDate returns the first run on the calendar date (YYYY-MM-DD) in the
// spec's zone, and false when the spec has no run that day.
func (s *Spec) OnDate(date string) (time.Time, bool) {
	d, err := time.ParseInLocation("2006-01-02", date, s.Location)
	if err != nil {
		return time.Time{}, false
	}
	next := s.sched.Next(d.Add(-time.Second))
	if next.IsZero() || next.Format("2006-01-02") != date {
		return time.Time{}, false
	}
	return next, true
}

// Runner runs jobs on cron schedules.
type Runner struct {
	c   *cron.Cron
	log *slog.Logger
}

// NewRunner returns a runner whose jobs never overlap themselves and whose
// panics are logged rather than fatal. The order of the wrappers matters:
// with Recover inside SkipIfStillRunning, a panic releases the skip lock.
func NewRunner(log *slog.Logger) *Runner {
	l := cron.VerbosePrintfLogger(slog.NewLogLogger(log.Handler(), slog.LevelInfo))
	c := cron.New(
		cron.WithParser(parser),
		cron.WithLocation(time.UTC),
		cron.WithChain(cron.SkipIfStillRunning(l), cron.Recover(l)),
	)
	return &Runner{c: c, log: log}
}

// Add schedules job on spec; job receives the run's scheduled minute.
func (r *Runner) Add(spec *Spec, job func(scheduled time.Time)) error {
	_, err := r.c.AddFunc(spec.Raw, func() {
		job(time.Now().In(spec.Location).Truncate(time.Minute))
	})
	if err != nil {
		return fmt.Errorf("add schedule %q: %w", spec.Raw, err)
	}
	return nil
}

// Start starts the runner in the background.
func (r *Runner) Start() { r.c.Start() }

// Stop stops scheduling and waits for running jobs, or for ctx.
func (r *Runner) Stop(ctx context.Context) {
	select {
	case <-r.c.Stop().Done():
	case <-ctx.Done():
	}
}
