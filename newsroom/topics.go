package newsroom

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"bothsides/sqlite"
)

// ErrNoMapping is unmapping a category that has no mapping.
var ErrNoMapping = errors.New("no such category mapping")

// Topics is the operator's mapping from feed categories to the digest's
// topics (table topic_map, seeded by its migration).
type Topics struct{ db *sqlite.DB }

// NewTopics returns the mapping table on db.
func NewTopics(db *sqlite.DB) *Topics { return &Topics{db: db} }

// Mapping is one category and its topic.
type Mapping struct{ Category, Topic string }

// List returns every mapping, by category.
func (t *Topics) List(ctx context.Context) ([]Mapping, error) {
	rows, err := t.db.R.QueryContext(ctx, `SELECT category, topic FROM topic_map ORDER BY category`)
	if err != nil {
		return nil, fmt.Errorf("list topic mappings: %w", err)
	}
	defer rows.Close()
	var out []Mapping
	for rows.Next() {
		var m Mapping
		if err := rows.Scan(&m.Category, &m.Topic); err != nil {
			return nil, fmt.Errorf("list topic mappings: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Mapping returns the table as lower-cased category -> topic.
func (t *Topics) Mapping(ctx context.Context) (map[string]string, error) {
	list, err := t.List(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(list))
	for _, e := range list {
		m[strings.ToLower(e.Category)] = e.Topic
	}
	return m, nil
}

// Map maps category to topic, replacing its mapping if any. Stories
// drafted later take it; stories whose topics an editor set keep theirs.
func (t *Topics) Map(ctx context.Context, category, topic string) error {
	category, topic = strings.TrimSpace(category), strings.TrimSpace(topic)
	if category == "" || topic == "" || len([]rune(topic)) > 60 {
		return fmt.Errorf("map a category: want a category and a topic of 1 to 60 characters")
	}
	_, err := t.db.W.ExecContext(ctx, `INSERT INTO topic_map (category, topic) VALUES (?, ?)
		ON CONFLICT (category) DO UPDATE SET topic = excluded.topic`, strings.ToLower(category), topic)
	if err != nil {
		return fmt.Errorf("map category %q: %w", category, err)
	}
	return nil
}

// Unmap removes category's mapping.
func (t *Topics) Unmap(ctx context.Context, category string) error {
	res, err := t.db.W.ExecContext(ctx, `DELETE FROM topic_map WHERE category = ?`, strings.TrimSpace(category))
	if err != nil {
		return fmt.Errorf("unmap category %q: %w", category, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %q", ErrNoMapping, category)
	}
	return nil
}
