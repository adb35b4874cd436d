package web

import (
	"fmt"
	"net/http"
	"strconv"

	"bothsides/digest"
)

// reportsPage lists readers' reports with the story and version each
// concerns: open ones, or all with ?all=1.
func (a *Admin) reportsPage(w http.ResponseWriter, r *http.Request) {
	all := r.URL.Query().Get("all") == "1"
	list, err := a.stories.Reports(r.Context(), all, 500)
	if err != nil {
		a.error(w, r, err)
		return
	}
	views := make([]map[string]any, len(list))
	for i, rep := range list {
		views[i] = map[string]any{"Report": rep, "Kind": digest.KindLabel(rep.Kind)}
	}
	a.render(w, r, http.StatusOK, "reports", map[string]any{"Reports": views, "All": all, "Notice": notices[r.URL.Query().Get("ok")]})
}

// resolveReport marks one report resolved.
func (a *Admin) resolveReport(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		a.error(w, r, errNotFound)
		return
	}
	if err := a.stories.ResolveReport(r.Context(), id); err != nil {
		a.error(w, r, err)
		return
	}
	a.log.Info("admin resolved a report", "report", id)
	http.Redirect(w, r, "/admin/reports?ok=resolved", http.StatusSeeOther)
}

// apiReports lists reports as JSON: open ones, or all with ?all=1.
func (a *Admin) apiReports(w http.ResponseWriter, r *http.Request) {
	list, err := a.stories.Reports(r.Context(), r.URL.Query().Get("all") == "1", 500)
	if err != nil {
		a.error(w, r, err)
		return
	}
	type item struct {
		ID         int64  `json:"id"`
		Story      string `json:"story"`
		StoryTitle string `json:"story_title"`
		Version    int    `json:"version"`
		Kind       string `json:"kind"`
		Message    string `json:"message"`
		Email      string `json:"email,omitempty"`
		CreatedAt  string `json:"created_at"`
		ResolvedAt string `json:"resolved_at,omitempty"`
	}
	out := make([]item, 0, len(list))
	for _, rep := range list {
		it := item{ID: rep.ID, Story: rep.StoryID, StoryTitle: rep.StoryTitle, Version: rep.Version, Kind: rep.Kind,
			Message: rep.Message, Email: rep.Email, CreatedAt: rep.CreatedAt.UTC().Format("2006-01-02T15:04:05Z")}
		if !rep.ResolvedAt.IsZero() {
			it.ResolvedAt = rep.ResolvedAt.UTC().Format("2006-01-02T15:04:05Z")
		}
		out = append(out, it)
	}
	writeJSON(w, http.StatusOK, map[string]any{"reports": out})
}

func (a *Admin) apiResolveReport(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		a.error(w, r, fmt.Errorf("%w: report id %q", errNotFound, r.PathValue("id")))
		return
	}
	if err := a.stories.ResolveReport(r.Context(), id); err != nil {
		a.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "resolved": true})
}
