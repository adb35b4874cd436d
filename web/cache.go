package web

import (
	"bytes"
	"compress/gzip"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"bothsides/sqlite"
)

// pageCache keeps the public pages that only stories and editions decide
// (the archive, an edition, a story) rendered in memory, each with its
// gzip form and an ETag. A page is kept with the page generation it was
// rendered at (digest.Store.Generation, bumped by database triggers on
// every change a page can show, from any process): a request reads the
// generation, one indexed row, unless no commit at all was made since the
// last read (generationSince), and is served the copy only if it matches,
// so a new story version or an edition that starts sending shows at once.
// Memory is bounded by maxBytes, least recently used first out. The zero
// value is ready to use.
type pageCache struct {
	mu      sync.Mutex
	gen     int64                    // newest generation seen: older copies are dropped
	entries map[string]*list.Element // of *cachedPage
	lru     list.List                // most recently used at the front
	bytes   int
	loading map[string]*pageLoad
	// maxBytes bounds the bodies kept, plain and gzip; 0 is defaultCacheBytes.
	maxBytes int

	// The generation reads: one at a time (see generation).
	genMu               sync.Mutex
	genRunning, genNext *genRead

	// The generation last read and the database's commit mark taken just
	// before that read began (see generationSince).
	markMu  sync.Mutex
	mark    sqlite.CommitMark
	markGen int64
	marked  bool
}

// genRead is one read of the page generation, shared by the requests that
// arrived before it started.
type genRead struct {
	done chan struct{}
	n    int64
	err  error
}

// defaultCacheBytes holds about 200 edition pages (57 KB plain, 12 KB gzip)
// or 2,000 story pages.
const defaultCacheBytes = 16 << 20

// cachedPage is one rendered page as it is served.
type cachedPage struct {
	key          string
	gen          int64
	body, gz     []byte // gz is nil when gzip would not make it smaller
	etag         string // strong, of body; the gzip form's has "-gz" inside the quotes
	cacheControl string
	// The answers' header fields, for the plain and the gzip form.
	plain, gzipped cachedHeaders
}

func (p *cachedPage) size() int { return len(p.body) + len(p.gz) + len(p.key) }

// pageLoad is a render in progress that requests for the same page wait for.
type pageLoad struct {
	done chan struct{}
	page *cachedPage
	err  error
}

func newCachedPage(key string, gen int64, body []byte, cacheControl string) *cachedPage {
	sum := sha256.Sum256(body)
	p := &cachedPage{key: key, gen: gen, body: body, cacheControl: cacheControl,
		etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`}
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.DefaultCompression)
	zw.Write(body)
	zw.Close()
	if b.Len() < len(body) {
		p.gz = b.Bytes()
		p.gzipped = newCachedHeaders(strings.TrimSuffix(p.etag, `"`)+`-gz"`, cacheControl, len(p.gz), true)
	}
	p.plain = newCachedHeaders(p.etag, cacheControl, len(body), false)
	return p
}

// get returns the page key rendered at generation gen, calling build at
// most once for concurrent requests of the same page.
func (c *pageCache) get(key string, gen int64, build func() (*cachedPage, error)) (*cachedPage, error) {
	c.mu.Lock()
	if gen > c.gen {
		// Everything kept is from an older generation: free it now.
		c.gen = gen
		c.entries, c.bytes = nil, 0
		c.lru.Init()
	}
	if el, ok := c.entries[key]; ok && el.Value.(*cachedPage).gen == gen {
		c.lru.MoveToFront(el)
		c.mu.Unlock()
		return el.Value.(*cachedPage), nil
	}
	lkey := key + "\x00" + strconv.FormatInt(gen, 10)
	if l, ok := c.loading[lkey]; ok {
		c.mu.Unlock()
		<-l.done
		return l.page, l.err
	}
	l := &pageLoad{done: make(chan struct{})}
	if c.loading == nil {
		c.loading = map[string]*pageLoad{}
	}
	c.loading[lkey] = l
	c.mu.Unlock()

	l.page, l.err = build()

	c.mu.Lock()
	delete(c.loading, lkey)
	if l.err == nil && gen == c.gen {
		c.put(l.page)
	}
	c.mu.Unlock()
	close(l.done)
	return l.page, l.err
}

// put stores p, evicting the least recently used pages over the bound.
// The caller holds c.mu.
func (c *pageCache) put(p *cachedPage) {
	limit := c.maxBytes
	if limit == 0 {
		limit = defaultCacheBytes
	}
	if p.size() > limit/8 {
		return // one page must not push out everything else
	}
	if c.entries == nil {
		c.entries = map[string]*list.Element{}
	}
	if el, ok := c.entries[p.key]; ok {
		c.bytes -= el.Value.(*cachedPage).size()
		c.lru.Remove(el)
	}
	c.entries[p.key] = c.lru.PushFront(p)
	c.bytes += p.size()
	for c.bytes > limit {
		el := c.lru.Back()
		old := el.Value.(*cachedPage)
		c.lru.Remove(el)
		delete(c.entries, old.key)
		c.bytes -= old.size()
	}
}

// generation returns the page generation as read, by read, after the call
// began: a change committed before a request arrived is always seen. Reads
// run one at a time and the requests that arrive while one runs share the
// next, so under load one SQLite query serves many requests (and takes one
// pooled connection, not one per request).
func (c *pageCache) generation(ctx context.Context, read func(context.Context) (int64, error)) (int64, error) {
	c.genMu.Lock()
	if c.genRunning == nil {
		g := &genRead{done: make(chan struct{})}
		c.genRunning = g
		c.genMu.Unlock()
		c.runGen(ctx, g, read)
		return g.n, g.err
	}
	if g := c.genNext; g != nil {
		// It starts after the running one ends, so after this request came.
		c.genMu.Unlock()
		<-g.done
		return g.n, g.err
	}
	g := &genRead{done: make(chan struct{})}
	c.genNext = g
	prev := c.genRunning
	c.genMu.Unlock()
	<-prev.done // prev made g the running read before it closed done
	c.runGen(ctx, g, read)
	return g.n, g.err
}

// runGen reads the generation into g, then lets the next read start.
func (c *pageCache) runGen(ctx context.Context, g *genRead, read func(context.Context) (int64, error)) {
	// Others wait for this read: a leaving client must not cancel it.
	g.n, g.err = read(context.WithoutCancel(ctx))
	c.genMu.Lock()
	c.genRunning, c.genNext = c.genNext, nil
	c.genMu.Unlock()
	close(g.done)
}

// len is the number of pages kept, for tests.
func (c *pageCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// generationSince is generation, skipped while the database's commit mark
// (sqlite.Commits: its WAL-index header, one pread) is the one taken just
// before the last read: then no connection of any process has committed
// since, and the generation read then is still the generation. A mark
// taken before a read pairs with that read's answer, which is at least as
// new as the mark; a later commit changes the mark, and the next request
// reads again. When the mark cannot be had, every request reads.
func (c *pageCache) generationSince(ctx context.Context, commits *sqlite.Commits, read func(context.Context) (int64, error)) (int64, error) {
	m, ok := commits.Mark()
	if ok {
		c.markMu.Lock()
		if c.marked && c.mark == m {
			g := c.markGen
			c.markMu.Unlock()
			return g, nil
		}
		c.markMu.Unlock()
	}
	g, err := c.generation(ctx, read)
	if err == nil && ok {
		c.markMu.Lock()
		c.mark, c.markGen, c.marked = m, g, true
		c.markMu.Unlock()
	}
	return g, err
}

// servePage answers r with the page key: from memory when the copy there
// was rendered at the current page generation, otherwise rendered by build
// (which returns an expected error such as errNotFound to refuse, and is
// not cached then). The answer carries an ETag, a 304 for a matching
// If-None-Match, and the gzip form when the client accepts it.
func (s *Server) servePage(w http.ResponseWriter, r *http.Request, key, cacheControl string, build func(context.Context) ([]byte, error)) {
	gen, err := s.archive.generationSince(r.Context(), s.db.Commits(), s.stories.Generation)
	if err != nil {
		s.error(w, r, err)
		return
	}
	// The render outlives a client that goes away: others may wait for it.
	ctx := context.WithoutCancel(r.Context())
	p, err := s.archive.get(key, gen, func() (*cachedPage, error) {
		b, err := build(ctx)
		if err != nil {
			return nil, err
		}
		return newCachedPage(key, gen, b, cacheControl), nil
	})
	if err != nil {
		s.error(w, r, err)
		return
	}
	p.serve(w, r)
}

// cachedHeaders are the header fields of one form of a cached page, keyed
// canonically and built once: a request copies the slices in, without a
// Header.Set's allocation and canonicalisation each. No handler appends to
// them in place (each slice is full, so an Add would copy).
type cachedHeaders struct {
	etag string
	ok   map[string][]string // a 200's fields
	nm   map[string][]string // a 304's
}

func newCachedHeaders(etag, cacheControl string, bodyLen int, gzip bool) cachedHeaders {
	one := func(v string) []string { return []string{v} }
	h := cachedHeaders{etag: etag,
		nm: map[string][]string{"Vary": one("Accept-Encoding"), "Etag": one(etag), "Cache-Control": one(cacheControl)}}
	h.ok = map[string][]string{"Content-Type": one("text/html; charset=utf-8"), "Content-Length": one(strconv.Itoa(bodyLen))}
	for k, v := range h.nm {
		h.ok[k] = v
	}
	if gzip {
		h.ok["Content-Encoding"] = one("gzip")
	}
	return h
}

func (p *cachedPage) serve(w http.ResponseWriter, r *http.Request) {
	body, hdr := p.body, &p.plain
	if p.gz != nil && acceptsGzip(r.Header.Values("Accept-Encoding")) {
		body, hdr = p.gz, &p.gzipped
	}
	h := w.Header()
	// If-Modified-Since is not answered: a second-resolution date cannot
	// tell two changes in the same second apart, and the ETag can.
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, hdr.etag) {
		for k, v := range hdr.nm {
			h[k] = v
		}
		w.WriteHeader(http.StatusNotModified)
		return
	}
	for k, v := range hdr.ok {
		h[k] = v
	}
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// acceptsGzip reports whether Accept-Encoding values allow gzip: listed
// (or "*", unless gzip itself is refused) with a quality above zero.
func acceptsGzip(values []string) bool {
	gzipQ, starQ := -1.0, -1.0
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			q := 1.0
			for _, param := range strings.Split(params, ";") {
				name, value, ok := strings.Cut(strings.TrimSpace(param), "=")
				if ok && strings.EqualFold(strings.TrimSpace(name), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
						q = f
					}
				}
			}
			switch coding {
			case "gzip", "x-gzip":
				gzipQ = max(gzipQ, q)
			case "*":
				starQ = max(starQ, q)
			}
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return starQ > 0
}

// etagMatches reports whether If-None-Match value inm names etag, by weak
// comparison (RFC 9110, 13.1.2): "*" or any listed tag, W/ or not.
func etagMatches(inm, etag string) bool {
	for _, t := range strings.Split(inm, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
