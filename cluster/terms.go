package cluster

import (
	"hash/fnv"
	"math"
	"sort"
	"strings"
	"unicode"

	"github.com/kljensen/snowball/english"
)

// token is one word of a title or description as the tokenizer found it.
type token struct {
	text    string // as written, trimmed of punctuation
	lower   string
	cap     bool // starts with an upper-case letter
	number  bool // contains a digit
	initial bool // first word of a sentence
	brk     bool // punctuation (comma, colon, dash, quote) follows: ends a name run
}

// tokenize splits text into words. A word is a run of letters and digits,
// with inner apostrophes, hyphens, and the points and commas of numbers.
func tokenize(s string) []token {
	var out []token
	rs := []rune(s)
	initial := true
	for i := 0; i < len(rs); {
		r := rs[i]
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			switch r {
			case '.', '!', '?', ';':
				initial = true
				if n := len(out); n > 0 {
					out[n-1].brk = true
				}
			case ',', ':', '"', '(', ')', '\u2014', '\u2013', '\u201c', '\u201d', '/':
				if n := len(out); n > 0 {
					out[n-1].brk = true
				}
			case '-':
				if i+1 < len(rs) && rs[i+1] == ' ' || i > 0 && rs[i-1] == ' ' {
					if n := len(out); n > 0 {
						out[n-1].brk = true
					}
				}
			}
			i++
			continue
		}
		j := i
		for j < len(rs) {
			c := rs[j]
			if unicode.IsLetter(c) || unicode.IsDigit(c) {
				j++
				continue
			}
			// inner apostrophe, hyphen, or the point and comma of a number
			if j+1 < len(rs) && (unicode.IsLetter(rs[j+1]) || unicode.IsDigit(rs[j+1])) {
				if c == '\'' || c == '\u2019' || c == '-' {
					j++
					continue
				}
				if (c == '.' || c == ',') && unicode.IsDigit(rs[j-1]) && unicode.IsDigit(rs[j+1]) {
					j++
					continue
				}
			}
			break
		}
		w := string(rs[i:j])
		t := token{text: w, lower: strings.ToLower(w), cap: unicode.IsUpper(rs[i]), initial: initial}
		for _, c := range w {
			if unicode.IsDigit(c) {
				t.number = true
				break
			}
		}
		if t.number {
			t.lower = strings.ReplaceAll(t.lower, ",", "")
		}
		// possessive 's and a plain apostrophe carry no meaning
		t.lower = strings.TrimSuffix(strings.TrimSuffix(t.lower, "'s"), "\u2019s")
		out = append(out, t)
		initial = false
		i = j
	}
	return out
}

// extraStop are words common to every news headline that tell events apart
// no better than "the".
var extraStop = map[string]bool{
	"say": true, "says": true, "said": true, "saying": true, "amid": true, "new": true,
	"also": true, "would": true, "could": true, "may": true, "might": true, "must": true,
	"one": true, "two": true, "yet": true, "still": true, "us": true, "per": true,
	"week": true, "day": true, "today": true, "yesterday": true, "tomorrow": true,
	"monday": true, "tuesday": true, "wednesday": true, "thursday": true, "friday": true,
	"saturday": true, "sunday": true, "morning": true, "night": true, "evening": true,
	"afternoon": true, "year": true, "years": true, "since": true, "last": true,
	"first": true, "get": true, "gets": true, "got": true, "like": true, "back": true,
	"many": true, "much": true, "even": true, "another": true, "across": true,
	"according": true, "report": true, "reports": true, "reported": true, "told": true,
	"tell": true, "tells": true, "made": true, "make": true, "makes": true, "way": true,
	"here": true, "what": true, "why": true, "how": true, "it's": true, "let": true,
	"among": true, "without": true, "within": true, "whether": true, "around": true,
	"near": true, "next": true, "set": true, "takes": true, "take": true,
}

// stopWord reports whether a lower-cased word carries no topic.
func stopWord(w string) bool {
	return english.IsStopWord(w) || extraStop[w] || len(w) < 2 && !isDigit(w)
}

func isDigit(w string) bool { return w != "" && w[0] >= '0' && w[0] <= '9' }

// stem reduces a lower-cased word to its English stem; numbers stay as written.
func stem(w string) string {
	if isDigit(w) {
		return w
	}
	w = strings.ReplaceAll(w, "\u2019", "'")
	return english.Stem(w, false)
}

// titleCased reports whether a headline capitalises every word (Title Case),
// so a capital letter there does not mark a name.
func titleCased(toks []token) bool {
	words, caps := 0, 0
	for _, t := range toks {
		if t.number || stopWord(t.lower) {
			continue
		}
		words++
		if t.cap {
			caps++
		}
	}
	return words >= 3 && caps == words
}

// stems caches stemming, the costliest step: a vocabulary is small next to
// the number of words read. It is emptied when it reaches maxStems.
type stems map[string]string

const maxStems = 1 << 17

func (c *stems) stem(w string) string {
	if s, ok := (*c)[w]; ok {
		return s
	}
	if *c == nil || len(*c) >= maxStems {
		*c = stems{}
	}
	s := stem(w)
	(*c)[w] = s
	return s
}

// weigher builds an item's term vector.
type weigher struct {
	cfg     Config
	stems   *stems
	vec     map[string]float64
	surface map[string]string
	names   map[string]bool // terms written as names: capitalised runs and words
}

// add weighs the words of one field. names, when not nil, is the set of words
// written with a capital inside a sentence elsewhere: a Title Case headline's
// capitals count as names only when they are in it.
func (w *weigher) add(toks []token, field float64, names map[string]bool) {
	capital := func(t token) bool {
		if !t.cap || t.number {
			return false
		}
		if names != nil {
			return names[t.lower]
		}
		return true
	}
	run := []token{}
	flush := func() {
		// trim stop words at the ends ("The", "of")
		for len(run) > 0 && stopWord(run[0].lower) {
			run = run[1:]
		}
		for len(run) > 0 && stopWord(run[len(run)-1].lower) {
			run = run[:len(run)-1]
		}
		if len(run) >= 2 {
			parts := make([]string, len(run))
			for i, t := range run {
				parts[i] = t.text
			}
			w.term(strings.ToLower(strings.Join(parts, " ")), strings.Join(parts, " "), field*w.cfg.PhraseWeight)
			w.names[strings.ToLower(strings.Join(parts, " "))] = true
			if len(run) > 2 { // the pairs inside it, so "Port Ellery" meets "Port Ellery City Council"
				for i := 0; i+1 < len(run); i++ {
					if stopWord(run[i].lower) || stopWord(run[i+1].lower) {
						continue
					}
					p := run[i].text + " " + run[i+1].text
					w.term(strings.ToLower(p), p, field*w.cfg.PhraseWeight/2)
					w.names[strings.ToLower(p)] = true
				}
			}
		}
		run = run[:0]
	}
	for i, t := range toks {
		// A sentence's first word joins a run only when the next word is a name too.
		c := capital(t)
		if c && t.initial && !(i+1 < len(toks) && capital(toks[i+1]) && !t.brk) {
			c = false
		}
		switch {
		case c:
			run = append(run, t)
		case t.lower == "of" && len(run) > 0 && i+1 < len(toks) && capital(toks[i+1]):
			run = append(run, t)
		default:
			flush()
		}
		if t.brk {
			flush()
		}
		if stopWord(t.lower) {
			continue
		}
		weight := field
		if t.number {
			weight *= w.cfg.NumberWeight
		}
		k := w.stems.stem(t.lower)
		if c {
			w.names[k] = true
		}
		w.term(k, t.lower, weight)
	}
	flush()
}

func (w *weigher) term(key, surface string, weight float64) {
	if _, ok := w.surface[key]; !ok {
		w.surface[key] = surface
	}
	w.vec[key] += weight
}

// vectorize is an item's term vector: title words weigh Config.TitleWeight,
// description words 1, names and numbers more; L2-normalised. fp fingerprints
// the stemmed text, so a verbatim reprint is found without comparing.
func vectorize(cfg Config, st *stems, title, desc string) (vec map[string]float64, surface map[string]string, names map[string]bool, fp uint64) {
	if st == nil {
		st = &stems{}
	}
	w := &weigher{cfg: cfg, stems: st, vec: map[string]float64{}, surface: map[string]string{}, names: map[string]bool{}}
	tt, dt := tokenize(title), tokenize(desc)
	var caps map[string]bool
	if titleCased(tt) {
		caps = map[string]bool{}
		for _, t := range dt {
			if t.cap && !t.initial {
				caps[t.lower] = true
			}
		}
	}
	w.add(tt, cfg.TitleWeight, caps)
	w.add(dt, 1, nil)
	var n float64
	for _, v := range w.vec {
		n += v * v
	}
	n = math.Sqrt(n)
	for k := range w.vec {
		w.vec[k] /= n
	}
	h := fnv.New64a()
	for _, t := range tt {
		h.Write([]byte(t.lower))
		h.Write([]byte{' '})
	}
	h.Write([]byte{'|'})
	for _, t := range dt {
		h.Write([]byte(t.lower))
		h.Write([]byte{' '})
	}
	return w.vec, w.surface, w.names, h.Sum64()
}

// sortedKeys lists a vector's terms in order, so sums and ties never depend
// on map iteration.
func sortedKeys(v map[string]float64) []string {
	ks := make([]string, 0, len(v))
	for k := range v {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
