// Package newsroom turns the articles the feeds bring into draft stories:
// each new article joins the most similar story of the last 48 hours or
// starts one, records why, and the drafted fields of the stories it
// touched are drafted again from their articles' own text. It writes
// stories through digest's store; what editors changed it never touches.
package newsroom

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"bothsides/cluster"
	"bothsides/digest"
	"bothsides/feeds"
	"bothsides/sqlite"
)

// Items is what the newsroom reads of the feeds' item store.
type Items interface {
	Items(ctx context.Context, from, to time.Time) ([]feeds.Item, error)
}

// Config configures a Newsroom. Zero values take the defaults noted.
type Config struct {
	// Cluster is the similarity index's configuration; its Window is how
	// far back a story takes new articles. Zero: cluster.DefaultConfig().
	Cluster cluster.Config
	// AutoPublish publishes a draft once it has that many sources from
	// that many sides; zero: off.
	AutoPublish AutoPublish
	// Now is the clock; default time.Now in UTC.
	Now func() time.Time
	// Logger logs one line per ingest's grouping.
	Logger *slog.Logger
}

// AutoPublish is --auto-publish SOURCES,SIDES.
type AutoPublish struct {
	Sources int // distinct outlets, rated or not
	Sides   int // distinct sides among the rated ones (1 to 3)
}

// Off reports whether auto-publishing is off.
func (p AutoPublish) Off() bool { return p.Sources <= 0 }

// String writes p as ParseAutoPublish reads it; "" when off.
func (p AutoPublish) String() string {
	if p.Off() {
		return ""
	}
	return fmt.Sprintf("%d,%d", p.Sources, p.Sides)
}

// ParseAutoPublish reads "SOURCES,SIDES", e.g. "3,2"; "" or "off" is off.
func ParseAutoPublish(s string) (AutoPublish, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "off" {
		return AutoPublish{}, nil
	}
	a, b, ok := strings.Cut(s, ",")
	src, err1 := strconv.Atoi(strings.TrimSpace(a))
	sides, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || src < 1 || sides < 1 || sides > 3 {
		return AutoPublish{}, fmt.Errorf("auto-publish %q: want SOURCES,SIDES such as 3,2 (at least 1 source, 1 to 3 sides)", s)
	}
	return AutoPublish{Sources: src, Sides: sides}, nil
}

// Due reports whether st has the sources and sides p asks for.
func (p AutoPublish) Due(st *digest.Story) bool {
	if p.Off() {
		return false
	}
	c := st.Coverage()
	sides := 0
	for _, n := range []int{c.Left, c.Center, c.Right} {
		if n > 0 {
			sides++
		}
	}
	return c.Total()+c.Unrated >= p.Sources && sides >= p.Sides
}

// Newsroom groups feed items into stories; it is a feeds.Grouper.
type Newsroom struct {
	cfg     Config
	stories *digest.Store
	items   Items
	topics  *Topics
	mu      sync.Mutex // one grouping at a time
}

var _ feeds.Grouper = (*Newsroom)(nil)

// New returns a newsroom writing stories to stories, reading feed items
// from items and topic mappings from db.
func New(cfg Config, db *sqlite.DB, stories *digest.Store, items Items) *Newsroom {
	if cfg.Cluster == (cluster.Config{}) {
		cfg.Cluster = cluster.DefaultConfig()
	}
	if cfg.Cluster.Window <= 0 {
		cfg.Cluster.Window = cluster.DefaultConfig().Window
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Now().UTC() }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Newsroom{cfg: cfg, stories: stories, items: items, topics: NewTopics(db)}
}

// Result says what one grouping did.
type Result struct {
	Joined, Started int // articles that joined a story, and that started one
	Published       int // drafts auto-published
}

// Group files each new item under a story and redrafts the stories it
// touched. Items already in a story are left where they are.
func (n *Newsroom) Group(ctx context.Context, items []feeds.Item) error {
	_, err := n.GroupItems(ctx, items)
	return err
}

// GroupItems is Group, saying what it did.
func (n *Newsroom) GroupItems(ctx context.Context, items []feeds.Item) (Result, error) {
	var res Result
	if len(items) == 0 {
		return res, nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.cfg.Now()
	items = slices.Clone(items)
	slices.SortStableFunc(items, func(a, b feeds.Item) int { return a.Published.Compare(b.Published) })
	idx, byID, linked, err := n.index(ctx, items[0].Published.Add(-n.cfg.Cluster.Window), now)
	if err != nil {
		return res, err
	}
	// Items of the window in no story are grouped too: an earlier
	// grouping that failed, or items stored before the newsroom ran, are
	// caught up rather than lost.
	given := map[int64]bool{}
	for _, it := range items {
		given[it.ID] = true
	}
	for id, it := range byID {
		if _, ok := linked[id]; !ok && !given[id] {
			items = append(items, it)
		}
	}
	slices.SortStableFunc(items, func(a, b feeds.Item) int {
		if c := a.Published.Compare(b.Published); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	added := map[string][]digest.Article{} // story -> its new articles, in order
	var order []string
	started := map[string]bool{}
	for _, it := range items {
		if _, ok := linked[it.ID]; ok {
			continue
		}
		byID[it.ID] = it
		m := idx.Best(it)
		art := article(it)
		key := m.Story
		if key == "" {
			key, err = n.newID(ctx, it, started)
			if err != nil {
				return res, err
			}
			started[key] = true
			art.Join = &digest.Join{By: digest.JoinNew}
			res.Started++
		} else {
			art.Join = &digest.Join{By: digest.JoinMatch, Score: round(m.Score), Shared: m.Shared}
			res.Joined++
		}
		idx.Put(it, key)
		linked[it.ID] = key
		if _, ok := added[key]; !ok {
			order = append(order, key)
		}
		added[key] = append(added[key], art)
	}
	mapping, err := n.topics.Mapping(ctx)
	if err != nil {
		return res, err
	}
	err = n.stories.Write(ctx, func(w *digest.Writer) error {
		for _, key := range order {
			arts := added[key]
			dr := idx.Draft(key)
			if started[key] {
				st := &digest.Story{ID: key, PublishedAt: arts[0].PublishedAt, Status: digest.StatusDraft,
					Drafted: slices.Clone(digest.DraftFields), Articles: arts}
				apply(st, dr, byID, mapping)
				if n.cfg.AutoPublish.Due(st) {
					st.Status, st.StatusBy, st.PublishedAt = digest.StatusPublished, digest.ByAuto, latest(st, now)
					res.Published++
				}
				if err := w.Create(st); err != nil {
					return err
				}
				continue
			}
			_, err := w.Update(key, func(st *digest.Story) error {
				for _, a := range arts {
					if !slices.ContainsFunc(st.Articles, func(b digest.Article) bool { return b.URL == a.URL }) {
						st.Articles = append(st.Articles, a)
					}
				}
				apply(st, dr, byID, mapping)
				if st.Published() {
					st.UpdatedAt = now
				} else if st.StatusBy == "" && n.cfg.AutoPublish.Due(st) {
					st.Status, st.StatusBy, st.PublishedAt, st.UpdatedAt = digest.StatusPublished, digest.ByAuto, latest(st, now), time.Time{}
					res.Published++
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("group items: %w", err)
	}
	n.cfg.Logger.Info("grouped articles into stories", "articles", res.Joined+res.Started, "joined", res.Joined,
		"started", res.Started, "auto_published", res.Published)
	return res, nil
}

// latest is when an auto-published story became due: its newest article's
// time, not after now.
func latest(st *digest.Story, now time.Time) time.Time {
	var t time.Time
	for _, a := range st.Articles {
		if a.PublishedAt.After(t) {
			t = a.PublishedAt
		}
	}
	if t.IsZero() || t.After(now) {
		return now
	}
	return t
}

func round(x float64) float64 { return float64(int(x*1000+0.5)) / 1000 }

// article is the story article an item makes.
func article(it feeds.Item) digest.Article {
	b := digest.Bias(it.Bias)
	if !b.Known() {
		b = digest.Unrated
	}
	return digest.Article{Source: it.Source, Bias: b, URL: it.URL, Title: it.Title, PublishedAt: it.Published, ItemID: it.ID}
}

// index builds the similarity index from the stored items published in
// [from, to] that are in a story. It returns the items by id and the
// story of each linked item.
func (n *Newsroom) index(ctx context.Context, from, to time.Time) (*cluster.Index, map[int64]feeds.Item, map[int64]string, error) {
	if w := to.Add(-n.cfg.Cluster.Window); w.Before(from) {
		from = w
	}
	linked, err := n.stories.Linked(ctx, from)
	if err != nil {
		return nil, nil, nil, err
	}
	items, err := n.items.Items(ctx, from, to.Add(time.Second))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("load items for the index: %w", err)
	}
	idx := cluster.New(n.cfg.Cluster)
	byID := make(map[int64]feeds.Item, len(items))
	for _, it := range items {
		byID[it.ID] = it
		if key, ok := linked[it.ID]; ok {
			idx.Put(it, key)
		}
	}
	return idx, byID, linked, nil
}

// newID makes a story id from an item's title: its words in lower case,
// joined by dashes, unique among the stories and the ones being started.
func (n *Newsroom) newID(ctx context.Context, it feeds.Item, taken map[string]bool) (string, error) {
	base := Slug(it.Title)
	if base == "" {
		base = "story-" + it.Published.UTC().Format("20060102")
	}
	id := base
	for i := 2; ; i++ {
		if !taken[id] {
			free, err := n.stories.FreeID(ctx, id)
			if err != nil {
				return "", err
			}
			if free == id {
				return id, nil
			}
		}
		id = fmt.Sprintf("%s-%d", base, i)
	}
}

// Slug is s in lower-case ASCII letters and digits, words joined by
// dashes, at most 60 characters cut at a word.
func Slug(s string) string {
	var words []string
	var w strings.Builder
	flush := func() {
		if w.Len() > 0 {
			words = append(words, w.String())
			w.Reset()
		}
	}
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			w.WriteRune(r)
		case r == '\'' || r == '’':
		default:
			flush()
		}
	}
	flush()
	out := ""
	for _, wd := range words {
		if len(out)+len(wd)+1 > 60 {
			break
		}
		if out != "" {
			out += "-"
		}
		out += wd
	}
	return out
}
