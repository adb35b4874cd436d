// Package feeds owns the outlets bothsides reads: sources with their ratings
// and feeds, fetching them politely and safely, and the articles they carry,
// normalised and de-duplicated.
package feeds

import (
	"context"
	"time"
)

// Item is one article read from a source's feed, normalised: plain text,
// canonical URL, published time clamped to now.
type Item struct {
	ID          int64     // row id in the store
	SourceID    int64     // the source that published it
	Source      string    // the source's name
	Domain      string    // the source's domain
	Bias        string    // the source's rating on the seven-point scale, or "unrated"
	URL         string    // canonical URL
	GUID        string    // the feed's id for the item, or the canonical URL
	Title       string    // plain text
	Description string    // plain text
	Categories  []string  // the feed's categories, as given
	Published   time.Time // from the feed, or when first seen
}

// Grouper receives the items an ingest stored for the first time, in
// published order, and groups them into stories. When Group fails, the
// next ingest hands the same items over again (with its own new ones), so
// Group must take all of them or none.
type Grouper interface {
	Group(ctx context.Context, items []Item) error
}
