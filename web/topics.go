package web

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"bothsides/sqlite"
)

// topicChoice is one checkbox of the topics to favour.
type topicChoice struct {
	Name    string
	Checked bool
}

// topicChoices offers the topics of the last 60 days' stories, most
// frequent first (at most 30), plus any the subscriber already chose.
func (s *Server) topicChoices(ctx context.Context, chosen []string) ([]topicChoice, error) {
	since := sqlite.Time(s.now().Add(-60 * 24 * time.Hour))
	rows, err := s.db.R.QueryContext(ctx, `SELECT MIN(t.value) FROM stories, json_each(stories.topics) t
		WHERE stories.published_at >= ? AND t.type = 'text'
		GROUP BY lower(t.value) ORDER BY COUNT(*) DESC, lower(t.value) LIMIT 30`, since)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("list topics: %w", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	has := func(list []string, t string) bool {
		return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, t) })
	}
	for _, c := range chosen {
		if !has(names, c) {
			names = append(names, c)
		}
	}
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	out := make([]topicChoice, len(names))
	for i, n := range names {
		out[i] = topicChoice{Name: n, Checked: has(chosen, n)}
	}
	return out, nil
}
