package cluster

import (
	"sort"
	"strings"

	"bothsides/digest"
	"bothsides/feeds"
)

// Draft is a story's text taken from its articles, never written anew.
type Draft struct {
	Title       string // the most central article's title
	Summary     string // the most central article's description
	TitleItem   int64  // the article Title is from
	SummaryItem int64  // the article Summary is from
	Overview    []Sentence
	Framing     map[digest.Side][]Quote // unrated outlets excluded
	Categories  []string                // the articles' feed categories, most frequent first
}

// Sentence is one sentence of an article's description.
type Sentence struct {
	Text   string
	ItemID int64
	Source string
}

// Quote is a headline attributed to its outlet.
type Quote struct {
	Headline, Source string
	ItemID           int64
}

// Draft limits.
const (
	MaxOverview     = 4   // sentences in Draft.Overview
	MaxQuotes       = 3   // headlines per side in Draft.Framing
	sentenceDupe    = 0.6 // cosine at which two sentences say the same
	minSentenceRune = 20
)

// ranked is a story's distinct texts, most central first.
type ranked struct {
	doc        *doc
	first      feeds.Item // the earliest article carrying the text
	centrality float64
}

// rank orders a story's texts by centrality: the mean cosine with the
// story's other texts; ties go to the earliest, then the lowest id.
func (x *Index) rank(docs []*doc) []ranked {
	out := make([]ranked, len(docs))
	for i, d := range docs {
		out[i] = ranked{doc: d, first: x.earliest(d.items)}
	}
	if len(docs) > 1 {
		for i := range docs {
			for j := i + 1; j < len(docs); j++ {
				c := x.cosine(docs[i].vec, docs[j].vec)
				out[i].centrality += c
				out[j].centrality += c
			}
		}
		for i := range out {
			out[i].centrality /= float64(len(docs) - 1)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.centrality != b.centrality {
			return a.centrality > b.centrality
		}
		return earlier(a.first, b.first)
	})
	return out
}

func earlier(a, b feeds.Item) bool {
	if !a.Published.Equal(b.Published) {
		return a.Published.Before(b.Published)
	}
	return a.ID < b.ID
}

func (x *Index) earliest(ids []int64) feeds.Item {
	var e feeds.Item
	for i, id := range ids {
		if it := x.items[id].item; i == 0 || earlier(it, e) {
			e = it
		}
	}
	return e
}

// Draft drafts a story's text from its articles. An unknown story drafts empty.
func (x *Index) Draft(key string) Draft {
	dr := Draft{Framing: map[digest.Side][]Quote{}}
	s := x.stories[key]
	if s == nil {
		return dr
	}
	rs := x.rank(s.docs)
	dr.Title, dr.TitleItem = rs[0].first.Title, rs[0].first.ID
	for _, r := range rs {
		if strings.TrimSpace(r.first.Description) != "" {
			dr.Summary, dr.SummaryItem = r.first.Description, r.first.ID
			break
		}
	}
	dr.Overview = x.overview(rs, dr.Summary)
	dr.Framing = x.framing(s)
	dr.Categories = x.categories(s)
	return dr
}

// overview takes sentences from the descriptions, most central text first,
// one per outlet, leaving out any that repeats the summary or a sentence
// already taken.
func (x *Index) overview(rs []ranked, summary string) []Sentence {
	var out []Sentence
	var taken []vector
	for _, sen := range splitSentences(summary) {
		w, _, _, _ := vectorize(x.cfg, &x.stems, "", sen)
		taken = append(taken, newVector(w))
	}
	used := map[string]bool{}
	for _, r := range rs {
		if len(out) == MaxOverview {
			break
		}
		// the text's own outlet, or a reprinting outlet not yet used
		var it feeds.Item
		found := false
		for _, id := range r.doc.items {
			c := x.items[id].item
			if !used[c.Source] && (!found || earlier(c, it)) {
				it, found = c, true
			}
		}
		if !found {
			continue
		}
		for _, sen := range splitSentences(it.Description) {
			if len([]rune(sen)) < minSentenceRune {
				continue
			}
			w, _, _, _ := vectorize(x.cfg, &x.stems, "", sen)
			v := newVector(w)
			dupe := false
			for _, t := range taken {
				if x.cosine(v, t) >= sentenceDupe {
					dupe = true
					break
				}
			}
			if dupe {
				continue
			}
			out = append(out, Sentence{Text: sen, ItemID: it.ID, Source: it.Source})
			taken = append(taken, v)
			used[it.Source] = true
			break
		}
	}
	return out
}

// framing picks, per side, the headlines most representative of that side's
// coverage: the most central among the side's own texts, one per outlet and
// no headline twice. A wire copy belongs to the side of its first
// publisher; another side's outlets reprinting it come after that side's
// own texts.
func (x *Index) framing(s *story) map[digest.Side][]Quote {
	out := map[digest.Side][]Quote{}
	bySide := map[digest.Side][]*doc{}
	for _, d := range s.docs {
		seen := map[digest.Side]bool{}
		for _, id := range d.items {
			it := x.items[id].item
			side, ok := sideOf(it.Bias)
			if ok && !seen[side] {
				seen[side] = true
				bySide[side] = append(bySide[side], d)
			}
		}
	}
	for _, side := range digest.Sides {
		docs := bySide[side]
		if len(docs) == 0 {
			continue
		}
		used, heads := map[string]bool{}, map[string]bool{}
		rs := x.rank(docs)
		sort.SliceStable(rs, func(i, j int) bool {
			return x.owns(rs[i], side) && !x.owns(rs[j], side)
		})
		for _, r := range rs {
			if len(out[side]) == MaxQuotes {
				break
			}
			var items []feeds.Item
			for _, id := range r.doc.items {
				it := x.items[id].item
				if sd, ok := sideOf(it.Bias); ok && sd == side {
					items = append(items, it)
				}
			}
			sort.Slice(items, func(i, j int) bool { return earlier(items[i], items[j]) })
			for _, it := range items {
				h := strings.ToLower(strings.TrimSpace(it.Title))
				if used[it.Source] || heads[h] || h == "" {
					continue
				}
				used[it.Source], heads[h] = true, true
				out[side] = append(out[side], Quote{Headline: it.Title, Source: it.Source, ItemID: it.ID})
				break
			}
		}
	}
	return out
}

// owns reports whether a text was first published on side.
func (x *Index) owns(r ranked, side digest.Side) bool {
	s, ok := sideOf(r.first.Bias)
	return ok && s == side
}

// sideOf is the side of a rating; unrated (or unknown) outlets have none.
func sideOf(bias string) (digest.Side, bool) {
	b := digest.Bias(bias)
	if !b.Valid() {
		return "", false
	}
	return b.Side(), true
}

// categories counts the articles' feed categories, case folded, most
// frequent first, ties alphabetical; each shown as first written.
func (x *Index) categories(s *story) []string {
	count := map[string]int{}
	shown := map[string]string{}
	for _, id := range s.items {
		seen := map[string]bool{}
		for _, c := range x.items[id].item.Categories {
			c = strings.TrimSpace(c)
			k := strings.ToLower(c)
			if k == "" || seen[k] {
				continue
			}
			seen[k] = true
			count[k]++
			if _, ok := shown[k]; !ok {
				shown[k] = c
			}
		}
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if count[keys[i]] != count[keys[j]] {
			return count[keys[i]] > count[keys[j]]
		}
		return keys[i] < keys[j]
	})
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = shown[k]
	}
	return out
}

// abbreviations end in a point without ending a sentence.
var abbreviations = map[string]bool{"mr": true, "mrs": true, "ms": true, "dr": true, "st": true,
	"gov": true, "sen": true, "rep": true, "gen": true, "lt": true, "col": true, "jr": true,
	"sr": true, "no": true, "vs": true, "inc": true, "corp": true, "co": true, "ltd": true,
	"u.s": true, "e.g": true, "i.e": true, "prof": true, "supt": true, "det": true, "sgt": true}

// splitSentences splits text after '.', '!' or '?' when a space and a capital
// letter, digit or quote follow, except after a known abbreviation or an initial.
func splitSentences(text string) []string {
	var out []string
	rs := []rune(strings.TrimSpace(text))
	start := 0
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if r != '.' && r != '!' && r != '?' {
			continue
		}
		j := i + 1
		for j < len(rs) && (rs[j] == '"' || rs[j] == '\u201d' || rs[j] == '\'' || rs[j] == '\u2019' || rs[j] == ')') {
			j++
		}
		if j >= len(rs) || rs[j] != ' ' {
			continue
		}
		k := j
		for k < len(rs) && rs[k] == ' ' {
			k++
		}
		if k >= len(rs) || !(isUpper(rs[k]) || rs[k] >= '0' && rs[k] <= '9' || rs[k] == '"' || rs[k] == '\u201c') {
			continue
		}
		if r == '.' {
			w := i - 1
			for w >= start && rs[w] != ' ' {
				w--
			}
			word := strings.ToLower(string(rs[w+1 : i]))
			if abbreviations[word] || len([]rune(word)) == 1 {
				continue
			}
		}
		out = append(out, strings.TrimSpace(string(rs[start:j])))
		start = k
		i = k - 1
	}
	if tail := strings.TrimSpace(string(rs[start:])); tail != "" {
		out = append(out, tail)
	}
	return out
}

func isUpper(r rune) bool {
	return r >= 'A' && r <= 'Z' || r > 127 && strings.ToUpper(string(r)) == string(r) && strings.ToLower(string(r)) != string(r)
}
