package subscribers_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"bothsides/subscribers"
)

// FuzzParseCSV checks that any import file gives either a file-level error,
// or valid rows and bad rows that each name their line, and never panics.
func FuzzParseCSV(f *testing.F) {
	f.Add("email,name,timezone,topics\nana@example.com,Ana,Europe/Paris,Economy;Climate\n")
	f.Add("\xef\xbb\xbfEmail , Name\n\"bo@example.com\",\"Bo \"\"B\"\"\"\n")
	f.Add("email,name\nana@example.com,\"line\r\nbreak\"\nbo@example.com,=HYPERLINK(\"x\")\n")
	f.Add("email\n\xff@example.com\n<script>@example.com\n")
	f.Add("email,name\nana@example.com\nbo@example.com,a,b\n\"unterminated\n")
	f.Add("ana@example.com,Ana\n")
	f.Add("email,email\n")
	f.Fuzz(func(t *testing.T, input string) {
		rows, bad, err := subscribers.ParseCSV(strings.NewReader(input))
		if err != nil {
			if rows != nil || bad != nil {
				t.Fatalf("file error %v came with rows", err)
			}
			if err.Error() == "" {
				t.Fatal("empty file error")
			}
			return
		}
		seen := map[string]bool{}
		for _, r := range rows {
			if r.Line < 1 {
				t.Fatalf("row %+v has no line", r)
			}
			again, err := subscribers.NormalizeAddress(r.Email)
			if err != nil || again != r.Email {
				t.Fatalf("accepted address %q does not normalise to itself: %q, %v", r.Email, again, err)
			}
			if _, err := subscribers.CleanName(r.Name); err != nil {
				t.Fatalf("accepted name %q: %v", r.Name, err)
			}
			if k := strings.ToLower(r.Email); seen[k] {
				t.Fatalf("address %q accepted twice", r.Email)
			} else {
				seen[k] = true
			}
		}
		for _, b := range bad {
			if b.Line < 1 || b.Reason == "" || !utf8.ValidString(b.Error()) && utf8.ValidString(input) {
				t.Fatalf("bad row without a line or reason: %+v", b)
			}
		}
	})
}

// TestParseCSV_Hostile feeds the subscriber import hostile files: each is
// answered with a clear error naming the line, or imported as plain text,
// within bounded memory and with error messages of bounded size.
func TestParseCSV_Hostile(t *testing.T) {
	big := strings.Repeat("A", 10<<20)
	tests := []struct {
		name  string
		input func() string
		// want is a substring of the one bad row's reason; "" means the
		// row must import.
		want     string
		wantName string
	}{
		{"ScriptInName", func() string {
			return "email,name\nana@example.com,<script>alert(1)</script>\n"
		}, "", "<script>alert(1)</script>"},
		{"CRLFInName", func() string {
			return "email,name\nana@example.com,\"Ana\r\nBcc: victim@example.com\"\n"
		}, "control character", ""},
		{"LFInName", func() string {
			return "email,name\nana@example.com,\"Ana\nX\"\n"
		}, "control character", ""},
		{"CRLFInAddress", func() string {
			return "email\n\"ana@example.com\r\nRCPT TO:<x@example.com>\"\n"
		}, "control character", ""},
		{"InvalidUTF8Name", func() string {
			return "email,name\nana@example.com,An\xffa\n"
		}, "UTF-8", ""},
		{"InvalidUTF8Address", func() string {
			return "email\nan\xffa@example.com\n"
		}, "UTF-8", ""},
		{"BidiOverrideName", func() string {
			return "email,name\nana@example.com,Ana\u202egnp.exe\n"
		}, "control character", ""},
		{"FormulaName", func() string {
			return "email,name\nana@example.com,\"'=HYPERLINK(\"\"http://evil.example\"\")\"\n"
		}, "", "=HYPERLINK(\"http://evil.example\")"},
		{"TenMBName", func() string {
			return "email,name\nana@example.com," + big + "\n"
		}, "longer than", ""},
		{"TenMBNameWithNewline", func() string {
			return "email,name\nana@example.com,\"" + big + "\n" + big + "\"\n"
		}, "control character", ""},
		{"TenMBAddress", func() string {
			return "email\n" + big + "@example.com\n"
		}, "longer than", ""},
		{"TenMBAddressWithControl", func() string {
			return "email\n" + big + "\x01@example.com\n"
		}, "longer than", ""},
		{"TenMBTopic", func() string {
			return "email,topics\nana@example.com," + big + "\n"
		}, "longer than", ""},
		{"TenMBTopicWithTab", func() string {
			return "email,topics\nana@example.com,\"a\x00" + big + "\"\n"
		}, "control character", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := tt.input()
			rows, bad, err := subscribers.ParseCSV(strings.NewReader(input))
			if err != nil {
				t.Fatalf("file error: %v", err)
			}
			if tt.want == "" {
				if len(rows) != 1 || len(bad) != 0 {
					t.Fatalf("rows=%d bad=%v, want one row", len(rows), bad)
				}
				if got := rows[0].Name; got != tt.wantName {
					t.Fatalf("Name=%q, want %q", got, tt.wantName)
				}
				return
			}
			if len(rows) != 0 || len(bad) != 1 {
				t.Fatalf("rows=%d bad=%d, want one bad row", len(rows), len(bad))
			}
			msg := bad[0].Error()
			if !strings.Contains(msg, tt.want) || !strings.HasPrefix(msg, "line 2: ") {
				t.Fatalf("reason %.300q does not say line 2 and %q", msg, tt.want)
			}
			// The reason is shown to the operator: it must not echo a
			// 10 MB field back.
			if len(msg) > 1000 {
				t.Fatalf("reason is %d bytes long: %.200q...", len(msg), msg)
			}
		})
	}
}

// TestParseCSV_HundredThousandRows imports a 100,000-row file with a bad
// row in the middle: every good row is read, the bad one is named, and the
// memory it takes stays proportional to the file.
func TestParseCSV_HundredThousandRows(t *testing.T) {
	const n = 100_000
	var b strings.Builder
	b.WriteString("email,name,timezone,topics\n")
	for i := range n {
		if i == n/2 {
			b.WriteString("not-an-address,Bad,UTC,\n")
			continue
		}
		fmt.Fprintf(&b, "reader%d@example.com,Reader %d,Europe/Paris,Economy;Climate\n", i, i)
	}
	input := b.String()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rows, bad, err := subscribers.ParseCSV(strings.NewReader(input))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(rows), n-1; got != want {
		t.Fatalf("rows=%d, want %d", got, want)
	}
	if len(bad) != 1 || bad[0].Line != n/2+2 {
		t.Fatalf("bad=%v, want line %d", bad, n/2+2)
	}
	// Allocation bound: generous (50x the file), but catches a quadratic
	// or per-row copy of the whole input.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 50*uint64(len(input)) {
		t.Fatalf("parsing a %d-byte file allocated %d bytes", len(input), alloc)
	}
}
