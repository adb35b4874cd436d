package feeds

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"bothsides/digest"
)

// Expected errors, wrapped with the details.
var (
	// ErrInvalid is wrapped by every validation failure of a source.
	ErrInvalid = errors.New("invalid source")
	// ErrNotFound is returned for a source name that does not exist.
	ErrNotFound = errors.New("source not found")
	// ErrExists is returned when a name or a feed URL is taken.
	ErrExists = errors.New("source exists")
)

// Unrated is the bias of a source nobody has rated: its articles count in
// a story's articles but not in the left/center/right split.
const Unrated = "unrated"

// BiasChoices lists the accepted biases, for error messages and help.
const BiasChoices = "far-left, left, lean-left, center, lean-right, right, far-right, unrated"

// FactualityChoices lists the accepted factuality ratings (or none).
const FactualityChoices = "very-low, low, mixed, high, very-high"

// Limits of a source's fields.
const (
	MaxNameLen  = 80
	MaxFieldLen = 200
	MaxFeeds    = 20
	MaxURLLen   = 2048
)

// Source is an outlet with its rating and its feeds.
type Source struct {
	ID         int64
	Name       string
	Domain     string
	Bias       string // digest.Bias values, or Unrated
	Factuality string // FactualityChoices, or empty
	Owner      string
	RatedBy    string
	RatedOn    string // YYYY-MM-DD, or empty
	Feeds      []Feed
}

// Feed is one feed of a source, with the fetcher's state.
type Feed struct {
	ID           int64
	SourceID     int64
	URL          string
	ETag         string
	LastModified string
	LastFetch    time.Time
	LastSuccess  time.Time
	LastError    string
	Notes        string // item-level problems of the last fetch
	Failures     int    // in a row
	NextFetch    time.Time
	ItemCount    int
}

// FeedURLs returns the URLs of s's feeds.
func (s Source) FeedURLs() []string {
	urls := make([]string, len(s.Feeds))
	for i, f := range s.Feeds {
		urls[i] = f.URL
	}
	return urls
}

// Side is the side the source's articles count for; empty when unrated.
func (s Source) Side() digest.Side {
	if s.Bias == Unrated {
		return ""
	}
	return digest.Bias(s.Bias).Side()
}

// Normalize trims s's fields and checks them: an error naming each field
// that is wrong (and the choices, for a bias or factuality).
func (s *Source) Normalize() error {
	s.Name = strings.TrimSpace(s.Name)
	s.Domain = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s.Domain), "."))
	s.Bias = strings.ToLower(strings.TrimSpace(s.Bias))
	s.Factuality = strings.ToLower(strings.TrimSpace(s.Factuality))
	s.Owner = strings.TrimSpace(s.Owner)
	s.RatedBy = strings.TrimSpace(s.RatedBy)
	s.RatedOn = strings.TrimSpace(s.RatedOn)
	var bad []string
	switch {
	case s.Name == "":
		bad = append(bad, "name is empty")
	case utf8.RuneCountInString(s.Name) > MaxNameLen:
		bad = append(bad, fmt.Sprintf("name is longer than %d characters", MaxNameLen))
	case hasControl(s.Name):
		bad = append(bad, fmt.Sprintf("name %q contains a control character", short(s.Name)))
	}
	if err := checkDomain(s.Domain); err != nil {
		bad = append(bad, err.Error())
	}
	if s.Bias != Unrated && !digest.Bias(s.Bias).Valid() {
		if s.Bias == "" {
			bad = append(bad, "bias is missing: want one of "+BiasChoices)
		} else {
			bad = append(bad, fmt.Sprintf("bias %q: want one of %s", short(s.Bias), BiasChoices))
		}
	}
	if s.Factuality != "" && !strings.Contains(", "+FactualityChoices+", ", ", "+s.Factuality+", ") {
		bad = append(bad, fmt.Sprintf("factuality %q: want one of %s, or nothing", short(s.Factuality), FactualityChoices))
	}
	for _, f := range []struct{ name, v string }{{"owner", s.Owner}, {"rated-by", s.RatedBy}} {
		if utf8.RuneCountInString(f.v) > MaxFieldLen || hasControl(f.v) {
			bad = append(bad, fmt.Sprintf("%s: want at most %d characters without control characters", f.name, MaxFieldLen))
		}
	}
	if s.RatedOn != "" {
		if _, err := time.Parse("2006-01-02", s.RatedOn); err != nil {
			bad = append(bad, fmt.Sprintf("rated-on %q: want a date YYYY-MM-DD", short(s.RatedOn)))
		}
	}
	if (s.RatedBy == "") != (s.RatedOn == "") {
		bad = append(bad, "rated-by and rated-on go together: give both or neither")
	}
	if len(s.Feeds) > MaxFeeds {
		bad = append(bad, fmt.Sprintf("%d feeds: want at most %d", len(s.Feeds), MaxFeeds))
	}
	seen := map[string]bool{}
	for i := range s.Feeds {
		u, err := checkFeedURL(s.Feeds[i].URL)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		if seen[u] {
			bad = append(bad, fmt.Sprintf("feed %s is listed twice", u))
		}
		seen[u] = true
		s.Feeds[i].URL = u
	}
	if len(bad) > 0 {
		name := short(s.Name)
		if name == "" {
			name = "(no name)"
		}
		return fmt.Errorf("%w %q: %s", ErrInvalid, name, strings.Join(bad, "; "))
	}
	return nil
}

// checkDomain accepts a host name such as example.com.
func checkDomain(d string) error {
	if d == "" {
		return errors.New("domain is missing: want a host name such as example.com")
	}
	if len(d) > 253 {
		return fmt.Errorf("domain %q: longer than 253 characters", short(d))
	}
	if strings.ContainsAny(d, "/:@ ") || !strings.Contains(d, ".") {
		return fmt.Errorf("domain %q: want a host name such as example.com (no scheme, path or port)", d)
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return fmt.Errorf("domain %q: want a host name such as example.com", d)
		}
		for _, r := range label {
			if !(r == '-' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > unicode.MaxASCII && unicode.IsLetter(r)) {
				return fmt.Errorf("domain %q: want a host name such as example.com", d)
			}
		}
	}
	return nil
}

// checkFeedURL accepts an absolute http or https URL, returned with its
// scheme and host lower-cased.
func checkFeedURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if len(raw) > MaxURLLen {
		return "", fmt.Errorf("feed URL %q: longer than %d characters", short(raw), MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return "", fmt.Errorf("feed URL %q: want an absolute http or https URL", raw)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("feed URL %q: only http and https are fetched", raw)
	}
	if u.Host == "" || u.User != nil {
		return "", fmt.Errorf("feed URL %q: want an absolute URL with a host and no user name", raw)
	}
	u.Host = strings.ToLower(u.Host)
	u.Fragment = ""
	return u.String(), nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}
