package cli

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"bothsides/internal/testsupport"
)

// TestPreview_Selection covers the selection flags of preview (send shares
// them) and the clear error of an empty window.
func TestPreview_Selection(t *testing.T) {
	c := newCLI(t)
	var stories []storyJSON
	for i := range 8 {
		s := story(fmt.Sprintf("s%d", i), fmt.Sprintf("Story number %d", i), testsupport.Epoch.Add(-time.Hour), "left", "center", "right")
		// Each story reads a little over a minute: about 265 words.
		s["summary"] = strings.TrimSpace(strings.Repeat("word ", 250))
		stories = append(stories, s)
	}
	stories = append(stories, story("onesided", "Covered by the right", testsupport.Epoch.Add(-time.Hour), "right", "right", "lean-right"))
	c.must(importFile(t, stories...), "stories", "import", "-")

	count := func(out string) int { return strings.Count(out, `<h2 class="title"`) }
	t.Run("DefaultFiveMinutes", func(t *testing.T) {
		out := c.must("", "preview", "--date", "2026-11-27")
		if got := count(out); got != 4 {
			t.Fatalf("%d stories, want 4 that fit 5 minutes", got)
		}
	})
	t.Run("NoLimit", func(t *testing.T) {
		out := c.must("", "preview", "--date", "2026-11-27", "--minutes", "0", "--stories", "3")
		if got := count(out); got != 4 {
			t.Fatalf("%d stories, want 3 and a blindspot", got)
		}
		if !strings.Contains(out, "Blindspot for the left") {
			t.Fatal("no blindspot")
		}
	})
	t.Run("BlindspotRule", func(t *testing.T) {
		out := c.must("", "preview", "--date", "2026-11-27", "--minutes", "0", "--stories", "3", "--blindspot", "4,20,50")
		if strings.Contains(out, "Blindspot for the") {
			t.Fatal("a 3-source story is a blindspot under a 4-source rule")
		}
	})
	t.Run("BadFlags", func(t *testing.T) {
		for _, args := range [][]string{{"--minutes", "-1"}, {"--blindspot", "3,50,20"}, {"--blindspot", "x"}} {
			_, _, err := c.run("", append([]string{"preview", "--date", "2026-11-27"}, args...)...)
			if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), args[0]) {
				t.Errorf("%v: err=%v, want a usage error naming the flag", args, err)
			}
		}
	})
	t.Run("TooBigWarns", func(t *testing.T) {
		big := newCLI(t)
		var many []storyJSON
		for i := range 12 {
			s := story(fmt.Sprintf("b%d", i), fmt.Sprintf("Big story %d", i), testsupport.Epoch.Add(-time.Hour), "left", "center", "right")
			var bullets []any
			for range 10 {
				bullets = append(bullets, strings.Repeat("A long neutral bullet. ", 40))
			}
			s["overview"] = bullets
			s["topics"] = []any{fmt.Sprintf("T%d", i)}
			many = append(many, s)
		}
		big.must(importFile(t, many...), "stories", "import", "-")
		_, errOut, err := big.run("", "preview", "--date", "2026-11-27", "--minutes", "0", "--stories", "12")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(errOut, "Gmail clips messages over 102000") {
			t.Fatalf("stderr=%q, want a clipping warning", errOut)
		}
	})
	t.Run("NoStories", func(t *testing.T) {
		_, _, err := c.run("", "preview", "--date", "2026-10-01")
		if err == nil || !strings.HasPrefix(err.Error(), "no stories for 2026-10-01 (") {
			t.Fatalf("err=%v, want no stories for 2026-10-01", err)
		}
	})
}
