package web

import (
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"bothsides/digest"
)

var noExpiry time.Time

var datePattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

type editionItem struct {
	Date, DateLong, Schedule, Top string
	Stories, Blindspots, Minutes  int
}

// mailed reports whether an edition has gone out: the archive shows only
// those, never one assembled and waiting.
func mailed(e *digest.Edition) bool {
	return e.Status != digest.EditionAssembled && !e.StartedAt.IsZero()
}

func longDate(date string) string {
	if d, err := time.Parse("2006-01-02", date); err == nil {
		return d.Format("Monday, 2 January 2006")
	}
	return date
}

// editionsPage lists the editions that were mailed, newest first.
func (s *Server) editionsPage(w http.ResponseWriter, r *http.Request) {
	list, err := s.stories.Editions(r.Context(), 400)
	if err != nil {
		s.error(w, r, err)
		return
	}
	var items []editionItem
	for _, e := range list {
		if !mailed(e) {
			continue
		}
		it := editionItem{Date: e.Date, DateLong: longDate(e.Date), Stories: len(e.Stories),
			Blindspots: len(e.Blindspots), Minutes: e.Minutes()}
		if e.Schedule != digest.DefaultSchedule {
			it.Schedule = e.Schedule
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
	if !mailed(e) {
		s.error(w, r, errNotFound)
		return
	}
	b, err := s.archive.page(e, s.renderer.RenderWeb)
	if err != nil {
		s.error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// A mailed edition never changes.
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(b)
}

// editionCache keeps the archive pages of recently viewed editions: a
// mailed edition is frozen, so its page is rendered (templates and CSS
// inlining, a few milliseconds) once rather than on every request.
type editionCache struct {
	mu    sync.Mutex
	pages map[string][]byte
}

// maxCachedEditions bounds the cache's memory to about 64 pages of 100 KB.
const maxCachedEditions = 64

func (c *editionCache) page(e *digest.Edition, render func(*digest.Edition) ([]byte, error)) ([]byte, error) {
	key := strconv.FormatInt(e.ID, 10) + "/" + e.AssembledAt.Format(time.RFC3339Nano)
	c.mu.Lock()
	b, ok := c.pages[key]
	c.mu.Unlock()
	if ok {
		return b, nil
	}
	b, err := render(e)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pages == nil {
		c.pages = map[string][]byte{}
	}
	if len(c.pages) >= maxCachedEditions {
		for k := range c.pages {
			delete(c.pages, k)
			break
		}
	}
	c.pages[key] = b
	return b, nil
}

// storyPage shows a story in full: every article grouped by side, the FAQ
// and the coverage bar.
func (s *Server) storyPage(w http.ResponseWriter, r *http.Request) {
	st, err := s.stories.Story(r.Context(), r.PathValue("id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	data, err := s.storyData(r, st, st)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "story", data)
}

// storyVersionPage shows a story as it was at an earlier version.
func (s *Server) storyVersionPage(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 {
		s.error(w, r, errNotFound)
		return
	}
	current, err := s.stories.Story(r.Context(), r.PathValue("id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	st := current
	if n != current.Version {
		if st, err = s.stories.StoryVersion(r.Context(), current.ID, n); err != nil {
			s.error(w, r, err)
			return
		}
	}
	data, err := s.storyData(r, st, current)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "story", data)
}

// sideCount is one side's share of a story's articles.
type sideCount struct {
	Name  string
	Count int
}

// changedSince is an edition that mailed an older version of the story.
type changedSince struct {
	Date, DateLong string
	Version        int
}

// storyData is what the story page shows of st; current is the story's
// newest version (st itself unless an old version is being read).
func (s *Server) storyData(r *http.Request, st, current *digest.Story) (map[string]any, error) {
	versions, err := s.stories.Versions(r.Context(), current.ID)
	if err != nil {
		return nil, err
	}
	mailings, err := s.stories.Mailings(r.Context(), current.ID)
	if err != nil {
		return nil, err
	}
	var since []changedSince
	for _, m := range mailings {
		if m.Version < current.Version {
			since = append(since, changedSince{Date: m.Date, DateLong: longDate(m.Date), Version: m.Version})
		}
	}
	var split []sideCount
	for _, side := range digest.Sides {
		split = append(split, sideCount{Name: side.Title(), Count: len(st.ArticlesBy(side))})
	}
	c := st.Coverage()
	data := map[string]any{
		"Story":        st,
		"Current":      current,
		"Old":          st.Version != current.Version,
		"Coverage":     c,
		"Split":        split,
		"Sides":        digest.SideViews(st, 0),
		"Blindspot":    digest.DefaultBlindspotRule.For(c),
		"Published":    st.PublishedAt.UTC().Format("2 Jan 2006, 15:04 MST"),
		"Updated":      "",
		"Versions":     versions,
		"ChangedSince": since,
	}
	if !st.UpdatedAt.IsZero() && st.UpdatedAt.After(st.PublishedAt) {
		data["Updated"] = st.UpdatedAt.UTC().Format("2 Jan 2006, 15:04 MST")
	}
	return data, nil
}
