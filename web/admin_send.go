package web

import (
	"net/http"
	"net/url"

	"bothsides/schedule"
)

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
		if f := failureOf(err); f.Code < 500 {
			a.showSend(w, r, f.Code, f.Detail, "")
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
		f := failureOf(err)
		code, text := f.Code, f.Detail
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
			f := failureOf(err)
			if code = f.Code; code >= 500 {
				a.error(w, r, err)
				return
			}
			data["Problem"] = f.Detail
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
