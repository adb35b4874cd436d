package newsroom_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"bothsides/cluster"
	"bothsides/digest"
	"bothsides/feeds"
	"bothsides/internal/testsupport"
	"bothsides/newsroom"
	"bothsides/sqlite"
)

// post is one article an outlet's feed carries.
type post struct {
	ID          int64     `json:"id"`
	URL         string    `json:"url"`
	Outlet      string    `json:"outlet"`
	Bias        string    `json:"bias"`
	Event       string    `json:"event"`
	Published   time.Time `json:"published"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	Categories  []string  `json:"categories"`
}

// outlet is a fictional source.
type outlet struct {
	Name   string `json:"name"`
	Domain string `json:"domain"`
	Bias   string `json:"bias"`
}

// newsServer serves one RSS feed per outlet over 127.0.0.1 with the posts
// published up to the clock's time, so that an ingest sees what the
// outlets had published by then.
type newsServer struct {
	mu    sync.Mutex
	posts map[string][]post // by outlet domain
	clock *testsupport.Clock
	srv   *httptest.Server
}

func newNewsServer(tb testing.TB, clock *testsupport.Clock) *newsServer {
	tb.Helper()
	s := &newsServer{posts: map[string][]post{}, clock: clock}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	return s
}

func (s *newsServer) add(domain string, p ...post) {
	s.mu.Lock()
	s.posts[domain] = append(s.posts[domain], p...)
	s.mu.Unlock()
}

// feedURL is domain's feed on the server.
func (s *newsServer) feedURL(domain string) string { return s.srv.URL + "/" + domain + "/rss" }

func (s *newsServer) serve(w http.ResponseWriter, r *http.Request) {
	domain := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/rss")
	now := s.clock.Now()
	s.mu.Lock()
	posts := s.posts[domain]
	s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>%s</title><link>https://%s/</link>`, domain, domain)
	for i, p := range posts {
		if p.Published.After(now) {
			continue
		}
		link := p.URL
		if link == "" {
			link = fmt.Sprintf("https://%s/news/%d", domain, i)
		}
		fmt.Fprintf(&b, "<item><guid>%s-%d</guid><title>%s</title><link>%s</link><description>%s</description><pubDate>%s</pubDate>",
			domain, i, html.EscapeString(p.Title), html.EscapeString(link), html.EscapeString(p.Description), p.Published.Format(time.RFC1123Z))
		for _, c := range p.Categories {
			fmt.Fprintf(&b, "<category>%s</category>", html.EscapeString(c))
		}
		b.WriteString("</item>")
	}
	b.WriteString("</channel></rss>")
	w.Header().Set("Content-Type", "application/rss+xml")
	io.WriteString(w, b.String())
}

// room is a database with sources on a news server, an ingester and the
// newsroom as its grouper.
type room struct {
	db       *sqlite.DB
	clock    *testsupport.Clock
	news     *newsServer
	feeds    *feeds.Store
	stories  *digest.Store
	newsroom *newsroom.Newsroom
	ingester *feeds.Ingester
	grouping time.Duration // spent in the newsroom's Group, of all ingests
}

// timed is the newsroom as the ingester's grouper, its time counted.
type timed struct{ r *room }

func (t timed) Group(ctx context.Context, items []feeds.Item) error {
	start := time.Now()
	defer func() { t.r.grouping += time.Since(start) }()
	return t.r.newsroom.Group(ctx, items)
}

func newRoom(tb testing.TB, path string, cfg newsroom.Config, outlets []outlet) *room {
	tb.Helper()
	db, clock := testsupport.MustOpenDBAt(tb, path)
	r := &room{db: db, clock: clock, news: newNewsServer(tb, clock), feeds: feeds.NewStore(db), stories: digest.NewStore(db)}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Now, cfg.Logger = clock.Now, quiet
	r.newsroom = newsroom.New(cfg, db, r.stories, r.feeds)
	r.ingester = feeds.NewIngester(feeds.IngestConfig{Grouper: timed{r}, Now: clock.Now, Logger: quiet,
		Fetcher: feeds.NewFetcher(feeds.FetchConfig{AllowPrivate: true})}, r.feeds)
	for _, o := range outlets {
		if _, err := r.feeds.Add(context.Background(), feeds.Source{Name: o.Name, Domain: o.Domain, Bias: o.Bias,
			Feeds: []feeds.Feed{{URL: r.news.feedURL(o.Domain)}}}); err != nil {
			tb.Fatal(err)
		}
	}
	return r
}

// ingest runs one ingest at the clock's time and fails on any feed error.
func (r *room) ingest(tb testing.TB) feeds.Report {
	tb.Helper()
	rep, err := r.ingester.Run(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range rep.Feeds {
		if f.Err != nil {
			tb.Fatalf("feed %s: %v", f.URL, f.Err)
		}
	}
	return rep
}

// corpus is cluster's labelled corpus: fictional outlets, and articles
// about events over three days.
type corpus struct {
	Outlets  []outlet `json:"outlets"`
	Articles []post   `json:"articles"`
}

func loadCorpus(tb testing.TB) corpus {
	tb.Helper()
	b, err := os.ReadFile("../cluster/testdata/corpus.json")
	if err != nil {
		tb.Fatal(err)
	}
	var c corpus
	if err := json.Unmarshal(b, &c); err != nil {
		tb.Fatal(err)
	}
	return c
}

// groupingOf reads back which story each article's item is in, keyed by
// item id, and the event label of each item by its URL.
func groupingOf(tb testing.TB, r *room, labels map[string]string) (got, want map[int64]string) {
	tb.Helper()
	list, err := r.stories.List(context.Background(), 100000)
	if err != nil {
		tb.Fatal(err)
	}
	got, want = map[int64]string{}, map[int64]string{}
	for _, st := range list {
		for _, a := range st.Articles {
			got[a.ItemID] = st.ID
			want[a.ItemID] = labels[a.URL]
		}
	}
	return got, want
}

var _ = cluster.BCubed
