package newsroom

import (
	"context"
	"errors"
	"fmt"
	"time"

	"bothsides/cluster"
	"bothsides/digest"
	"bothsides/feeds"
)

// Redraft drafts again the still-drafted fields of the stories named, from
// the articles they hold now: after an editor moved, split or merged. A
// story that no longer exists is skipped.
func (n *Newsroom) Redraft(ctx context.Context, ids ...string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	var (
		stories  []*digest.Story
		from, to time.Time
	)
	for _, id := range ids {
		st, err := n.stories.Story(ctx, id)
		if errors.Is(err, digest.ErrStoryNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		stories = append(stories, st)
		for _, a := range st.Articles {
			if a.ItemID == 0 {
				continue
			}
			if from.IsZero() || a.PublishedAt.Before(from) {
				from = a.PublishedAt
			}
			if a.PublishedAt.After(to) {
				to = a.PublishedAt
			}
		}
	}
	if len(stories) == 0 || from.IsZero() {
		return nil
	}
	items, err := n.items.Items(ctx, from, to.Add(time.Second))
	if err != nil {
		return fmt.Errorf("redraft: %w", err)
	}
	byID := make(map[int64]feeds.Item, len(items))
	for _, it := range items {
		byID[it.ID] = it
	}
	idx := cluster.New(n.cfg.Cluster)
	for _, st := range stories {
		for _, a := range st.Articles {
			if it, ok := byID[a.ItemID]; ok && a.ItemID != 0 {
				idx.Put(it, st.ID)
			}
		}
	}
	mapping, err := n.topics.Mapping(ctx)
	if err != nil {
		return err
	}
	for _, st := range stories {
		dr := idx.Draft(st.ID)
		if _, err := n.stories.Update(ctx, st.ID, func(s *digest.Story) error {
			apply(s, dr, byID, mapping)
			return nil
		}); err != nil {
			return fmt.Errorf("redraft %q: %w", st.ID, err)
		}
	}
	return nil
}
