package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"bothsides/digest"
	"bothsides/local"
	"bothsides/schedule"
	"bothsides/sqlite"
)

// startLocal starts the local-time ticker of `serve`: every minute it mails
// the subscribers of local schedules ("local 07:00") whose morning has come.
// The returned stop waits for the sends in flight to be recorded.
func (a *app) startLocal(ctx context.Context, db *sqlite.DB, store *schedule.Store) (stop func(), err error) {
	sender, _, err := a.newSender(ctx, db)
	if err != nil {
		return nil, err
	}
	t := local.New(local.Config{Grace: a.grace, Logger: a.log},
		db, store, digest.NewStore(db), sender)
	if err := t.Start(); err != nil {
		return nil, err
	}
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		t.Stop(sctx)
	}, nil
}

// printLocalProgress adds the zone-by-zone progress to `editions show` when
// the edition's schedule is local.
func (a *app) printLocalProgress(ctx context.Context, db *sqlite.DB, name, date string) error {
	s, err := schedule.NewStore(db).Get(ctx, name)
	if errors.Is(err, schedule.ErrNotFound) || (err == nil && !schedule.IsLocal(s.Spec)) {
		return nil
	}
	if err != nil {
		return err
	}
	p, err := local.Progress(ctx, db, *s, date)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, "by zone (local time, due, sent, pending, waiting, failed):")
	for _, z := range p.Zones {
		at := "-"
		if !z.At.IsZero() {
			at = z.At.Format("Mon 15:04 MST")
		}
		fmt.Fprintf(a.stdout, "  %s\t%s\t%d due\t%d sent\t%d pending\t%d waiting\t%d failed\n",
			z.Zone, at, z.Due(), z.Sent, z.Pending, z.Waiting, z.Failed)
	}
	return nil
}
