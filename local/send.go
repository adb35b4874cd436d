package local

import (
	"context"
	"errors"
	"fmt"
	"time"

	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/schedule"
)

// pending returns the editions of local schedules, from the last few days,
// that have deliveries waiting and are not paused or cancelled: what is
// left after a restart, a retry, or a race with a send that had finished.
func (t *Ticker) pending(ctx context.Context) ([]*digest.Edition, error) {
	list, err := t.localSchedules(ctx)
	if err != nil {
		return nil, err
	}
	since := t.db.Now().AddDate(0, 0, -3).Format(schedule.DateFormat)
	var out []*digest.Edition
	for _, ls := range list {
		editions, err := t.stories.Unfinished(ctx, ls.Name, since)
		if err != nil {
			return nil, fmt.Errorf("local editions to send: %w", err)
		}
		out = append(out, editions...)
	}
	return out, nil
}

// send sends e until its ledger has nothing pending: a tick may queue more
// subscribers while the sender finishes, so a finished send is checked and
// the edition reopened when some arrived meanwhile.
func (t *Ticker) send(ctx context.Context, e *digest.Edition) error {
	for {
		if err := digest.ReopenSent(ctx, t.db.W, e.ID, ""); err != nil {
			return fmt.Errorf("reopen edition %d: %w", e.ID, err)
		}
		if _, err := t.sender.Send(ctx, e); err != nil {
			return err
		}
		more, err := t.hasPending(ctx, e.ID)
		if err != nil {
			return err
		}
		if !more {
			return t.keepOpen(ctx, e)
		}
	}
}

// settleStatus keeps the editions of the dates that are today somewhere
// sending while subscribers are still waiting for them, whoever finished
// the last send (an admin's resume runs the plain sender, which marks the
// edition sent when its ledger is done), and marks one sent once its last
// zone has passed with nothing left to send (when the last zone's
// subscribers were all skipped, no send ran to do it).
func (t *Ticker) settleStatus(ctx context.Context, ls localSchedule, now time.Time) error {
	first := now.Add(-40 * time.Hour).UTC().Format(schedule.DateFormat)
	last := now.Add(14 * time.Hour).UTC().Format(schedule.DateFormat)
	const (
		waiting = `EXISTS (SELECT 1 FROM local_due WHERE schedule_id = ? AND local_date = ?)`
		drained = `NOT EXISTS (SELECT 1 FROM deliveries WHERE edition_id = editions.id AND status IN ('queued', 'sending', 'retry'))`
	)
	for d := first; d <= last; d = schedule.NextDate(d) {
		err := digest.ReopenSentOn(ctx, t.db.W, ls.Name, d, waiting, ls.ID, d)
		if err != nil {
			return fmt.Errorf("reopen edition %s %s: %w", ls.Name, d, err)
		}
		err = digest.MarkSentOn(ctx, t.db.W, ls.Name, d, now, `NOT `+waiting+` AND `+drained, ls.ID, d)
		if err != nil {
			return fmt.Errorf("finish edition %s %s: %w", ls.Name, d, err)
		}
	}
	return nil
}

// keepOpen puts an edition the sender just finished back to sending while
// subscribers of later zones are still waiting for that date: it is sent
// when its last zone is, and an admin can pause or cancel it in between.
func (t *Ticker) keepOpen(ctx context.Context, e *digest.Edition) error {
	err := digest.ReopenSent(ctx, t.db.W, e.ID, `EXISTS (SELECT 1 FROM local_due
		WHERE schedule_id = (SELECT id FROM schedules WHERE name = ?) AND local_date = ?)`, e.Schedule, e.Date)
	if err != nil {
		return fmt.Errorf("keep edition %s %s open: %w", e.Schedule, e.Date, err)
	}
	return nil
}

func (t *Ticker) hasPending(ctx context.Context, id int64) (bool, error) {
	var n int
	err := t.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM deliveries
		WHERE edition_id = ? AND status IN ('queued', 'sending', 'retry') LIMIT 1)`, id).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("pending deliveries of edition %d: %w", id, err)
	}
	return n > 0, nil
}

// Flush sends, one after the other, every local edition with deliveries
// waiting, and returns when they are all sent (or one fails): for tests,
// which drive the ticker by hand; the background loop sends concurrently.
func (t *Ticker) Flush(ctx context.Context) error {
	list, err := t.pending(ctx)
	if err != nil {
		return err
	}
	for _, e := range list {
		if err := t.send(ctx, e); err != nil {
			return fmt.Errorf("send %s %s: %w", e.Schedule, e.Date, err)
		}
	}
	return nil
}

// Start runs Tick every minute in the background, on a robfig runner with
// the usual wrappers, and sends each edition with waiting deliveries in its
// own goroutine (one per edition at a time). The first tick runs at once:
// it resumes what a previous process left.
func (t *Ticker) Start() error {
	t.runner = schedule.NewRunner(t.cfg.Logger)
	if _, err := t.runner.Add("* * * * *", t.tickAndDispatch); err != nil {
		return err
	}
	t.runner.Start()
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.tickAndDispatch()
	}()
	return nil
}

func (t *Ticker) tickAndDispatch() {
	if t.ctx.Err() != nil {
		return
	}
	if _, err := t.Tick(t.ctx); err != nil && t.ctx.Err() == nil {
		t.cfg.Logger.Error("local tick", "err", err)
	}
	list, err := t.pending(t.ctx)
	if err != nil {
		if t.ctx.Err() == nil {
			t.cfg.Logger.Error("local tick", "err", err)
		}
		return
	}
	for _, e := range list {
		t.dispatch(e)
	}
}

// dispatch sends e in the background unless a loop is sending it already
// (that loop picks the new deliveries up: Tick woke it).
func (t *Ticker) dispatch(e *digest.Edition) {
	t.mu.Lock()
	if t.running[e.ID] || t.ctx.Err() != nil {
		t.mu.Unlock()
		return
	}
	t.running[e.ID] = true
	t.wg.Add(1)
	t.mu.Unlock()
	go func() {
		defer t.wg.Done()
		defer func() {
			t.mu.Lock()
			delete(t.running, e.ID)
			t.mu.Unlock()
		}()
		err := t.send(t.ctx, e)
		switch {
		case err == nil, t.ctx.Err() != nil:
		case errors.Is(err, delivery.ErrPaused):
			t.cfg.Logger.Warn("local edition stopped", "schedule", e.Schedule, "date", e.Date, "err", err)
		case errors.Is(err, delivery.ErrLeased):
			t.cfg.Logger.Info("local edition is being sent by another process", "schedule", e.Schedule, "date", e.Date)
		default:
			t.cfg.Logger.Error("local edition send", "schedule", e.Schedule, "date", e.Date, "err", err)
		}
	}()
}

// Stop stops the minute tick, then the sends between two messages (each
// records its last message), and waits for them or for ctx.
func (t *Ticker) Stop(ctx context.Context) {
	if t.runner != nil {
		t.runner.Stop(ctx)
	}
	t.cancel()
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
