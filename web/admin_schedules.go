package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"bothsides/schedule"
)

// scheduleForm reads a schedule from a form; a number field that is not a
// number is an error naming it.
func scheduleForm(r *http.Request) (schedule.Schedule, error) {
	var bad []string
	num := func(k, label string) int {
		v := strings.TrimSpace(r.PostFormValue(k))
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s %q: want a whole number", label, v))
			return 0
		}
		return nonZero(n)
	}
	s := schedule.Schedule{
		Name: r.PostFormValue("name"), Spec: r.PostFormValue("spec"), Enabled: r.PostFormValue("enabled") == "on",
		Stories: num("stories", "stories"), WindowHours: num("window_hours", "window"),
		Subject: r.PostFormValue("subject"), Title: r.PostFormValue("title"),
	}
	if len(bad) > 0 {
		return s, badInput("%s", strings.Join(bad, "; "))
	}
	return s, nil
}

func (a *Admin) schedulesPage(w http.ResponseWriter, r *http.Request) {
	a.showSchedules(w, r, http.StatusOK, schedule.Schedule{Enabled: true, Stories: 5, WindowHours: 24, Spec: schedule.DefaultSpec}, "")
}

func (a *Admin) showSchedules(w http.ResponseWriter, r *http.Request, code int, form schedule.Schedule, problem string) {
	list, err := a.scheduleViews(r.Context())
	if err != nil {
		a.error(w, r, err)
		return
	}
	a.render(w, r, code, "schedules", map[string]any{"Schedules": list, "Form": form, "Problem": problem, "Notice": notice(r)})
}

func (a *Admin) createSchedule(w http.ResponseWriter, r *http.Request) {
	form, err := scheduleForm(r)
	var s *schedule.Schedule
	if err == nil {
		s, err = a.schedules.Add(r.Context(), form)
	}
	if err != nil {
		if f := failureOf(err); f.Code < 500 {
			a.showSchedules(w, r, f.Code, form, f.Detail)
			return
		}
		a.error(w, r, err)
		return
	}
	a.changed(r.Context())
	a.log.Info("admin added a schedule", "name", s.Name, "spec", s.Spec)
	http.Redirect(w, r, "/admin/schedules/"+url.PathEscape(s.Name)+"?ok=created", http.StatusSeeOther)
}

func (a *Admin) schedulePage(w http.ResponseWriter, r *http.Request) {
	s, err := a.schedules.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		a.error(w, r, err)
		return
	}
	a.showSchedule(w, r, http.StatusOK, *s, "")
}

func (a *Admin) showSchedule(w http.ResponseWriter, r *http.Request, code int, form schedule.Schedule, problem string) {
	ctx := r.Context()
	cur, err := a.schedules.Get(ctx, form.Name)
	if err != nil {
		a.error(w, r, err)
		return
	}
	runs, err := a.schedules.Runs(ctx, "", 200)
	if err != nil {
		a.error(w, r, err)
		return
	}
	var mine []schedule.RunRecord
	for _, run := range runs {
		if run.Schedule == cur.Name && len(mine) < 20 {
			mine = append(mine, run)
		}
	}
	a.render(w, r, code, "schedule", map[string]any{"Schedule": a.viewSchedule(*cur), "Form": form, "Runs": mine, "Problem": problem, "Notice": notice(r)})
}

func (a *Admin) updateSchedule(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	form, err := scheduleForm(r)
	form.Name = name
	if err == nil {
		_, err = a.schedules.Update(r.Context(), name, form)
	}
	if err != nil {
		if f := failureOf(err); f.Code < 500 && f.Code != http.StatusNotFound {
			a.showSchedule(w, r, f.Code, form, f.Detail)
			return
		}
		a.error(w, r, err)
		return
	}
	a.changed(r.Context())
	a.log.Info("admin changed a schedule", "name", name, "spec", form.Spec)
	http.Redirect(w, r, "/admin/schedules/"+url.PathEscape(name)+"?ok=updated", http.StatusSeeOther)
}

func (a *Admin) scheduleAction(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("name")
	var err error
	ok := ""
	switch r.PathValue("action") {
	case "pause":
		_, err = a.schedules.SetEnabled(ctx, name, false)
		ok = "paused"
	case "resume":
		_, err = a.schedules.SetEnabled(ctx, name, true)
		ok = "resumed"
	case "delete":
		err = a.schedules.Remove(ctx, name)
		ok = "deleted"
	default:
		err = errNotFound
	}
	if err != nil {
		a.error(w, r, err)
		return
	}
	a.changed(ctx)
	a.log.Info("admin changed a schedule", "name", name, "action", ok)
	http.Redirect(w, r, "/admin/schedules?ok="+ok, http.StatusSeeOther)
}
