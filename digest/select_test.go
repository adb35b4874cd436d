package digest_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"bothsides/digest"
)

// coveredStory returns a story with l, c and r distinct outlets on the left,
// center and right, published at pub.
func coveredStory(id string, l, c, r int, pub time.Time, topics ...string) digest.Story {
	st := digest.Story{ID: id, Title: "Story " + id, Summary: "A summary of " + id + ".",
		PublishedAt: pub, Topics: topics}
	add := func(n int, bias digest.Bias) {
		for i := range n {
			src := fmt.Sprintf("%s outlet %d", bias, i)
			st.Articles = append(st.Articles, digest.Article{Source: src, Bias: bias,
				URL: fmt.Sprintf("https://%s.example/%s", strings.ReplaceAll(src, " ", "-"), id)})
		}
	}
	add(l, digest.LeanLeft)
	add(c, digest.Center)
	add(r, digest.LeanRight)
	return st
}

func ids(stories []digest.Story) string {
	var out []string
	for _, s := range stories {
		out = append(out, s.ID)
	}
	return strings.Join(out, ",")
}

func blindIDs(bs []digest.Blindspot) string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Story.ID+":"+string(b.For))
	}
	return strings.Join(out, ",")
}

var t0 = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

func TestBlindspotRule_For(t *testing.T) {
	def := digest.DefaultBlindspotRule
	for _, tt := range []struct {
		name    string
		rule    digest.BlindspotRule
		l, c, r int
		want    digest.Side
	}{
		{"NoCoverage", def, 0, 0, 0, ""},
		{"TwoSourcesTooFew", def, 0, 0, 2, ""},
		{"ThreeRightOnly", def, 0, 0, 3, digest.SideLeft},
		{"ThreeLeftOnly", def, 3, 0, 0, digest.SideRight},
		{"MinorityExactly20", def, 1, 1, 3, digest.SideLeft},
		{"MinorityExactly20Mirrored", def, 3, 1, 1, digest.SideRight},
		{"Minority25TooMuch", def, 1, 1, 2, ""},
		{"Minority21TooMuch", def, 21, 29, 50, ""},
		{"MajorityExactly50", def, 1, 4, 5, digest.SideLeft},
		{"Majority49TooLittle", def, 10, 41, 49, ""},
		{"CenterHeavyIsNoBlindspot", def, 0, 5, 1, ""},
		{"OneSideThird", def, 1, 0, 2, ""},
		{"Balanced", def, 2, 2, 2, ""},
		{"CustomMinSources", digest.BlindspotRule{MinSources: 5, MaxMinority: 0.2, MinMajority: 0.5}, 0, 0, 4, ""},
		{"CustomStrictMinority", digest.BlindspotRule{MinSources: 3, MaxMinority: 0, MinMajority: 0.6}, 1, 0, 9, ""},
		{"CustomStrictMinorityZero", digest.BlindspotRule{MinSources: 3, MaxMinority: 0, MinMajority: 0.6}, 0, 4, 6, digest.SideLeft},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := digest.Coverage{Left: tt.l, Center: tt.c, Right: tt.r}
			if got := tt.rule.For(c); got != tt.want {
				t.Fatalf("For(%+v)=%q, want %q", c, got, tt.want)
			}
		})
	}
}

func TestParseBlindspotRule(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		r, err := digest.ParseBlindspotRule("4, 10%, 60")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := r, (digest.BlindspotRule{MinSources: 4, MaxMinority: 0.1, MinMajority: 0.6}); got != want {
			t.Fatalf("rule=%+v, want %+v", got, want)
		}
		if got, want := digest.DefaultBlindspotRule.String(), "3,20,50"; got != want {
			t.Fatalf("String=%q, want %q", got, want)
		}
	})
	for _, bad := range []string{"", "3,20", "x,20,50", "0,20,50", "3,-1,50", "3,20,101", "3,60,50", "3,50,50", "3,NaN,50"} {
		t.Run("Err"+bad, func(t *testing.T) {
			_, err := digest.ParseBlindspotRule(bad)
			if err == nil {
				t.Fatalf("ParseBlindspotRule(%q) succeeded", bad)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) {
				t.Fatalf("error %q does not name the input", err)
			}
		})
	}
}

func TestRank(t *testing.T) {
	stories := []digest.Story{
		coveredStory("few", 1, 1, 1, t0),
		coveredStory("many-onesided", 0, 0, 7, t0),
		coveredStory("many-balanced-old", 2, 3, 2, t0.Add(-time.Hour)),
		coveredStory("many-balanced-new", 2, 2, 3, t0),
		coveredStory("many-balanced-new-b", 3, 2, 2, t0),
	}
	digest.Rank(stories)
	// 7 sources beat 3; among the 7s the balanced ones lead, the newer
	// first, and id breaks the tie.
	if got, want := ids(stories), "many-balanced-new,many-balanced-new-b,many-balanced-old,many-onesided,few"; got != want {
		t.Fatalf("order=%s, want %s", got, want)
	}
	t.Run("UpdatedCountsAsRecent", func(t *testing.T) {
		a := coveredStory("a", 1, 1, 1, t0.Add(-3*time.Hour))
		a.UpdatedAt = t0.Add(time.Hour)
		b := coveredStory("b", 1, 1, 1, t0)
		s := []digest.Story{b, a}
		digest.Rank(s)
		if got, want := ids(s), "a,b"; got != want {
			t.Fatalf("order=%s, want %s", got, want)
		}
	})
}

func TestSelect(t *testing.T) {
	noCap := digest.Selection{ReadingMinutes: -1}
	t.Run("CountAndOrder", func(t *testing.T) {
		var cands []digest.Story
		for i := range 8 {
			cands = append(cands, coveredStory(fmt.Sprintf("s%d", i), 1+i, 1+i, 1+i, t0))
		}
		top, blind := digest.Select(cands, noCap)
		if got, want := ids(top), "s7,s6,s5,s4,s3"; got != want {
			t.Fatalf("top=%s, want %s", got, want)
		}
		if len(blind) != 0 {
			t.Fatalf("blindspots=%s, want none", blindIDs(blind))
		}
		top, _ = digest.Select(cands, digest.Selection{Count: 3, ReadingMinutes: -1})
		if got, want := ids(top), "s7,s6,s5"; got != want {
			t.Fatalf("Count 3: top=%s, want %s", got, want)
		}
	})
	t.Run("TopicCap", func(t *testing.T) {
		cands := []digest.Story{
			coveredStory("p1", 5, 5, 5, t0, "Politics"),
			coveredStory("p2", 4, 5, 5, t0, "politics", "Economy"),
			coveredStory("p3", 4, 4, 5, t0, " POLITICS "),
			coveredStory("e1", 4, 4, 4, t0, "Economy", "World"),
			coveredStory("e2", 3, 4, 4, t0, "World", "Economy"),
			coveredStory("w1", 3, 3, 4, t0, "World"),
			coveredStory("x1", 3, 3, 3, t0),
			coveredStory("h1", 2, 3, 3, t0, "Health"),
			coveredStory("h2", 2, 2, 3, t0, "Health"),
		}
		top, _ := digest.Select(cands, noCap)
		// p3 is a third Politics story, e2 a third Economy one.
		if got, want := ids(top), "p1,p2,e1,w1,x1"; got != want {
			t.Fatalf("top=%s, want %s", got, want)
		}
		count := map[string]int{}
		for _, s := range top {
			for _, tp := range s.Topics {
				count[strings.ToLower(strings.TrimSpace(tp))]++
			}
		}
		for tp, n := range count {
			if n > 2 {
				t.Fatalf("topic %q on %d top stories", tp, n)
			}
		}
		top, _ = digest.Select(cands, digest.Selection{PerTopic: 1, ReadingMinutes: -1})
		if got, want := ids(top), "p1,e1,x1,h1"; got != want {
			t.Fatalf("PerTopic 1: top=%s, want %s", got, want)
		}
	})
	t.Run("Blindspots", func(t *testing.T) {
		cands := []digest.Story{
			coveredStory("top1", 3, 3, 3, t0),
			coveredStory("top2", 0, 2, 6, t0), // a blindspot, but already a top story
			coveredStory("top3", 2, 2, 2, t0),
			coveredStory("right-only", 0, 0, 4, t0),
			coveredStory("left-heavy", 4, 1, 0, t0),
			coveredStory("left-heavy-2", 3, 0, 0, t0),
			coveredStory("balanced", 1, 1, 1, t0),
		}
		top, blind := digest.Select(cands, digest.Selection{Count: 3, ReadingMinutes: -1})
		if got, want := ids(top), "top1,top2,top3"; got != want {
			t.Fatalf("top=%s, want %s", got, want)
		}
		if got, want := blindIDs(blind), "left-heavy:right,right-only:left"; got != want {
			t.Fatalf("blindspots=%s, want %s", got, want)
		}
		_, blind = digest.Select(cands, digest.Selection{Count: 3, Blindspots: -1, ReadingMinutes: -1})
		if len(blind) != 0 {
			t.Fatalf("Blindspots -1: got %s", blindIDs(blind))
		}
		_, blind = digest.Select(cands, digest.Selection{Count: 3, ReadingMinutes: -1,
			Rule: digest.BlindspotRule{MinSources: 5, MaxMinority: 0.2, MinMajority: 0.5}})
		if got, want := blindIDs(blind), "left-heavy:right"; got != want {
			t.Fatalf("MinSources 5: blindspots=%s, want %s", got, want)
		}
	})
	t.Run("ReadingTime", func(t *testing.T) {
		// Each story reads 115 words: half a minute.
		long := func(st digest.Story) digest.Story {
			st.Summary = strings.TrimSpace(strings.Repeat("word ", 113))
			return st
		}
		var cands []digest.Story
		for i := range 6 {
			cands = append(cands, long(coveredStory(fmt.Sprintf("s%d", i), 10-i, 10-i, 10-i, t0)))
		}
		cands = append(cands, long(coveredStory("blind", 0, 0, 4, t0)))
		sel := func(s digest.Selection) string {
			top, blind := digest.Select(cands, s)
			return ids(top) + "|" + blindIDs(blind)
		}
		for _, tt := range []struct {
			name string
			sel  digest.Selection
			want string
		}{
			{"AllFit", digest.Selection{Count: 3, ReadingMinutes: 2}, "s0,s1,s2|blind:left"},
			{"BlindspotRanksLowest", digest.Selection{Count: 3, ReadingMinutes: 1.5}, "s0,s1,s2|"},
			{"DropLowestFirst", digest.Selection{Count: 5, ReadingMinutes: 2}, "s0,s1,s2,s3|"},
			{"NeverEmpty", digest.Selection{ReadingMinutes: 0.1}, "s0|"},
			{"NoCap", digest.Selection{Count: 5, ReadingMinutes: -1}, "s0,s1,s2,s3,s4|blind:left"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if got := sel(tt.sel); got != tt.want {
					t.Fatalf("selection=%s, want %s", got, tt.want)
				}
			})
		}
		t.Run("StoriesKeptWhole", func(t *testing.T) {
			top, _ := digest.Select(cands, digest.Selection{ReadingMinutes: 0.1})
			if got, want := top[0].Summary, cands[0].Summary; got != want {
				t.Fatalf("summary cut to %q", got)
			}
		})
		t.Run("TopicCappedBlindspotOutranksTopStory", func(t *testing.T) {
			c := []digest.Story{
				long(coveredStory("p0", 9, 9, 9, t0, "Politics")),
				long(coveredStory("p1", 8, 8, 8, t0, "Politics")),
				long(coveredStory("bp", 0, 1, 20, t0, "Politics")),
			}
			for i := range 5 {
				c = append(c, long(coveredStory(fmt.Sprintf("s%d", i), 5-i, 5-i, 5-i, t0)))
			}
			top, blind := digest.Select(c, digest.Selection{ReadingMinutes: 2.5})
			if got, want := ids(top)+"|"+blindIDs(blind), "p0,p1,s0,s1|bp:left"; got != want {
				t.Fatalf("selection=%s, want %s", got, want)
			}
		})
		t.Run("DefaultFiveMinutes", func(t *testing.T) {
			var c []digest.Story
			for i := range 12 {
				c = append(c, long(coveredStory(fmt.Sprintf("s%02d", i), 20-i, 20-i, 20-i, t0)))
			}
			top, blind := digest.Select(c, digest.Selection{Count: 20})
			e := &digest.Edition{Stories: top, Blindspots: blind}
			if got, want := len(top), 10; got != want {
				t.Fatalf("%d stories, want %d", got, want)
			}
			if got, want := e.Minutes(), 5; got != want {
				t.Fatalf("Minutes=%d, want %d", got, want)
			}
		})
	})
}

func TestWords(t *testing.T) {
	st := digest.Story{
		Title:    "Talks resume — again",
		Summary:  "日本語の文章です。",
		Overview: []string{"one two", "  three  "},
		Framing:  digest.Framing{Left: "four", Right: "Привет мир"},
	}
	// 3 + 8 ideographs/kana + 3 + 1 + 2
	if got, want := digest.Words(&st), 17; got != want {
		t.Fatalf("Words=%d, want %d", got, want)
	}
	if got, want := digest.ReadingMinutes(&st), 17.0/230; math.Abs(got-want) > 1e-12 {
		t.Fatalf("ReadingMinutes=%v, want %v", got, want)
	}
}
