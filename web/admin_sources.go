package web

import (
	"net/http"
	"strings"
	"time"

	"bothsides/feeds"
)

// sourceView is one source on the console with its feeds' status.
type sourceView struct {
	feeds.Source
	Side  string
	Feeds []feedView
}

type feedView struct {
	feeds.Feed
	Waiting bool // backing off: not fetched before NextFetch
}

// sourcesPage lists the sources with each feed's last fetch, last success,
// error and item count, and a form to add one.
func (a *Admin) sourcesPage(w http.ResponseWriter, r *http.Request) {
	a.showSources(w, r, http.StatusOK, feeds.Source{Bias: feeds.Unrated}, "", "")
}

func (a *Admin) showSources(w http.ResponseWriter, r *http.Request, code int, form feeds.Source, formFeeds, problem string) {
	list, err := feeds.NewStore(a.db).List(r.Context())
	if err != nil {
		a.error(w, r, err)
		return
	}
	now := a.db.Now()
	views := make([]sourceView, len(list))
	for i, s := range list {
		v := sourceView{Source: s, Side: string(s.Side())}
		if v.Side == "" {
			v.Side = "unrated"
		}
		for _, f := range s.Feeds {
			v.Feeds = append(v.Feeds, feedView{Feed: f, Waiting: f.NextFetch.After(now)})
		}
		views[i] = v
	}
	a.render(w, r, code, "sources", map[string]any{"Sources": views, "Form": form, "FormFeeds": formFeeds,
		"Biases": strings.Split(feeds.BiasChoices, ", "), "Factualities": strings.Split(feeds.FactualityChoices, ", "),
		"Problem": problem, "Notice": notice(r), "Now": now.Format(time.RFC3339)})
}

// sourceForm reads a source from the add form; feeds one URL a line.
func sourceForm(r *http.Request) (feeds.Source, string) {
	s := feeds.Source{Name: r.PostFormValue("name"), Domain: r.PostFormValue("domain"), Bias: r.PostFormValue("bias"),
		Factuality: r.PostFormValue("factuality"), Owner: r.PostFormValue("owner"),
		RatedBy: r.PostFormValue("rated_by"), RatedOn: r.PostFormValue("rated_on")}
	raw := r.PostFormValue("feeds")
	for _, line := range strings.Split(raw, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			s.Feeds = append(s.Feeds, feeds.Feed{URL: line})
		}
	}
	return s, raw
}

func (a *Admin) createSource(w http.ResponseWriter, r *http.Request) {
	form, raw := sourceForm(r)
	s, err := feeds.NewStore(a.db).Add(r.Context(), form)
	if err != nil {
		if f := failureOf(err); f.Code < 500 {
			a.showSources(w, r, f.Code, form, raw, f.Detail)
			return
		}
		a.error(w, r, err)
		return
	}
	a.log.Info("admin added a source", "name", s.Name, "bias", s.Bias, "feeds", len(s.Feeds))
	http.Redirect(w, r, "/admin/sources?ok=source-added", http.StatusSeeOther)
}

func (a *Admin) removeSource(w http.ResponseWriter, r *http.Request) {
	name := r.PostFormValue("name")
	if err := feeds.NewStore(a.db).Remove(r.Context(), name); err != nil {
		a.error(w, r, err)
		return
	}
	a.log.Info("admin removed a source", "name", name)
	http.Redirect(w, r, "/admin/sources?ok=source-removed", http.StatusSeeOther)
}

// sourceJSON is a source in the API, with its feeds' status.
type sourceJSON struct {
	Name       string     `json:"name"`
	Domain     string     `json:"domain"`
	Bias       string     `json:"bias"`
	Factuality string     `json:"factuality,omitempty"`
	Owner      string     `json:"owner,omitempty"`
	RatedBy    string     `json:"rated_by,omitempty"`
	RatedOn    string     `json:"rated_on,omitempty"`
	Feeds      []feedJSON `json:"feeds"`
}

type feedJSON struct {
	URL         string `json:"url"`
	LastFetch   string `json:"last_fetch,omitempty"`
	LastSuccess string `json:"last_success,omitempty"`
	LastError   string `json:"last_error,omitempty"`
	Failures    int    `json:"failures"`
	NextFetch   string `json:"next_fetch,omitempty"`
	Items       int    `json:"items"`
	Notes       string `json:"notes,omitempty"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func toSourceJSON(s feeds.Source) sourceJSON {
	out := sourceJSON{Name: s.Name, Domain: s.Domain, Bias: s.Bias, Factuality: s.Factuality, Owner: s.Owner,
		RatedBy: s.RatedBy, RatedOn: s.RatedOn, Feeds: []feedJSON{}}
	for _, f := range s.Feeds {
		out.Feeds = append(out.Feeds, feedJSON{URL: f.URL, LastFetch: rfc3339(f.LastFetch), LastSuccess: rfc3339(f.LastSuccess),
			LastError: f.LastError, Failures: f.Failures, NextFetch: rfc3339(f.NextFetch), Items: f.ItemCount, Notes: f.Notes})
	}
	return out
}

// apiSources lists the sources with their feeds' status.
func (a *Admin) apiSources(w http.ResponseWriter, r *http.Request) {
	list, err := feeds.NewStore(a.db).List(r.Context())
	if err != nil {
		a.error(w, r, err)
		return
	}
	out := make([]sourceJSON, len(list))
	for i, s := range list {
		out[i] = toSourceJSON(s)
	}
	writeJSON(w, http.StatusOK, map[string]any{"sources": out})
}

// apiCreateSource adds a source: {"name", "domain", "bias", "feeds": [URL],
// "factuality", "owner", "rated_by", "rated_on"}.
func (a *Admin) apiCreateSource(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name       string   `json:"name"`
		Domain     string   `json:"domain"`
		Bias       string   `json:"bias"`
		Feeds      []string `json:"feeds"`
		Factuality string   `json:"factuality"`
		Owner      string   `json:"owner"`
		RatedBy    string   `json:"rated_by"`
		RatedOn    string   `json:"rated_on"`
	}
	if err := decode(r, &in); err != nil {
		a.error(w, r, err)
		return
	}
	src := feeds.Source{Name: in.Name, Domain: in.Domain, Bias: in.Bias, Factuality: in.Factuality, Owner: in.Owner,
		RatedBy: in.RatedBy, RatedOn: in.RatedOn}
	for _, u := range in.Feeds {
		src.Feeds = append(src.Feeds, feeds.Feed{URL: u})
	}
	s, err := feeds.NewStore(a.db).Add(r.Context(), src)
	if err != nil {
		a.error(w, r, err)
		return
	}
	a.log.Info("api added a source", "name", s.Name, "bias", s.Bias, "feeds", len(s.Feeds))
	writeJSON(w, http.StatusCreated, toSourceJSON(*s))
}

// apiDeleteSource removes a source with its feeds and articles.
func (a *Admin) apiDeleteSource(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := feeds.NewStore(a.db).Remove(r.Context(), name); err != nil {
		a.error(w, r, err)
		return
	}
	a.log.Info("api removed a source", "name", name)
	w.WriteHeader(http.StatusNoContent)
}
