package feeds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultUserAgent names bothsides and its version; an operator with a
// public site adds its URL (see internal/cli's ingester).
const DefaultUserAgent = "bothsides/" + Version + " (news digest feed reader)"

// Version is bothsides' version as the fetcher announces it.
const Version = "0.15"

// FetchConfig configures a Fetcher. Zero values take the defaults noted.
type FetchConfig struct {
	// Timeout bounds one feed's fetch: connecting, redirects and reading
	// the whole body. Default 30s.
	Timeout time.Duration
	// MaxBytes caps a feed's body, after decompression. Default 5 MB.
	MaxBytes int64
	// MaxRedirects is how many redirects a fetch follows. Default 5.
	MaxRedirects int
	// AllowPrivate lets the fetcher dial loopback, private and link-local
	// addresses (tests, a feed on the operator's own network).
	AllowPrivate bool
	// Refuse says what kind of address one is that must not be dialled,
	// or "" to allow it; default NonPublic. Ignored with AllowPrivate.
	// Tests replace it to refuse some loopback addresses and not others.
	Refuse func(netip.Addr) string
	// UserAgent is sent with every request; default DefaultUserAgent.
	UserAgent string
	// Transport, when set, replaces the dialling transport (and so the
	// address checks): the demo serves embedded feeds through it.
	Transport http.RoundTripper
}

// Fetcher fetches feeds politely and safely: conditional GET, gzip, a
// timeout and a size cap per response, one request at a time per host,
// only http and https, and no private addresses unless allowed.
type Fetcher struct {
	cfg    FetchConfig
	client *http.Client
	mu     sync.Mutex
	hosts  map[string]*hostLock
}

type hostLock struct {
	ch    chan struct{}
	users int
}

// NewFetcher returns a fetcher with cfg's defaults applied.
func NewFetcher(cfg FetchConfig) *Fetcher {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 5 << 20
	}
	if cfg.MaxRedirects <= 0 {
		cfg.MaxRedirects = 5
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	refuse := cfg.Refuse
	if refuse == nil {
		refuse = NonPublic
	}
	if cfg.AllowPrivate {
		refuse = func(netip.Addr) string { return "" }
	}
	cfg.Refuse = refuse
	rt := cfg.Transport
	if rt == nil {
		d := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second, Control: dialControl(refuse)}
		rt = &http.Transport{
			Proxy:                 nil, // a proxy would dial for us and skip the address check
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          20,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: cfg.Timeout,
		}
	}
	f := &Fetcher{cfg: cfg, hosts: map[string]*hostLock{}}
	f.client = &http.Client{Transport: rt, CheckRedirect: f.checkRedirect}
	return f
}

// checkRedirect caps redirects, refuses a loop, a scheme other than http
// and https, and a literal private address.
func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	for _, prev := range via {
		if prev.URL.String() == req.URL.String() {
			return fmt.Errorf("redirect loop: back to %s after %d redirects", req.URL, len(via))
		}
	}
	if len(via) > f.cfg.MaxRedirects {
		return fmt.Errorf("more than %d redirects (last to %s)", f.cfg.MaxRedirects, req.URL)
	}
	if s := req.URL.Scheme; s != "http" && s != "https" {
		return fmt.Errorf("%w: redirect to %s: only http and https are fetched", ErrRefused, req.URL)
	}
	if err := checkLiteral(req.URL.Hostname(), f.cfg.Refuse); err != nil {
		return fmt.Errorf("redirect to %s: %w", req.URL, err)
	}
	return nil
}

// Response is what a fetch brought back.
type Response struct {
	// NotModified is set for a 304: Body is empty and nothing changed.
	NotModified bool
	Body        []byte
	ContentType string
	// URL is the final URL after redirects, for resolving relative links.
	URL          *url.URL
	ETag         string
	LastModified string
}

// StatusError is a response that was neither 2xx nor 304. RetryAfter is
// the server's Retry-After for a 429 or 503, when it gave one.
type StatusError struct {
	Code       int
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("HTTP %d %s", e.Code, http.StatusText(e.Code))
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (Retry-After %s)", e.RetryAfter)
	}
	return msg
}

// ErrTooLarge is wrapped when a feed is larger than MaxBytes.
var ErrTooLarge = errors.New("feed too large")

// Fetch GETs feed's URL with its validators (If-None-Match,
// If-Modified-Since), waiting first for any request to the same host to
// finish. now is used to read a Retry-After date.
func (f *Fetcher) Fetch(ctx context.Context, feed Feed, now time.Time) (*Response, error) {
	u, err := url.Parse(feed.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%w: %q: only http and https URLs are fetched", ErrRefused, feed.URL)
	}
	if err := checkLiteral(u.Hostname(), f.cfg.Refuse); err != nil {
		return nil, err
	}
	unlock, err := f.lockHost(ctx, strings.ToLower(u.Hostname()))
	if err != nil {
		return nil, err
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", f.cfg.UserAgent)
	req.Header.Set("Accept", "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5")
	if feed.ETag != "" {
		req.Header.Set("If-None-Match", feed.ETag)
	}
	if feed.LastModified != "" {
		req.Header.Set("If-Modified-Since", feed.LastModified)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, f.explain(ctx, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return &Response{NotModified: true, URL: resp.Request.URL, ETag: feed.ETag, LastModified: feed.LastModified}, nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		se := &StatusError{Code: resp.StatusCode}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			se.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), now)
		}
		return nil, se
	}
	if resp.ContentLength > f.cfg.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes announced, the limit is %s (--ingest-max-bytes)", ErrTooLarge, resp.ContentLength, sizeText(f.cfg.MaxBytes))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.cfg.MaxBytes+1))
	if err != nil {
		return nil, f.explain(ctx, err)
	}
	if int64(len(body)) > f.cfg.MaxBytes {
		return nil, fmt.Errorf("%w: more than %s (--ingest-max-bytes); stopped reading", ErrTooLarge, sizeText(f.cfg.MaxBytes))
	}
	return &Response{Body: body, ContentType: resp.Header.Get("Content-Type"), URL: resp.Request.URL,
		ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}, nil
}

// explain turns a transport error into one that says what happened.
func (f *Fetcher) explain(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %s (--ingest-timeout): %w", f.cfg.Timeout, context.DeadlineExceeded)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err // the feed's URL is known to whoever reads it
	}
	return err
}

// lockHost waits until no other request to host runs, or ctx ends.
func (f *Fetcher) lockHost(ctx context.Context, host string) (func(), error) {
	f.mu.Lock()
	l := f.hosts[host]
	if l == nil {
		l = &hostLock{ch: make(chan struct{}, 1)}
		f.hosts[host] = l
	}
	l.users++
	f.mu.Unlock()
	release := func() {
		f.mu.Lock()
		if l.users--; l.users == 0 {
			delete(f.hosts, host)
		}
		f.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}

func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
