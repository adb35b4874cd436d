package web

import (
	"net/http"

	"bothsides/schedule"
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
	mux.HandleFunc(progressRoute, a.page(a.progress))
	mux.HandleFunc("POST /admin/editions/{schedule}/{date}/{action}", a.page(a.editionAction))
	mux.HandleFunc("GET /admin/subscribers", a.page(a.subscribersPage))
	mux.HandleFunc("GET /admin/subscribers/{id}", a.page(a.subscriberPage))
	mux.HandleFunc("POST /admin/subscribers/{id}/status", a.page(a.subscriberStatus))
	mux.HandleFunc("GET /admin/stories", a.page(a.storiesPage))
	mux.HandleFunc("POST /admin/stories/import", a.page(a.importStories))
	mux.HandleFunc("GET /admin/stories/{id}", a.page(a.storyPage))
	mux.HandleFunc("POST /admin/stories/{id}", a.page(a.editStory))
	mux.HandleFunc("POST /admin/stories/{id}/{action}", a.page(a.storyAction))
	mux.HandleFunc("GET /admin/reports", a.page(a.reportsPage))
	mux.HandleFunc("POST /admin/reports/{id}/resolve", a.page(a.resolveReport))
	mux.HandleFunc("GET /admin/sources", a.page(a.sourcesPage))
	mux.HandleFunc("POST /admin/sources", a.page(a.createSource))
	mux.HandleFunc("POST /admin/sources/delete", a.page(a.removeSource))
	mux.HandleFunc("/admin/", a.page(func(w http.ResponseWriter, r *http.Request) { a.error(w, r, errNotFound) }))
	a.apiRoutes(mux)
}

func (a *Admin) script(w http.ResponseWriter, r *http.Request) {
	b, err := templates.FS.ReadFile("web/admin.js")
	if err != nil {
		a.error(w, r, errNotFound)
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
	"saved": "Story saved.", "published": "Story published.", "unpublished": "Story unpublished: it is a draft again.",
	"moved": "Articles moved.", "split": "Articles split into this new draft story.", "merged": "Stories merged.",
	"source-added": "Source added.", "source-removed": "Source removed.",
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
	reps, err := a.recentReputation(ctx, 3)
	if err != nil {
		a.error(w, r, err)
		return
	}
	chart := make([]editionView, len(recent))
	for i := range recent {
		chart[len(recent)-1-i] = recent[i]
	}
	a.render(w, r, http.StatusOK, "dashboard", map[string]any{
		"Schedules": scheds, "Active": active, "Recent": recent, "Chart": chartSVG(chart), "Runs": trouble, "Local": localDays, "Reputation": reps,
		"Grace": a.sched.Grace().String(), "Poll": a.cfg.PollInterval.Milliseconds(), "Notice": notice(r),
	})
}
