package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/schedule"
	"bothsides/subscribers"
	"bothsides/templates"
)

// Routes registers the console under /admin and the API under /api/.
func (a *Admin) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/login", a.loginPage)
	mux.HandleFunc("POST /admin/login", a.login)
	mux.HandleFunc("GET /admin/static/admin.js", a.script)
	mux.HandleFunc("POST /admin/logout", a.page(a.logout))
	mux.HandleFunc("GET /admin", a.page(a.dashboard))
	mux.HandleFunc("GET /admin/{$}", a.page(a.dashboard))
	mux.HandleFunc("GET /admin/schedules", a.page(a.schedulesPage))
	mux.HandleFunc("POST /admin/schedules", a.page(a.createSchedule))
	mux.HandleFunc("GET /admin/schedules/{name}", a.page(a.schedulePage))
	mux.HandleFunc("POST /admin/schedules/{name}", a.page(a.updateSchedule))
	mux.HandleFunc("POST /admin/schedules/{name}/{action}", a.page(a.scheduleAction))
	mux.HandleFunc("GET /admin/send", a.page(a.sendPage))
	mux.HandleFunc("POST /admin/send", a.page(a.send))
	mux.HandleFunc("POST /admin/send/test", a.page(a.sendTestMail))
	mux.HandleFunc("GET /admin/preview", a.page(a.previewPage))
	mux.HandleFunc("GET /admin/preview/html", a.page(a.previewHTML))
	mux.HandleFunc("GET /admin/editions/{schedule}/{date}", a.page(a.editionPage))
	mux.HandleFunc("GET /admin/editions/{schedule}/{date}/progress", a.page(a.progress))
	mux.HandleFunc("POST /admin/editions/{schedule}/{date}/{action}", a.page(a.editionAction))
	mux.HandleFunc("GET /admin/subscribers", a.page(a.subscribersPage))
	mux.HandleFunc("POST /admin/subscribers/{id}/status", a.page(a.subscriberStatus))
	mux.HandleFunc("GET /admin/stories", a.page(a.storiesPage))
	mux.HandleFunc("POST /admin/stories/import", a.page(a.importStories))
	mux.HandleFunc("GET /admin/reports", a.page(a.reportsPage))
	mux.HandleFunc("POST /admin/reports/{id}/resolve", a.page(a.resolveReport))
	mux.HandleFunc("/admin/", a.page(func(w http.ResponseWriter, r *http.Request) { a.error(w, r, errNotFound) }))
	a.apiRoutes(mux)
}

func (a *Admin) script(w http.ResponseWriter, r *http.Request) {
	b, err := templates.FS.ReadFile("web/admin.js")
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}

// notices are the fixed messages shown after a redirect (?ok=...).
var notices = map[string]string{
	"resolved": "Report marked resolved.",
	"created":  "Schedule created.", "updated": "Schedule saved.", "paused": "Schedule paused.",
	"resumed": "Schedule resumed.", "deleted": "Schedule deleted.", "test": "Test mail sent.",
	"imported": "Stories imported.", "pause": "Send paused.", "resume": "Send resumed.", "cancel": "Send cancelled.",
	"started": "Send started.", "status": "Status changed.",
}

func notice(r *http.Request) string { return notices[r.URL.Query().Get("ok")] }

func (a *Admin) dashboard(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	scheds, err := a.scheduleViews(ctx)
	if err != nil {
		a.error(w, r, err)
		return
	}
	active, err := a.activeEditions(ctx)
	if err != nil {
		a.error(w, r, err)
		return
	}
	recent, err := a.recentEditions(ctx, 30)
	if err != nil {
		a.error(w, r, err)
		return
	}
	runs, err := a.schedules.Runs(ctx, "", 50)
	if err != nil {
		a.error(w, r, err)
		return
	}
	var trouble []schedule.RunRecord
	for _, run := range runs {
		if run.Status == schedule.RunMissed || run.Status == schedule.RunFailed || run.Status == schedule.RunStopped {
			trouble = append(trouble, run)
		}
	}
	localDays, err := a.localProgress(ctx)
	if err != nil {
		a.error(w, r, err)
		return
	}
	chart := make([]editionView, len(recent))
	for i := range recent {
		chart[len(recent)-1-i] = recent[i]
	}
	a.render(w, r, http.StatusOK, "dashboard", map[string]any{
		"Schedules": scheds, "Active": active, "Recent": recent, "Chart": chartSVG(chart), "Runs": trouble, "Local": localDays,
		"Grace": a.sched.Grace().String(), "Poll": a.cfg.PollInterval.Milliseconds(), "Notice": notice(r),
	})
}

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
		if code, text := adminStatus(err); code < 500 {
			a.showSchedules(w, r, code, form, text)
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
		if code, text := adminStatus(err); code < 500 && code != http.StatusNotFound {
			a.showSchedule(w, r, code, form, text)
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

func (a *Admin) sendPage(w http.ResponseWriter, r *http.Request) {
	a.showSend(w, r, http.StatusOK, "", "")
}

func (a *Admin) showSend(w http.ResponseWriter, r *http.Request, code int, problem, note string) {
	list, err := a.schedules.List(r.Context())
	if err != nil {
		a.error(w, r, err)
		return
	}
	if note == "" {
		note = notice(r)
	}
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		q = r.PostForm
	}
	a.render(w, r, code, "send", map[string]any{"Schedules": list, "Problem": problem, "Notice": note,
		"Schedule": q.Get("schedule"), "Date": q.Get("date"), "To": q.Get("to"), "Today": a.db.Now().Format(schedule.DateFormat)})
}

func (a *Admin) send(w http.ResponseWriter, r *http.Request) {
	run, err := a.sendNow(r.Context(), r.PostFormValue("schedule"), r.PostFormValue("date"))
	if err != nil {
		if code, text := adminStatus(err); code < 500 {
			a.showSend(w, r, code, text, "")
			return
		}
		a.error(w, r, err)
		return
	}
	http.Redirect(w, r, "/admin/editions/"+url.PathEscape(run.Schedule.Name)+"/"+run.Date+"?ok=started", http.StatusSeeOther)
}

func (a *Admin) sendTestMail(w http.ResponseWriter, r *http.Request) {
	err := a.sendTest(r.Context(), r.PostFormValue("schedule"), r.PostFormValue("date"), r.PostFormValue("to"))
	if err != nil {
		code, text := adminStatus(err)
		if code >= 500 {
			// A relay refusing the address is worth showing; its reply
			// names no secret.
			a.log.Error("test mail failed", "err", err)
			code, text = http.StatusBadGateway, "The mail could not be sent: "+err.Error()
		}
		a.showSend(w, r, code, text, "")
		return
	}
	a.showSend(w, r, http.StatusOK, "", "Test mail sent to "+r.PostFormValue("to")+".")
}

func (a *Admin) previewPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	list, err := a.schedules.List(ctx)
	if err != nil {
		a.error(w, r, err)
		return
	}
	q := r.URL.Query()
	name, date := q.Get("schedule"), q.Get("date")
	data := map[string]any{"Schedules": list, "Schedule": name, "Date": date, "Today": a.db.Now().Format(schedule.DateFormat)}
	code := http.StatusOK
	if name != "" {
		e, err := a.previewEdition(ctx, name, date)
		if err == nil {
			var text []byte
			var subject string
			if _, text, subject, err = a.renderPreview(e); err == nil {
				data["Edition"], data["Text"], data["Subject"] = e, string(text), subject
				data["Frame"] = "/admin/preview/html?" + url.Values{"schedule": {name}, "date": {e.Date}}.Encode()
			}
		}
		if err != nil {
			var text string
			if code, text = adminStatus(err); code >= 500 {
				a.error(w, r, err)
				return
			}
			data["Problem"] = text
		}
	}
	a.render(w, r, code, "preview", data)
}

// previewHTML is the mail's HTML part, shown in the preview page's frame.
func (a *Admin) previewHTML(w http.ResponseWriter, r *http.Request) {
	e, err := a.previewEdition(r.Context(), r.URL.Query().Get("schedule"), r.URL.Query().Get("date"))
	if err != nil {
		a.error(w, r, err)
		return
	}
	html, _, _, err := a.renderPreview(e)
	if err != nil {
		a.error(w, r, err)
		return
	}
	h := w.Header()
	// The mail as a client shows it: its own styles, remote images, no
	// script, framed only by the console.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; frame-ancestors 'self'; form-action 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.Write(html)
}

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
		data["Edition"], data["View"], data["Failures"] = e, v, fails
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
		code, text := adminStatus(err)
		writeJSON(w, code, map[string]string{"error": text})
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

func (a *Admin) subscribersPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	status := subscribers.Status(q.Get("status"))
	after, _ := strconv.ParseInt(q.Get("after"), 10, 64)
	const pageSize = 50
	list, err := a.subs.Search(ctx, subscribers.SearchParams{Query: strings.TrimSpace(q.Get("q")), Status: status, AfterID: after, Limit: pageSize + 1})
	if err != nil {
		a.error(w, r, err)
		return
	}
	counts, err := a.subs.Counts(ctx)
	if err != nil {
		a.error(w, r, err)
		return
	}
	next := ""
	if len(list) > pageSize {
		list = list[:pageSize]
		next = "?" + url.Values{"q": {q.Get("q")}, "status": {string(status)}, "after": {strconv.FormatInt(list[len(list)-1].ID, 10)}}.Encode()
	}
	statuses := []subscribers.Status{subscribers.StatusActive, subscribers.StatusPending, subscribers.StatusUnsubscribed, subscribers.StatusBounced, subscribers.StatusComplained}
	type count struct {
		Status subscribers.Status
		N      int
	}
	var cs []count
	for _, st := range statuses {
		cs = append(cs, count{st, counts[st]})
	}
	a.render(w, r, http.StatusOK, "subscribers", map[string]any{"List": list, "Query": q.Get("q"), "Status": string(status),
		"Statuses": statuses, "Counts": cs, "Next": next, "Notice": notice(r), "Back": r.URL.RawQuery})
}

// subscriberStatus sets one subscriber's status, as an administrator does
// (subscribers.Store.SetStatus), and goes back to the list it came from.
func (a *Admin) subscriberStatus(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		a.error(w, r, errNotFound)
		return
	}
	st := subscribers.Status(r.PostFormValue("status"))
	if err := a.subs.SetStatus(r.Context(), id, st); err != nil {
		a.error(w, r, err)
		return
	}
	a.log.Info("admin set a subscriber's status", "subscriber", id, "status", st)
	back, _ := url.ParseQuery(r.PostFormValue("back"))
	back.Del("ok")
	back.Set("ok", "status")
	http.Redirect(w, r, "/admin/subscribers?"+back.Encode(), http.StatusSeeOther)
}

func (a *Admin) storiesPage(w http.ResponseWriter, r *http.Request) {
	a.showStories(w, r, http.StatusOK, "", nil)
}

func (a *Admin) showStories(w http.ResponseWriter, r *http.Request, code int, result string, problems []string) {
	list, err := a.stories.List(r.Context(), 100)
	if err != nil {
		a.error(w, r, err)
		return
	}
	a.render(w, r, code, "stories", map[string]any{"Stories": list, "Result": result, "Problems": problems})
}

func (a *Admin) importStories(w http.ResponseWriter, r *http.Request) {
	f, hdr, err := r.FormFile("file")
	if err != nil {
		a.showStories(w, r, http.StatusBadRequest, "", []string{"Choose a JSON file to import."})
		return
	}
	defer f.Close()
	res, err := a.importFrom(r.Context(), f)
	if err != nil {
		var ie *digest.ImportError
		if errors.As(err, &ie) {
			probs := []string{fmt.Sprintf("%s: nothing imported, %d problem(s):", hdr.Filename, len(ie.Problems))}
			for _, p := range ie.Problems {
				probs = append(probs, p.String())
			}
			a.showStories(w, r, http.StatusBadRequest, "", probs)
			return
		}
		a.error(w, r, err)
		return
	}
	a.log.Info("admin imported stories", "file", hdr.Filename, "new", res.New, "changed", res.Changed)
	a.showStories(w, r, http.StatusOK, fmt.Sprintf("%s: %s", hdr.Filename, res), nil)
}

// importFrom parses and imports a story file, all or nothing.
func (a *Admin) importFrom(ctx context.Context, r io.Reader) (digest.ImportResult, error) {
	stories, err := digest.ParseImport(r)
	if err != nil {
		return digest.ImportResult{}, err
	}
	return a.stories.Import(ctx, stories)
}
