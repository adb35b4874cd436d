package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"bothsides/digest"
)

// seedDrafts stores two draft stories as the newsroom makes them.
func (f *adminFixture) seedDrafts() {
	f.t.Helper()
	store := digest.NewStore(f.db)
	for _, st := range []*digest.Story{
		{ID: "quake", Title: "Quake shakes the coast", Summary: "A quake.", PublishedAt: f.clock.Now(), Status: digest.StatusDraft,
			Drafted: digest.DraftFields, Articles: []digest.Article{
				{Source: "Left Daily", Bias: "left", URL: "https://left.example/q", ItemID: 1, Join: &digest.Join{By: digest.JoinNew}},
				{Source: "Right Post", Bias: "right", URL: "https://right.example/q", ItemID: 2, Join: &digest.Join{By: digest.JoinMatch, Score: 0.4, Shared: []string{"quake"}}},
				{Source: "Bay Notes", Bias: "unrated", URL: "https://bay.example/q", ItemID: 3, Join: &digest.Join{By: digest.JoinMatch, Score: 0.3}}}},
		{ID: "quake-2", Title: "Coast quake aftermath", Summary: "After.", PublishedAt: f.clock.Now(), Status: digest.StatusDraft,
			Drafted: digest.DraftFields, Articles: []digest.Article{
				{Source: "Center Wire", Bias: "center", URL: "https://wire.example/q", ItemID: 4, Join: &digest.Join{By: digest.JoinNew}}}},
	} {
		if err := store.Create(context.Background(), st); err != nil {
			f.t.Fatal(err)
		}
	}
}

func TestAPI_Stories(t *testing.T) {
	f := newAdminFixture(t, adminOptions{password: testPassword, token: testToken})
	f.seedDrafts()
	call := f.api

	t.Run("ListDrafts", func(t *testing.T) {
		code, out := call("GET", "/api/stories?status=draft", ``)
		list, _ := out["stories"].([]any)
		if code != http.StatusOK || len(list) != 2 {
			t.Fatalf("drafts: %d %v", code, out)
		}
		var q map[string]any
		for _, s := range list {
			if s.(map[string]any)["id"] == "quake" {
				q = s.(map[string]any)
			}
		}
		cov := q["coverage"].(map[string]any)
		if q["status"] != "draft" || cov["left"] != 1.0 || cov["right"] != 1.0 || cov["unrated"] != 1.0 || len(q["articles"].([]any)) != 3 {
			t.Fatalf("quake listed as %v", q)
		}
		art := q["articles"].([]any)[1].(map[string]any)
		if art["url"] != "https://right.example/q" || art["source"] != "Right Post" || art["bias"] != "right" || art["join"].(map[string]any)["score"] != 0.4 {
			t.Fatalf("article listed as %v", art)
		}
		if code, out := call("GET", "/api/stories?status=maybe", ``); code != http.StatusBadRequest {
			t.Fatalf("bad status filter: %d %v", code, out)
		}
	})

	t.Run("Edit", func(t *testing.T) {
		code, out := call("PATCH", "/api/stories/quake", `{"title":"A corrected title","framing":{"left":"Left outlets stress the warning."}}`)
		if code != http.StatusOK || out["title"] != "A corrected title" || out["framing"].(map[string]any)["left"] != "Left outlets stress the warning." {
			t.Fatalf("edit: %d %v", code, out)
		}
		for _, f := range out["drafted"].([]any) {
			if f == "title" || f == "framing.left" {
				t.Fatalf("edited field %v still drafted: %v", f, out["drafted"])
			}
		}
		if code, out := call("PATCH", "/api/stories/quake", `{"title":"  "}`); code != http.StatusBadRequest || !strings.Contains(out["error"].(string), "title") {
			t.Fatalf("empty title: %d %v", code, out)
		}
		if code, _ := call("PATCH", "/api/stories/nope", `{"title":"x"}`); code != http.StatusNotFound {
			t.Fatalf("unknown story: %d", code)
		}
	})

	t.Run("PublishUnpublish", func(t *testing.T) {
		if code, out := call("POST", "/api/stories/quake/publish", ``); code != http.StatusOK || out["status"] != "published" {
			t.Fatalf("publish: %d %v", code, out)
		}
		if code, out := call("POST", "/api/stories/quake/unpublish", ``); code != http.StatusOK || out["status"] != "draft" {
			t.Fatalf("unpublish: %d %v", code, out)
		}
	})

	t.Run("Regroup", func(t *testing.T) {
		if code, out := call("POST", "/api/stories/quake/merge", `{"from":"quake"}`); code != http.StatusBadRequest || !strings.Contains(out["error"].(string), "itself") {
			t.Fatalf("merge with itself: %d %v", code, out)
		}
		if code, out := call("POST", "/api/stories/quake/merge", `{"from":"nope"}`); code != http.StatusNotFound {
			t.Fatalf("merge unknown: %d %v", code, out)
		}
		code, out := call("POST", "/api/stories/quake/split", `{"articles":["https://bay.example/q"]}`)
		if code != http.StatusCreated || out["status"] != "draft" || len(out["articles"].([]any)) != 1 {
			t.Fatalf("split: %d %v", code, out)
		}
		split := out["id"].(string)
		if code, out := call("POST", "/api/stories/"+split+"/move", `{"articles":["https://bay.example/q"],"to":"quake-2"}`); code != http.StatusOK || len(out["articles"].([]any)) != 2 {
			t.Fatalf("move: %d %v", code, out)
		}
		if code, _ := call("GET", "/api/stories/"+split, ``); code != http.StatusNotFound {
			t.Fatalf("the emptied split story answers %d, want 404", code)
		}
		if code, out := call("POST", "/api/stories/quake/merge", `{"from":"quake-2"}`); code != http.StatusOK || len(out["articles"].([]any)) != 4 {
			t.Fatalf("merge: %d %v", code, out)
		}
		if code, _ := call("POST", "/api/stories/quake/explode", `{}`); code != http.StatusNotFound {
			t.Fatalf("unknown action: %d", code)
		}
	})
}
