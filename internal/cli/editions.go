package cli

import (
	"context"
	"time"

	"bothsides/schedule"
	"fmt"

	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/sqlite"
)

// editionStatusCommand makes `editions pause|resume|cancel DATE`.
func editionStatusCommand(verb string, status digest.EditionStatus, summary, help string) *command {
	var name string
	return &command{
		name:     "editions " + verb,
		args:     "DATE",
		summary:  summary,
		help:     help,
		settings: []setting{editionScheduleSetting(&name)},
		run: func(ctx context.Context, a *app, args []string) error {
			db, e, err := a.editionArg(ctx, "editions "+verb, args, name)
			if err != nil {
				return err
			}
			if err := digest.SetEditionStatus(ctx, db, e.ID, status); err != nil {
				return fmt.Errorf("editions %s %s: %w", verb, args[0], err)
			}
			st, err := delivery.LedgerStats(ctx, db.R, e.ID)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "edition %s (%s): %s, %d sent, %d pending\n", e.Date, e.Schedule, status, st.Sent, st.Pending())
			if status == digest.EditionSending {
				fmt.Fprintf(a.stdout, "run 'bothsides send --date %s' (or let serve's scheduler) send the rest\n", e.Date)
			}
			return nil
		},
	}
}

// editionScheduleSetting is --schedule of the commands on one edition.
func editionScheduleSetting(dst *string) setting {
	return stringSetting(dst, "schedule", "", digest.DefaultSchedule, "schedule name of the edition")
}

// editionArg reads the DATE argument of an editions command and returns the
// database and that date's edition of the schedule.
func (a *app) editionArg(ctx context.Context, cmd string, args []string, schedule string) (*sqlite.DB, *digest.Edition, error) {
	if len(args) != 1 {
		return nil, nil, fmt.Errorf("%w: %s takes one DATE", errUsage, cmd)
	}
	if _, err := parseDate(args[0]); err != nil {
		return nil, nil, err
	}
	db, err := a.openDB(ctx)
	if err != nil {
		return nil, nil, err
	}
	e, err := digest.NewStore(db).Edition(ctx, args[0], schedule)
	if err != nil {
		return nil, nil, err
	}
	return db, e, nil
}

func editionsListCommand() *command {
	var only string
	return &command{
		name:    "editions list",
		summary: "list editions with their delivery counts, and the runs missed",
		help: `One line per edition, newest first, tab-separated: date, schedule, status
(assembled, sending, paused, cancelled, sent), stories, delivery counts. Runs
of a schedule that were missed (due while the server was down, later than
the grace period) are listed with the status "missed".`,
		settings: []setting{stringSetting(&only, "schedule", "", "", "only this schedule's editions")},
		run: func(ctx context.Context, a *app, args []string) error {
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			list, err := digest.NewStore(db).Editions(ctx, 100)
			if err != nil {
				return err
			}
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
}

func editionsShowCommand() *command {
	var name string
	return &command{
		name:     "editions show",
		args:     "DATE",
		summary:  "show one edition: its stories, ledger counts and failures",
		settings: []setting{editionScheduleSetting(&name)},
		run: func(ctx context.Context, a *app, args []string) error {
			db, e, err := a.editionArg(ctx, "editions show", args, name)
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
			if err := a.printReputation(ctx, db, e.ID); err != nil {
				return err
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
}
