package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"bothsides/digest"
)

// Redrafter drafts again the still-drafted fields of stories whose
// articles an editor moved; the newsroom implements it.
type Redrafter interface {
	Redraft(ctx context.Context, ids ...string) error
}

// SetRedrafter makes moves, splits and merges redraft the stories they
// touch; without one their text stays as it was.
func (a *Admin) SetRedrafter(r Redrafter) { a.redrafter = r }

func (a *Admin) redraft(ctx context.Context, ids ...string) error {
	if a.redrafter == nil {
		return nil
	}
	return a.redrafter.Redraft(ctx, ids...)
}

// storyView is one story on the console's story page.
type storyView struct {
	Story    *digest.Story
	Listing  digest.Listing
	Articles []articleView
	Overview string
	Topics   string
	FAQ      string
	Drafted  map[string]bool
	Others   []digest.Story
	Notice   string
	Problem  string
}

type articleView struct {
	digest.Article
	Reason string
}

// storyPage shows one story for review: its text to edit, its status,
// coverage and articles with why each joined, and the regrouping forms.
func (a *Admin) storyPage(w http.ResponseWriter, r *http.Request) {
	a.showStory(w, r, http.StatusOK, r.PathValue("id"), notices[r.URL.Query().Get("ok")], "")
}

func (a *Admin) showStory(w http.ResponseWriter, r *http.Request, code int, id, notice, problem string) {
	ctx := r.Context()
	st, err := a.stories.Story(ctx, id)
	if err != nil {
		a.error(w, r, err)
		return
	}
	others, err := a.stories.List(ctx, 200)
	if err != nil {
		a.error(w, r, err)
		return
	}
	others = slices.DeleteFunc(others, func(o digest.Story) bool { return o.ID == st.ID })
	v := storyView{Story: st, Listing: st.List(digest.DefaultBlindspotRule), Overview: strings.Join(st.Overview, "\n"),
		Topics: strings.Join(st.Topics, ", "), FAQ: faqText(st.FAQ), Drafted: map[string]bool{}, Others: others,
		Notice: notice, Problem: problem}
	for _, f := range st.Drafted {
		v.Drafted[f] = true
	}
	for _, art := range st.Articles {
		v.Articles = append(v.Articles, articleView{Article: art, Reason: art.Join.Reason()})
	}
	a.render(w, r, code, "story", v)
}

// faqText writes a FAQ as the console's text box holds it: "Q: ..." and
// "A: ..." lines, a blank line between entries.
func faqText(faq []digest.FAQ) string {
	var b strings.Builder
	for i, f := range faq {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "Q: %s\nA: %s\n", f.Question, f.Answer)
	}
	return b.String()
}

// parseFAQ reads faqText's format back.
func parseFAQ(s string) ([]digest.FAQ, error) {
	var out []digest.FAQ
	var cur *digest.FAQ
	for n, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "Q:"):
			out = append(out, digest.FAQ{Question: strings.TrimSpace(line[2:])})
			cur = &out[len(out)-1]
		case strings.HasPrefix(line, "A:") && cur != nil:
			cur.Answer = strings.TrimSpace(cur.Answer + " " + strings.TrimSpace(line[2:]))
		case cur != nil && cur.Answer != "":
			cur.Answer += " " + line
		case cur != nil:
			cur.Question += " " + line
		default:
			return nil, badInput("FAQ line %d: start each entry with \"Q:\" and its answer with \"A:\"", n+1)
		}
	}
	return out, nil
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func commaList(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// formEdit is the edit the story form asks for: only the fields whose
// value differs from the story's, so saving leaves the others drafted.
func formEdit(r *http.Request, st *digest.Story) (digest.Edit, error) {
	var e digest.Edit
	if v, ok := r.PostForm["title"]; ok && strings.TrimSpace(v[0]) != st.Title {
		e.Title = &v[0]
	}
	if v, ok := r.PostForm["summary"]; ok && strings.TrimSpace(v[0]) != st.Summary {
		e.Summary = &v[0]
	}
	if v, ok := r.PostForm["overview"]; ok {
		if ov := lines(v[0]); !slices.Equal(ov, st.Overview) {
			e.Overview = &ov
		}
	}
	if v, ok := r.PostForm["topics"]; ok {
		if t := commaList(v[0]); !slices.Equal(t, st.Topics) {
			e.Topics = &t
		}
	}
	for _, side := range digest.Sides {
		if v, ok := r.PostForm["framing_"+string(side)]; ok && strings.TrimSpace(v[0]) != st.Framing.Of(side) {
			if e.Framing == nil {
				e.Framing = map[digest.Side]string{}
			}
			e.Framing[side] = v[0]
		}
	}
	if v, ok := r.PostForm["faq"]; ok {
		faq, err := parseFAQ(v[0])
		if err != nil {
			return e, err
		}
		if !slices.Equal(faq, st.FAQ) {
			e.FAQ = &faq
		}
	}
	return e, nil
}

// editStory saves the story form.
func (a *Admin) editStory(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	st, err := a.stories.Story(ctx, id)
	if err != nil {
		a.error(w, r, err)
		return
	}
	e, err := formEdit(r, st)
	if err == nil {
		_, err = a.stories.EditStory(ctx, id, e)
	}
	if a.reviewFailed(w, r, id, err) {
		return
	}
	a.log.Info("admin edited a story", "story", id)
	http.Redirect(w, r, "/admin/stories/"+id+"?ok=saved", http.StatusSeeOther)
}

// reviewFailed shows an expected error on the story page again (or the
// error page for anything else) and reports whether there was one.
func (a *Admin) reviewFailed(w http.ResponseWriter, r *http.Request, id string, err error) bool {
	if err == nil {
		return false
	}
	if f := failureOf(err); f.Code != http.StatusInternalServerError && f.Code != http.StatusNotFound {
		a.showStory(w, r, f.Code, id, "", f.Detail)
		return true
	}
	a.error(w, r, err)
	return true
}

// storyAction publishes, unpublishes, moves, splits or merges.
func (a *Admin) storyAction(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	var (
		err  error
		next = id
		ok   string
	)
	switch action := r.PathValue("action"); action {
	case "publish", "unpublish":
		status := digest.StatusPublished
		if action == "unpublish" {
			status = digest.StatusDraft
		}
		_, err = a.stories.SetStatus(ctx, id, status, digest.ByEditor)
		ok = action + "ed"
	case "move":
		to := r.PostFormValue("to")
		if to == "" {
			err = badInput("choose the story the articles go to")
			break
		}
		if _, err = a.stories.MoveArticles(ctx, id, r.PostForm["article"], to); err == nil {
			err = a.redraft(ctx, id, to)
		}
		ok = "moved"
	case "split":
		var st *digest.Story
		if st, err = a.stories.Split(ctx, id, r.PostForm["article"]); err == nil {
			err = a.redraft(ctx, id, st.ID)
			next = st.ID
		}
		ok = "split"
	case "merge":
		from := r.PostFormValue("from")
		if from == "" {
			err = badInput("choose the story to merge into this one")
			break
		}
		if _, err = a.stories.Merge(ctx, id, from); err == nil {
			err = a.redraft(ctx, id)
		}
		ok = "merged"
	default:
		err = errNotFound
	}
	if a.reviewFailed(w, r, id, err) {
		return
	}
	if _, gone := a.stories.Story(ctx, next); gone != nil {
		next = r.PostFormValue("to") // the story moved away entirely
	}
	a.log.Info("admin changed a story", "story", id, "action", r.PathValue("action"))
	http.Redirect(w, r, "/admin/stories/"+next+"?ok="+ok, http.StatusSeeOther)
}
