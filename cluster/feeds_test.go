package cluster

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// TestCorpus_Feeds checks that testdata/feeds holds every article of the
// corpus in its outlet's feed (run go generate ./cluster/ after editing
// corpus.json).
func TestCorpus_Feeds(t *testing.T) {
	items, _ := loadCorpus(t)
	want := map[string][]string{}
	for _, it := range items {
		want[it.Domain] = append(want[it.Domain], it.URL+" "+it.Title)
	}
	for domain, w := range want {
		b, err := os.ReadFile(filepath.Join("testdata", "feeds", domain+".xml"))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Items []struct {
				Title string `xml:"title"`
				Link  string `xml:"link"`
			} `xml:"channel>item"`
			Entries []struct {
				Title string `xml:"title"`
				Link  struct {
					Href string `xml:"href,attr"`
				} `xml:"link"`
			} `xml:"entry"`
		}
		if err := xml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", domain, err)
		}
		var got []string
		for _, it := range doc.Items {
			got = append(got, it.Link+" "+it.Title)
		}
		for _, e := range doc.Entries {
			got = append(got, e.Link.Href+" "+e.Title)
		}
		sort.Strings(got)
		sort.Strings(w)
		if len(got) != len(w) {
			t.Errorf("%s: %d items in the feed, %d in the corpus", domain, len(got), len(w))
			continue
		}
		for i := range got {
			if got[i] != w[i] {
				t.Errorf("%s: feed has %q, corpus %q", domain, got[i], w[i])
				break
			}
		}
	}
}
