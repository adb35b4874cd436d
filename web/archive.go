package web

import (
	"net/http"
	"regexp"
	"time"

	"bothsides/digest"
)

var noExpiry time.Time

var datePattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

type editionItem struct {
	Date, DateLong, Top string
	Count               int
}

func (s *Server) editionsPage(w http.ResponseWriter, r *http.Request) {
	list, err := s.stories.Editions(r.Context(), 200)
	if err != nil {
		s.error(w, r, err)
		return
	}
	var items []editionItem
	seen := map[string]bool{}
	for _, e := range list {
		if seen[e.Date] || e.Status == "assembled" {
			continue
		}
		seen[e.Date] = true
		it := editionItem{Date: e.Date, DateLong: e.Date, Count: len(e.Stories) + len(e.Blindspots)}
		if d, err := time.Parse("2006-01-02", e.Date); err == nil {
			it.DateLong = d.Format("Monday, 2 January 2006")
		}
		if len(e.Stories) > 0 {
			it.Top = e.Stories[0].Title
		}
		items = append(items, it)
	}
	s.render(w, r, http.StatusOK, "editions", map[string]any{"Editions": items})
}

// editionPage shows an edition exactly as it was mailed, without the
// personal links.
func (s *Server) editionPage(w http.ResponseWriter, r *http.Request) {
	date := r.PathValue("date")
	if !datePattern.MatchString(date) {
		s.error(w, r, errNotFound)
		return
	}
	e, err := s.stories.Edition(r.Context(), date, r.URL.Query().Get("schedule"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	b, err := s.renderer.RenderWeb(e)
	if err != nil {
		s.error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b)
}

type sideView struct {
	Side     digest.Side
	Count    int
	Percent  int
	Framing  string
	Articles []digest.Article
}

func (v sideView) Name() string  { return v.Side.Title() }
func (v sideView) Lower() string { return string(v.Side) }
func (v sideView) Short() string { return string(v.Side)[:1] }

func (s *Server) storyPage(w http.ResponseWriter, r *http.Request) {
	st, err := s.stories.Story(r.Context(), r.PathValue("id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	c := st.Coverage()
	var sides []sideView
	for _, side := range digest.Sides {
		sides = append(sides, sideView{Side: side, Count: c.Count(side), Percent: c.Percent(side),
			Framing: st.Framing.Of(side), Articles: st.ArticlesBy(side)})
	}
	data := map[string]any{
		"Story":     st,
		"Coverage":  c,
		"Sides":     sides,
		"Blindspot": digest.DefaultBlindspotRule.For(c),
		"Published": st.PublishedAt.Format("2 Jan 2006 15:04 MST"),
		"Updated":   "",
	}
	if !st.UpdatedAt.IsZero() {
		data["Updated"] = st.UpdatedAt.Format("2 Jan 2006 15:04 MST")
	}
	s.render(w, r, http.StatusOK, "story", data)
}
