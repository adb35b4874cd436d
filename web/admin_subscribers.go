package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"bothsides/subscribers"
)

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
