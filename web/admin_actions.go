package web

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/schedule"
	"bothsides/sqlite"
)

// runFor returns the run of schedule name on date ("" for today in its
// zone): due at the date's scheduled time, or now when the schedule has no
// run that day.
func (a *Admin) runFor(ctx context.Context, name, date string) (schedule.Run, error) {
	s, err := a.schedules.Get(ctx, name)
	if err != nil {
		return schedule.Run{}, err
	}
	if date != "" {
		if !datePattern.MatchString(date) {
			return schedule.Run{}, badInput("date %q: want YYYY-MM-DD", date)
		}
		if _, err := time.Parse(schedule.DateFormat, date); err != nil {
			return schedule.Run{}, badInput("date %q is not a calendar date", date)
		}
	}
	now := a.db.Now()
	run, ok, err := s.RunOn(date, now)
	if err != nil {
		return schedule.Run{}, err
	}
	if !ok {
		run.Due = now
	}
	return run, nil
}

// sendNow starts the edition of schedule name on date in the background.
func (a *Admin) sendNow(ctx context.Context, name, date string) (schedule.Run, error) {
	r, err := a.runFor(ctx, name, date)
	if err != nil {
		return r, err
	}
	if e, err := a.stories.Edition(ctx, r.Date, name); err == nil {
		switch e.Status {
		case digest.EditionSent:
			return r, conflict("the %s edition of %s was sent already", name, r.Date)
		case digest.EditionCancelled:
			return r, conflict("the %s edition of %s was cancelled", name, r.Date)
		case digest.EditionPaused:
			return r, conflict("the %s edition of %s is paused; resume it instead", name, r.Date)
		}
	}
	if err := a.sched.Launch(r); err != nil {
		return r, err
	}
	a.log.Info("admin started a send", "schedule", name, "date", r.Date)
	return r, nil
}

// previewEdition returns the stored edition of schedule name on date, or
// assembles one without storing it.
func (a *Admin) previewEdition(ctx context.Context, name, date string) (*digest.Edition, error) {
	r, err := a.runFor(ctx, name, date)
	if err != nil {
		return nil, err
	}
	e, err := a.stories.Edition(ctx, r.Date, name)
	if errors.Is(err, digest.ErrNoEdition) {
		// A later day's edition is previewed with its window as it will
		// be; today's, before its run is due, with the window so far.
		end := r.Due
		if now := a.db.Now(); r.Date == now.In(end.Location()).Format(schedule.DateFormat) {
			end = r.WindowEnd(now)
		}
		return a.stories.Assemble(ctx, r.Schedule.EditionParams(r.Date, end))
	}
	return e, err
}

// renderPreview renders e as a reader would get it, with placeholder links.
func (a *Admin) renderPreview(e *digest.Edition) (html, text []byte, subject string, err error) {
	rendered, err := a.renderer.Render(e)
	if err != nil {
		return nil, nil, "", err
	}
	base := strings.TrimRight(a.cfg.BaseURL, "/")
	html, text = rendered.Personalize(digest.Personal{Name: "Reader", Email: "reader@example.com",
		UnsubscribeURL: base + "/unsubscribe/preview", PreferencesURL: base + "/preferences/preview"})
	return html, text, rendered.Subject, nil
}

// sendTest mails one copy of schedule name's edition of date to addr.
func (a *Admin) sendTest(ctx context.Context, name, date, addr string) error {
	if a.tests == nil {
		return conflict("test mails are not configured")
	}
	e, err := a.previewEdition(ctx, name, date)
	if err != nil {
		return err
	}
	if err := a.tests.SendTest(ctx, e, addr); err != nil {
		return err
	}
	a.log.Info("admin sent a test mail", "schedule", name, "date", e.Date)
	return nil
}

// editionView is an edition with its delivery counts.
type editionView struct {
	ID           int64          `json:"id"`
	Date         string         `json:"date"`
	Schedule     string         `json:"schedule"`
	Status       string         `json:"status"`
	Stories      int            `json:"stories"`
	Stats        delivery.Stats `json:"-"`
	Total        int            `json:"total"`
	Sent         int            `json:"sent"`
	Failed       int            `json:"failed"`
	Skipped      int            `json:"skipped"`
	Pending      int            `json:"pending"`
	Unsubscribed int            `json:"unsubscribed"`
	Done         int            `json:"done"`
	Percent      int            `json:"percent"`
	StartedAt    time.Time      `json:"started_at"`
	FinishedAt   time.Time      `json:"finished_at"`
}

func (a *Admin) viewOf(ctx context.Context, e *digest.Edition) (editionView, error) {
	v := editionView{ID: e.ID, Date: e.Date, Schedule: e.Schedule, Status: string(e.Status),
		Stories: len(e.Stories) + len(e.Blindspots), StartedAt: e.StartedAt, FinishedAt: e.FinishedAt}
	var err error
	if v.Stats, err = delivery.LedgerStats(ctx, a.db.R, e.ID); err != nil {
		return v, err
	}
	if v.Unsubscribed, err = unsubscribedAfter(ctx, a.db, e.ID); err != nil {
		return v, err
	}
	v.Total, v.Sent, v.Failed, v.Skipped, v.Pending = v.Stats.Total, v.Stats.Sent, v.Stats.Failed, v.Stats.Skipped, v.Stats.Pending()
	v.Done = v.Stats.Sent + v.Stats.Failed + v.Stats.Skipped
	v.Percent = 100
	if v.Stats.Total > 0 {
		v.Percent = v.Done * 100 / v.Stats.Total
	}
	return v, nil
}

// unsubscribedAfter counts the readers who unsubscribed after this edition
// was the last one mailed to them: the unsubscribes it is answerable for.
func unsubscribedAfter(ctx context.Context, db *sqlite.DB, editionID int64) (int, error) {
	var n int
	err := db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
		WHERE d.edition_id = ? AND d.status = 'sent' AND s.unsubscribed_at >= d.sent_at
		  AND NOT EXISTS (SELECT 1 FROM deliveries later WHERE later.subscriber_id = d.subscriber_id
		      AND later.status = 'sent' AND later.sent_at > d.sent_at AND later.sent_at <= s.unsubscribed_at)`,
		editionID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count unsubscribes: %w", err)
	}
	return n, nil
}

// recentEditions returns the newest editions with their counts.
func (a *Admin) recentEditions(ctx context.Context, limit int) ([]editionView, error) {
	list, err := a.stories.Editions(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]editionView, 0, len(list))
	for _, e := range list {
		v, err := a.viewOf(ctx, e)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// activeEditions are the editions going out or paused.
func (a *Admin) activeEditions(ctx context.Context) ([]editionView, error) {
	list, err := a.stories.Active(ctx)
	if err != nil {
		return nil, err
	}
	var out []editionView
	for _, e := range list {
		v, err := a.viewOf(ctx, e)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// control pauses, resumes or cancels the edition of schedule name on date.
func (a *Admin) control(ctx context.Context, name, date, action string) error {
	e, err := a.stories.Edition(ctx, date, name)
	if err != nil {
		return err
	}
	switch action {
	case "pause":
		err = digest.SetEditionStatus(ctx, a.db, e.ID, digest.EditionPaused)
	case "cancel":
		err = digest.SetEditionStatus(ctx, a.db, e.ID, digest.EditionCancelled)
	case "resume":
		if err = digest.SetEditionStatus(ctx, a.db, e.ID, digest.EditionSending); err != nil {
			return err
		}
		r, rerr := a.runFor(ctx, name, date)
		if errors.Is(rerr, schedule.ErrNotFound) {
			// The schedule was removed: resume under its name with defaults.
			r, rerr = schedule.Run{Schedule: schedule.Schedule{Name: name, Stories: 5, WindowHours: 24}, Date: date, Due: e.WindowEnd}, nil
		}
		if rerr != nil {
			return rerr
		}
		err = a.sched.Launch(r)
	default:
		return fmt.Errorf("%w: unknown action %q", errNotFound, action)
	}
	if err != nil {
		return err
	}
	a.log.Info("admin changed an edition", "schedule", name, "date", date, "action", action)
	return nil
}

// scheduleView is a schedule with its next runs.
type scheduleView struct {
	schedule.Schedule
	Next []time.Time `json:"next_runs"`
	Zone string      `json:"zone"`
}

func (a *Admin) scheduleViews(ctx context.Context) ([]scheduleView, error) {
	list, err := a.schedules.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]scheduleView, 0, len(list))
	for _, s := range list {
		out = append(out, a.viewSchedule(s))
	}
	return out, nil
}

func (a *Admin) viewSchedule(s schedule.Schedule) scheduleView {
	v := scheduleView{Schedule: s, Next: []time.Time{}}
	if spec, err := s.Parsed(); err == nil {
		v.Zone = spec.Location.String()
		if s.Enabled {
			v.Next = spec.NextN(a.db.Now(), 3)
		}
	}
	return v
}

// changed reloads the scheduler's cron entries after a schedule change.
func (a *Admin) changed(ctx context.Context) {
	if err := a.sched.Reload(ctx); err != nil {
		a.log.Error("reload schedules", "err", err)
	}
}
