package feeds_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"bothsides/feeds"
)

func TestParseCSV(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		in := "name,domain,bias,feeds,factuality,owner,rated_by,rated_on\n" +
			"Harbor Ledger,harbor.example,lean-left,https://harbor.example/rss;https://harbor.example/atom,high,\"Ledger Trust, Inc.\",desk,2026-11-01\n" +
			"\n" +
			"Wire,wire.example,unrated,,,,,\n"
		list, err := feeds.ParseCSV(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || len(list[0].Feeds) != 2 || list[0].Owner != "Ledger Trust, Inc." || list[1].Bias != "unrated" {
			t.Fatalf("parsed %+v", list)
		}
		var out bytes.Buffer
		if err := feeds.WriteCSV(&out, list); err != nil {
			t.Fatal(err)
		}
		again, err := feeds.ParseCSV(&out)
		if err != nil || len(again) != 2 || again[0].Feeds[1].URL != "https://harbor.example/atom" {
			t.Fatalf("round trip: %+v, %v", again, err)
		}
	})
	t.Run("ErrLine", func(t *testing.T) {
		in := "name,domain,bias\nA,a.example,left\nB,b.example,sideways\nA,a2.example,right\nC,c.example\n"
		_, err := feeds.ParseCSV(strings.NewReader(in))
		if !errors.Is(err, feeds.ErrInvalid) {
			t.Fatalf("err=%v, want ErrInvalid", err)
		}
		for _, want := range []string{`line 3: invalid source "B": bias "sideways": want one of`, `line 4: source "A" is on line 2 already`, "line 5: 2 fields, want 3", "nothing was imported"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("err=%v\nwant it to say %q", err, want)
			}
		}
	})
	t.Run("ErrHeader", func(t *testing.T) {
		for in, want := range map[string]string{
			"":                         "line 1: empty file",
			"name,domain\nA,a.example": `no "bias" column`,
			"name,domain,bias,colour":  `unknown column "colour"`,
		} {
			if _, err := feeds.ParseCSV(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("ParseCSV(%q): err=%v, want %q", in, err, want)
			}
		}
	})
}

// TestParseCSV_Hostile: 10 MB values and control characters give short,
// clear errors naming the line, and nothing is imported.
func TestParseCSV_Hostile(t *testing.T) {
	big := strings.Repeat("x", 10<<20)
	in := "name,domain,bias,feeds,factuality,owner,rated_by,rated_on\n" +
		big + ",a.example,left,,,,,\n" +
		"B," + big + ".example,left,,,,,\n" +
		"C,c.example," + big + ",,,,,\n" +
		"D,d.example,left,https://d.example/" + big + ",,,,\n" +
		"E,e.example,left,,," + big + ",,\n" +
		"F\x07,f.example,left,javascript:alert(1),,,,\n" +
		"G,g.example,left,,,,x,\n"
	list, err := feeds.ParseCSV(strings.NewReader(in))
	if err == nil || list != nil {
		t.Fatalf("hostile file imported: %d sources", len(list))
	}
	msg := err.Error()
	if len(msg) > 3000 {
		t.Fatalf("error of %d bytes", len(msg))
	}
	for _, want := range []string{"line 2:", "line 3:", "line 4:", "line 5:", "line 6:", "line 7:", "control character", "only http and https", "line 8:", "go together"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}
