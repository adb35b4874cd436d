package main

import (
	"context"
	"time"

	"bothsides/digest"
	"bothsides/local"
	"bothsides/schedule"
	"bothsides/sqlite"
	"bothsides/web"
)

// startLocal starts the local-time ticker of `serve`: every minute it mails
// the subscribers of local schedules ("local 07:00") whose morning has come.
// The returned stop waits for the sends in flight to be recorded.
func (a *app) startLocal(ctx context.Context, db *sqlite.DB, store *schedule.Store) (stop func(), err error) {
	sender, _, err := a.newSender(ctx, db)
	if err != nil {
		return nil, err
	}
	t := local.New(local.Config{Grace: a.grace, Params: web.EditionParams, Logger: a.log},
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
