package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sync/atomic"
	"time"

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

// selectionFlags registers the flags of send and preview that shape which
// stories an edition gets.
func selectionFlags(fs *flag.FlagSet) {
	fs.Int("stories", 0, "number of top stories (default 5)")
	fs.Float64("minutes", digest.DefaultSelection.ReadingMinutes, "reading-time budget in minutes: lower-ranked stories are dropped to fit; 0 for no limit")
	fs.String("blindspot", digest.DefaultBlindspotRule.String(), "blindspot rule MIN_SOURCES,MINORITY%,MAJORITY%: at least MIN_SOURCES rated sources, one side at most MINORITY% of them, the other at least MAJORITY%")
}

// applySelectionFlags sets p's reading-time budget and blindspot rule from
// the flags of selectionFlags.
func (a *app) applySelectionFlags(p *digest.AssembleParams) error {
	switch m := a.flagValue("minutes").(float64); {
	case m < 0:
		return fmt.Errorf("%w: --minutes %v: must be 0 (no limit) or more", errUsage, m)
	case m == 0:
		p.Selection.ReadingMinutes = -1
	default:
		p.Selection.ReadingMinutes = m
	}
	rule, err := digest.ParseBlindspotRule(a.flagString("blindspot"))
	if err != nil {
		return fmt.Errorf("%w: --blindspot: %v", errUsage, err)
	}
	p.Selection.Rule = rule
	return nil
}

var cmdPreview = &command{
	name:    "preview",
	summary: "print an edition's HTML (or its plain text) without sending it",
	help: `Shows the stored edition for the date if it was already sent; otherwise
assembles one from the stories in its window without storing it.`,
	flags: func(fs *flag.FlagSet) {
		fs.String("date", "", "edition date YYYY-MM-DD (default today, window ending now)")
		fs.Bool("text", false, "print the plain-text part instead of the HTML")
		fs.String("topics", "", "comma-separated favoured topics: show the edition as a reader who favours them gets it")
		selectionFlags(fs)
	},
	run: func(ctx context.Context, a *app, args []string) error {
		db, err := a.openDB(ctx)
		if err != nil {
			return err
		}
		p, err := a.editionParams(a.flagString("date"), a.flagInt("stories"))
		if err != nil {
			return err
		}
		if err := a.applySelectionFlags(&p); err != nil {
			return err
		}
		store := digest.NewStore(db)
		e, err := store.Edition(ctx, p.Date, p.Schedule)
		if errors.Is(err, digest.ErrNoEdition) {
			e, err = store.Assemble(ctx, p)
		}
		if err != nil {
			return err
		}
		e = e.Variant(topicsFlag(a.flagString("topics")))
		r, err := a.renderer()
		if err != nil {
			return err
		}
		rendered, err := r.Render(e)
		if err != nil {
			return err
		}
		html, text := rendered.Personalize(digest.Personal{
			Name:           "Reader",
			Email:          "reader@example.com",
			UnsubscribeURL: a.cfg.BaseURL + "/unsubscribe/preview",
			PreferencesURL: a.cfg.BaseURL + "/preferences/preview",
		})
		if n := len(html); n >= digest.ClipBytes {
			fmt.Fprintf(a.stderr, "warning: the edition's HTML is %d bytes; Gmail clips messages over %d (try fewer --stories)\n", n, digest.ClipBytes)
		}
		if a.flagBool("text") {
			_, err = a.stdout.Write(text)
		} else {
			_, err = a.stdout.Write(html)
		}
		return err
	},
}

var cmdSend = &command{
	name:    "send",
	summary: "assemble an edition and mail it now to every active subscriber",
	help: `Without --date the edition is today's and its window is the 24 hours before
now; with --date it is that date's, its window ending at the scheduled time.
Each subscriber is mailed at most once per edition: a repeated or interrupted
send resumes from the delivery ledger.`,
	flags: func(fs *flag.FlagSet) {
		fs.String("date", "", "edition date YYYY-MM-DD (default today)")
		fs.String("schedule", "", "send the edition of this schedule (see 'schedule list'): its zone, stories, window and overrides")
		selectionFlags(fs)
	},
	run: func(ctx context.Context, a *app, args []string) error {
		if err := a.checkBaseURL(); err != nil {
			return err
		}
		var p digest.AssembleParams
		var err error
		if name := a.flagString("schedule"); name != "" {
			if a.flagSet("stories") {
				return fmt.Errorf("%w: --stories comes from the schedule; change it with 'schedule edit %s --stories N'", errUsage, name)
			}
			p, _, err = a.scheduleParams(ctx, name, a.flagString("date"))
		} else {
			p, err = a.editionParams(a.flagString("date"), a.flagInt("stories"))
		}
		if err != nil {
			return err
		}
		if err := a.applySelectionFlags(&p); err != nil {
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

var cmdEditionsList = &command{
	name:    "editions list",
	summary: "list editions with their delivery counts, and the runs missed",
	help: `One line per edition, newest first, tab-separated: date, schedule, status
(assembled, sending, paused, cancelled, sent), stories, delivery counts. Runs
of a schedule that were missed (due while the server was down, later than
the grace period) are listed with the status "missed".`,
	flags: func(fs *flag.FlagSet) {
		fs.String("schedule", "", "only this schedule's editions")
	},
	run: func(ctx context.Context, a *app, args []string) error {
		db, err := a.openDB(ctx)
		if err != nil {
			return err
		}
		list, err := digest.NewStore(db).Editions(ctx, 100)
		if err != nil {
			return err
		}
		only := a.flagString("schedule")
		for _, e := range list {
			if only != "" && e.Schedule != only {
				continue
			}
			st, err := delivery.LedgerStats(ctx, db.R, e.ID)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s\t%s\t%s\t%d stories\t%d sent, %d failed, %d pending, %d skipped\n",
				e.Date, e.Schedule, e.Status, len(e.Stories), st.Sent, st.Failed, st.Pending(), st.Skipped)
		}
		missed, err := schedule.NewStore(db).Runs(ctx, schedule.RunMissed, 100)
		if err != nil {
			return err
		}
		for _, r := range missed {
			if only != "" && r.Schedule != only {
				continue
			}
			fmt.Fprintf(a.stdout, "%s\t%s\tmissed\tdue %s\t%s\n", r.Date, r.Schedule, r.Due.UTC().Format(time.RFC3339), r.Detail)
		}
		return nil
	},
}

var cmdEditionsShow = &command{
	name:    "editions show",
	args:    "DATE",
	summary: "show one edition: its stories, ledger counts and failures",
	flags: func(fs *flag.FlagSet) {
		fs.String("schedule", digest.DefaultSchedule, "schedule name of the edition")
	},
	run: func(ctx context.Context, a *app, args []string) error {
		db, e, err := a.editionArg(ctx, "editions show", args)
		if err != nil {
			return err
		}
		st, err := delivery.LedgerStats(ctx, db.R, e.ID)
		if err != nil {
			return err
		}
		w := a.stdout
		fmt.Fprintf(w, "edition %s (%s): %s\n", e.Date, e.Schedule, e.Status)
		fmt.Fprintf(w, "window %s to %s\n", e.WindowStart.Format(time.RFC3339), e.WindowEnd.Format(time.RFC3339))
		fmt.Fprintf(w, "deliveries: %d total, %d sent, %d failed, %d queued, %d retry, %d in flight, %d skipped\n",
			st.Total, st.Sent, st.Failed, st.Queued, st.Retry, st.Sending, st.Skipped)
		if err := a.printLocalProgress(ctx, db, e.Schedule, e.Date); err != nil {
			return err
		}
		if !e.StartedAt.IsZero() {
			line := "started " + e.StartedAt.Format(time.RFC3339)
			if !e.FinishedAt.IsZero() {
				d := e.FinishedAt.Sub(e.StartedAt)
				line += ", finished " + e.FinishedAt.Format(time.RFC3339) + " (" + d.String() + ")"
			}
			fmt.Fprintln(w, line)
		}
		ss, err := delivery.EditionSendState(ctx, db.R, e.ID)
		if err != nil {
			return err
		}
		if ss.Sender != "" {
			fmt.Fprintf(w, "being sent by %s\n", ss.Sender)
		}
		if e.Status == digest.EditionPaused && ss.PauseReason != "" {
			fmt.Fprintf(w, "paused: %s\n", ss.PauseReason)
		}
		fmt.Fprintln(w, "stories:")
		for i, s := range e.Stories {
			fmt.Fprintf(w, "  %d. %s (%s)\n", i+1, s.Title, s.ID)
		}
		for _, b := range e.Blindspots {
			fmt.Fprintf(w, "  blindspot for the %s: %s (%s)\n", b.For, b.Story.Title, b.Story.ID)
		}
		fails, err := delivery.Failures(ctx, db.R, e.ID, 100)
		if err != nil {
			return err
		}
		if len(fails) > 0 {
			fmt.Fprintf(w, "failures (%d of %d shown):\n", len(fails), st.Failed)
			for _, f := range fails {
				fmt.Fprintf(w, "  %s\t%d attempts\t%s\n", f.Email, f.Attempts, f.LastReply)
			}
		}
		retries, err := delivery.Retries(ctx, db.R, e.ID, 100)
		if err != nil {
			return err
		}
		if len(retries) > 0 {
			fmt.Fprintf(w, "waiting to retry (%d of %d shown):\n", len(retries), st.Retry)
			for _, f := range retries {
				fmt.Fprintf(w, "  %s\t%d attempts\tnext %s\t%s\n", f.Email, f.Attempts, f.UpdatedAt.Format(time.RFC3339), f.LastReply)
			}
		}
		return nil
	},
}
