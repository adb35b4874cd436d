// Package cluster groups articles about one event into a story, incrementally
// and explainably, and drafts the story's text from the articles' own words.
//
// Similarity is TF-IDF cosine over the title (weighted up) and the
// description, with English stop words, Snowball stems, and names (runs of
// capitalised words) and numbers weighted up. IDF is kept incrementally over
// the distinct texts in the index; verbatim and near-identical reprints of one
// wire copy count once. See docs/CLUSTERING.md.
package cluster

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

// Config holds the thresholds and weights of the similarity.
type Config struct {
	Threshold     float64       // an article joins a story when the cosine reaches this
	Window        time.Duration // stories considered: an item within Window of the article
	TitleWeight   float64       // weight of a title word; a description word weighs 1
	PhraseWeight  float64       // multiplier for a name run ("Port Ellery City Council")
	NumberWeight  float64       // multiplier for a number ("4.2", "2300")
	NearDuplicate float64       // cosine at which two texts are one reprinted copy
	Linkage       Linkage       // Centroid or MaxMember
	SharedTerms   int           // how many terms Match.Shared lists
}

// DefaultConfig is the configuration measured in docs/CLUSTERING.md.
func DefaultConfig() Config {
	return Config{
		Threshold:     0.22,
		Window:        48 * time.Hour,
		TitleWeight:   2,
		PhraseWeight:  2,
		NumberWeight:  1.5,
		NearDuplicate: 0.9,
		Linkage:       Centroid,
		SharedTerms:   5,
	}
}

// Match is the story an article is most similar to, and why.
type Match struct {
	Story  string   // "" when no story passes Config.Threshold
	Score  float64  // cosine, 0..1
	Shared []string // the shared terms that contributed most, most weight first
}

// doc is one distinct text in a story: an article, with the verbatim or
// near-identical reprints of it filed in the same story.
type doc struct {
	vec       map[string]float64 // term weights, L2-normalised, without IDF
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
}

// New is an empty index.
func New(cfg Config) *Index {
	d := DefaultConfig()
	if cfg.Window <= 0 {
		cfg.Window = d.Window
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
		surface: map[string]string{}}
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

// idf is the smoothed inverse document frequency of a term.
func (x *Index) idf(t string) float64 {
	return math.Log(float64(1+x.ndocs)/float64(1+x.df[t])) + 1
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
// more than 2% since norms were last computed.
func (x *Index) touchDocs() {
	d := x.ndocs - x.epochN
	if d < 0 {
		d = -d
	}
	if d*50 > x.epochN || x.epochN < 50 {
		x.epoch++
		x.epochN = x.ndocs
	}
}

func (x *Index) inWindow(s *story, at time.Time) bool {
	return !s.newest.Before(at.Add(-x.cfg.Window)) && !s.oldest.After(at.Add(x.cfg.Window))
}

// Best is the story, within Window of it.Published, most similar to it.
// A verbatim reprint of a filed text matches that text's story with score 1.
func (x *Index) Best(it feeds.Item) Match {
	vec, surface, fp := vectorize(x.cfg, it.Title, it.Description)
	for _, d := range x.byFP[fp] {
		if x.inWindow(d.story, it.Published) {
			return Match{Story: d.story.key, Score: 1, Shared: x.shared(vec, d.vec, surface)}
		}
	}
	s, score := x.best(vec, it.Published)
	if s == nil || score < x.cfg.Threshold {
		return Match{Score: score}
	}
	return Match{Story: s.key, Score: score, Shared: x.shared(vec, s.centroid, surface)}
}

// best scores every story in the window that shares a term with vec.
func (x *Index) best(vec map[string]float64, at time.Time) (*story, float64) {
	terms := sortedKeys(vec)
	var qn float64
	for _, t := range terms {
		w := vec[t] * x.idf(t)
		qn += w * w
	}
	qn = math.Sqrt(qn)
	if qn == 0 {
		return nil, 0
	}
	dots := map[*story]float64{}
	for _, t := range terms {
		idf := x.idf(t)
		for s := range x.postings[t] {
			dots[s] += vec[t] * s.centroid[t] * idf * idf
		}
	}
	cands := make([]*story, 0, len(dots))
	for s := range dots {
		if x.inWindow(s, at) {
			cands = append(cands, s)
		}
	}
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
			score = dots[s] / (qn * x.storyNorm(s))
		}
		if score > top {
			best, top = s, score
		}
	}
	return best, math.Min(top, 1)
}

// cosine of two term vectors under the current IDF.
func (x *Index) cosine(a, b map[string]float64) float64 {
	if len(b) < len(a) {
		a, b = b, a
	}
	var dot, na, nb float64
	for _, t := range sortedKeys(a) {
		idf := x.idf(t)
		wa := a[t] * idf
		na += wa * wa
		if v, ok := b[t]; ok {
			dot += wa * v * idf
		}
	}
	for _, t := range sortedKeys(b) {
		wb := b[t] * x.idf(t)
		nb += wb * wb
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// shared lists the terms of q that contributed most to its similarity with v.
func (x *Index) shared(q, v map[string]float64, surface map[string]string) []string {
	type tw struct {
		t string
		w float64
	}
	var ts []tw
	for t, w := range q {
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
	vec, surface, fp := vectorize(x.cfg, it.Title, it.Description)
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
		for t, w := range vec {
			s.centroid[t] += w
			x.df[t]++
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
	for t, w := range d.vec {
		if s.centroid[t] -= w; s.centroid[t] < 1e-12 || x.postings[t][s] == 1 {
			delete(s.centroid, t)
		}
		if x.postings[t][s]--; x.postings[t][s] <= 0 {
			delete(x.postings[t], s)
			if len(x.postings[t]) == 0 {
				delete(x.postings, t)
			}
		}
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
