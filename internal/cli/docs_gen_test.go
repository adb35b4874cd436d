package cli

import (
	"flag"
	"fmt"
	"strings"
)

// docRegion is one table of docs/CONFIGURATION.md, between the markers
// <!-- flags:NAME --> and <!-- /flags:NAME -->.
type docRegion struct {
	name     string
	settings []setting
}

// docRegions are the generated tables: the global settings, serve's, and
// one per command with other settings read from the environment.
func docRegions() []docRegion {
	regions := []docRegion{
		{"global", new(config).settings()},
		{"serve", new(serveConfig).settings()},
	}
	documented := map[string]bool{}
	for _, r := range regions {
		for _, s := range r.settings {
			documented[s.env] = true
		}
	}
	for _, c := range commands() {
		var own []setting
		for _, s := range c.settings {
			if s.env != "" && !documented[s.env] {
				own = append(own, s)
				documented[s.env] = true
			}
		}
		if len(own) > 0 {
			regions = append(regions, docRegion{strings.ReplaceAll(c.name, " ", "-"), own})
		}
	}
	return regions
}

// markdownTable renders settings as a Markdown table: flag, environment
// variable, default and meaning.
func markdownTable(settings []setting) string {
	fs := flag.NewFlagSet("docs", flag.ContinueOnError)
	register(fs, settings)
	var b strings.Builder
	b.WriteString("| flag | environment | default | meaning |\n| --- | --- | --- | --- |\n")
	for _, s := range settings {
		name := "--" + s.name
		if len(s.name) == 1 {
			name = "-" + s.name
		}
		env := "| |"
		if s.env != "" {
			env = "| `" + s.env + "` |"
		}
		fmt.Fprintf(&b, "| `%s` %s %s | %s |\n", name, env, docDefault(s, fs.Lookup(s.name).DefValue), s.usage)
	}
	return b.String()
}

// docDefault is the default as the docs show it.
func docDefault(s setting, def string) string {
	switch {
	case s.docDefault != "":
		return s.docDefault
	case def == "":
		return "(none)"
	case def == "false":
		return "off"
	case def == "true":
		return "on"
	}
	return "`" + def + "`"
}

// renderDocs replaces the generated regions of doc (docs/CONFIGURATION.md)
// with the tables of the command table's settings. A region missing from doc
// is an error.
func renderDocs(doc string) (string, error) {
	for _, r := range docRegions() {
		begin, end := "<!-- flags:"+r.name+" -->\n", "<!-- /flags:"+r.name+" -->"
		i := strings.Index(doc, begin)
		j := strings.Index(doc, end)
		if i < 0 || j < i {
			return "", fmt.Errorf("no region %s...%s", strings.TrimSpace(begin), end)
		}
		doc = doc[:i+len(begin)] + markdownTable(r.settings) + doc[j:]
	}
	return doc, nil
}
