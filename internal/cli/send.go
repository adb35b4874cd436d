package cli

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/schedule"
)

// editionParams returns which edition `send` and `preview` mean: without a
// date, today's with its window ending now; with one, that date's with its
// window ending at the date's scheduled time.
func (a *app) editionParams(date string, storyCount int) (digest.AssembleParams, error) {
	spec, err := a.defaultSpec()
	if err != nil {
		return digest.AssembleParams{}, err
	}
	sel := digest.DefaultSelection
	if storyCount > 0 {
		sel.Count = storyCount
	}
	p := digest.AssembleParams{Schedule: digest.DefaultSchedule, Selection: sel}
	if date == "" {
		now := a.now()
		p.Date = now.In(spec.Location).Format("2006-01-02")
		p.WindowEnd = now
		return p, nil
	}
	if _, err := parseDate(date); err != nil {
		return p, err
	}
	at, ok := spec.OnDate(date)
	if !ok {
		return p, fmt.Errorf("schedule %q has no run on %s", spec.Raw, date)
	}
	p.Date, p.WindowEnd = date, at
	return p, nil
}

// defaultSpec is the spec of the schedule named "default" when the database
// has one (serve seeds it from --schedule), else the built-in 07:00 UTC.
func (a *app) defaultSpec() (*schedule.Spec, error) {
	if db, err := a.openDB(context.Background()); err == nil {
		if s, err := schedule.NewStore(db).Get(context.Background(), digest.DefaultSchedule); err == nil {
			return s.Parsed()
		}
	}
	return schedule.Parse(schedule.DefaultSpec)
}

// selection holds the flags of send and preview that shape which stories
// an edition gets.
type selection struct {
	Stories   int
	Minutes   float64
	Blindspot string
}

func (s *selection) settings() []setting {
	return []setting{
		intSetting(&s.Stories, "stories", "", 0, "number of top stories (default 5)"),
		floatSetting(&s.Minutes, "minutes", "", digest.DefaultSelection.ReadingMinutes, "reading-time budget in minutes: lower-ranked stories are dropped to fit; 0 for no limit"),
		stringSetting(&s.Blindspot, "blindspot", "", digest.DefaultBlindspotRule.String(), "blindspot rule MIN_SOURCES,MINORITY%,MAJORITY%: at least MIN_SOURCES rated sources, one side at most MINORITY% of them, the other at least MAJORITY%"),
	}
}

// apply sets p's reading-time budget and blindspot rule.
func (s *selection) apply(p *digest.AssembleParams) error {
	switch m := s.Minutes; {
	case m < 0:
		return fmt.Errorf("%w: --minutes %v: must be 0 (no limit) or more", errUsage, m)
	case m == 0:
		p.Selection.ReadingMinutes = -1
	default:
		p.Selection.ReadingMinutes = m
	}
	rule, err := digest.ParseBlindspotRule(s.Blindspot)
	if err != nil {
		return fmt.Errorf("%w: --blindspot: %v", errUsage, err)
	}
	p.Selection.Rule = rule
	return nil
}

func sendCommand() *command {
	var o struct {
		date, schedule string
		sel            selection
	}
	return &command{
		name:    "send",
		summary: "assemble an edition and mail it now to every active subscriber",
		help: `Without --date the edition is today's and its window is the 24 hours before
now; with --date it is that date's, its window ending at the scheduled time.
Each subscriber is mailed at most once per edition: a repeated or interrupted
send resumes from the delivery ledger.`,
		settings: append([]setting{
			stringSetting(&o.date, "date", "", "", "edition date YYYY-MM-DD (default today)"),
			stringSetting(&o.schedule, "schedule", "", "", "send the edition of this schedule (see 'schedule list'): its zone, stories, window and overrides"),
		}, o.sel.settings()...),
		run: func(ctx context.Context, a *app, args []string) error {
			if err := a.checkBaseURL(); err != nil {
				return err
			}
			var p digest.AssembleParams
			var err error
			if name := o.schedule; name != "" {
				if a.flagGiven("stories") {
					return fmt.Errorf("%w: --stories comes from the schedule; change it with 'schedule edit %s --stories N'", errUsage, name)
				}
				p, _, err = a.scheduleParams(ctx, name, o.date)
			} else {
				p, err = a.editionParams(o.date, o.sel.Stories)
			}
			if err != nil {
				return err
			}
			if err := o.sel.apply(&p); err != nil {
				return err
			}
			a.showProgress = true
			stats, err := a.sendEdition(ctx, p)
			switch {
			case errors.Is(err, context.Canceled):
				fmt.Fprintf(a.stdout, "edition %s: interrupted with %d sent, %d pending; run the same command again to resume\n", p.Date, stats.Sent, stats.Pending())
				return errQuiet
			case errors.Is(err, delivery.ErrPaused):
				fmt.Fprintf(a.stdout, "edition %s: stopped with %d sent, %d pending\n", p.Date, stats.Sent, stats.Pending())
				return err
			case err != nil:
				return err
			}
			fmt.Fprintf(a.stdout, "edition %s: %d sent, %d failed, %d skipped\n", p.Date, stats.Sent, stats.Failed, stats.Skipped)
			if stats.Failed > 0 {
				return fmt.Errorf("%d deliveries failed; see 'bothsides editions show %s'", stats.Failed, p.Date)
			}
			return nil
		},
	}
}

// sendEdition opens (assembling if needed) and sends one edition.
func (a *app) sendEdition(ctx context.Context, p digest.AssembleParams) (delivery.Stats, error) {
	db, err := a.openDB(ctx)
	if err != nil {
		return delivery.Stats{}, err
	}
	e, err := digest.NewStore(db).Open(ctx, p)
	if err != nil {
		return delivery.Stats{}, err
	}
	var current atomic.Pointer[delivery.Sender]
	if a.showProgress {
		// Before the sender is made: on a terminal its log goes above the bar.
		stop := a.watchProgress(e.Date, func() delivery.Progress {
			if s := current.Load(); s != nil {
				return s.Progress()
			}
			return delivery.Progress{}
		})
		defer stop()
	}
	sender, where, err := a.newSender(ctx, db)
	if err != nil {
		return delivery.Stats{}, err
	}
	current.Store(sender)
	a.log.Info("sending edition", "date", e.Date, "stories", len(e.Stories), "via", where,
		"connections", a.cfg.Connections, "rate", a.cfg.Rate)
	// An admin's pause or cancel stops the send between two messages; the
	// scheduler records the run as stopped.
	stats, err := sender.Send(ctx, e)
	// The sender's own pause (the relay refused everything) is a failure of
	// the run, not an admin's stop.
	if errors.Is(err, delivery.ErrPaused) && !errors.Is(err, delivery.ErrRelayRefusing) {
		return stats, fmt.Errorf("%w: %w", schedule.ErrStopped, err)
	}
	return stats, err
}
