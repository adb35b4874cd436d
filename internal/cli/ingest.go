package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"bothsides/feeds"
	"bothsides/sqlite"
)

func ingestCommand() *command {
	var o ingestConfig
	return &command{
		name:    "ingest",
		summary: "fetch every source's feeds once and store the new articles",
		help: `Fetches each feed that is due (a feed that failed waits out its backoff or the
server's Retry-After), one request at a time per host, and stores the
articles not seen before. Prints one line per feed: new articles, 304 not
modified, or the error, which is also recorded on the feed (see 'sources
list'). One broken feed never stops the others; the exit status is 0 unless
the database fails.`,
		settings: o.settings(false),
		run: func(ctx context.Context, a *app, args []string) error {
			if len(args) != 0 {
				return fmt.Errorf("%w: ingest takes no arguments", errUsage)
			}
			o.Every = 0
			if err := o.check(); err != nil {
				return err
			}
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			in, err := a.ingester(ctx, db, o, nil)
			if err != nil {
				return err
			}
			rep, err := in.Run(ctx)
			if err == nil && len(rep.Feeds) == 0 && rep.NotDue == 0 {
				fmt.Fprintln(a.stdout, "no feeds to fetch; add a source with 'bothsides sources add NAME --domain D --bias B --feed URL'")
				return nil
			}
			printIngest(a, rep)
			return err
		},
	}
}

// printIngest writes one line per feed and the totals.
func printIngest(a *app, rep feeds.Report) {
	for _, r := range rep.Feeds {
		switch {
		case r.Err != nil:
			fmt.Fprintf(a.stdout, "%s\t%s\terror: %v\n", r.Source, r.URL, r.Err)
		case r.NotModified:
			fmt.Fprintf(a.stdout, "%s\t%s\tnot modified\n", r.Source, r.URL)
		default:
			fmt.Fprintf(a.stdout, "%s\t%s\t%d new of %d\n", r.Source, r.URL, r.New, r.Seen)
		}
		for _, n := range r.Notes {
			fmt.Fprintf(a.stdout, "\tnote: %s\n", n)
		}
	}
	fmt.Fprintln(a.stdout, rep)
}

// ingester wires a feeds.Ingester from the settings; transport, when set,
// replaces the network (the demo's embedded feeds).
func (a *app) ingester(ctx context.Context, db *sqlite.DB, o ingestConfig, transport http.RoundTripper) (*feeds.Ingester, error) {
	g, err := a.newGrouper(ctx, db)
	if err != nil {
		return nil, err
	}
	// The outlets see who fetches: the operator's public URL when there is
	// one, else the name and version alone.
	ua := feeds.DefaultUserAgent
	if u, err := url.Parse(a.cfg.BaseURL); err == nil && u.Scheme == "https" {
		ua = fmt.Sprintf("bothsides/%s (+%s; news digest feed reader)", feeds.Version, a.cfg.BaseURL)
	}
	f := feeds.NewFetcher(feeds.FetchConfig{Timeout: o.Timeout, MaxBytes: int64(o.MaxBytes),
		AllowPrivate: o.AllowPrivate, Transport: transport, UserAgent: ua})
	return feeds.NewIngester(feeds.IngestConfig{Fetcher: f, Grouper: g, Now: a.now, Logger: a.log}, feeds.NewStore(db)), nil
}

// newGrouper returns what an ingest hands its new articles to, to group
// them into stories; nil stores them only.
func (a *app) newGrouper(ctx context.Context, db *sqlite.DB) (feeds.Grouper, error) {
	return a.newsroom(ctx)
}

// serveIngest starts serve's ingest loop when --ingest-every is set.
func (a *app) serveIngest(ctx context.Context, db *sqlite.DB) (func(), error) {
	if a.ingest.Every <= 0 {
		return func() {}, nil
	}
	in, err := a.ingester(ctx, db, a.ingest, a.ingestTransport)
	if err != nil {
		return nil, err
	}
	return a.startIngest(ctx, in, feeds.NewStore(db), a.ingest.Every), nil
}

// startIngest runs in every o.Every while any source has a feed, from now
// until the returned stop is called, which cancels an ingest in flight and
// waits for it. With o.Every zero it does nothing.
func (a *app) startIngest(ctx context.Context, in *feeds.Ingester, store *feeds.Store, every time.Duration) (stop func()) {
	if every <= 0 || in == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if ok, err := store.HasFeeds(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("ingest: list feeds", "err", err)
			} else if ok {
				if _, err := in.Run(ctx); err != nil && ctx.Err() == nil {
					a.log.Warn("ingest", "err", err)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	a.log.Info("ingesting feeds", "every", every.String())
	return func() { cancel(); wg.Wait() }
}

// feedStatus is a feed's state in one phrase for 'sources list'.
func feedStatus(f feeds.Feed, now time.Time) string {
	var parts []string
	if f.LastFetch.IsZero() {
		parts = append(parts, "never fetched")
	} else {
		parts = append(parts, "fetched "+f.LastFetch.UTC().Format(time.RFC3339))
	}
	if !f.LastSuccess.IsZero() {
		parts = append(parts, "ok "+f.LastSuccess.UTC().Format(time.RFC3339))
	}
	parts = append(parts, fmt.Sprintf("%d items", f.ItemCount))
	if f.LastError != "" {
		parts = append(parts, fmt.Sprintf("error (%d in a row): %s", f.Failures, f.LastError))
	}
	if f.NextFetch.After(now) {
		parts = append(parts, "waits until "+f.NextFetch.UTC().Format(time.RFC3339))
	}
	if f.Notes != "" {
		n := strings.Count(f.Notes, "\n") + 1
		parts = append(parts, fmt.Sprintf("%d items skipped or repaired (see the console's Sources page)", n))
	}
	return strings.Join(parts, ", ")
}
