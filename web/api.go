package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"bothsides/delivery"
	"bothsides/schedule"
	"bothsides/subscribers"
)

// apiRoutes registers the JSON API: the console's actions for scripts,
// behind a bearer token.
func (a *Admin) apiRoutes(mux *http.ServeMux) {
	h := func(pattern string, fn http.HandlerFunc) { mux.HandleFunc(pattern, a.api(fn)) }
	h("GET /api/schedules", a.apiSchedules)
	h("POST /api/schedules", a.apiCreateSchedule)
	h("GET /api/schedules/{name}", a.apiSchedule)
	h("PATCH /api/schedules/{name}", a.apiUpdateSchedule)
	h("DELETE /api/schedules/{name}", a.apiDeleteSchedule)
	h("POST /api/schedules/{name}/pause", a.apiToggleSchedule(false))
	h("POST /api/schedules/{name}/resume", a.apiToggleSchedule(true))
	h("GET /api/runs", a.apiRuns)
	h("POST /api/send", a.apiSend)
	h("POST /api/send/test", a.apiSendTest)
	h("GET /api/preview", a.apiPreview)
	h("GET /api/editions", a.apiEditions)
	h("GET /api/editions/{schedule}/{date}", a.apiEdition)
	h("POST /api/editions/{schedule}/{date}/{action}", a.apiEditionAction)
	h("GET /api/subscribers", a.apiSubscribers)
	h("POST /api/subscribers/{id}/status", a.apiSubscriberStatus)
	h("POST /api/subscribers/{id}/revoke-links", a.apiRevokeLinks)
	h("GET /api/stories", a.apiStories)
	h("POST /api/stories", a.apiImport)
	h("GET /api/reports", a.apiReports)
	h("POST /api/reports/{id}/resolve", a.apiResolveReport)
	h("GET /api/local", a.apiLocal)
	h("GET /api/bounces", a.apiBounces)
	h("/api/", func(w http.ResponseWriter, r *http.Request) { a.error(w, r, errNotFound) })
}

// api wraps an API handler: no token configured, no API; a request without
// the right bearer token is refused.
func (a *Admin) api(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if !a.APIEnabled() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the API is disabled: start the server with --api-token or BOTHSIDES_API_TOKEN"})
			return
		}
		auth := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if !ok || subtle.ConstantTimeCompare(got[:], a.apiHash[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="bothsides"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
		h(w, r)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// decode reads a JSON body strictly.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badInput("request body: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badInput("request body: one JSON object expected")
	}
	return nil
}

// scheduleInput is a schedule in a request; missing fields keep their value
// (PATCH) or take the default (POST).
type scheduleInput struct {
	Name        *string `json:"name"`
	Spec        *string `json:"spec"`
	Enabled     *bool   `json:"enabled"`
	Stories     *int    `json:"stories"`
	WindowHours *int    `json:"window_hours"`
	Subject     *string `json:"subject"`
	Title       *string `json:"title"`
}

func (in scheduleInput) apply(s *schedule.Schedule) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&s.Spec, in.Spec)
	set(&s.Subject, in.Subject)
	set(&s.Title, in.Title)
	if in.Enabled != nil {
		s.Enabled = *in.Enabled
	}
	if in.Stories != nil {
		s.Stories = nonZero(*in.Stories)
	}
	if in.WindowHours != nil {
		s.WindowHours = nonZero(*in.WindowHours)
	}
}

// nonZero turns an explicit 0 into -1 so that validation refuses it
// rather than taking it for "the default".
func nonZero(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

func (a *Admin) apiSchedules(w http.ResponseWriter, r *http.Request) {
	list, err := a.scheduleViews(r.Context())
	if err != nil {
		a.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"schedules": list})
}

func (a *Admin) apiSchedule(w http.ResponseWriter, r *http.Request) {
	s, err := a.schedules.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		a.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.viewSchedule(*s))
}

func (a *Admin) apiCreateSchedule(w http.ResponseWriter, r *http.Request) {
	var in scheduleInput
	if err := decode(r, &in); err != nil {
		a.error(w, r, err)
		return
	}
	s := schedule.Schedule{Enabled: true}
	if in.Name != nil {
		s.Name = *in.Name
	}
	in.apply(&s)
	added, err := a.schedules.Add(r.Context(), s)
	if err != nil {
		a.error(w, r, err)
		return
	}
	a.changed(r.Context())
	a.log.Info("api added a schedule", "name", added.Name, "spec", added.Spec)
	writeJSON(w, http.StatusCreated, a.viewSchedule(*added))
}

func (a *Admin) apiUpdateSchedule(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s, err := a.schedules.Get(r.Context(), name)
	if err != nil {
		a.error(w, r, err)
		return
	}
	var in scheduleInput
	if err := decode(r, &in); err != nil {
		a.error(w, r, err)
		return
	}
	if in.Name != nil && *in.Name != name {
		a.error(w, r, badInput("a schedule cannot be renamed (its editions refer to it)"))
		return
	}
	in.apply(s)
	s, err = a.schedules.Update(r.Context(), name, *s)
	if err != nil {
		a.error(w, r, err)
		return
	}
	a.changed(r.Context())
	a.log.Info("api changed a schedule", "name", name)
	writeJSON(w, http.StatusOK, a.viewSchedule(*s))
}

func (a *Admin) apiDeleteSchedule(w http.ResponseWriter, r *http.Request) {
	if err := a.schedules.Remove(r.Context(), r.PathValue("name")); err != nil {
		a.error(w, r, err)
		return
	}
	a.changed(r.Context())
	w.WriteHeader(http.StatusNoContent)
}

func (a *Admin) apiToggleSchedule(enabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := a.schedules.SetEnabled(r.Context(), r.PathValue("name"), enabled)
		if err != nil {
			a.error(w, r, err)
			return
		}
		a.changed(r.Context())
		writeJSON(w, http.StatusOK, a.viewSchedule(*s))
	}
}

func (a *Admin) apiRuns(w http.ResponseWriter, r *http.Request) {
	runs, err := a.schedules.Runs(r.Context(), r.URL.Query().Get("status"), 200)
	if err != nil {
		a.error(w, r, err)
		return
	}
	if runs == nil {
		runs = []schedule.RunRecord{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": runs})
}

type sendInput struct {
	Schedule string `json:"schedule"`
	Date     string `json:"date"`
	To       string `json:"to"`
}

func (a *Admin) apiSend(w http.ResponseWriter, r *http.Request) {
	var in sendInput
	if err := decode(r, &in); err != nil {
		a.error(w, r, err)
		return
	}
	run, err := a.sendNow(r.Context(), in.Schedule, in.Date)
	if err != nil {
		a.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"schedule": run.Schedule.Name, "date": run.Date,
		"progress": "/api/editions/" + run.Schedule.Name + "/" + run.Date})
}

func (a *Admin) apiSendTest(w http.ResponseWriter, r *http.Request) {
	var in sendInput
	if err := decode(r, &in); err != nil {
		a.error(w, r, err)
		return
	}
	if err := a.sendTest(r.Context(), in.Schedule, in.Date, in.To); err != nil {
		if statusOf(err) >= 500 {
			a.log.Error("test mail failed", "err", err)
			writeJSON(w, http.StatusBadGateway, map[string]string{"error": "the mail could not be sent: " + err.Error()})
			return
		}
		a.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"sent": in.To})
}

func (a *Admin) apiPreview(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	e, err := a.previewEdition(r.Context(), q.Get("schedule"), q.Get("date"))
	if err != nil {
		a.error(w, r, err)
		return
	}
	html, text, subject, err := a.renderPreview(e)
	if err != nil {
		a.error(w, r, err)
		return
	}
	switch q.Get("format") {
	case "html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; sandbox")
		w.Write(html)
	case "text":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(text)
	case "", "json":
		writeJSON(w, http.StatusOK, map[string]any{"schedule": e.Schedule, "date": e.Date, "status": e.Status,
			"subject": subject, "html": string(html), "text": string(text)})
	default:
		a.error(w, r, badInput("format %q: want html, text or json", q.Get("format")))
	}
}

func (a *Admin) apiEditions(w http.ResponseWriter, r *http.Request) {
	limit := 30
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			a.error(w, r, badInput("limit %q: want 1 to 500", v))
			return
		}
		limit = n
	}
	list, err := a.recentEditions(r.Context(), limit)
	if err != nil {
		a.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"editions": list})
}

func (a *Admin) apiEdition(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name, date := r.PathValue("schedule"), r.PathValue("date")
	p, err := a.progressOf(ctx, name, date)
	if err != nil {
		a.error(w, r, err)
		return
	}
	out := map[string]any{"schedule": name, "date": date, "progress": p}
	if e, err := a.stories.Edition(ctx, date, name); err == nil {
		fails, err := delivery.Failures(ctx, a.db.R, e.ID, 1000)
		if err != nil {
			a.error(w, r, err)
			return
		}
		if fails == nil {
			fails = []delivery.Failure{}
		}
		v, err := a.viewOf(ctx, e)
		if err != nil {
			a.error(w, r, err)
			return
		}
		var titles []string
		for _, s := range e.Stories {
			titles = append(titles, s.Title)
		}
		out["edition"], out["failures"], out["stories"] = v, fails, titles
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *Admin) apiEditionAction(w http.ResponseWriter, r *http.Request) {
	name, date := r.PathValue("schedule"), r.PathValue("date")
	if err := a.control(r.Context(), name, date, r.PathValue("action")); err != nil {
		a.error(w, r, err)
		return
	}
	p, err := a.progressOf(r.Context(), name, date)
	if err != nil {
		a.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (a *Admin) apiSubscribers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after, _ := strconv.ParseInt(q.Get("after"), 10, 64)
	list, err := a.subs.Search(r.Context(), subscribers.SearchParams{Query: q.Get("q"), Status: subscribers.Status(q.Get("status")), AfterID: after, Limit: 500})
	if err != nil {
		a.error(w, r, err)
		return
	}
	type sub struct {
		ID     int64  `json:"id"`
		Email  string `json:"email"`
		Name   string `json:"name"`
		Status string `json:"status"`
	}
	out := []sub{}
	for _, s := range list {
		out = append(out, sub{s.ID, s.Email, s.Name, string(s.Status)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"subscribers": out})
}

func (a *Admin) apiSubscriberStatus(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		a.error(w, r, errNotFound)
		return
	}
	var in struct {
		Status string `json:"status"`
	}
	if err := decode(r, &in); err != nil {
		a.error(w, r, err)
		return
	}
	if err := a.subs.SetStatus(r.Context(), id, subscribers.Status(in.Status)); err != nil {
		a.error(w, r, err)
		return
	}
	s, err := a.subs.Find(r.Context(), id)
	if err != nil {
		a.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": s.ID, "email": s.Email, "name": s.Name, "status": s.Status})
}

// apiRevokeLinks bumps the subscriber's link generation: every link mailed
// to them so far stops working.
func (a *Admin) apiRevokeLinks(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		a.error(w, r, errNotFound)
		return
	}
	s, err := a.subs.RevokeLinks(r.Context(), id)
	if err != nil {
		a.error(w, r, err)
		return
	}
	a.log.Info("links revoked", "subscriber", s.ID, "by", "api", "generation", s.LinkGeneration)
	writeJSON(w, http.StatusOK, map[string]any{"id": s.ID, "email": s.Email, "link_generation": s.LinkGeneration})
}

func (a *Admin) apiStories(w http.ResponseWriter, r *http.Request) {
	list, err := a.stories.List(r.Context(), 100)
	if err != nil {
		a.error(w, r, err)
		return
	}
	out := []map[string]any{}
	for _, s := range list {
		out = append(out, map[string]any{"id": s.ID, "title": s.Title, "published_at": s.PublishedAt, "sources": s.Coverage().Total()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"stories": out})
}

func (a *Admin) apiImport(w http.ResponseWriter, r *http.Request) {
	res, err := a.importFrom(r.Context(), r.Body)
	if err != nil {
		a.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"new": res.New, "changed": res.Changed, "unchanged": res.Unchanged, "articles": res.Articles, "summary": res.String()})
}
