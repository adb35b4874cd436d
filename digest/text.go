package digest

import (
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// TextWidth is the plain-text part's line width, in terminal columns.
const TextWidth = 78

// runeWidth is how many columns r takes in a terminal: 2 for East Asian
// wide and full-width characters, 0 for combining marks and controls.
func runeWidth(r rune) int {
	if unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) || unicode.IsControl(r) || r == '\u200b' || r == '\u200d' {
		return 0
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}

// TextColumns is the width of s in terminal columns.
func TextColumns(s string) int {
	n := 0
	for _, r := range s {
		n += runeWidth(r)
	}
	return n
}

// wrapToken is a piece of text that a line may end after; space says
// whether a space separates it from the piece before.
type wrapToken struct {
	text  string
	space bool
	cols  int
}

// wrapTokens splits s into words, and further between wide characters
// (Chinese, Japanese), which may break anywhere. All white space, CR and LF
// included, separates words.
func wrapTokens(s string) []wrapToken {
	var toks []wrapToken
	for _, f := range strings.Fields(s) {
		space := true
		start := 0
		rs := []rune(f)
		flush := func(end int) {
			if end > start {
				t := string(rs[start:end])
				toks = append(toks, wrapToken{text: t, space: space, cols: TextColumns(t)})
				space = false
				start = end
			}
		}
		for i, r := range rs {
			if runeWidth(r) == 2 {
				flush(i)
				// A wide character is a piece of its own, with any
				// closing punctuation right after it.
				j := i + 1
				for j < len(rs) && unicode.IsPunct(rs[j]) {
					j++
				}
				if i == start {
					flush(j)
				}
			}
		}
		flush(len(rs))
	}
	return toks
}

// wrapText wraps s at TextWidth columns with indent spaces before each line.
// A word longer than a line (a long URL) stands alone on its line rather
// than being cut.
func wrapText(s string, indent int) string {
	pad := strings.Repeat(" ", indent)
	var lines []string
	var line strings.Builder
	cols := 0
	for _, t := range wrapTokens(s) {
		sep := 0
		if t.space && cols > 0 {
			sep = 1
		}
		if cols > 0 && indent+cols+sep+t.cols > TextWidth {
			lines = append(lines, pad+line.String())
			line.Reset()
			cols, sep = 0, 0
		}
		if sep == 1 {
			line.WriteByte(' ')
		}
		line.WriteString(t.text)
		cols += sep + t.cols
	}
	lines = append(lines, pad+line.String())
	return strings.Join(lines, "\n")
}

// bulletText wraps s as a "* " bullet with a hanging indent.
func bulletText(s string, indent int) string {
	w := wrapText(s, indent+2)
	return strings.Repeat(" ", indent) + "* " + strings.TrimLeft(w, " ")
}

// textBarWidth is the width of the plain-text coverage bar inside its
// brackets.
const textBarWidth = 40

// textBar draws the coverage bar for the text part: one letter per 2.5% of
// the coverage, L for the left, C for the center, R for the right.
func textBar(c Coverage) string {
	if c.Total() == 0 {
		return "[" + strings.Repeat(" ", textBarWidth) + "]"
	}
	var b strings.Builder
	b.WriteByte('[')
	used := 0
	for i, side := range Sides {
		n := (c.Percent(side)*textBarWidth + 50) / 100
		if i == len(Sides)-1 {
			n = textBarWidth - used
		}
		n = max(0, min(n, textBarWidth-used))
		b.WriteString(strings.Repeat(strings.ToUpper(string(side)[:1]), n))
		used += n
	}
	b.WriteByte(']')
	return b.String()
}
