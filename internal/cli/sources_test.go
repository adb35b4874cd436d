package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bothsides/digest"
	"bothsides/feeds"
	"bothsides/internal/testsupport"
	"bothsides/sample"
	"bothsides/sqlite"
)

func TestSources_Commands(t *testing.T) {
	c := newCLI(t)
	t.Run("Add", func(t *testing.T) {
		out := c.must("", "sources", "add", "Harbor Ledger", "--domain", "harbor.example", "--bias", "lean-left",
			"--feed", "https://harbor.example/rss", "--feed", "https://harbor.example/atom", "--factuality", "high",
			"--rated-by", "desk", "--rated-on", "2026-11-01")
		if got, want := out, "added Harbor Ledger (harbor.example, lean-left) with 2 feeds\n"; got != want {
			t.Fatalf("%q, want %q", got, want)
		}
		_, _, err := c.run("", "sources", "add", "Other", "--domain", "o.example", "--bias", "centre")
		if err == nil || !strings.Contains(err.Error(), "far-left, left, lean-left, center, lean-right, right, far-right, unrated") {
			t.Fatalf("unknown bias: %v, want the choices listed", err)
		}
	})
	t.Run("Edit", func(t *testing.T) {
		c.must("", "sources", "edit", "harbor ledger", "--bias", "left", "--owner", "Ledger Trust")
		out := c.must("", "sources", "list")
		if !strings.Contains(out, "Harbor Ledger\tleft\tharbor.example\thigh\tLedger Trust\trated by desk on 2026-11-01\n") ||
			!strings.Contains(out, "  https://harbor.example/rss\tnever fetched, 0 items\n") {
			t.Fatalf("list after edit:\n%s", out)
		}
	})
	t.Run("ImportExport", func(t *testing.T) {
		file := filepath.Join(c.dir, "sources.csv")
		os.WriteFile(file, []byte("name,domain,bias,feeds\nValley Post,valley.example,right,https://valley.example/feed\nHarbor Ledger,harbor.example,center,https://harbor.example/rss\n"), 0o600)
		if got, want := c.must("", "sources", "import", file), "1 sources added, 1 updated\n"; got != want {
			t.Fatalf("%q, want %q", got, want)
		}
		bad := filepath.Join(c.dir, "bad.csv")
		os.WriteFile(bad, []byte("name,domain,bias\nNew One,new.example,left\nValley Post,valley.example,upward\n"), 0o600)
		_, _, err := c.run("", "sources", "import", bad)
		if err == nil || !strings.Contains(err.Error(), `line 3: invalid source "Valley Post": bias "upward"`) {
			t.Fatalf("bad import: %v", err)
		}
		out := c.must("", "sources", "export")
		want := "name,domain,bias,feeds,factuality,owner,rated_by,rated_on\n" +
			"Harbor Ledger,harbor.example,center,https://harbor.example/rss,high,Ledger Trust,desk,2026-11-01\n" +
			"Valley Post,valley.example,right,https://valley.example/feed,,,,\n"
		if out != want {
			t.Fatalf("export:\n%s\nwant:\n%s", out, want)
		}
	})
	t.Run("Rm", func(t *testing.T) {
		c.must("", "sources", "rm", "Valley Post")
		if _, _, err := c.run("", "sources", "rm", "Valley Post"); err == nil || !strings.Contains(err.Error(), "source not found") {
			t.Fatalf("rm twice: %v", err)
		}
	})
}

func TestIngest_Command(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/broken" {
			fmt.Fprint(w, "<rss><channel><item>")
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprint(w, `<rss version="2.0"><channel><title>T</title><item><guid>1</guid><title>Bridge reopens</title><link>https://t.example/1</link></item></channel></rss>`)
	}))
	defer srv.Close()
	c := newCLI(t)
	if out := c.must("", "ingest"); !strings.Contains(out, "no feeds to fetch") {
		t.Fatalf("ingest without sources: %q", out)
	}
	c.must("", "sources", "add", "Good", "--domain", "good.example", "--bias", "center", "--feed", srv.URL+"/good")
	c.must("", "sources", "add", "Broken", "--domain", "broken.example", "--bias", "right", "--feed", srv.URL+"/broken")
	out := c.must("", "ingest")
	if !strings.Contains(out, "127.0.0.1 is a loopback address") {
		t.Fatalf("without --ingest-allow-private:\n%s", out)
	}
	c.clock.Advance(24 * 60 * 60 * 1e9)
	out = c.must("", "ingest", "--ingest-allow-private")
	for _, want := range []string{"Good\t" + srv.URL + "/good\t1 new of 1\n", "Broken\t" + srv.URL + "/broken\terror: parse feed", "2 feeds fetched (1 failed, 0 waiting), 1 new items"} {
		if !strings.Contains(out, want) {
			t.Fatalf("ingest output:\n%s\nwant %q", out, want)
		}
	}
	list := c.must("", "sources", "list")
	if !strings.Contains(list, "1 items") || !strings.Contains(list, "error (2 in a row): parse feed") {
		t.Fatalf("sources list:\n%s", list)
	}
}

// TestDemo_Feeds: the demo registers the sample outlets and ingests every
// sample feed (RSS 0.91 in ISO-8859-1, RSS 2.0, Atom, JSON Feed) through
// the fetcher, with dates moved to the demo's day; a second ingest gets
// 304s and stores nothing more.
func TestDemo_Feeds(t *testing.T) {
	c := newCLI(t)
	t.Chdir(c.dir)
	c.clock.Set(time.Date(2027, 3, 9, 10, 0, 0, 0, time.UTC))
	out := c.must("", "demo", "-serve=false")
	if !strings.Contains(out, "added 13 sample outlets; ingested 50 articles from their feeds") {
		t.Fatalf("demo output:\n%s", out)
	}
	c.env["BOTHSIDES_DB"] = filepath.Join(c.dir, "bothsides-demo.db")
	list := c.must("", "sources", "list")
	if strings.Contains(list, "error") || strings.Count(list, "ok 2027-03-09T10:00:00Z") != 13 {
		t.Fatalf("sources list after the demo:\n%s", list)
	}
	db, _ := testsupport.MustOpenDBAt(t, c.env["BOTHSIDES_DB"])
	items, err := feeds.NewStore(db).Items(context.Background(), time.Time{}, c.clock.Now().Add(time.Second))
	if err != nil || len(items) != 50 {
		t.Fatalf("%d items, %v", len(items), err)
	}
	outlets, sides := map[string]bool{}, map[string]bool{}
	for _, it := range items {
		if it.Published.Before(c.clock.Now().Add(-24*time.Hour)) || it.Published.After(c.clock.Now()) {
			t.Fatalf("%s published %s: not within the day before the demo", it.URL, it.Published)
		}
		if strings.Contains(it.URL, "utm_") || strings.Contains(it.URL, "#") || strings.Contains(it.Title, "<") {
			t.Fatalf("item not normalised: %+v", it)
		}
		if it.Source == "Northbay Community Radio" && strings.Contains(it.Title, "seed library") && !strings.HasSuffix(it.Title, "café") {
			t.Fatalf("ISO-8859-1 title %q", it.Title)
		}
		bias := digest.Bias(it.Bias)
		side := string(bias.Side())
		if it.Bias == feeds.Unrated {
			side = "unrated"
		}
		outlets[it.Source], sides[side] = true, true
	}
	if len(outlets) != 13 || len(sides) != 4 {
		t.Fatalf("items from %d outlets and sides %v, want 13 and left, center, right, unrated", len(outlets), sides)
	}
	a, _, _ := c.app("")
	a.cfg.DB = c.env["BOTHSIDES_DB"]
	a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	defer a.close()
	in, err := a.ingester(context.Background(), mustDB(t, a), ingestConfig{Timeout: time.Second, MaxBytes: 1 << 20},
		sample.FeedTransport(c.clock.Now().Sub(sample.FeedsWritten).Truncate(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := in.Run(context.Background())
	if err != nil || rep.New != 0 || len(rep.Feeds) != 13 || !rep.Feeds[0].NotModified {
		t.Fatalf("second ingest: %+v, %v; want 13 feeds not modified", rep, err)
	}
}

func mustDB(t *testing.T, a *app) *sqlite.DB {
	t.Helper()
	db, err := a.openDB(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return db
}
