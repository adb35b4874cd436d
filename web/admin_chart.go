package web

import (
	"fmt"
	"html/template"
	"strings"
)

// chartSVG draws the delivered, failed and unsubscribed counts of editions
// (oldest first) as grouped bars: server-side SVG, no script, with a title
// and description for screen readers and a tooltip per bar. The same
// numbers are in the table under it.
func chartSVG(editions []editionView) template.HTML {
	const (
		w, h          = 720, 240
		left, bottom  = 44, 40
		top, right    = 16, 8
		plotW, plotH  = w - left - right, h - top - bottom
		delivered     = "#15803d"
		failed        = "#b91c1c"
		unsubscribed  = "#b45309"
		gridColour    = "#9ca3af"
		maxTickLabels = 10
	)
	maxV := 1
	for _, e := range editions {
		maxV = max(maxV, e.Stats.Sent, e.Stats.Failed, e.Unsubscribed)
	}
	// Five grid steps of 1, 2 or 5 times a power of ten.
	step := 1
	for pow := 1; step*5 < maxV; pow *= 10 {
		for _, m := range []int{1, 2, 5} {
			if step = m * pow; step*5 >= maxV {
				break
			}
		}
	}
	top5 := step * 5
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-labelledby="chart-title chart-desc" class="chart">`, w, h)
	b.WriteString(`<title id="chart-title">Delivered, failed and unsubscribed per edition</title>`)
	fmt.Fprintf(&b, `<desc id="chart-desc">Bars for the last %d editions, oldest on the left; the table below lists the same numbers.</desc>`, len(editions))
	y := func(v int) float64 { return float64(top) + float64(plotH) - float64(v)*float64(plotH)/float64(top5) }
	for v := 0; v <= top5; v += step {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="0.5"/>`, left, w-right, y(v), y(v), gridColour)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-size="11" text-anchor="end" fill="currentColor">%d</text>`, left-6, y(v)+4, v)
	}
	if len(editions) > 0 {
		slot := float64(plotW) / float64(len(editions))
		bar := min(slot/4, 16.0)
		every := (len(editions) + maxTickLabels - 1) / maxTickLabels
		for i, e := range editions {
			x := float64(left) + float64(i)*slot + (slot-3*bar)/2
			for j, s := range []struct {
				v            int
				colour, name string
			}{{e.Stats.Sent, delivered, "delivered"}, {e.Stats.Failed, failed, "failed"}, {e.Unsubscribed, unsubscribed, "unsubscribed"}} {
				bx := x + float64(j)*bar
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %d %s</title></rect>`,
					bx, y(s.v), bar, y(0)-y(s.v), s.colour, template.HTMLEscapeString(e.Date), template.HTMLEscapeString(e.Schedule), s.v, s.name)
			}
			if i%every == 0 {
				fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10" text-anchor="middle" fill="currentColor">%s</text>`,
					x+bar*1.5, h-bottom+14, template.HTMLEscapeString(shortDate(e.Date)))
			}
		}
	}
	// Legend.
	for i, l := range []struct{ colour, name string }{{delivered, "delivered"}, {failed, "failed"}, {unsubscribed, "unsubscribed"}} {
		x := left + i*120
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" font-size="11" fill="currentColor">%s</text>`,
			x, h-14, l.colour, x+14, h-5, l.name)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// shortDate turns 2026-11-27 into 27 Nov style labels without parsing errors.
func shortDate(d string) string {
	if len(d) != 10 {
		return d
	}
	months := []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	m := int(d[5]-'0')*10 + int(d[6]-'0')
	if m < 1 || m > 12 {
		return d
	}
	return strings.TrimPrefix(d[8:], "0") + " " + months[m-1]
}
