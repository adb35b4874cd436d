package digest

import (
	"slices"
	"strings"
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

// VariantKey names a variant by its stories in order: readers with
// different topics whose variants are the same can share one rendering.
func (e *Edition) VariantKey() string {
	var b strings.Builder
	for _, s := range e.Stories {
		b.WriteString(s.ID)
		b.WriteByte(0)
	}
	return b.String()
}
