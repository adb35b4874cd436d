package cluster

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"bothsides/digest"
	"bothsides/feeds"
)

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func item(id int64, source, bias string, at time.Duration, title, desc string, cats ...string) feeds.Item {
	return feeds.Item{ID: id, Source: source, Bias: bias, Published: t0.Add(at), Title: title, Description: desc, Categories: cats}
}

// background files unrelated stories, so IDF tells common words from rare.
func background(x *Index) {
	for i, tc := range [][2]string{
		{"Mariners win the cup final", "A late penalty settled the final at the harbour ground."},
		{"Teachers reject pay offer", "The union said the offer fell short of inflation."},
		{"Bank raises interest rate", "The central bank lifted its rate by a quarter point."},
		{"Ferry cancelled after engine failure", "The morning crossing was called off again."},
	} {
		x.Put(item(int64(900+i), "Other", "center", -time.Hour, tc[0], tc[1]), "bg"+string(rune('a'+i)))
	}
}

func TestIndex_Best(t *testing.T) {
	wire := item(1, "Continental Wire", "center", 0, "Storm Aldric cuts power to 40,000 homes in Port Ellery",
		"Storm Aldric came ashore south of Port Ellery with gusts above 110 km/h. About 40,000 customers lost power.")
	t.Run("NoStory", func(t *testing.T) {
		x := New(DefaultConfig())
		if m := x.Best(wire); m.Story != "" || len(m.Shared) != 0 {
			t.Fatalf("Best on an empty index = %+v", m)
		}
	})
	t.Run("Joins", func(t *testing.T) {
		x := New(DefaultConfig())
		background(x)
		x.Put(wire, "aldric")
		m := x.Best(item(2, "Metro Tribune", "lean-left", time.Hour, "Aldric floods the Port Ellery waterfront",
			"Seawater spilled over the harbour wall as Storm Aldric passed; power is still out for thousands."))
		if m.Story != "aldric" || m.Score < x.Config().Threshold {
			t.Fatalf("Best = %+v, want story aldric", m)
		}
		if !contains(m.Shared, "Storm Aldric") && !contains(m.Shared, "aldric") {
			t.Errorf("Shared = %q, want the storm's name", m.Shared)
		}
	})
	t.Run("Unrelated", func(t *testing.T) {
		x := New(DefaultConfig())
		background(x)
		x.Put(wire, "aldric")
		if m := x.Best(item(2, "Metro Tribune", "lean-left", time.Hour, "Nurses strike over staffing at Dunmore General",
			"About 1,200 nurses walked out at the hospital.")); m.Story != "" {
			t.Fatalf("Best = %+v, want no story", m)
		}
	})
	t.Run("PlaceAloneIsNotAnEvent", func(t *testing.T) {
		x := New(DefaultConfig())
		x.Put(item(1, "A", "center", 0, "Port Ellery museum robbed", "Thieves took silver from the museum in Port Ellery."), "museum")
		x.Put(item(2, "A", "center", 0, "Ferry cancelled again", "The crossing to Port Ellery was called off."), "ferry")
		if m := x.Best(item(3, "B", "center", time.Hour, "Port Ellery council approves budget", "The budget in Port Ellery passed 7-4.")); m.Story != "" {
			t.Fatalf("Best = %+v, want no story: only the name is shared", m)
		}
	})
	t.Run("OutsideWindow", func(t *testing.T) {
		x := New(DefaultConfig())
		x.Put(wire, "aldric")
		late := wire
		late.ID, late.Published = 2, wire.Published.Add(49*time.Hour)
		if m := x.Best(late); m.Story != "" {
			t.Fatalf("Best 49h later = %+v, want no story", m)
		}
		early := wire
		early.ID, early.Published = 3, wire.Published.Add(47*time.Hour)
		if m := x.Best(early); m.Story != "aldric" || m.Score != 1 {
			t.Fatalf("Best of a reprint 47h later = %+v, want aldric with score 1", m)
		}
	})
	t.Run("MaxSpan", func(t *testing.T) {
		cfg := DefaultConfig()
		x := New(cfg)
		// one article a day keeps the story in the window, until it is MaxSpan old
		for d := 0; d <= 4; d++ {
			c := wire
			c.ID, c.Published = int64(10+d), wire.Published.Add(time.Duration(d)*24*time.Hour)
			x.Put(c, "aldric")
		}
		late := wire
		late.ID, late.Published = 20, wire.Published.Add(cfg.MaxSpan+time.Hour)
		if m := x.Best(late); m.Story != "" {
			t.Fatalf("Best after MaxSpan = %+v, want no story", m)
		}
	})
	t.Run("HalfLife", func(t *testing.T) {
		cfg := DefaultConfig()
		x := New(cfg)
		background(x)
		x.Put(wire, "aldric")
		q := item(2, "B", "center", 0, "Aldric leaves Port Ellery without power", "Thousands of homes are dark after the storm.")
		now := x.Best(q)
		q.Published = q.Published.Add(cfg.HalfLife)
		later := x.Best(q)
		if d := later.Score - now.Score/2; d > 1e-9 || d < -1e-9 {
			t.Fatalf("score one half-life later = %v, want half of %v", later.Score, now.Score)
		}
	})
}

func TestIndex_Put_WireCopies(t *testing.T) {
	x := New(DefaultConfig())
	background(x)
	wire := item(1, "Continental Wire", "center", 0, "Dunmore nurses begin 48-hour strike",
		"About 1,200 nurses walked off the job at Dunmore General Hospital, the union said.")
	x.Put(wire, "strike")
	docs, df := x.ndocs, x.df["nurs"]
	for i, src := range []string{"Metro Tribune", "Heartland Courier", "The Daily Meridian"} {
		c := wire
		c.ID, c.Source = int64(2+i), src
		if m := x.Best(c); m.Story != "strike" || m.Score != 1 {
			t.Fatalf("Best of a verbatim copy = %+v, want strike with score 1", m)
		}
		x.Put(c, "strike")
	}
	// a near copy: the wire text with a credit line
	near := wire
	near.ID, near.Description = 9, wire.Description+" (Continental Wire)"
	x.Put(near, "strike")
	if x.ndocs != docs || x.df["nurs"] != df {
		t.Errorf("after 4 copies: %d documents, df(nurs) = %d; want %d and %d", x.ndocs, x.df["nurs"], docs, df)
	}
	if got := len(x.stories["strike"].docs); got != 1 {
		t.Errorf("story has %d texts, want 1", got)
	}
	if got := len(x.stories["strike"].items); got != 5 {
		t.Errorf("story has %d items, want 5", got)
	}
	x.Remove(1)
	if x.StoryOf(2) != "strike" || x.df["nurs"] != df {
		t.Errorf("after removing the original: story %q, df(nurs) = %d", x.StoryOf(2), x.df["nurs"])
	}
}

func TestIndex_Remove(t *testing.T) {
	x := New(DefaultConfig())
	x.Put(item(1, "A", "center", 0, "Council passes transit levy", "The levy funds the tram."), "levy")
	x.Put(item(2, "B", "left", time.Hour, "Tram levy approved by council", "Riders will get a tram."), "levy")
	x.Remove(2)
	if got := x.StoryOf(2); got != "" {
		t.Fatalf("StoryOf(removed) = %q", got)
	}
	if got := x.Len(); got != 1 {
		t.Fatalf("Len = %d, want 1", got)
	}
	if _, ok := x.df["rider"]; ok {
		t.Error("a removed item's term is still counted")
	}
	if s := x.stories["levy"]; !s.newest.Equal(t0) {
		t.Errorf("newest = %v, want %v", s.newest, t0)
	}
	x.Remove(1)
	if x.Stories() != 0 || len(x.postings) != 0 || len(x.df) != 0 || x.ndocs != 0 {
		t.Errorf("empty index keeps %d stories, %d postings, %d df, %d docs", x.Stories(), len(x.postings), len(x.df), x.ndocs)
	}
	x.Remove(42) // unknown: no effect
}

func TestIndex_Put_Moves(t *testing.T) {
	x := New(DefaultConfig())
	it := item(1, "A", "center", 0, "Council passes transit levy", "The levy funds the tram.")
	x.Put(it, "a")
	x.Put(it, "b")
	if x.StoryOf(1) != "b" || x.Stories() != 1 || x.Len() != 1 {
		t.Fatalf("after moving: story %q, %d stories, %d items", x.StoryOf(1), x.Stories(), x.Len())
	}
}

func TestIndex_Forget(t *testing.T) {
	x := New(DefaultConfig())
	x.Put(item(1, "A", "center", 0, "Council passes transit levy", "The levy funds the tram."), "old")
	x.Put(item(2, "A", "center", 30*time.Hour, "Council passes transit levy", "The levy funds the tram."), "old")
	x.Put(item(3, "B", "center", 10*time.Hour, "Nurses strike", "Nurses walked out."), "strike")
	x.Forget(t0.Add(20 * time.Hour))
	if x.StoryOf(3) != "" || x.StoryOf(1) != "old" || x.Stories() != 1 {
		t.Fatalf("after Forget: stories %d, item 3 in %q, item 1 in %q", x.Stories(), x.StoryOf(3), x.StoryOf(1))
	}
	if _, ok := x.df["nurs"]; ok {
		t.Error("a forgotten story's terms still count")
	}
	x.Forget(t0.Add(100 * time.Hour))
	if x.Stories() != 0 || x.Len() != 0 || len(x.postings) != 0 || x.ndocs != 0 || len(x.byFP) != 0 {
		t.Fatalf("after Forget all: %d stories, %d items, %d postings, %d docs", x.Stories(), x.Len(), len(x.postings), x.ndocs)
	}
}

func TestIndex_Draft(t *testing.T) {
	x := New(DefaultConfig())
	background(x)
	const wireDesc = "About 1,200 nurses walked off the job at Dunmore General Hospital on Monday. The hospital postponed planned surgery."
	for _, it := range []feeds.Item{
		item(1, "Continental Wire", "center", 0, "Dunmore nurses begin 48-hour strike over staffing", wireDesc, "Health", "Labour"),
		item(2, "Heartland Courier", "lean-right", time.Minute, "Dunmore nurses begin 48-hour strike over staffing", wireDesc, "health"),
		item(3, "The Red Ledger", "far-left", 2*time.Minute, "Dunmore nurses strike: we are exhausted",
			"Picket lines formed at dawn outside Dunmore General as 1,200 nurses walked out. They say one nurse has twelve patients at night.", "labour"),
		item(4, "Harbor Progressive", "left", 3*time.Minute, "Why Dunmore nurses say they had to strike",
			"Nurses describe wards so short of staff that breaks are skipped. Their union wants one nurse for six patients.", "health"),
		item(5, "The Sentinel Post", "lean-right", 4*time.Minute, "Dunmore General strike leaves surgery patients waiting",
			"Dozens of planned operations were cancelled as nurses began a two-day strike. Managers called the ratio unaffordable.", "Health"),
		item(6, "Ellery Bay Notes", "unrated", 5*time.Minute, "Dunmore nurses on strike: what it means for you",
			"Emergency care continues during the 48-hour nurses' strike at Dunmore General. Planned surgery patients will get a call.", "health"),
	} {
		x.Put(it, "strike")
	}
	d := x.Draft("strike")
	t.Run("TitleAndSummary", func(t *testing.T) {
		// items 1 and 2 are one text: the earliest carries it
		if d.TitleItem != 1 && d.TitleItem != 3 && d.TitleItem != 4 && d.TitleItem != 5 && d.TitleItem != 6 {
			t.Fatalf("TitleItem = %d", d.TitleItem)
		}
		if d.TitleItem == 2 {
			t.Fatal("the reprint, not the original, titles the story")
		}
		if d.Title == "" || d.Summary == "" {
			t.Fatalf("empty title or summary: %+v", d)
		}
		// the title is some article's own title, the summary its own description
		found := false
		for _, id := range x.stories["strike"].items {
			it := x.items[id].item
			if it.ID == d.TitleItem && it.Title == d.Title {
				found = true
			}
		}
		if !found {
			t.Errorf("Title %q is not item %d's title", d.Title, d.TitleItem)
		}
	})
	t.Run("Overview", func(t *testing.T) {
		if len(d.Overview) < 2 || len(d.Overview) > MaxOverview {
			t.Fatalf("Overview has %d sentences: %+v", len(d.Overview), d.Overview)
		}
		seen := map[string]bool{}
		for _, s := range d.Overview {
			if seen[s.Source] {
				t.Errorf("two sentences from %s", s.Source)
			}
			seen[s.Source] = true
			for _, sum := range splitSentences(d.Summary) {
				if s.Text == sum {
					t.Errorf("overview repeats the summary: %q", s.Text)
				}
			}
			if !strings.Contains(x.items[s.ItemID].item.Description, s.Text) {
				t.Errorf("sentence %q is not from item %d", s.Text, s.ItemID)
			}
		}
	})
	t.Run("Framing", func(t *testing.T) {
		if _, ok := d.Framing[digest.SideCenter]; !ok {
			t.Error("no center framing")
		}
		var heads []string
		for _, q := range d.Framing[digest.SideRight] {
			heads = append(heads, q.Source)
		}
		if !reflect.DeepEqual(heads, []string{"The Sentinel Post", "Heartland Courier"}) {
			t.Errorf("right framing from %q, want the side's own headline before its reprint of the wire", heads)
		}
		if got := len(d.Framing[digest.SideLeft]); got != 2 {
			t.Errorf("left framing has %d quotes, want 2", got)
		}
		for side, qs := range d.Framing {
			for _, q := range qs {
				if q.Source == "Ellery Bay Notes" {
					t.Errorf("unrated outlet quoted on the %s", side)
				}
			}
		}
	})
	t.Run("Categories", func(t *testing.T) {
		if want := []string{"Health", "Labour"}; !reflect.DeepEqual(d.Categories, want) {
			t.Errorf("Categories = %q, want %q", d.Categories, want)
		}
	})
	t.Run("Unknown", func(t *testing.T) {
		if d := x.Draft("nope"); d.Title != "" || d.Framing == nil {
			t.Errorf("Draft(unknown) = %+v", d)
		}
	})
}

func TestIndex_Draft_Ties(t *testing.T) {
	// two texts only: equally central, so the earlier titles the story
	x := New(DefaultConfig())
	x.Put(item(2, "B", "center", time.Hour, "Tram levy approved", "The council approved the levy."), "levy")
	x.Put(item(1, "A", "center", 0, "Council passes tram levy", "The levy passed 7-4."), "levy")
	if d := x.Draft("levy"); d.TitleItem != 1 || d.SummaryItem != 1 {
		t.Fatalf("Draft = %+v, want item 1 for title and summary", d)
	}
}

func TestIndex_Draft_FramingAtMostThree(t *testing.T) {
	x := New(DefaultConfig())
	heads := []string{"Council backs tram levy for Northgate", "Tram levy wins council vote", "Northgate tram levy passes council",
		"Levy for tram approved by the council", "Council says yes to Northgate tram levy"}
	for i, h := range heads {
		x.Put(item(int64(i+1), string(rune('A'+i)), "left", time.Duration(i)*time.Minute, h, "The levy funds the Northgate tram."), "levy")
	}
	if got := len(x.Draft("levy").Framing[digest.SideLeft]); got != MaxQuotes {
		t.Fatalf("left framing has %d quotes, want %d", got, MaxQuotes)
	}
}

func contains(s []string, v string) bool {
	for _, e := range s {
		if e == v {
			return true
		}
	}
	return false
}
