package web

import (
	"html"
	"html/template"
	"strings"
	"sync"

	"bothsides/subscribers"
)

// zoneOptionsHTML is the <option> list of every time zone, escaped once:
// the sign-up and preferences forms show some 420 of them, and running the
// template over each on every request made /subscribe the slowest page.
var zoneOptionsHTML = sync.OnceValue(func() []string {
	opts := make([]string, len(subscribers.Timezones))
	for i, z := range subscribers.Timezones {
		e := html.EscapeString(z)
		opts[i] = `<option value="` + e + `">` + e + "</option>\n"
	}
	return opts
})

// zoneOptions returns the time-zone options with selected marked.
func zoneOptions(selected string) template.HTML {
	opts := zoneOptionsHTML()
	var b strings.Builder
	b.Grow(len(opts) * 48)
	for i, o := range opts {
		if subscribers.Timezones[i] == selected {
			o = strings.Replace(o, `">`, `" selected>`, 1)
		}
		b.WriteString(o)
	}
	return template.HTML(b.String())
}
