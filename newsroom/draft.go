package newsroom

import (
	"fmt"
	"slices"
	"strings"

	"bothsides/cluster"
	"bothsides/digest"
	"bothsides/feeds"
)

// maxTopics is how many topics a drafted story gets.
const maxTopics = 3

// apply writes the draft dr into the fields of st still drafted: the title
// and summary as the central article wrote them, the overview as quoted
// sentences, each side's framing as its outlets' headlines quoted and
// attributed, and the topics its feed categories map to. Nothing is
// written that an article did not say.
func apply(st *digest.Story, dr cluster.Draft, items map[int64]feeds.Item, mapping map[string]string) {
	if dr.Title == "" {
		return // no article of the story is in the index
	}
	if st.IsDrafted(digest.FieldTitle) {
		st.Title = clip(dr.Title, digest.MaxTitleLen)
	}
	if st.IsDrafted(digest.FieldSummary) {
		st.Summary = dr.Summary
		if st.Summary == "" {
			st.Summary = dr.Title
		}
	}
	if st.IsDrafted(digest.FieldOverview) {
		st.Overview = nil
		for _, s := range dr.Overview {
			if strings.Contains(st.Summary, s.Text) {
				continue // the summary says it already
			}
			st.Overview = append(st.Overview, fmt.Sprintf("%s (%s)", s.Text, s.Source))
		}
	}
	for _, side := range digest.Sides {
		if !st.IsDrafted(digest.FramingField(side)) {
			continue
		}
		text := framing(dr.Framing[side])
		switch side {
		case digest.SideLeft:
			st.Framing.Left = text
		case digest.SideCenter:
			st.Framing.Center = text
		case digest.SideRight:
			st.Framing.Right = text
		}
	}
	if st.IsDrafted(digest.FieldTopics) {
		st.Topics = topicsOf(dr.Categories, mapping)
	}
}

// framing quotes a side's headlines with their outlets:
// “Headline” (Outlet); “Other headline” (Other outlet).
func framing(quotes []cluster.Quote) string {
	var parts []string
	for _, q := range quotes {
		parts = append(parts, fmt.Sprintf("“%s” (%s)", q.Headline, q.Source))
	}
	return strings.Join(parts, "; ")
}

// topicsOf maps feed categories to topics, most frequent category first,
// each topic once; categories with no mapping give none.
func topicsOf(categories []string, mapping map[string]string) []string {
	var out []string
	for _, c := range categories {
		t, ok := mapping[strings.ToLower(strings.TrimSpace(c))]
		if ok && !slices.Contains(out, t) {
			out = append(out, t)
			if len(out) == maxTopics {
				break
			}
		}
	}
	return out
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return strings.TrimSpace(string(r[:n-1])) + "…"
}
