package cli

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"bothsides/digest"
	"bothsides/internal/testsupport"
)

func TestStories_Review(t *testing.T) {
	c := newCLI(t)
	c.must(importFile(t, story("imported", "An imported story", testsupport.Epoch, "left", "center", "right")), "stories", "import", "-")
	db, _ := testsupport.MustOpenDBAt(t, c.env["BOTHSIDES_DB"])
	for _, id := range []string{"draft-a", "draft-b"} {
		st := &digest.Story{ID: id, Title: "Draft " + id, Summary: "S.", PublishedAt: testsupport.Epoch, Status: digest.StatusDraft,
			Drafted: digest.DraftFields, Articles: []digest.Article{
				{Source: "Left " + id, Bias: "left", URL: "https://l.example/" + id},
				{Source: "Bay " + id, Bias: "unrated", URL: "https://bay.example/" + id}}}
		if err := digest.NewStore(db).Create(context.Background(), st); err != nil {
			t.Fatal(err)
		}
	}
	type listed struct {
		ID, Title, Status string
		Coverage          map[string]int
		Blindspot         *bool
		Articles          []struct{ URL, Source, Bias string }
	}
	list := func(args ...string) map[string]listed {
		t.Helper()
		var out []listed
		if err := json.Unmarshal([]byte(c.must("", append([]string{"stories", "list", "--json"}, args...)...)), &out); err != nil {
			t.Fatal(err)
		}
		m := map[string]listed{}
		for _, l := range out {
			m[l.ID] = l
		}
		return m
	}

	t.Run("ListJSON", func(t *testing.T) {
		m := list()
		if len(m) != 3 || m["imported"].Status != "published" || m["draft-a"].Status != "draft" {
			t.Fatalf("listed %+v", m)
		}
		a := m["draft-a"]
		if a.Coverage["left"] != 1 || a.Coverage["unrated"] != 1 || a.Coverage["center"] != 0 || a.Blindspot == nil ||
			len(a.Articles) != 2 || a.Articles[1].Bias != "unrated" || a.Articles[1].URL != "https://bay.example/draft-a" {
			t.Fatalf("draft-a listed as %+v", a)
		}
		if m := list("--status", "draft"); len(m) != 2 {
			t.Fatalf("--status draft listed %d", len(m))
		}
	})
	t.Run("PublishUnpublish", func(t *testing.T) {
		if out := c.must("", "stories", "publish", "draft-a"); !strings.Contains(out, "draft-a: published") {
			t.Fatalf("publish said %q", out)
		}
		if list()["draft-a"].Status != "published" {
			t.Fatal("not published")
		}
		c.must("", "stories", "unpublish", "draft-a")
		if list()["draft-a"].Status != "draft" {
			t.Fatal("not a draft again")
		}
		if _, _, err := c.run("", "stories", "publish", "nope"); !errors.Is(err, digest.ErrStoryNotFound) {
			t.Fatalf("unknown id: %v", err)
		}
	})
	t.Run("Merge", func(t *testing.T) {
		if _, _, err := c.run("", "stories", "merge", "draft-a", "draft-a"); err == nil || !strings.Contains(err.Error(), "itself") {
			t.Fatalf("merge with itself: %v", err)
		}
		if _, _, err := c.run("", "stories", "merge", "draft-a"); !errors.Is(err, errUsage) {
			t.Fatalf("merge with one id: %v", err)
		}
		c.must("", "stories", "merge", "draft-a", "draft-b")
		m := list()
		if _, ok := m["draft-b"]; ok || len(m["draft-a"].Articles) != 4 {
			t.Fatalf("after merge: %+v", m)
		}
	})
	t.Run("MoveSplit", func(t *testing.T) {
		out := c.must("", "stories", "split", "draft-a", "https://bay.example/draft-b")
		if !strings.Contains(out, "into the draft draft-a-split") {
			t.Fatalf("split said %q", out)
		}
		c.must("", "stories", "move", "draft-a-split", "https://bay.example/draft-b", "--to", "imported")
		m := list()
		if len(m["imported"].Articles) != 4 || len(m["draft-a"].Articles) != 3 {
			t.Fatalf("after move: %+v", m)
		}
		show := c.must("", "stories", "show", "imported")
		if !strings.Contains(show, "placed here by an editor") || !strings.Contains(show, "unrated 1") {
			t.Fatalf("show:\n%s", show)
		}
	})
}

// TestDemo_Newsroom checks that the demo builds stories from the sample
// feeds, with coverage and blindspots, and that its edition carries some.
func TestDemo_Newsroom(t *testing.T) {
	c := newCLI(t)
	t.Chdir(c.dir)
	out := c.must("", "demo", "-serve=false")
	if !strings.Contains(out, "the newsroom built 9 stories from the feeds: 8 published, 1 drafts, 2 blindspots") {
		t.Fatalf("demo output:\n%s", out)
	}
	c.env["BOTHSIDES_DB"] = "bothsides-demo.db"
	var list []digest.Listing
	if err := json.Unmarshal([]byte(c.must("", "stories", "list", "--json", "-n", "200")), &list); err != nil {
		t.Fatal(err)
	}
	built := map[string]digest.Listing{}
	unrated := 0
	for _, l := range list {
		if l.Articles[0].Join != nil {
			built[l.ID] = l
			unrated += l.Coverage.Unrated
		}
	}
	if len(built) != 9 || unrated == 0 {
		t.Fatalf("%d built stories, %d unrated sources among them", len(built), unrated)
	}
	show := c.must("", "editions", "show", testsupport.Epoch.Format("2006-01-02"))
	carried := 0
	for id := range built {
		if strings.Contains(show, "("+id+")") {
			carried++
		}
	}
	if carried == 0 {
		t.Fatalf("the demo edition carries none of the built stories:\n%s", show)
	}
}
