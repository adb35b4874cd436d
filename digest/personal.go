package digest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// MaxExtras bounds the stories an edition keeps for personal variants.
const MaxExtras = 12

// extrasFor picks, for each topic of the candidates not chosen for the
// edition, its best ranked story: the one more story a reader who favours
// that topic may get. ranked is in rank order.
func extrasFor(ranked []Story, top []Story, blind []Blindspot) []Story {
	used := map[string]bool{}
	for _, s := range top {
		used[s.ID] = true
	}
	for _, b := range blind {
		used[b.Story.ID] = true
	}
	covered := map[string]bool{}
	var out []Story
	for _, st := range ranked {
		if len(out) >= MaxExtras {
			break
		}
		if used[st.ID] {
			continue
		}
		add := false
		for _, k := range topicKeys(&st) {
			if !covered[k] {
				covered[k] = true
				add = true
			}
		}
		if add {
			out = append(out, st)
		}
	}
	return out
}

// topicKey normalises a topic as topicKeys does: lower case, single spaces.
func topicKey(t string) string { return strings.ToLower(strings.Join(strings.Fields(t), " ")) }

// Variant is the edition as a reader who favours topics gets it: the top
// stories with a favoured topic come first, each group in the edition's
// order, and the best ranked story of a favoured topic that did not make
// the edition (one of its Extras) is added after them. Nothing is removed
// or changed: every top story, every side's framing and the blindspots are
// those of the edition, so a tuned digest is as both-sided as the edition.
// With no favoured topic in play it returns e itself.
func (e *Edition) Variant(topics []string) *Edition {
	if len(topics) == 0 {
		return e
	}
	fav := map[string]bool{}
	for _, t := range topics {
		if k := topicKey(t); k != "" {
			fav[k] = true
		}
	}
	favoured := func(st *Story) bool {
		for _, k := range topicKeys(st) {
			if fav[k] {
				return true
			}
		}
		return false
	}
	var first, rest []Story
	for i := range e.Stories {
		if favoured(&e.Stories[i]) {
			first = append(first, e.Stories[i])
		} else {
			rest = append(rest, e.Stories[i])
		}
	}
	var extra *Story
	for i := range e.Extras {
		if favoured(&e.Extras[i]) && !e.carries(e.Extras[i].ID) {
			extra = &e.Extras[i]
			break
		}
	}
	if extra == nil && (len(first) == 0 || len(rest) == 0) {
		return e // the order would not change
	}
	v := *e
	v.Extras = nil
	v.Stories = make([]Story, 0, len(e.Stories)+1)
	v.Stories = append(v.Stories, first...)
	if extra != nil {
		v.Stories = append(v.Stories, *extra)
	}
	v.Stories = append(v.Stories, rest...)
	return &v
}

// carries reports whether the edition has the story as a top story or a
// blindspot.
func (e *Edition) carries(id string) bool {
	return slices.ContainsFunc(e.Stories, func(s Story) bool { return s.ID == id }) ||
		slices.ContainsFunc(e.Blindspots, func(b Blindspot) bool { return b.Story.ID == id })
}

// variantKey names a variant by its stories in order: readers with
// different topics whose variants are the same share one rendering.
func (e *Edition) variantKey() string {
	var b strings.Builder
	for _, s := range e.Stories {
		b.WriteString(s.ID)
		b.WriteByte(0)
	}
	return b.String()
}

// maxVariants bounds the renderings a send keeps; beyond it a variant is
// rendered for its message and dropped (slow, but still the reader's own).
const maxVariants = 1024

// variants renders each distinct variant of an edition once per send and
// keeps the MIME templates, keyed by the subscribers' stored topics (the
// JSON text, so a message costs a map lookup) and by the variant itself.
type variants struct {
	mu       sync.Mutex
	base     *editionMail
	byTopics map[string]*editionMail
	byKey    map[string]*editionMail
}

func newVariants(base *editionMail, e *Edition) *variants {
	v := &variants{base: base, byTopics: map[string]*editionMail{"": base, "[]": base}, byKey: map[string]*editionMail{}}
	v.byKey[e.variantKey()] = base
	return v
}

// mailFor returns the encoded mail for a subscriber whose topics column
// holds topics.
func (r *run) mailFor(topics string) (*editionMail, error) {
	vs := r.variants
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if m, ok := vs.byTopics[topics]; ok {
		return m, nil
	}
	var list []string
	if err := json.Unmarshal([]byte(topics), &list); err != nil {
		// Unreadable preferences must not cost the reader their digest.
		r.log.Warn("subscriber topics unreadable; sending the edition as is", "err", err)
		return vs.base, nil
	}
	v := r.e.Variant(list)
	key := v.variantKey()
	m, ok := vs.byKey[key]
	if !ok {
		rendered, err := r.s.render.Render(v)
		if err != nil {
			return nil, fmt.Errorf("render variant: %w", err)
		}
		if m, err = r.s.newEditionMail(v, rendered); err != nil {
			return nil, err
		}
		if len(vs.byKey) < maxVariants {
			vs.byKey[key] = m
		}
	}
	if len(vs.byTopics) < 16*maxVariants {
		vs.byTopics[topics] = m
	}
	return m, nil
}
