package main

import (
	"context"
	"flag"
	"fmt"

	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/sqlite"
)

// editionStatusCommand makes `editions pause|resume|cancel DATE`.
func editionStatusCommand(verb string, status digest.EditionStatus, summary, help string) *command {
	return &command{
		name:    "editions " + verb,
		args:    "DATE",
		summary: summary,
		help:    help,
		flags: func(fs *flag.FlagSet) {
			fs.String("schedule", digest.DefaultSchedule, "schedule name of the edition")
		},
		run: func(ctx context.Context, a *app, args []string) error {
			db, e, err := a.editionArg(ctx, "editions "+verb, args)
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

var (
	cmdEditionsPause = editionStatusCommand("pause", digest.EditionPaused,
		"pause an edition that is being sent",
		`The sender stops between two messages (the one being written is withdrawn
before its end and queued again); nothing more goes out until it is resumed.`)
	cmdEditionsResume = editionStatusCommand("resume", digest.EditionSending,
		"resume a paused edition",
		`Marks the edition as sending again, after an operator's pause or after the
sender paused it because the relay refused every message. Then run send
for the same date (or let serve's scheduler) to mail the rest: the ledger
knows who has it already.`)
	cmdEditionsCancel = editionStatusCommand("cancel", digest.EditionCancelled,
		"cancel an edition for good",
		`Nothing more goes out; the deliveries made stay in the ledger. A cancelled
edition cannot be resumed.`)
)

// editionArg reads the DATE argument of an editions command and returns the
// database and that date's edition of --schedule.
func (a *app) editionArg(ctx context.Context, cmd string, args []string) (*sqlite.DB, *digest.Edition, error) {
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
	e, err := digest.NewStore(db).Edition(ctx, args[0], a.flagString("schedule"))
	if err != nil {
		return nil, nil, err
	}
	return db, e, nil
}
