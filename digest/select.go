package digest

import (
	"math"
	"slices"
	"strings"
	"time"
)

// BlindspotRule decides when a story is covered mostly by one side.
type BlindspotRule struct {
	MinSources  int     // rated outlets needed before a story can be a blindspot
	MaxMinority float64 // the missing side's share is at most this
	MinMajority float64 // and the other side's share at least this
}

// DefaultBlindspotRule: at least 3 rated outlets, one side at most 20% of
// them and the other at least 50%.
var DefaultBlindspotRule = BlindspotRule{MinSources: 3, MaxMinority: 0.20, MinMajority: 0.50}

// For returns the side whose readers may be missing a story with coverage c,
// or "" when the story is not a blindspot.
func (r BlindspotRule) For(c Coverage) Side {
	t := c.Total()
	if t == 0 || t < r.MinSources {
		return ""
	}
	l := float64(c.Left) / float64(t)
	rt := float64(c.Right) / float64(t)
	const eps = 1e-9
	switch {
	case l <= r.MaxMinority+eps && rt >= r.MinMajority-eps:
		return SideLeft
	case rt <= r.MaxMinority+eps && l >= r.MinMajority-eps:
		return SideRight
	}
	return ""
}

// Selection says how an edition picks its stories.
type Selection struct {
	Count      int           // top stories; default 5
	PerTopic   int           // at most this many top stories share a first topic; default 2
	Blindspots int           // blindspot stories beyond the top ones; default 2
	Rule       BlindspotRule // zero value: DefaultBlindspotRule
	// ReadingMinutes caps the estimated reading time of the edition; lower
	// ranked stories are dropped to fit (never fewer than one). 0: no cap.
	ReadingMinutes float64
}

func (s Selection) withDefaults() Selection {
	if s.Count <= 0 {
		s.Count = 5
	}
	if s.PerTopic <= 0 {
		s.PerTopic = 2
	}
	if s.Blindspots < 0 {
		s.Blindspots = 0
	}
	if s.Rule == (BlindspotRule{}) {
		s.Rule = DefaultBlindspotRule
	}
	return s
}

// DefaultSelection is what an edition uses unless told otherwise.
var DefaultSelection = Selection{Count: 5, PerTopic: 2, Blindspots: 2, ReadingMinutes: 5}

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

func topicKey(st *Story) string {
	if len(st.Topics) == 0 {
		return ""
	}
	return strings.ToLower(st.Topics[0])
}

// Select picks an edition's top stories and blindspots from candidates.
func Select(candidates []Story, sel Selection) (top []Story, blind []Blindspot) {
	sel = sel.withDefaults()
	ranked := slices.Clone(candidates)
	Rank(ranked)
	perTopic := map[string]int{}
	chosen := map[string]bool{}
	var minutes float64
	for _, st := range ranked {
		if len(top) >= sel.Count {
			break
		}
		k := topicKey(&st)
		if k != "" && perTopic[k] >= sel.PerTopic {
			continue
		}
		m := ReadingMinutes(&st)
		if sel.ReadingMinutes > 0 && len(top) > 0 && minutes+m > sel.ReadingMinutes {
			continue
		}
		minutes += m
		perTopic[k]++
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
			chosen[st.ID] = true
		}
	}
	return top, blind
}

// WordsPerMinute is the reading speed behind every reading-time estimate.
const WordsPerMinute = 230

// Words counts the words a reader reads for a story in the digest: title,
// summary, overview and framing.
func Words(st *Story) int {
	n := len(strings.Fields(st.Title)) + len(strings.Fields(st.Summary))
	for _, o := range st.Overview {
		n += len(strings.Fields(o))
	}
	for _, side := range Sides {
		n += len(strings.Fields(st.Framing.Of(side)))
	}
	return n
}

// ReadingMinutes estimates the reading time of one story.
func ReadingMinutes(st *Story) float64 { return float64(Words(st)) / WordsPerMinute }

// windowFor returns the 24 hours before end.
func windowFor(end time.Time, hours int) (time.Time, time.Time) {
	if hours <= 0 {
		hours = 24
	}
	return end.Add(-time.Duration(hours) * time.Hour), end
}
