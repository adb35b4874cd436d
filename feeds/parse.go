package feeds

import (
	"bytes"
	"fmt"
	"mime"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"
	"golang.org/x/net/html/charset"
)

// Parsed is a feed document read into normalised items, with a note for
// each item that was skipped or repaired.
type Parsed struct {
	Items []Item
	Notes []string
}

// xmlEncoding finds the encoding an XML declaration names.
var xmlEncoding = regexp.MustCompile(`^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']`)

// Parse reads body (RSS 0.9 to 2.0, Atom or JSON Feed) into items. base
// resolves relative links; now is the first-seen time, used for an item
// without a valid date and to clamp dates in the future. The charset comes
// from the XML declaration, else from contentType's charset, else UTF-8;
// bytes that are not valid in it are an error, not replacement characters.
func Parse(body []byte, contentType string, base *url.URL, now time.Time) (*Parsed, error) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fmt.Errorf("empty document: no feed in it")
	}
	declared := ""
	head := body[:min(len(body), 512)]
	if m := xmlEncoding.FindSubmatch(head); m != nil {
		declared = strings.ToLower(string(m[1]))
	}
	httpCharset := ""
	if _, params, err := mime.ParseMediaType(contentType); err == nil {
		httpCharset = strings.ToLower(params["charset"])
	}
	switch {
	case declared != "" && !isUTF8(declared):
		// The XML decoder converts it, through the same charset tables.
		if _, name := charset.Lookup(declared); name == "" {
			return nil, fmt.Errorf("the feed declares encoding %q, which is not a known charset", declared)
		}
	case declared == "" && httpCharset != "" && !isUTF8(httpCharset):
		enc, name := charset.Lookup(httpCharset)
		if enc == nil {
			return nil, fmt.Errorf("Content-Type charset %q is not a known charset", httpCharset)
		}
		b, err := enc.NewDecoder().Bytes(body)
		if err != nil {
			return nil, fmt.Errorf("decode the feed as %s (Content-Type): %w", name, err)
		}
		body = b
	default:
		if !utf8.Valid(body) {
			at := invalidAt(body)
			line := bytes.Count(body[:at], []byte("\n")) + 1
			return nil, fmt.Errorf("not valid UTF-8 at line %d (byte %d), and neither the XML declaration nor the Content-Type names another charset: a wrong charset?", line, at)
		}
	}
	feed, err := gofeed.NewParser().Parse(bytes.NewReader(body))
	if err != nil {
		if mt, _, _ := mime.ParseMediaType(contentType); mt == "text/html" {
			return nil, fmt.Errorf("the URL serves an HTML page, not a feed: point the source at its RSS, Atom or JSON feed (%v)", err)
		}
		return nil, fmt.Errorf("parse feed: %w", err)
	}
	p := &Parsed{}
	if feed.Link != "" && base == nil {
		base, _ = url.Parse(feed.Link)
	}
	byGUID, byURL := map[string]int{}, map[string]int{}
	for i, it := range feed.Items {
		item, note, err := normalizeItem(it, base, now)
		label := fmt.Sprintf("item %d", i+1)
		if t := PlainText(it.Title, 60); t != "" {
			label += fmt.Sprintf(" (%q)", t)
		}
		if err != nil {
			p.Notes = append(p.Notes, fmt.Sprintf("%s skipped: %v", label, err))
			continue
		}
		if j, ok := byGUID[item.GUID]; ok {
			p.Notes = append(p.Notes, fmt.Sprintf("%s skipped: same GUID %q as item %d", label, short(item.GUID), j))
			continue
		}
		if j, ok := byURL[item.URL]; ok {
			p.Notes = append(p.Notes, fmt.Sprintf("%s skipped: same link as item %d", label, j))
			continue
		}
		byGUID[item.GUID], byURL[item.URL] = i+1, i+1
		if note != "" {
			p.Notes = append(p.Notes, label+": "+note)
		}
		p.Items = append(p.Items, item)
	}
	return p, nil
}

func isUTF8(name string) bool {
	return name == "utf-8" || name == "utf8" || name == "us-ascii" || name == "ascii"
}

func invalidAt(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// normalizeItem turns a parsed item into an Item: canonical URL, plain
// text, published time from the feed or now, never later than now. note
// says what was repaired.
func normalizeItem(it *gofeed.Item, base *url.URL, now time.Time) (Item, string, error) {
	var notes []string
	link := it.Link
	if link == "" && len(it.Links) > 0 {
		link = it.Links[0]
	}
	if link == "" && (strings.HasPrefix(it.GUID, "http://") || strings.HasPrefix(it.GUID, "https://")) {
		link = it.GUID
	}
	if link == "" {
		return Item{}, "", fmt.Errorf("no link")
	}
	u, err := CanonicalURL(link, base)
	if err != nil {
		return Item{}, "", err
	}
	item := Item{URL: u, GUID: strings.TrimSpace(it.GUID)}
	if item.GUID == "" {
		item.GUID = u
	}
	if len(item.GUID) > MaxURLLen {
		item.GUID = item.GUID[:MaxURLLen]
	}
	item.Title = PlainText(it.Title, MaxTitleLen)
	desc := it.Description
	if PlainText(desc, 1) == "" {
		desc = it.Content
	}
	item.Description = PlainText(desc, MaxDescriptionLen)
	if item.Title == "" {
		if item.Description == "" {
			return Item{}, "", fmt.Errorf("no title and no description")
		}
		item.Title = cut(item.Description, 120)
		notes = append(notes, "no title: the description's start is used")
	}
	seen := map[string]bool{}
	for _, c := range it.Categories {
		c = PlainText(c, MaxCategoryLen)
		if c == "" || seen[strings.ToLower(c)] || len(item.Categories) == MaxCategories {
			continue
		}
		seen[strings.ToLower(c)] = true
		item.Categories = append(item.Categories, c)
	}
	var published *time.Time
	raw := ""
	switch {
	case it.PublishedParsed != nil:
		published = it.PublishedParsed
	case it.UpdatedParsed != nil:
		published = it.UpdatedParsed
	case it.Published != "":
		raw = it.Published
	case it.Updated != "":
		raw = it.Updated
	}
	switch {
	case published == nil && raw != "":
		item.Published = now
		notes = append(notes, fmt.Sprintf("date %q is not a date; first seen used", short(raw)))
	case published == nil:
		item.Published = now
	case published.After(now):
		item.Published = now
		notes = append(notes, fmt.Sprintf("date %s is in the future; now used", published.UTC().Format(time.RFC3339)))
	case published.Year() < 1995:
		item.Published = now
		notes = append(notes, fmt.Sprintf("date %s is before the web had feeds; first seen used", published.UTC().Format(time.RFC3339)))
	default:
		item.Published = published.UTC()
	}
	item.Published = item.Published.Truncate(time.Second)
	return item, strings.Join(notes, "; "), nil
}
