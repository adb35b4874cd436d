// Package cluster groups articles about one event into a story, incrementally
// and explainably, and drafts the story's text from the articles' own words.
//
// Similarity is TF-IDF cosine over the title (weighted up) and the
// description, with English stop words, Snowball stems, and names (runs of
// capitalised words) and numbers weighted up. IDF is kept incrementally over
// the distinct texts in the index; verbatim and near-identical reprints of one
// wire copy count once. See docs/CLUSTERING.md.
package cluster

//go:generate go run ./testdata/gen -corpus testdata/corpus.json -out testdata/feeds

import (
	"math"
	"sort"
	"time"

	"bothsides/feeds"
)

// Linkage is how an article is compared with a story.
type Linkage string

const (
	// Centroid compares with the mean of the story's distinct texts.
	Centroid Linkage = "centroid"
	// MaxMember compares with the story's most similar text.
	MaxMember Linkage = "max"
)

// Config holds the thresholds and weights of the similarity. New fills a
// zero field with its default; a negative MinContent or HalfLife switches
// that rule off.
type Config struct {
	// Threshold is the score an article needs to join a story.
	Threshold float64
	// Window bounds the stories considered: one with an article within
	// Window of the new article's publication.
	Window time.Duration
	// TitleWeight is the weight of a title word; a description word weighs 1.
	TitleWeight float64
	// PhraseWeight multiplies a name, a run of capitalised words ("Port
	// Ellery City Council"), kept as one term beside its words.
	PhraseWeight float64
	// NumberWeight multiplies a number ("4.75", "2300").
	NumberWeight float64
	// MinContent is the share of a match's weight that must come from terms
	// other than names found in other stories too: sharing a place name
	// alone is not one event, sharing a storm's name may be.
	MinContent float64
	// HalfLife halves a story's score for each HalfLife between its newest
	// article and the new one: an event's coverage comes in a burst.
	HalfLife time.Duration
	// MaxSpan closes a story to new articles once its first is this old, so
	// a chain of similar days never grows one story without end (and
	// Forget can drop it).
	MaxSpan time.Duration
	// NearDuplicate is the cosine at which two texts of one story are one
	// reprinted copy, counted once.
	NearDuplicate float64
	// Linkage compares an article with a story's centroid (the default) or
	// with its most similar text.
	Linkage Linkage
	// SharedTerms is how many terms Match.Shared lists.
	SharedTerms int
}

// DefaultConfig is the configuration measured in docs/CLUSTERING.md.
func DefaultConfig() Config {
	return Config{
		Threshold:     0.14,
		Window:        48 * time.Hour,
		TitleWeight:   2,
		PhraseWeight:  1.5,
		NumberWeight:  1.5,
		MinContent:    0.2,
		HalfLife:      24 * time.Hour,
		MaxSpan:       96 * time.Hour,
		NearDuplicate: 0.9,
		Linkage:       Centroid,
		SharedTerms:   5,
	}
}

// Match is the story an article is most similar to, and why.
type Match struct {
	Story  string   // "" when no story passes Config.Threshold
	Score  float64  // cosine with the story's centroid, discounted by HalfLife; 0..1
	Shared []string // the shared terms that contributed most, most weight first
}

// doc is one distinct text in a story: an article, with the verbatim or
// near-identical reprints of it filed in the same story.
type doc struct {
	vec       vector // term weights, L2-normalised, without IDF
	fp        uint64
	items     []int64 // the articles carrying this text, in filing order
	story     *story
	published time.Time // earliest
}

type member struct {
	item feeds.Item
	doc  *doc
}

type story struct {
	key            string
	docs           []*doc
	items          []int64            // in filing order
	centroid       map[string]float64 // sum of the docs' vectors
	newest, oldest time.Time
	norm           float64 // |centroid·idf|, valid while normEpoch == Index.epoch
	normEpoch      int
	gen            int     // the query dot and content were summed for
	dot, content   float64 // best's sums for query gen
}

// Index files articles under stories and finds the story a new article
// belongs to. It is safe for one goroutine.
type Index struct {
	cfg      Config
	stories  map[string]*story
	items    map[int64]*member
	byFP     map[uint64][]*doc
	df       map[string]int // documents (distinct texts) holding the term
	ndocs    int
	postings map[string]map[*story]int // term -> story -> docs of the story holding it
	surface  map[string]string         // a term as first written
	epoch    int                       // bumped when IDF has drifted enough to recompute norms
	epochN   int                       // ndocs at the last bump
	stems    stems
	last     vectorized         // Best's work, reused when Put files the same text
	idfs     map[string]float64 // idf's cache
	gen      int                // best's query number, marking which stories' sums are fresh
	touched  []*story           // best's scratch, kept to save allocations
	cands    []*story
}

// vector is a term vector with its terms in order, so every sum over it
// runs in one order.
type vector struct {
	w    map[string]float64
	keys []string
}

func newVector(w map[string]float64) vector { return vector{w, sortedKeys(w)} }

// vectorized is one text's term vector, as vectorize returns it.
type vectorized struct {
	title, desc string
	vec         vector
	surface     map[string]string
	names       map[string]bool
	fp          uint64
}

// vectorize is vectorize with the index's stem cache, remembering the last
// text: the newsroom calls Best then Put with one article.
func (x *Index) vectorize(title, desc string) vectorized {
	if x.last.vec.w != nil && x.last.title == title && x.last.desc == desc {
		return x.last
	}
	v := vectorized{title: title, desc: desc}
	var w map[string]float64
	w, v.surface, v.names, v.fp = vectorize(x.cfg, &x.stems, title, desc)
	v.vec = newVector(w)
	x.last = v
	return v
}

// New is an empty index.
func New(cfg Config) *Index {
	d := DefaultConfig()
	if cfg.Threshold <= 0 {
		cfg.Threshold = d.Threshold
	}
	if cfg.HalfLife == 0 {
		cfg.HalfLife = d.HalfLife
	}
	if cfg.MinContent == 0 {
		cfg.MinContent = d.MinContent
	}
	if cfg.Window <= 0 {
		cfg.Window = d.Window
	}
	if cfg.MaxSpan <= 0 {
		cfg.MaxSpan = 2 * cfg.Window
	}
	if cfg.TitleWeight <= 0 {
		cfg.TitleWeight = d.TitleWeight
	}
	if cfg.PhraseWeight <= 0 {
		cfg.PhraseWeight = d.PhraseWeight
	}
	if cfg.NumberWeight <= 0 {
		cfg.NumberWeight = d.NumberWeight
	}
	if cfg.NearDuplicate <= 0 {
		cfg.NearDuplicate = d.NearDuplicate
	}
	if cfg.Linkage == "" {
		cfg.Linkage = d.Linkage
	}
	if cfg.SharedTerms <= 0 {
		cfg.SharedTerms = d.SharedTerms
	}
	return &Index{cfg: cfg, stories: map[string]*story{}, items: map[int64]*member{},
		byFP: map[uint64][]*doc{}, df: map[string]int{}, postings: map[string]map[*story]int{},
		surface: map[string]string{}, idfs: map[string]float64{}}
}

// Config is the index's configuration, defaults applied.
func (x *Index) Config() Config { return x.cfg }

// Len is the number of articles filed.
func (x *Index) Len() int { return len(x.items) }

// Stories is the number of stories held.
func (x *Index) Stories() int { return len(x.stories) }

// StoryOf is the story an article is filed under, or "".
func (x *Index) StoryOf(itemID int64) string {
	if m, ok := x.items[itemID]; ok {
		return m.doc.story.key
	}
	return ""
}

// idf is the smoothed inverse document frequency of a term, over the number
// of documents at the last epoch (within 5% of now), cached until the term's
// document frequency or the epoch changes.
func (x *Index) idf(t string) float64 {
	if v, ok := x.idfs[t]; ok {
		return v
	}
	v := math.Log(float64(1+x.epochN)/float64(1+x.df[t])) + 1
	x.idfs[t] = v
	return v
}

func (x *Index) storyNorm(s *story) float64 {
	if s.normEpoch == x.epoch && s.norm > 0 {
		return s.norm
	}
	var n float64
	for t, c := range s.centroid {
		w := c * x.idf(t)
		n += w * w
	}
	s.norm, s.normEpoch = math.Sqrt(n), x.epoch
	return s.norm
}

// touchDocs moves the epoch on when the number of documents has changed by
// more than 5% since norms were last computed: IDF then moves by at most
// log 1.05, alike for every term, so cached norms stay close.
func (x *Index) touchDocs() {
	d := x.ndocs - x.epochN
	if d < 0 {
		d = -d
	}
	if d*20 > x.epochN || x.epochN < 20 {
		x.epoch++
		x.epochN = x.ndocs
		clear(x.idfs)
	}
}

// inWindow reports whether a story can take an article published at: it has
// an article within Window of it, and its first is less than MaxSpan older.
func (x *Index) inWindow(s *story, at time.Time) bool {
	return !s.newest.Before(at.Add(-x.cfg.Window)) && !s.oldest.After(at.Add(x.cfg.Window)) &&
		at.Sub(s.oldest) <= x.cfg.MaxSpan
}

// Best is the story, within Window of it.Published, most similar to it.
// A verbatim reprint of a filed text matches that text's story with score 1.
func (x *Index) Best(it feeds.Item) Match {
	v := x.vectorize(it.Title, it.Description)
	vec, surface, names, fp := v.vec, v.surface, v.names, v.fp
	for _, d := range x.byFP[fp] {
		if x.inWindow(d.story, it.Published) {
			return Match{Story: d.story.key, Score: 1, Shared: x.shared(vec, d.vec.w, surface)}
		}
	}
	s, score := x.best(vec, names, it.Published)
	if s == nil || score < x.cfg.Threshold {
		return Match{Score: score}
	}
	return Match{Story: s.key, Score: score, Shared: x.shared(vec, s.centroid, surface)}
}

// best scores every story in the window that shares a term with vec.
func (x *Index) best(vec vector, names map[string]bool, at time.Time) (*story, float64) {
	terms := vec.keys
	var qn float64
	for _, t := range terms {
		w := vec.w[t] * x.idf(t)
		qn += w * w
	}
	qn = math.Sqrt(qn)
	if qn == 0 {
		return nil, 0
	}
	// Accumulate on the stories themselves: a map per query cost more than
	// the arithmetic.
	x.gen++
	touched := x.touched[:0]
	for _, t := range terms {
		idf := x.idf(t)
		post := x.postings[t]
		unique := len(post) == 1 // a name of this story alone is content
		for s := range post {
			if !x.inWindow(s, at) {
				continue
			}
			if s.gen != x.gen {
				s.gen, s.dot, s.content = x.gen, 0, 0
				touched = append(touched, s)
			}
			d := vec.w[t] * s.centroid[t] * idf * idf
			s.dot += d
			if !names[t] || unique {
				s.content += d
			}
		}
	}
	x.touched = touched
	cands := x.cands[:0]
	for _, s := range touched {
		if s.content >= x.cfg.MinContent*s.dot {
			cands = append(cands, s)
		}
	}
	x.cands = cands
	sort.Slice(cands, func(i, j int) bool { return cands[i].key < cands[j].key })
	var best *story
	var top float64
	for _, s := range cands {
		var score float64
		if x.cfg.Linkage == MaxMember {
			for _, d := range s.docs {
				score = math.Max(score, x.cosine(vec, d.vec))
			}
		} else {
			score = s.dot / (qn * x.storyNorm(s))
		}
		if x.cfg.HalfLife > 0 {
			gap := at.Sub(s.newest)
			if gap < 0 {
				gap = -gap
			}
			score *= math.Exp2(-float64(gap) / float64(x.cfg.HalfLife))
		}
		if score > top {
			best, top = s, score
		}
	}
	clear(x.touched) // hold no forgotten story past the query
	clear(x.cands)
	return best, math.Min(top, 1)
}

// cosine of two term vectors under the current IDF.
func (x *Index) cosine(a, b vector) float64 {
	if len(b.keys) < len(a.keys) {
		a, b = b, a
	}
	var dot, na, nb float64
	for _, t := range a.keys {
		idf := x.idf(t)
		wa := a.w[t] * idf
		na += wa * wa
		if v, ok := b.w[t]; ok {
			dot += wa * v * idf
		}
	}
	for _, t := range b.keys {
		wb := b.w[t] * x.idf(t)
		nb += wb * wb
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// shared lists the terms of q that contributed most to its similarity with v.
func (x *Index) shared(q vector, v map[string]float64, surface map[string]string) []string {
	type tw struct {
		t string
		w float64
	}
	var ts []tw
	for _, t := range q.keys {
		w := q.w[t]
		if c, ok := v[t]; ok {
			idf := x.idf(t)
			ts = append(ts, tw{t, w * c * idf * idf})
		}
	}
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].w != ts[j].w {
			return ts[i].w > ts[j].w
		}
		return ts[i].t < ts[j].t
	})
	out := []string{}
	for _, e := range ts {
		if len(out) == x.cfg.SharedTerms {
			break
		}
		s := surface[e.t]
		if s == "" {
			s = x.surface[e.t]
		}
		out = append(out, s)
	}
	return out
}

// Put files an article under a story, creating the story if needed. An
// article already filed moves. A verbatim or near-identical reprint of a text
// already in the story joins that text: it adds to the story's items but not
// to its vector or to the IDF.
func (x *Index) Put(it feeds.Item, storyKey string) {
	if _, ok := x.items[it.ID]; ok {
		x.Remove(it.ID)
	}
	s := x.stories[storyKey]
	if s == nil {
		s = &story{key: storyKey, centroid: map[string]float64{}, newest: it.Published, oldest: it.Published}
		x.stories[storyKey] = s
	}
	v := x.vectorize(it.Title, it.Description)
	vec, surface, fp := v.vec, v.surface, v.fp
	x.last = vectorized{} // the vector now belongs to the index
	var d *doc
	for _, c := range x.byFP[fp] {
		if c.story == s {
			d = c
			break
		}
	}
	if d == nil {
		for _, c := range s.docs {
			if x.cosine(vec, c.vec) >= x.cfg.NearDuplicate {
				d = c
				break
			}
		}
	}
	if d == nil {
		d = &doc{vec: vec, fp: fp, story: s, published: it.Published}
		s.docs = append(s.docs, d)
		x.byFP[fp] = append(x.byFP[fp], d)
		for _, t := range vec.keys {
			w := vec.w[t]
			s.centroid[t] += w
			x.df[t]++
			delete(x.idfs, t)
			p := x.postings[t]
			if p == nil {
				p = map[*story]int{}
				x.postings[t] = p
			}
			p[s]++
			if _, ok := x.surface[t]; !ok {
				x.surface[t] = surface[t]
			}
		}
		x.ndocs++
		x.touchDocs()
		s.normEpoch = -1
	}
	if it.Published.Before(d.published) {
		d.published = it.Published
	}
	d.items = append(d.items, it.ID)
	s.items = append(s.items, it.ID)
	if it.Published.After(s.newest) {
		s.newest = it.Published
	}
	if it.Published.Before(s.oldest) {
		s.oldest = it.Published
	}
	x.items[it.ID] = &member{item: it, doc: d}
}

// Remove takes an article out of its story (an editor moved it out). A story
// left empty is dropped.
func (x *Index) Remove(itemID int64) {
	m, ok := x.items[itemID]
	if !ok {
		return
	}
	delete(x.items, itemID)
	d, s := m.doc, m.doc.story
	d.items = without(d.items, itemID)
	s.items = without(s.items, itemID)
	if len(d.items) == 0 {
		x.dropDoc(d)
	}
	if len(s.items) == 0 {
		delete(x.stories, s.key)
		return
	}
	s.newest, s.oldest = time.Time{}, time.Time{}
	for i, id := range s.items {
		p := x.items[id].item.Published
		if i == 0 || p.After(s.newest) {
			s.newest = p
		}
		if i == 0 || p.Before(s.oldest) {
			s.oldest = p
		}
	}
	for _, d := range s.docs {
		d.published = time.Time{}
		for i, id := range d.items {
			if p := x.items[id].item.Published; i == 0 || p.Before(d.published) {
				d.published = p
			}
		}
	}
}

// dropDoc takes a text out of its story's vector and out of the IDF.
func (x *Index) dropDoc(d *doc) {
	s := d.story
	for i, c := range s.docs {
		if c == d {
			s.docs = append(s.docs[:i:i], s.docs[i+1:]...)
			break
		}
	}
	fps := x.byFP[d.fp]
	for i, c := range fps {
		if c == d {
			fps = append(fps[:i:i], fps[i+1:]...)
			break
		}
	}
	if len(fps) == 0 {
		delete(x.byFP, d.fp)
	} else {
		x.byFP[d.fp] = fps
	}
	for _, t := range d.vec.keys {
		w := d.vec.w[t]
		if s.centroid[t] -= w; s.centroid[t] < 1e-12 || x.postings[t][s] == 1 {
			delete(s.centroid, t)
		}
		if x.postings[t][s]--; x.postings[t][s] <= 0 {
			delete(x.postings[t], s)
			if len(x.postings[t]) == 0 {
				delete(x.postings, t)
			}
		}
		delete(x.idfs, t)
		if x.df[t]--; x.df[t] <= 0 {
			delete(x.df, t)
			delete(x.surface, t)
		}
	}
	x.ndocs--
	x.touchDocs()
	s.normEpoch = -1
}

// Forget drops the stories whose newest article is older than before, and
// their articles' terms from the IDF: the index holds the window, not history.
func (x *Index) Forget(before time.Time) {
	keys := make([]string, 0)
	for k, s := range x.stories {
		if s.newest.Before(before) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := x.stories[k]
		for _, d := range append([]*doc(nil), s.docs...) {
			x.dropDoc(d)
		}
		for _, id := range s.items {
			delete(x.items, id)
		}
		delete(x.stories, k)
	}
}

func without(ids []int64, id int64) []int64 {
	for i, v := range ids {
		if v == id {
			return append(ids[:i:i], ids[i+1:]...)
		}
	}
	return ids
}
