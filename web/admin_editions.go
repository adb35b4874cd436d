package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/schedule"
)

func (a *Admin) editionPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name, date := r.PathValue("schedule"), r.PathValue("date")
	data := map[string]any{"Schedule": name, "Date": date, "Notice": notice(r), "Poll": a.cfg.PollInterval.Milliseconds(),
		"Progress": "/admin/editions/" + url.PathEscape(name) + "/" + url.PathEscape(date) + "/progress"}
	e, err := a.stories.Edition(ctx, date, name)
	switch {
	case errors.Is(err, digest.ErrNoEdition):
		// Started a moment ago and still being assembled, or failed.
		data["Live"] = a.live(name, date, "")
		if rec, rerr := a.schedules.RunOf(ctx, name, date); rerr == nil {
			data["Run"] = rec
		} else if !data["Live"].(bool) {
			a.error(w, r, err)
			return
		}
	case err != nil:
		a.error(w, r, err)
		return
	default:
		v, err := a.viewOf(ctx, e)
		if err != nil {
			a.error(w, r, err)
			return
		}
		fails, err := delivery.Failures(ctx, a.db.R, e.ID, 200)
		if err != nil {
			a.error(w, r, err)
			return
		}
		kinds, bounces, err := a.editionBounces(ctx, e.ID)
		if err != nil {
			a.error(w, r, err)
			return
		}
		rep, err := a.editionReputation(ctx, e.ID)
		if err != nil {
			a.error(w, r, err)
			return
		}
		data["Edition"], data["View"], data["Failures"], data["Reputation"] = e, v, fails, rep
		data["BounceKinds"], data["Bounces"] = kinds, bounces
		data["Live"] = a.live(name, date, e.Status)
		if rec, err := a.schedules.RunOf(ctx, name, date); err == nil {
			data["Run"] = rec
		}
	}
	// A run that was missed or failed before its edition was assembled,
	// or an edition that never started, can be sent from here.
	live, _ := data["Live"].(bool)
	data["CanSend"] = !live && (e == nil || e.Status == digest.EditionAssembled)
	a.render(w, r, http.StatusOK, "edition", data)
}

// progressJSON is what the progress script reads.
type progressJSON struct {
	Status  string `json:"status"`
	Total   int    `json:"total"`
	Sent    int    `json:"sent"`
	Failed  int    `json:"failed"`
	Skipped int    `json:"skipped"`
	Pending int    `json:"pending"`
	Done    int    `json:"done"`
	Percent int    `json:"percent"`
	Detail  string `json:"detail,omitempty"`
	// Live is true while the send is starting or going out: the page keeps
	// polling.
	Live bool `json:"live"`
}

// live reports whether the edition of name on date is being sent by this
// process or is marked as sending.
func (a *Admin) live(name, date string, status digest.EditionStatus) bool {
	if status == digest.EditionSending {
		return true
	}
	r, busy := a.sched.Running()[name]
	return busy && r.Date == date
}

func (a *Admin) progressOf(ctx context.Context, name, date string) (progressJSON, error) {
	e, err := a.stories.Edition(ctx, date, name)
	if errors.Is(err, digest.ErrNoEdition) {
		p := progressJSON{Status: "starting", Live: a.live(name, date, "")}
		if rec, err := a.schedules.RunOf(ctx, name, date); err == nil && rec.Status != schedule.RunStarted {
			p.Status, p.Detail = rec.Status, rec.Detail
		} else if !p.Live && err != nil {
			return p, err
		}
		return p, nil
	}
	if err != nil {
		return progressJSON{}, err
	}
	v, err := a.viewOf(ctx, e)
	if err != nil {
		return progressJSON{}, err
	}
	p := progressJSON{Status: v.Status, Total: v.Stats.Total, Sent: v.Stats.Sent, Failed: v.Stats.Failed,
		Skipped: v.Stats.Skipped, Pending: v.Stats.Pending(), Done: v.Done, Percent: v.Percent, Live: a.live(name, date, digest.EditionStatus(v.Status))}
	if rec, err := a.schedules.RunOf(ctx, name, date); err == nil && rec.Status == schedule.RunFailed {
		p.Detail = rec.Detail
	}
	return p, nil
}

func (a *Admin) progress(w http.ResponseWriter, r *http.Request) {
	p, err := a.progressOf(r.Context(), r.PathValue("schedule"), r.PathValue("date"))
	if err != nil {
		a.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (a *Admin) editionAction(w http.ResponseWriter, r *http.Request) {
	name, date, action := r.PathValue("schedule"), r.PathValue("date"), r.PathValue("action")
	if err := a.control(r.Context(), name, date, action); err != nil {
		a.error(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/editions/"+url.PathEscape(name)+"/"+url.PathEscape(date)+"?ok="+url.QueryEscape(action), http.StatusSeeOther)
}
