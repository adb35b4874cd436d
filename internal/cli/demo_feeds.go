package cli

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"bothsides/feeds"
	"bothsides/sample"
	"bothsides/sqlite"
)

// demoFeeds registers the sample outlets and ingests their feeds through
// the same fetcher as ingest, its network replaced by the embedded files
// (their dates moved to today); serve goes on fetching them the same way.
func (a *app) demoFeeds(ctx context.Context, db *sqlite.DB, o *demoOptions) error {
	list, columns, err := feeds.ReadCSV(bytes.NewReader(sample.SourcesCSV()))
	if err != nil {
		return fmt.Errorf("sample sources: %w", err)
	}
	if _, err := feeds.NewStore(db).Import(ctx, list, columns...); err != nil {
		return fmt.Errorf("sample sources: %w", err)
	}
	transport := sample.FeedTransport(a.now().Sub(sample.FeedsWritten).Truncate(time.Minute))
	cfg := o.Ingest
	if err := cfg.check(); err != nil {
		return err
	}
	in, err := a.ingester(ctx, db, cfg, transport)
	if err != nil {
		return err
	}
	rep, err := in.Run(ctx)
	if err != nil {
		return err
	}
	if rep.Failed > 0 {
		for _, r := range rep.Feeds {
			if r.Err != nil {
				return fmt.Errorf("sample feed %s: %w", r.URL, r.Err)
			}
		}
	}
	fmt.Fprintf(a.stdout, "added %d sample outlets; ingested %d articles from their feeds\n", len(list), rep.New)
	a.ingest, a.ingestTransport = cfg, transport
	return nil
}
