package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"bothsides/digest"
)

func (a *Admin) storiesPage(w http.ResponseWriter, r *http.Request) {
	a.showStories(w, r, http.StatusOK, "", nil)
}

func (a *Admin) showStories(w http.ResponseWriter, r *http.Request, code int, result string, problems []string) {
	list, err := a.stories.List(r.Context(), 200)
	if err != nil {
		a.error(w, r, err)
		return
	}
	status := r.URL.Query().Get("status")
	var rows []map[string]any
	for i := range list {
		st := &list[i]
		l := st.List(digest.DefaultBlindspotRule)
		if status != "" && string(l.Status) != status {
			continue
		}
		var sources []string
		for _, art := range st.Articles {
			if !slices.Contains(sources, art.Source) {
				sources = append(sources, art.Source)
			}
		}
		rows = append(rows, map[string]any{"Story": st, "Listing": l, "Sources": sources})
	}
	a.render(w, r, code, "stories", map[string]any{"Stories": rows, "Result": result, "Problems": problems})
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
