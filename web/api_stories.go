package web

import (
	"net/http"

	"bothsides/digest"
)

// apiStories lists the latest stories, drafts and published (?status=
// draft or published for one of them), as `stories list --json` does.
func (a *Admin) apiStories(w http.ResponseWriter, r *http.Request) {
	list, err := a.stories.List(r.Context(), 200)
	if err != nil {
		a.error(w, r, err)
		return
	}
	status := r.URL.Query().Get("status")
	if status != "" && status != string(digest.StatusDraft) && status != string(digest.StatusPublished) {
		a.error(w, r, badInput("status %q: want draft or published", status))
		return
	}
	out := []digest.Listing{}
	for _, st := range list {
		if l := st.List(digest.DefaultBlindspotRule); status == "" || string(l.Status) == status {
			out = append(out, l)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"stories": out})
}

// apiStoryBody is one story as the API returns it: the listing (status,
// coverage, blindspot, articles with why each joined) and the text.
type apiStoryBody struct {
	digest.Listing
	Summary  string         `json:"summary"`
	Overview []string       `json:"overview"`
	Framing  digest.Framing `json:"framing"`
	Topics   []string       `json:"topics"`
	FAQ      []digest.FAQ   `json:"faq"`
}

func storyBody(st *digest.Story) apiStoryBody {
	b := apiStoryBody{Listing: st.List(digest.DefaultBlindspotRule), Summary: st.Summary, Overview: st.Overview,
		Framing: st.Framing, Topics: st.Topics, FAQ: st.FAQ}
	if b.Overview == nil {
		b.Overview = []string{}
	}
	if b.Topics == nil {
		b.Topics = []string{}
	}
	if b.FAQ == nil {
		b.FAQ = []digest.FAQ{}
	}
	return b
}

func (a *Admin) apiStory(w http.ResponseWriter, r *http.Request) {
	st, err := a.stories.Story(r.Context(), r.PathValue("id"))
	if err != nil {
		a.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, storyBody(st))
}

// apiEditStory changes the fields the body names; each is then the
// editor's, never drafted again.
func (a *Admin) apiEditStory(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Title    *string           `json:"title"`
		Summary  *string           `json:"summary"`
		Overview *[]string         `json:"overview"`
		Framing  map[string]string `json:"framing"`
		Topics   *[]string         `json:"topics"`
		FAQ      *[]digest.FAQ     `json:"faq"`
	}
	if err := decode(r, &body); err != nil {
		a.error(w, r, err)
		return
	}
	e := digest.Edit{Title: body.Title, Summary: body.Summary, Overview: body.Overview, Topics: body.Topics, FAQ: body.FAQ}
	for side, text := range body.Framing {
		if e.Framing == nil {
			e.Framing = map[digest.Side]string{}
		}
		e.Framing[digest.Side(side)] = text
	}
	st, err := a.stories.EditStory(r.Context(), r.PathValue("id"), e)
	if err != nil {
		a.error(w, r, err)
		return
	}
	a.log.Info("story edited", "story", st.ID, "by", "api", "version", st.Version)
	writeJSON(w, http.StatusOK, storyBody(st))
}

// apiStoryAction is publish, unpublish, move ({"articles": [URL...],
// "to": ID}), split ({"articles": [URL...]}: 201 with the new story) and
// merge ({"from": ID}).
func (a *Admin) apiStoryAction(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	var body struct {
		Articles []string `json:"articles"`
		To       string   `json:"to"`
		From     string   `json:"from"`
	}
	action := r.PathValue("action")
	if action == "move" || action == "split" || action == "merge" {
		if err := decode(r, &body); err != nil {
			a.error(w, r, err)
			return
		}
	}
	var (
		st   *digest.Story
		err  error
		code = http.StatusOK
	)
	switch action {
	case "publish":
		st, err = a.stories.SetStatus(ctx, id, digest.StatusPublished, digest.ByEditor)
	case "unpublish":
		st, err = a.stories.SetStatus(ctx, id, digest.StatusDraft, digest.ByEditor)
	case "move":
		if body.To == "" {
			err = badInput(`"to": the story the articles go to is required`)
			break
		}
		if st, err = a.stories.MoveArticles(ctx, id, body.Articles, body.To); err == nil {
			err = a.redraft(ctx, id, body.To)
		}
	case "split":
		if st, err = a.stories.Split(ctx, id, body.Articles); err == nil {
			err = a.redraft(ctx, id, st.ID)
			code = http.StatusCreated
		}
	case "merge":
		if body.From == "" {
			err = badInput(`"from": the story to merge into this one is required`)
			break
		}
		if st, err = a.stories.Merge(ctx, id, body.From); err == nil {
			err = a.redraft(ctx, id)
		}
	default:
		err = errNotFound
	}
	if err == nil {
		// Reload: the redraft may have changed the text.
		st, err = a.stories.Story(ctx, st.ID)
	}
	if err != nil {
		a.error(w, r, err)
		return
	}
	a.log.Info("story changed", "story", id, "action", action, "by", "api")
	writeJSON(w, code, storyBody(st))
}
