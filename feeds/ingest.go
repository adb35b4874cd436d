package feeds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// IngestConfig configures an Ingester. Zero values take the defaults noted.
type IngestConfig struct {
	// Fetcher fetches the feeds; default NewFetcher(FetchConfig{}).
	Fetcher *Fetcher
	// Grouper, when set, receives the items each ingest stored for the
	// first time; nil just stores them.
	Grouper Grouper
	// Now is the clock; default time.Now in UTC.
	Now func() time.Time
	// Logger logs one line per feed that failed and one per ingest.
	Logger *slog.Logger
	// Workers is how many feeds are fetched at once (never two of one
	// host); default 4.
	Workers int
	// Backoff is the wait after the first failure in a row, doubled with
	// each further one up to MaxBackoff; defaults 5m and 24h. A Retry-After
	// longer than the backoff is honoured, up to MaxBackoff.
	Backoff, MaxBackoff time.Duration
}

// Items an ingest hands to the Grouper: at most MaxGroup, first seen at
// most RegroupWindow ago (older ones that no grouping took stay ungrouped).
const (
	MaxGroup      = 20000
	RegroupWindow = 48 * time.Hour
)

// Ingester fetches every due feed once, stores the new items and hands
// them to the Grouper.
type Ingester struct {
	cfg   IngestConfig
	store *Store
	mu    sync.Mutex // one ingest at a time
}

// NewIngester returns an ingester over store with cfg's defaults applied.
func NewIngester(cfg IngestConfig, store *Store) *Ingester {
	if cfg.Fetcher == nil {
		cfg.Fetcher = NewFetcher(FetchConfig{})
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Now().UTC() }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 5 * time.Minute
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 24 * time.Hour
	}
	return &Ingester{cfg: cfg, store: store}
}

// FeedResult is what one feed's fetch did.
type FeedResult struct {
	Source, URL string
	NotModified bool
	New         int      // items stored for the first time
	Seen        int      // items in the document
	Notes       []string // items skipped or repaired
	Err         error
}

// Report is what one ingest did, one result per feed fetched.
type Report struct {
	Feeds   []FeedResult
	NotDue  int // feeds skipped: backing off or asked to wait
	New     int
	Failed  int
	Grouped int // items the Grouper took
}

func (r Report) String() string {
	return fmt.Sprintf("%d feeds fetched (%d failed, %d waiting), %d new items", len(r.Feeds), r.Failed, r.NotDue, r.New)
}

// Run fetches every due feed once, each on its own: a feed that fails has
// its error recorded on its row and stops nothing else. It stores the new
// items and calls the Grouper once with all of them, in published order,
// together with any item an earlier ingest stored but could not hand over;
// when Group fails the items are handed over again by the next Run, so
// Group must take all or nothing. The error is for the database or the
// Grouper, never for one feed.
func (in *Ingester) Run(ctx context.Context) (Report, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	var rep Report
	now := in.cfg.Now()
	jobs, err := in.store.Due(ctx, now)
	if err != nil {
		return rep, err
	}
	var total int
	if all, err := in.store.List(ctx); err == nil {
		for _, s := range all {
			total += len(s.Feeds)
		}
	}
	rep.NotDue = max(0, total-len(jobs))
	results := make([]FeedResult, len(jobs))
	dbErrs := make([]error, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(in.cfg.Workers, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i], dbErrs[i] = in.one(ctx, jobs[i])
			}
		}()
	}
	for i := range jobs {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	for _, r := range results {
		if r.URL == "" {
			continue // not started: the context ended
		}
		rep.Feeds = append(rep.Feeds, r)
		rep.New += r.New
		if r.Err != nil {
			rep.Failed++
		}
	}
	if err := errors.Join(dbErrs...); err != nil {
		return rep, err
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	in.cfg.Logger.Info("ingest", "feeds", len(rep.Feeds), "failed", rep.Failed, "waiting", rep.NotDue, "new_items", rep.New)
	if in.cfg.Grouper == nil {
		return rep, nil
	}
	// The grouping gets the new items and any an earlier ingest stored but
	// could not hand over (its grouping failed, or the process stopped).
	todo, err := in.store.Ungrouped(ctx, now.Add(-RegroupWindow), MaxGroup)
	if err != nil {
		return rep, err
	}
	if len(todo) == 0 {
		return rep, nil
	}
	if err := in.cfg.Grouper.Group(ctx, todo); err != nil {
		return rep, fmt.Errorf("group %d new items (handed over again by the next ingest): %w", len(todo), err)
	}
	ids := make([]int64, len(todo))
	for i, it := range todo {
		ids[i] = it.ID
	}
	if err := in.store.MarkGrouped(ctx, ids, in.cfg.Now()); err != nil {
		return rep, err
	}
	rep.Grouped = len(todo)
	return rep, nil
}

// one fetches, parses and stores one feed. A feed's own failure is in the
// result (and on its row); the error is the database's.
func (in *Ingester) one(ctx context.Context, job Job) (FeedResult, error) {
	res := FeedResult{Source: job.Source.Name, URL: job.Feed.URL}
	fail := func(err error, retryAfter time.Duration) (FeedResult, error) {
		res.Err = err
		now := in.cfg.Now()
		wait := in.backoff(job.Feed.Failures + 1)
		if retryAfter > wait {
			wait = min(retryAfter, in.cfg.MaxBackoff)
		}
		in.cfg.Logger.Warn("feed failed", "source", job.Source.Name, "feed", job.Feed.URL, "err", err, "failures", job.Feed.Failures+1, "next", now.Add(wait).Format(time.RFC3339))
		return res, in.store.Failed(context.WithoutCancel(ctx), job.Feed.ID, now, err.Error(), now.Add(wait))
	}
	resp, err := in.cfg.Fetcher.Fetch(ctx, job.Feed, in.cfg.Now())
	if err != nil {
		if ctx.Err() != nil {
			return FeedResult{}, nil // shutting down: not the feed's fault
		}
		var se *StatusError
		if errors.As(err, &se) {
			return fail(err, se.RetryAfter)
		}
		return fail(err, 0)
	}
	now := in.cfg.Now()
	if resp.NotModified {
		res.NotModified = true
		return res, in.store.NotModified(ctx, job.Feed.ID, now)
	}
	p, err := Parse(resp.Body, resp.ContentType, resp.URL, now)
	if err != nil {
		return fail(err, 0)
	}
	res.Seen, res.Notes = len(p.Items), p.Notes
	added, err := in.store.Stored(ctx, job, resp.ETag, resp.LastModified, p, now)
	if err != nil {
		return res, fmt.Errorf("store feed %s: %w", job.Feed.URL, err)
	}
	res.New = len(added)
	if len(p.Notes) > 0 {
		in.cfg.Logger.Info("feed items skipped or repaired", "source", job.Source.Name, "feed", job.Feed.URL, "notes", strings.Join(p.Notes, "; "))
	}
	return res, nil
}

// backoff is the wait after n failures in a row.
func (in *Ingester) backoff(n int) time.Duration {
	d := in.cfg.Backoff
	for i := 1; i < n && d < in.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, in.cfg.MaxBackoff)
}
