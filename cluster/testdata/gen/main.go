// Command gen writes one feed per outlet of the labelled corpus, so tests can
// serve the outlets over httptest: RSS 2.0 for most, Atom for a few, newest
// item first as outlets publish them. Run from cluster/ with go generate.
package main

import (
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"time"
)

type article struct {
	ID          int64     `json:"id"`
	Outlet      string    `json:"outlet"`
	Bias        string    `json:"bias"`
	Event       string    `json:"event"`
	Published   time.Time `json:"published"`
	URL         string    `json:"url"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	Categories  []string  `json:"categories"`
}

type outlet struct {
	Name   string `json:"name"`
	Domain string `json:"domain"`
	Bias   string `json:"bias"`
}

type corpus struct {
	Outlets  []outlet  `json:"outlets"`
	Articles []article `json:"articles"`
}

// atom lists the outlets whose feed is Atom rather than RSS.
var atom = map[string]bool{"Valley Voice": true, "Civic Report": true, "Frontier Bulletin": true}

type rss struct {
	XMLName xml.Name `xml:"rss"`
	Version string   `xml:"version,attr"`
	Channel struct {
		Title       string    `xml:"title"`
		Link        string    `xml:"link"`
		Description string    `xml:"description"`
		Items       []rssItem `xml:"item"`
	} `xml:"channel"`
}

type rssItem struct {
	Title       string   `xml:"title"`
	Link        string   `xml:"link"`
	GUID        string   `xml:"guid"`
	PubDate     string   `xml:"pubDate"`
	Description string   `xml:"description"`
	Categories  []string `xml:"category"`
}

type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Title   string      `xml:"title"`
	ID      string      `xml:"id"`
	Updated string      `xml:"updated"`
	Link    atomLink    `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Href string `xml:"href,attr"`
}

type atomEntry struct {
	Title      string         `xml:"title"`
	ID         string         `xml:"id"`
	Link       atomLink       `xml:"link"`
	Published  string         `xml:"published"`
	Updated    string         `xml:"updated"`
	Summary    string         `xml:"summary"`
	Categories []atomCategory `xml:"category"`
}

type atomCategory struct {
	Term string `xml:"term,attr"`
}

func main() {
	in := flag.String("corpus", "testdata/corpus.json", "the labelled corpus")
	out := flag.String("out", "testdata/feeds", "directory for DOMAIN.xml feeds")
	flag.Parse()
	b, err := os.ReadFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	var c corpus
	if err := json.Unmarshal(b, &c); err != nil {
		log.Fatalf("%s: %v", *in, err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	for _, o := range c.Outlets {
		var as []article
		for _, a := range c.Articles {
			if a.Outlet == o.Name {
				as = append(as, a)
			}
		}
		sort.SliceStable(as, func(i, j int) bool { return as[i].Published.After(as[j].Published) })
		data, err := feed(o, as)
		if err != nil {
			log.Fatalf("%s: %v", o.Name, err)
		}
		path := filepath.Join(*out, o.Domain+".xml")
		if err := os.WriteFile(path, append([]byte(xml.Header), data...), 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %d items\n", path, len(as))
	}
}

func feed(o outlet, as []article) ([]byte, error) {
	home := "https://" + o.Domain + "/"
	if atom[o.Name] {
		f := atomFeed{Title: o.Name, ID: home, Link: atomLink{home}}
		if len(as) > 0 {
			f.Updated = as[0].Published.Format(time.RFC3339)
		}
		for _, a := range as {
			e := atomEntry{Title: a.Title, ID: a.URL, Link: atomLink{a.URL},
				Published: a.Published.Format(time.RFC3339), Updated: a.Published.Format(time.RFC3339),
				Summary: a.Description}
			for _, c := range a.Categories {
				e.Categories = append(e.Categories, atomCategory{c})
			}
			f.Entries = append(f.Entries, e)
		}
		return xml.MarshalIndent(f, "", "  ")
	}
	var f rss
	f.Version = "2.0"
	f.Channel.Title, f.Channel.Link, f.Channel.Description = o.Name, home, "News from "+o.Name
	for _, a := range as {
		f.Channel.Items = append(f.Channel.Items, rssItem{Title: a.Title, Link: a.URL, GUID: a.URL,
			PubDate: a.Published.Format(time.RFC1123Z), Description: a.Description, Categories: a.Categories})
	}
	return xml.MarshalIndent(f, "", "  ")
}
