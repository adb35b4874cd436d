package digest_test

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"bothsides/digest"
)

// FuzzParseImport checks that any input gives either stories that pass the
// rules or an *ImportError, and never panics.
func FuzzParseImport(f *testing.F) {
	f.Add(`{"stories": []}`)
	f.Add(`{"stories": [{"id": "a", "title": "t", "summary": "s", "published_at": "2026-11-27T06:30:00Z", "articles": [{"source": "x", "bias": "center", "url": "https://e.example/a"}]}]}`)
	f.Add(`{"stories": [{"id": "A B", "articles": [{"bias": "leftish", "url": "javascript:x"}]}]}`)
	f.Add("{\"stories\": [\"\xff\"]}")
	f.Add(`[[[[[[[[[[`)
	f.Fuzz(func(t *testing.T, input string) {
		stories, err := digest.ParseImport(strings.NewReader(input))
		if err != nil {
			var ie *digest.ImportError
			if !errors.As(err, &ie) || len(ie.Problems) == 0 {
				t.Fatalf("error %v is not an ImportError with problems", err)
			}
			for _, p := range ie.Problems {
				if p.String() == "" {
					t.Fatal("empty problem line")
				}
			}
			return
		}
		for _, s := range stories {
			if s.ID == "" || s.Title == "" || s.Summary == "" || s.PublishedAt.IsZero() || len(s.Articles) == 0 {
				t.Fatalf("accepted an incomplete story: %+v", s)
			}
			for _, a := range s.Articles {
				if !a.Bias.Valid() || !(strings.HasPrefix(a.URL, "http://") || strings.HasPrefix(a.URL, "https://")) {
					t.Fatalf("accepted a bad article: %+v", a)
				}
			}
		}
	})
}

// TestParseImport_Hostile feeds the import hostile files and checks each
// gets a clear answer within bounded memory.
func TestParseImport_Hostile(t *testing.T) {
	base := func(extra string) string {
		return `{"stories": [{"id": "x", "title": "T", "summary": "S", "published_at": "2026-11-27T06:30:00Z", ` +
			`"articles": [{"source": "O", "bias": "center", "url": "https://example.com/"}]` + extra + `}]}`
	}
	tests := []struct {
		name  string
		input func() string
		want  string // "" means it must import
	}{
		{"ScriptInTitle", func() string {
			return strings.Replace(base(""), `"title": "T"`, `"title": "<script>alert(1)</script>"`, 1)
		}, ""},
		{"CRLFInSource", func() string {
			return strings.Replace(base(""), `"source": "O"`, `"source": "O\r\nBcc: x@example.com"`, 1)
		}, ""},
		{"TenMegabyteField", func() string {
			return strings.Replace(base(""), `"summary": "S"`, `"summary": "`+strings.Repeat("a", 10<<20)+`"`, 1)
		}, `summary: is 10485760 characters long, at most 20000 allowed`},
		{"DeeplyNested", func() string {
			return `{"stories": ` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`
		}, "malformed JSON"},
		{"NestedInField", func() string {
			return strings.Replace(base(""), `"summary": "S"`, `"summary": `+strings.Repeat(`{"a":`, 5000)+"1"+strings.Repeat("}", 5000), 1)
		}, "summary: must be a string"},
		{"TooLarge", func() string {
			return `{"stories": ["` + strings.Repeat("a", digest.MaxImportBytes) + `"]}`
		}, "file is larger than 64 MiB"},
		{"InvalidUTF8InTitle", func() string {
			return strings.Replace(base(""), `"title": "T"`, "\"title\": \"a\xc3\x28\"", 1)
		}, "invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stories, err := digest.ParseImport(strings.NewReader(tt.input()))
			if tt.want == "" {
				if err != nil || len(stories) != 1 {
					t.Fatalf("err=%v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err=%.300v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestParseImport_ManyStories imports a 100,000-story file and checks the
// memory it takes stays within a small multiple of the file's size.
func TestParseImport_ManyStories(t *testing.T) {
	if testing.Short() {
		t.Skip("large input")
	}
	var b bytes.Buffer
	b.WriteString(`{"stories": [`)
	for i := range 100000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id": "s-%d", "title": "Story %d", "summary": "S", "published_at": "2026-11-27T06:30:00Z", "articles": [{"source": "O", "bias": "center", "url": "https://example.com/%d"}]}`, i, i, i)
	}
	b.WriteString(`]}`)
	size := b.Len()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	stories, err := digest.ParseImport(&b)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(stories), 100000; got != want {
		t.Fatalf("stories=%d, want %d", got, want)
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("file %d MB, allocated %d MB while parsing", size>>20, allocated>>20)
	// Total allocation, not live memory: a generous bound that still catches
	// quadratic behaviour.
	if limit := uint64(size) * 40; allocated > limit {
		t.Fatalf("parsing allocated %d bytes for a %d-byte file (limit %d)", allocated, size, limit)
	}
}
