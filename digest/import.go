package digest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of the import format.
const (
	MaxImportBytes  = 64 << 20
	MaxIDLen        = 100
	MaxTitleLen     = 300
	MaxOverview     = 10
	maxFieldRunes   = 20000
	maxArticles     = 500
	maxURLLen       = 2048
	maxTopicRunes   = 60
	maxTopics       = 10
	maxFAQ          = 20
	maxImportErrors = 200
)

var idPattern = regexp.MustCompile(`^[a-z0-9-]{1,100}$`)

// Problem is one thing wrong with an import file. Story is the story's
// zero-based index in the file, or -1 for a problem with the file itself.
type Problem struct {
	Story int
	ID    string
	Field string
	Msg   string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Story >= 0 {
		if p.ID != "" {
			fmt.Fprintf(&b, "story %d (%q): ", p.Story, p.ID)
		} else {
			fmt.Fprintf(&b, "story %d: ", p.Story)
		}
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// ImportError lists every problem found in an import file; nothing of the
// file was imported.
type ImportError struct {
	Problems []Problem
}

func (e *ImportError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// ParseImport reads and validates an import file. It returns every story, or
// an *ImportError naming every problem found.
func ParseImport(r io.Reader) ([]Story, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxImportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read import: %w", err)
	}
	if len(data) > MaxImportBytes {
		return nil, fileProblem("", fmt.Sprintf("file is larger than %d MiB", MaxImportBytes>>20))
	}
	if !utf8.Valid(data) {
		off := invalidUTF8Offset(data)
		line, col := lineCol(data, off)
		return nil, fileProblem("", fmt.Sprintf("line %d, column %d: invalid UTF-8", line, col))
	}
	if !json.Valid(data) {
		// Decode again to learn where: json.Valid says only yes or no.
		var v any
		err := json.Unmarshal(data, &v)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := lineCol(data, int(se.Offset))
			return nil, fileProblem("", fmt.Sprintf("line %d, column %d: malformed JSON: %s", line, col, strings.TrimPrefix(se.Error(), "json: ")))
		}
		return nil, fileProblem("", "malformed JSON")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fileProblem("", `the file must be a JSON object {"stories": [...]}`)
	}
	var probs []Problem
	for k := range top {
		if k != "stories" {
			probs = append(probs, Problem{Story: -1, Field: k, Msg: "unknown field"})
		}
	}
	raw, ok := top["stories"]
	if !ok {
		probs = append(probs, Problem{Story: -1, Field: "stories", Msg: "is required"})
		return nil, &ImportError{Problems: probs}
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		probs = append(probs, Problem{Story: -1, Field: "stories", Msg: "must be an array of story objects"})
		return nil, &ImportError{Problems: probs}
	}
	slices.SortFunc(probs, func(a, b Problem) int { return strings.Compare(a.Field, b.Field) })
	stories := make([]Story, 0, len(items))
	firstIndex := map[string]int{}
	for i, item := range items {
		v := &validator{index: i}
		st := v.story(item)
		if st.ID != "" {
			if j, dup := firstIndex[st.ID]; dup {
				v.add("id", fmt.Sprintf("duplicate id: also story %d", j))
			} else {
				firstIndex[st.ID] = i
			}
		}
		probs = append(probs, v.probs...)
		stories = append(stories, st)
		if len(probs) >= maxImportErrors {
			probs = append(probs, Problem{Story: -1, Msg: "too many problems; stopped checking"})
			break
		}
	}
	if len(probs) > 0 {
		return nil, &ImportError{Problems: probs}
	}
	return stories, nil
}

func fileProblem(field, msg string) error {
	return &ImportError{Problems: []Problem{{Story: -1, Field: field, Msg: msg}}}
}

func lineCol(data []byte, off int) (line, col int) {
	if off > len(data) {
		off = len(data)
	}
	line = 1 + bytes.Count(data[:off], []byte("\n"))
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	col = 1 + utf8.RuneCount(data[start:off])
	return line, col
}

func invalidUTF8Offset(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(data)
}

// validator checks one story and collects its problems.
type validator struct {
	index int
	id    string
	probs []Problem
}

func (v *validator) add(field, msg string) {
	v.probs = append(v.probs, Problem{Story: v.index, ID: v.id, Field: field, Msg: msg})
}

type object map[string]json.RawMessage

func (v *validator) object(field string, raw json.RawMessage, allowed ...string) object {
	var o object
	if err := json.Unmarshal(raw, &o); err != nil || o == nil {
		v.add(field, "must be an object")
		return nil
	}
	var unknown []string
	for k := range o {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		v.add(join(field, k), "unknown field")
	}
	return o
}

func join(parent, field string) string {
	if parent == "" {
		return field
	}
	return parent + "." + field
}

// text reads a string field; with required, absent or blank is a problem.
func (v *validator) text(o object, parent, key string, required bool, maxRunes int) string {
	field := join(parent, key)
	raw, ok := o[key]
	if !ok || string(raw) == "null" {
		if required {
			v.add(field, "is required")
		}
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		v.add(field, "must be a string")
		return ""
	}
	if required && strings.TrimSpace(s) == "" {
		v.add(field, "must not be empty")
	}
	if n := utf8.RuneCountInString(s); n > maxRunes {
		v.add(field, fmt.Sprintf("is %d characters long, at most %d allowed", n, maxRunes))
	}
	if strings.ContainsRune(s, 0) {
		v.add(field, "must not contain NUL characters")
	}
	return s
}

func (v *validator) time(o object, parent, key string, required bool) time.Time {
	field := join(parent, key)
	s := v.text(o, parent, key, required, 64)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		v.add(field, fmt.Sprintf("%q is not an RFC 3339 time such as 2026-11-27T06:30:00Z", s))
		return time.Time{}
	}
	// Times are stored to the second; keep what is compared the same.
	return t.UTC().Truncate(time.Second)
}

func (v *validator) strings(o object, key string, maxItems, maxRunes int) []string {
	raw, ok := o[key]
	if !ok || string(raw) == "null" {
		return nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		v.add(key, "must be an array of strings")
		return nil
	}
	if len(list) > maxItems {
		v.add(key, fmt.Sprintf("has %d items, at most %d allowed", len(list), maxItems))
	}
	out := make([]string, 0, len(list))
	for i, item := range list {
		field := fmt.Sprintf("%s[%d]", key, i)
		var s string
		if err := json.Unmarshal(item, &s); err != nil {
			v.add(field, "must be a string")
			continue
		}
		if strings.TrimSpace(s) == "" {
			v.add(field, "must not be empty")
			continue
		}
		if n := utf8.RuneCountInString(s); n > maxRunes {
			v.add(field, fmt.Sprintf("is %d characters long, at most %d allowed", n, maxRunes))
		}
		out = append(out, s)
	}
	return out
}

func (v *validator) array(o object, key string, required bool, maxItems int) []json.RawMessage {
	raw, ok := o[key]
	if !ok || string(raw) == "null" {
		if required {
			v.add(key, "is required")
		}
		return nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		v.add(key, "must be an array")
		return nil
	}
	if len(list) > maxItems {
		v.add(key, fmt.Sprintf("has %d items, at most %d allowed", len(list), maxItems))
		list = list[:maxItems]
	}
	return list
}

func (v *validator) story(raw json.RawMessage) Story {
	var st Story
	// Read the id first so that every problem can name the story.
	var probe struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(raw, &probe) == nil {
		if s, ok := probe.ID.(string); ok {
			v.id = s
		}
	}
	o := v.object("", raw, "id", "title", "summary", "published_at", "updated_at",
		"topics", "overview", "framing", "articles", "faq")
	if o == nil {
		return st
	}
	st.ID = v.text(o, "", "id", true, MaxIDLen+1000)
	if st.ID != "" && !idPattern.MatchString(st.ID) {
		v.add("id", fmt.Sprintf("%q must be 1 to %d characters of a-z, 0-9 and '-'", st.ID, MaxIDLen))
	}
	st.Title = v.text(o, "", "title", true, MaxTitleLen)
	st.Summary = v.text(o, "", "summary", true, maxFieldRunes)
	st.PublishedAt = v.time(o, "", "published_at", true)
	st.UpdatedAt = v.time(o, "", "updated_at", false)
	if !st.UpdatedAt.IsZero() && !st.PublishedAt.IsZero() && st.UpdatedAt.Before(st.PublishedAt) {
		v.add("updated_at", "is before published_at")
	}
	st.Topics = v.strings(o, "topics", maxTopics, maxTopicRunes)
	st.Overview = v.strings(o, "overview", MaxOverview, maxFieldRunes)
	if raw, ok := o["framing"]; ok && string(raw) != "null" {
		if f := v.object("framing", raw, "left", "center", "right"); f != nil {
			st.Framing.Left = v.text(f, "framing", "left", false, maxFieldRunes)
			st.Framing.Center = v.text(f, "framing", "center", false, maxFieldRunes)
			st.Framing.Right = v.text(f, "framing", "right", false, maxFieldRunes)
		}
	}
	arts := v.array(o, "articles", true, maxArticles)
	if arts != nil && len(arts) == 0 {
		v.add("articles", "needs at least one article")
	}
	for i, raw := range arts {
		field := fmt.Sprintf("articles[%d]", i)
		a := v.object(field, raw, "source", "bias", "url", "title", "published_at")
		if a == nil {
			continue
		}
		art := Article{
			Source:      v.text(a, field, "source", true, 200),
			Bias:        Bias(v.text(a, field, "bias", true, 64)),
			URL:         v.text(a, field, "url", true, maxURLLen),
			Title:       v.text(a, field, "title", false, MaxTitleLen),
			PublishedAt: v.time(a, field, "published_at", false),
		}
		if art.Bias != "" && !art.Bias.Valid() {
			v.add(field+".bias", fmt.Sprintf("%q is not one of %s", string(art.Bias), biasChoice))
		}
		if art.URL != "" {
			if msg := checkURL(art.URL); msg != "" {
				v.add(field+".url", fmt.Sprintf("%q %s", art.URL, msg))
			}
		}
		st.Articles = append(st.Articles, art)
	}
	for i, raw := range v.array(o, "faq", false, maxFAQ) {
		field := fmt.Sprintf("faq[%d]", i)
		q := v.object(field, raw, "question", "answer")
		if q == nil {
			continue
		}
		st.FAQ = append(st.FAQ, FAQ{
			Question: v.text(q, field, "question", true, 1000),
			Answer:   v.text(q, field, "answer", true, maxFieldRunes),
		})
	}
	return st
}

func checkURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "is not an absolute http(s) URL"
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "is not an absolute http(s) URL"
	}
	if strings.ContainsAny(s, " \t\r\n\"<>") {
		return "contains spaces, quotes or angle brackets"
	}
	return ""
}
