package sample

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"
)

// feedFS holds the demo's outlets (feeds/sources.csv) and their feeds, one
// folder per host with the feed at its URL's path.
//
//go:embed feeds
var feedFS embed.FS

// SourcesCSV is the demo's outlets as a sources import file: fictional
// outlets over the seven biases and one unrated, their ratings made up for
// the demo.
func SourcesCSV() []byte {
	b, err := feedFS.ReadFile("feeds/sources.csv")
	if err != nil {
		panic(err) // embedded: cannot fail
	}
	return b
}

// FeedsWritten is the moment the sample feeds were written for: their
// newest item is 45 minutes older.
var FeedsWritten = time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC)

// Dates as the sample feeds write them: RFC 1123 with a numeric zone in
// RSS, RFC 3339 in Atom and JSON Feed.
var (
	rfc1123Date = regexp.MustCompile(`[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000`)
	rfc3339Date = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z`)
)

// FeedTransport answers requests for the sample feeds' URLs from the
// embedded files, as a web server would: with a Content-Type and an ETag,
// 304 to a request that has it, 404 for anything else. Every date in a
// feed is moved by shift, so that the demo's articles are fresh.
func FeedTransport(shift time.Duration) http.RoundTripper {
	return feedTransport{shift: shift}
}

type feedTransport struct{ shift time.Duration }

func (t feedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	b, err := fs.ReadFile(feedFS, path.Join("feeds", strings.ToLower(req.URL.Hostname()), path.Clean("/"+req.URL.Path)))
	if err != nil || req.Method != http.MethodGet {
		return respond(req, http.StatusNotFound, nil, nil), nil
	}
	b = t.shiftDates(b)
	etag := fmt.Sprintf(`"%x"`, sha256.Sum256(b))[:18] + `"`
	h := http.Header{"Etag": {etag}}
	if req.Header.Get("If-None-Match") == etag {
		return respond(req, http.StatusNotModified, h, nil), nil
	}
	h.Set("Content-Type", "application/xml")
	if path.Ext(req.URL.Path) == ".json" {
		h.Set("Content-Type", "application/feed+json")
	}
	return respond(req, http.StatusOK, h, b), nil
}

func (t feedTransport) shiftDates(b []byte) []byte {
	b = rfc1123Date.ReplaceAllFunc(b, func(m []byte) []byte {
		d, err := time.Parse(time.RFC1123Z, string(m))
		if err != nil {
			return m
		}
		return []byte(d.Add(t.shift).UTC().Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	})
	return rfc3339Date.ReplaceAllFunc(b, func(m []byte) []byte {
		d, err := time.Parse(time.RFC3339, string(m))
		if err != nil {
			return m
		}
		return []byte(d.Add(t.shift).UTC().Format(time.RFC3339))
	})
}

func respond(req *http.Request, code int, h http.Header, body []byte) *http.Response {
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{Status: fmt.Sprintf("%d %s", code, http.StatusText(code)), StatusCode: code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h, Request: req,
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
}
