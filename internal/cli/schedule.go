package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"bothsides/digest"
	"bothsides/schedule"
)

// scheduleOptions are the flags of schedule add and schedule edit.
type scheduleOptions struct {
	Spec            string
	Stories, Window int
	Subject, Title  string
}

// settings declares the options; --spec only with withSpec (schedule add
// takes the spec as an argument).
func (o *scheduleOptions) settings(withSpec bool) []setting {
	var s []setting
	if withSpec {
		s = append(s, stringSetting(&o.Spec, "spec", "", "", "cron spec with its zone, e.g. 'CRON_TZ=Europe/London 0 7 * * 1-5'"))
	}
	return append(s,
		intSetting(&o.Stories, "stories", "", 5, "number of top stories per edition, 1-20"),
		intSetting(&o.Window, "window", "", 24, "edition window in hours before the send time, 1-168"),
		stringSetting(&o.Subject, "subject", "", "", "subject line override (empty: the default subject)"),
		stringSetting(&o.Title, "title", "", "", "edition title override (empty: \"Both Sides\")"),
	)
}

func scheduleAddCommand() *command {
	var o scheduleOptions
	var paused bool
	return &command{
		name:    "schedule add",
		args:    "NAME SPEC",
		summary: "add a send schedule, e.g. schedule add weekday 'CRON_TZ=Europe/London 0 7 * * 1-5'",
		help: `NAME is 1 to 40 characters of a-z, 0-9 and -. SPEC is a robfig/cron v3 spec
of five fields (minute hour day-of-month month day-of-week), optionally
prefixed with CRON_TZ=Zone; it must fire once a day at most, because each
schedule sends one edition per date. A running server picks the change up
within a minute.

SPEC 'local HH:MM [Zone]' makes a local schedule: each active subscriber gets
that day's edition at HH:MM in their own time zone (their preferred hour, if
they chose one), and subscribers without a zone at HH:MM in Zone (default
UTC). The next runs shown are those of Zone.`,
		settings: append(o.settings(false), boolSetting(&paused, "paused", "", false, "add it paused")),
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("%w: schedule add takes NAME and SPEC (quote the spec)", errUsage)
			}
			st, err := a.scheduleStore(ctx)
			if err != nil {
				return err
			}
			s := schedule.Schedule{Name: args[0], Spec: args[1], Enabled: !paused,
				Stories: nonZero(o.Stories), WindowHours: nonZero(o.Window),
				Subject: o.Subject, Title: o.Title}
			added, err := st.Add(ctx, s)
			if err != nil {
				return err
			}
			return a.printSchedules([]schedule.Schedule{*added})
		},
	}
}

func scheduleListCommand() *command {
	return &command{
		name:    "schedule list",
		summary: "list the schedules with their next three runs in their own zone",
		help: `One line per schedule, tab-separated: name, enabled or paused, spec, stories,
window, next three runs. Then the runs recorded as missed (due while the
server was down and later than the grace period), if any.`,
		run: func(ctx context.Context, a *app, args []string) error {
			st, err := a.scheduleStore(ctx)
			if err != nil {
				return err
			}
			list, err := st.List(ctx)
			if err != nil {
				return err
			}
			if len(list) == 0 {
				fmt.Fprintln(a.stdout, "no schedules; add one with 'bothsides schedule add NAME SPEC' or start 'bothsides serve' to seed the default")
				return nil
			}
			if err := a.printSchedules(list); err != nil {
				return err
			}
			missed, err := st.Runs(ctx, schedule.RunMissed, 20)
			if err != nil {
				return err
			}
			if len(missed) > 0 {
				fmt.Fprintln(a.stdout, "missed runs:")
				for _, r := range missed {
					fmt.Fprintf(a.stdout, "  %s\t%s\tdue %s\n", r.Schedule, r.Date, r.Due.UTC().Format(time.RFC3339))
				}
			}
			return nil
		},
	}
}

// localNote says what the next runs of a local schedule stand for.
func localNote(spec *schedule.Spec) string {
	return fmt.Sprintf("in %s; each subscriber at %s in their own zone", spec.Location, spec.Clock())
}

// FormatRun writes a run time in its schedule's zone.
func formatRun(t time.Time) string { return t.Format("Mon 2 Jan 2006 15:04 MST") }

func (a *app) printSchedules(list []schedule.Schedule) error {
	for _, s := range list {
		state := "enabled"
		if !s.Enabled {
			state = "paused"
		}
		var next []string
		if spec, err := s.Parsed(); err == nil && s.Enabled {
			for _, t := range spec.NextN(a.now(), 3) {
				next = append(next, formatRun(t))
			}
		}
		if len(next) == 0 {
			next = []string{"-"}
		}
		if spec, err := s.Parsed(); err == nil && spec.Local && s.Enabled {
			next[len(next)-1] += " (" + localNote(spec) + ")"
		}
		fmt.Fprintf(a.stdout, "%s\t%s\t%s\t%d stories\t%dh window\tnext: %s\n",
			s.Name, state, s.Spec, s.Stories, s.WindowHours, strings.Join(next, ", "))
	}
	return nil
}

func scheduleEditCommand() *command {
	var o scheduleOptions
	return &command{
		name:     "schedule edit",
		args:     "NAME",
		summary:  "change a schedule: only the flags given change",
		settings: o.settings(true),
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%w: schedule edit takes one NAME", errUsage)
			}
			st, err := a.scheduleStore(ctx)
			if err != nil {
				return err
			}
			s, err := st.Get(ctx, args[0])
			if err != nil {
				return err
			}
			changed := false
			for _, f := range []string{"spec", "stories", "window", "subject", "title"} {
				changed = changed || a.flagGiven(f)
			}
			if !changed {
				return fmt.Errorf("%w: nothing to change; give --spec, --stories, --window, --subject or --title", errUsage)
			}
			if a.flagGiven("spec") {
				s.Spec = o.Spec
			}
			if a.flagGiven("stories") {
				s.Stories = nonZero(o.Stories)
			}
			if a.flagGiven("window") {
				s.WindowHours = nonZero(o.Window)
			}
			if a.flagGiven("subject") {
				s.Subject = o.Subject
			}
			if a.flagGiven("title") {
				s.Title = o.Title
			}
			s, err = st.Update(ctx, args[0], *s)
			if err != nil {
				return err
			}
			return a.printSchedules([]schedule.Schedule{*s})
		},
	}
}

func scheduleToggleCommand(name string, enabled bool, summary string) *command {
	return &command{
		name:    name,
		args:    "NAME",
		summary: summary,
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%w: %s takes one NAME", errUsage, name)
			}
			st, err := a.scheduleStore(ctx)
			if err != nil {
				return err
			}
			s, err := st.SetEnabled(ctx, args[0], enabled)
			if err != nil {
				return err
			}
			return a.printSchedules([]schedule.Schedule{*s})
		},
	}
}

func scheduleRmCommand() *command {
	return &command{
		name:    "schedule rm",
		args:    "NAME",
		summary: "remove a schedule (its editions stay in the archive)",
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%w: schedule rm takes one NAME", errUsage)
			}
			st, err := a.scheduleStore(ctx)
			if err != nil {
				return err
			}
			if err := st.Remove(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "removed schedule %s\n", args[0])
			return nil
		},
	}
}

func scheduleRunsCommand() *command {
	var missed bool
	return &command{
		name:     "schedule runs",
		summary:  "what happened to each run that fell due: done, failed, stopped, missed",
		settings: []setting{boolSetting(&missed, "missed", "", false, "only the missed runs")},
		run: func(ctx context.Context, a *app, args []string) error {
			st, err := a.scheduleStore(ctx)
			if err != nil {
				return err
			}
			status := ""
			if missed {
				status = schedule.RunMissed
			}
			runs, err := st.Runs(ctx, status, 100)
			if err != nil {
				return err
			}
			for _, r := range runs {
				fmt.Fprintf(a.stdout, "%s\t%s\t%s\tdue %s\t%s\n", r.Date, r.Schedule, r.Status, r.Due.UTC().Format(time.RFC3339), r.Detail)
			}
			return nil
		},
	}
}

// nonZero turns an explicit 0 into -1 so that validation refuses it rather
// than taking it for "the default".
func nonZero(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

func (a *app) scheduleStore(ctx context.Context) (*schedule.Store, error) {
	db, err := a.openDB(ctx)
	if err != nil {
		return nil, err
	}
	return schedule.NewStore(db), nil
}

// scheduleParams says which edition a schedule makes for date: without a
// date, today's in the schedule's zone with its window ending now; with one,
// the window ends at that date's run, or now if that is earlier.
func (a *app) scheduleParams(ctx context.Context, name, date string) (digest.AssembleParams, *schedule.Schedule, error) {
	st, err := a.scheduleStore(ctx)
	if err != nil {
		return digest.AssembleParams{}, nil, err
	}
	s, err := st.Get(ctx, name)
	if err != nil {
		return digest.AssembleParams{}, nil, fmt.Errorf("%w; see 'bothsides schedule list'", err)
	}
	if date != "" {
		if _, err := parseDate(date); err != nil {
			return digest.AssembleParams{}, nil, err
		}
	}
	now := a.now()
	run, ok, err := s.RunOn(date, now)
	if err != nil {
		return digest.AssembleParams{}, nil, err
	}
	if date == "" {
		run.Due, ok = now, true // today's edition, its window ending now
	}
	if !ok {
		return digest.AssembleParams{}, nil, fmt.Errorf("schedule %s (%s) has no run on %s", s.Name, s.Spec, date)
	}
	return run.EditionParams(now), s, nil
}

// scheduledSend is the scheduler's job: it sends the run's edition, its
// window ending at the run's due time (or now, if sent early).
func (a *app) scheduledSend(ctx context.Context, r schedule.Run) error {
	stats, err := a.sendEdition(ctx, r.EditionParams(a.now()))
	if err != nil {
		return err
	}
	if stats.Failed > 0 {
		a.log.Warn("scheduled send had failures", "schedule", r.Schedule.Name, "date", r.Date, "failed", stats.Failed)
	}
	return nil
}
