package digest

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// BlindspotRule decides when a story is covered mostly by one side.
type BlindspotRule struct {
	MinSources  int     // rated outlets needed before a story can be a blindspot
	MaxMinority float64 // the missing side's share is at most this (0 to 1)
	MinMajority float64 // and the other side's share at least this (0 to 1)
}

// DefaultBlindspotRule: at least 3 rated outlets, one side at most 20% of
// them and the other at least 50%.
var DefaultBlindspotRule = BlindspotRule{MinSources: 3, MaxMinority: 0.20, MinMajority: 0.50}

// For returns the side whose readers may be missing a story with coverage c,
// or "" when the story is not a blindspot. Shares are compared in whole
// outlets, so a boundary such as 1 of 5 (exactly 20%) counts.
func (r BlindspotRule) For(c Coverage) Side {
	t := c.Total()
	if t == 0 || t < r.MinSources {
		return ""
	}
	// share(n) <= x  <=>  n <= x*t, with a tolerance for binary fractions.
	const eps = 1e-9
	atMost := func(n int, x float64) bool { return float64(n) <= x*float64(t)+eps }
	atLeast := func(n int, x float64) bool { return float64(n) >= x*float64(t)-eps }
	switch {
	case atMost(c.Left, r.MaxMinority) && atLeast(c.Right, r.MinMajority):
		return SideLeft
	case atMost(c.Right, r.MaxMinority) && atLeast(c.Left, r.MinMajority):
		return SideRight
	}
	return ""
}

// String writes the rule as ParseBlindspotRule reads it: "3,20,50".
func (r BlindspotRule) String() string {
	pct := func(x float64) string { return strconv.FormatFloat(x*100, 'f', -1, 64) }
	return fmt.Sprintf("%d,%s,%s", r.MinSources, pct(r.MaxMinority), pct(r.MinMajority))
}

// ParseBlindspotRule reads "MIN_SOURCES,MINORITY%,MAJORITY%", e.g. "3,20,50":
// at least 3 rated outlets, one side at most 20% of them, the other at least
// 50%.
func ParseBlindspotRule(s string) (BlindspotRule, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return BlindspotRule{}, fmt.Errorf("blindspot rule %q: want MIN_SOURCES,MINORITY%%,MAJORITY%%, e.g. 3,20,50", s)
	}
	n, err := strconv.Atoi(strings.TrimSpace(parts[0]))
	if err != nil || n < 1 {
		return BlindspotRule{}, fmt.Errorf("blindspot rule %q: minimum sources %q is not a whole number of at least 1", s, parts[0])
	}
	var pct [2]float64
	for i, p := range parts[1:] {
		p = strings.TrimSuffix(strings.TrimSpace(p), "%")
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v < 0 || v > 100 || math.IsNaN(v) {
			return BlindspotRule{}, fmt.Errorf("blindspot rule %q: %q is not a percentage from 0 to 100", s, parts[i+1])
		}
		pct[i] = v / 100
	}
	if pct[0] >= pct[1] {
		return BlindspotRule{}, fmt.Errorf("blindspot rule %q: the minority share (%v%%) must be below the majority share (%v%%)", s, pct[0]*100, pct[1]*100)
	}
	return BlindspotRule{MinSources: n, MaxMinority: pct[0], MinMajority: pct[1]}, nil
}

// Selection says how an edition picks its stories. The zero value is
// DefaultSelection.
type Selection struct {
	Count      int           // top stories; 0: 5
	PerTopic   int           // at most this many top stories share a topic; 0: 2
	Blindspots int           // blindspot stories beyond the top ones; 0: 2, negative: none
	Rule       BlindspotRule // zero value: DefaultBlindspotRule
	// ReadingMinutes caps the edition's estimated reading time: the lowest
	// ranked stories are dropped until it fits, never the first top story
	// and never part of a story. 0: 5 minutes; negative: no cap.
	ReadingMinutes float64
}

func (s Selection) withDefaults() Selection {
	if s.Count <= 0 {
		s.Count = 5
	}
	if s.PerTopic <= 0 {
		s.PerTopic = 2
	}
	if s.Blindspots == 0 {
		s.Blindspots = 2
	}
	if s.Blindspots < 0 {
		s.Blindspots = 0
	}
	if s.Rule == (BlindspotRule{}) {
		s.Rule = DefaultBlindspotRule
	}
	if s.ReadingMinutes == 0 {
		s.ReadingMinutes = 5
	}
	return s
}

// DefaultSelection is what an edition uses unless told otherwise: 5 top
// stories, at most 2 per topic, up to 2 blindspots, about 5 minutes.
var DefaultSelection = Selection{Count: 5, PerTopic: 2, Blindspots: 2, Rule: DefaultBlindspotRule, ReadingMinutes: 5}

// Balance scores how evenly a story's coverage spreads over the three sides:
// 1 for an even split, 0 for a single side (normalised Shannon entropy).
func Balance(c Coverage) float64 {
	t := float64(c.Total())
	if t == 0 {
		return 0
	}
	var h float64
	for _, n := range []int{c.Left, c.Center, c.Right} {
		if n > 0 {
			p := float64(n) / t
			h -= p * math.Log(p)
		}
	}
	return h / math.Log(3)
}

// Rank orders stories best first: more distinct sources, then more balanced
// coverage, then more recent, then id for a stable order.
func Rank(stories []Story) {
	slices.SortStableFunc(stories, func(a, b Story) int {
		ca, cb := a.Coverage(), b.Coverage()
		if d := cb.Total() - ca.Total(); d != 0 {
			return d
		}
		if ba, bb := Balance(ca), Balance(cb); math.Abs(ba-bb) > 1e-9 {
			if ba > bb {
				return -1
			}
			return 1
		}
		if c := b.LastChange().Compare(a.LastChange()); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// topicKeys returns a story's topics, case- and space-insensitive, once each.
func topicKeys(st *Story) []string {
	var keys []string
	for _, t := range st.Topics {
		k := strings.ToLower(strings.Join(strings.Fields(t), " "))
		if k != "" && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// Select picks an edition's top stories and blindspots from candidates.
//
// Top stories are taken in rank order; a story is passed over when one of
// its topics already has PerTopic top stories, so no topic tag shows on more
// than PerTopic of them. Blindspots are the best ranked stories outside the
// top ones that the rule flags. Then, while the edition reads longer than
// ReadingMinutes, the lowest ranked of its stories is dropped, down to the
// first top story.
func Select(candidates []Story, sel Selection) (top []Story, blind []Blindspot) {
	sel = sel.withDefaults()
	ranked := slices.Clone(candidates)
	Rank(ranked)
	rank := make(map[string]int, len(ranked))
	perTopic := map[string]int{}
	chosen := map[string]bool{}
next:
	for i, st := range ranked {
		rank[st.ID] = i
		if len(top) >= sel.Count {
			continue
		}
		keys := topicKeys(&st)
		for _, k := range keys {
			if perTopic[k] >= sel.PerTopic {
				continue next
			}
		}
		for _, k := range keys {
			perTopic[k]++
		}
		chosen[st.ID] = true
		top = append(top, st)
	}
	for _, st := range ranked {
		if len(blind) >= sel.Blindspots {
			break
		}
		if chosen[st.ID] {
			continue
		}
		if side := sel.Rule.For(st.Coverage()); side != "" {
			blind = append(blind, Blindspot{For: side, Story: st})
		}
	}
	if sel.ReadingMinutes < 0 {
		return top, blind
	}
	minutes := func() float64 {
		var m float64
		for i := range top {
			m += ReadingMinutes(&top[i])
		}
		for i := range blind {
			m += ReadingMinutes(&blind[i].Story)
		}
		return m
	}
	for minutes() > sel.ReadingMinutes+1e-9 && len(top)+len(blind) > 1 {
		// The lowest ranked story is the last top story or the last
		// blindspot, whichever ranks lower; the first top story stays.
		if len(blind) > 0 && (len(top) == 1 || rank[blind[len(blind)-1].Story.ID] > rank[top[len(top)-1].ID]) {
			blind = blind[:len(blind)-1]
		} else {
			top = top[:len(top)-1]
		}
	}
	return top, blind
}

// WordsPerMinute is the reading speed behind every reading-time estimate.
const WordsPerMinute = 230

// Words counts the words a reader reads for a story in the digest: title,
// summary, overview and framing.
func Words(st *Story) int {
	n := countWords(st.Title) + countWords(st.Summary)
	for _, o := range st.Overview {
		n += countWords(o)
	}
	for _, side := range Sides {
		n += countWords(st.Framing.Of(side))
	}
	return n
}

// countWords counts space-separated words, and each Chinese or Japanese
// character as a word of its own, since those scripts use no spaces.
func countWords(s string) int {
	n := 0
	for _, f := range strings.Fields(s) {
		ideo, other := 0, false
		for _, r := range f {
			if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana) {
				ideo++
			} else if unicode.IsLetter(r) || unicode.IsDigit(r) {
				other = true
			}
		}
		n += ideo
		if other {
			n++
		}
	}
	return n
}

// ReadingMinutes estimates the reading time of one story.
func ReadingMinutes(st *Story) float64 { return float64(Words(st)) / WordsPerMinute }

// windowFor returns the hours (default 24) before end.
func windowFor(end time.Time, hours int) (time.Time, time.Time) {
	if hours <= 0 {
		hours = 24
	}
	return end.Add(-time.Duration(hours) * time.Hour), end
}
