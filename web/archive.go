package web

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
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

// Cache-Control of the cached pages: a mailed edition never changes; the
// list and a story page change with the next edition or import, so a
// browser keeps them but asks again (a 304 when nothing changed).
const (
	cacheEdition = "public, max-age=3600"
	cacheChanges = "public, no-cache"
)

// editionsPage lists the editions that were mailed, newest first.
func (s *Server) editionsPage(w http.ResponseWriter, r *http.Request) {
	s.servePage(w, r, "editions", cacheChanges, s.editionsBody)
}

func (s *Server) editionsBody(ctx context.Context) ([]byte, error) {
	list, err := s.stories.Editions(ctx, 400)
	if err != nil {
		return nil, err
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
	return s.renderPage("editions", map[string]any{"Editions": items})
}

// editionPage shows an edition exactly as it was mailed, without the
// personal links.
func (s *Server) editionPage(w http.ResponseWriter, r *http.Request) {
	date := r.PathValue("date")
	if !datePattern.MatchString(date) {
		s.error(w, r, errNotFound)
		return
	}
	schedule := r.URL.Query().Get("schedule")
	if schedule == "" {
		schedule = digest.DefaultSchedule
	}
	s.servePage(w, r, "edition\x00"+date+"\x00"+schedule, cacheEdition, func(ctx context.Context) ([]byte, error) {
		return s.editionBody(ctx, date, schedule)
	})
}

func (s *Server) editionBody(ctx context.Context, date, schedule string) ([]byte, error) {
	e, err := s.stories.Edition(ctx, date, schedule)
	if err != nil {
		return nil, err
	}
	if !mailed(e) {
		return nil, errNotFound
	}
	return s.renderer.RenderWeb(e)
}

// storyPage shows a story in full: every article grouped by side, the FAQ
// and the coverage bar.
func (s *Server) storyPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.servePage(w, r, "story\x00"+id, cacheChanges, func(ctx context.Context) ([]byte, error) {
		st, err := s.stories.Story(ctx, id)
		if err != nil {
			return nil, err
		}
		if !st.Published() {
			return nil, digest.ErrStoryNotFound // a draft is for the console only
		}
		return s.storyBody(ctx, st, st)
	})
}

// storyVersionPage shows a story as it was at an earlier version.
func (s *Server) storyVersionPage(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 {
		s.error(w, r, errNotFound)
		return
	}
	id := r.PathValue("id")
	s.servePage(w, r, "story\x00"+id+"\x00"+strconv.Itoa(n), cacheChanges, func(ctx context.Context) ([]byte, error) {
		current, err := s.stories.Story(ctx, id)
		if err != nil {
			return nil, err
		}
		if !current.Published() {
			return nil, digest.ErrStoryNotFound
		}
		st := current
		if n != current.Version {
			if st, err = s.stories.StoryVersion(ctx, current.ID, n); err != nil {
				return nil, err
			}
		}
		return s.storyBody(ctx, st, current)
	})
}

// renderPage executes a page template into bytes.
func (s *Server) renderPage(page string, data any) ([]byte, error) {
	t, ok := s.pages[page]
	if !ok {
		return nil, fmt.Errorf("no page %q", page)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", page, err)
	}
	return b.Bytes(), nil
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

// storyBody is the story page of st; current is the story's
// newest version (st itself unless an old version is being read).
func (s *Server) storyBody(ctx context.Context, st, current *digest.Story) ([]byte, error) {
	versions, err := s.stories.Versions(ctx, current.ID)
	if err != nil {
		return nil, err
	}
	mailings, err := s.stories.Mailings(ctx, current.ID)
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
	unrated := st.UnratedArticles()
	if len(unrated) > 0 {
		split = append(split, sideCount{Name: "Unrated", Count: len(unrated)})
	}
	c := st.Coverage()
	data := map[string]any{
		"Story":        st,
		"Current":      current,
		"Old":          st.Version != current.Version,
		"Coverage":     c,
		"Split":        split,
		"Unrated":      unrated,
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
	return s.renderPage("story", data)
}
