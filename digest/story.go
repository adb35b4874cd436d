// Package digest owns the news side of bothsides: stories and their import,
// picking and freezing an edition, rendering it, and sending it through the
// delivery ledger.
package digest

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Bias is an outlet's rating on the seven-point scale used by the import format.
type Bias string

// The seven bias ratings, left to right.
const (
	FarLeft    Bias = "far-left"
	Left       Bias = "left"
	LeanLeft   Bias = "lean-left"
	Center     Bias = "center"
	LeanRight  Bias = "lean-right"
	Right      Bias = "right"
	FarRight   Bias = "far-right"
	biasChoice      = "far-left, left, lean-left, center, lean-right, right, far-right"
	// Unrated is a source with no rating: its articles count among a
	// story's articles but on no side. Stories built from feeds may have
	// them; the JSON import does not take it.
	Unrated Bias = "unrated"
)

// Valid reports whether b is one of the seven ratings.
func (b Bias) Valid() bool {
	switch b {
	case FarLeft, Left, LeanLeft, Center, LeanRight, Right, FarRight:
		return true
	}
	return false
}

// Known reports whether b is one of the seven ratings or Unrated: what a
// story built from feeds may carry.
func (b Bias) Known() bool { return b == Unrated || b.Valid() }

// Side groups the seven ratings into the three sides a reader compares;
// an unrated source is on none ("").
func (b Bias) Side() Side {
	switch b {
	case FarLeft, Left, LeanLeft:
		return SideLeft
	case LeanRight, Right, FarRight:
		return SideRight
	case Unrated:
		return ""
	}
	return SideCenter
}

// Label is the bias as a reader sees it: "Lean Left".
func (b Bias) Label() string {
	switch b {
	case FarLeft:
		return "Far Left"
	case Left:
		return "Left"
	case LeanLeft:
		return "Lean Left"
	case Center:
		return "Center"
	case LeanRight:
		return "Lean Right"
	case Right:
		return "Right"
	case FarRight:
		return "Far Right"
	case Unrated:
		return "Unrated"
	}
	return string(b)
}

// Side is left, center or right.
type Side string

// The three sides.
const (
	SideLeft   Side = "left"
	SideCenter Side = "center"
	SideRight  Side = "right"
)

// Sides lists the three sides in reading order.
var Sides = []Side{SideLeft, SideCenter, SideRight}

// Title is the side's name with a capital: "Left".
func (s Side) Title() string {
	switch s {
	case SideLeft:
		return "Left"
	case SideRight:
		return "Right"
	}
	return "Center"
}

// Story is one news story with its both-sides material.
type Story struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Summary     string    `json:"summary"`
	PublishedAt time.Time `json:"published_at"`
	UpdatedAt   time.Time `json:"updated_at,omitzero"`
	Topics      []string  `json:"topics,omitempty"`
	Overview    []string  `json:"overview,omitempty"`
	Framing     Framing   `json:"framing,omitzero"`
	Articles    []Article `json:"articles"`
	FAQ         []FAQ     `json:"faq,omitempty"`
	// Version counts the story's distinct contents, from 1; an edition
	// keeps the version it mailed. Not part of the import format.
	Version int `json:"version,omitempty"`
	// Status is draft or published; only published stories enter editions
	// and the public pages. Empty reads as published. Not part of the
	// import format, nor are the two fields below.
	Status StoryStatus `json:"status,omitempty"`
	// StatusBy says who set the status: "" (import or draft), "auto" or
	// "editor".
	StatusBy string `json:"status_by,omitempty"`
	// Drafted lists the fields still as the newsroom drafted them (see
	// the Field constants); an editor's change takes a field off.
	Drafted []string `json:"drafted,omitempty"`
}

// Published reports whether the story may enter editions and pages.
func (s *Story) Published() bool { return s.Status != StatusDraft }

// IsDrafted reports whether field is still as drafted.
func (s *Story) IsDrafted(field string) bool { return slices.Contains(s.Drafted, field) }

// Framing is how each side's outlets framed a story; an empty side had no
// framing written for it.
type Framing struct {
	Left   string `json:"left,omitempty"`
	Center string `json:"center,omitempty"`
	Right  string `json:"right,omitempty"`
}

// Of returns the framing for side s.
func (f Framing) Of(s Side) string {
	switch s {
	case SideLeft:
		return f.Left
	case SideRight:
		return f.Right
	}
	return f.Center
}

// Article is one outlet's piece on a story.
type Article struct {
	Source      string    `json:"source"`
	Bias        Bias      `json:"bias"`
	URL         string    `json:"url"`
	Title       string    `json:"title,omitempty"`
	PublishedAt time.Time `json:"published_at,omitzero"`
	// ItemID is the feed item the article was made from; 0 for imports.
	ItemID int64 `json:"item_id,omitempty"`
	// Join says why the article is in its story; nil for imports.
	Join *Join `json:"join,omitempty"`
}

// Join is why an article joined its story.
type Join struct {
	By     string   `json:"by"`               // JoinNew, JoinMatch or JoinEditor
	Score  float64  `json:"score,omitempty"`  // the similarity, for JoinMatch
	Shared []string `json:"shared,omitempty"` // the terms it shared with the story
}

// Reason says in words why an article is in its story, for the console
// and `stories show`; a nil Join is an imported article.
func (j *Join) Reason() string {
	if j == nil {
		return "imported"
	}
	switch j.By {
	case JoinNew:
		return "started the story"
	case JoinEditor:
		return "placed here by an editor"
	}
	return fmt.Sprintf("score %.2f; shared: %s", j.Score, strings.Join(j.Shared, ", "))
}

// How an article joined its story.
const (
	JoinNew    = "new"    // it started the story
	JoinMatch  = "match"  // it was similar enough to the story's articles
	JoinEditor = "editor" // an editor moved it, split or merged its story
)

// FAQ is one question and answer about a story.
type FAQ struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

// Coverage counts the distinct outlets on each side of a story, and the
// unrated ones, which are on no side.
type Coverage struct {
	Left, Center, Right int
	Unrated             int
}

// Total is the number of distinct rated outlets.
func (c Coverage) Total() int { return c.Left + c.Center + c.Right }

// Count returns the number of outlets on side s.
func (c Coverage) Count(s Side) int {
	switch s {
	case SideLeft:
		return c.Left
	case SideRight:
		return c.Right
	}
	return c.Center
}

// Percent returns side s's share of the coverage in whole percent; the three
// shares add up to 100 when there is any coverage.
func (c Coverage) Percent(s Side) int {
	t := c.Total()
	if t == 0 {
		return 0
	}
	// Largest-remainder rounding so the bar always adds up to 100.
	counts := []int{c.Left, c.Center, c.Right}
	pct := make([]int, 3)
	rem := make([]int, 3)
	sum := 0
	for i, n := range counts {
		pct[i] = n * 100 / t
		rem[i] = n * 100 % t
		sum += pct[i]
	}
	for sum < 100 {
		best := 0
		for i := range rem {
			if rem[i] > rem[best] {
				best = i
			}
		}
		pct[best]++
		rem[best] = -1
		sum++
	}
	switch s {
	case SideLeft:
		return pct[0]
	case SideRight:
		return pct[2]
	}
	return pct[1]
}

// Coverage counts distinct sources per side. An outlet that appears twice
// counts once, on the side of its first article.
func (s *Story) Coverage() Coverage {
	var c Coverage
	seen := map[string]bool{}
	for _, a := range s.Articles {
		if seen[a.Source] {
			continue
		}
		seen[a.Source] = true
		switch a.Bias.Side() {
		case SideLeft:
			c.Left++
		case SideRight:
			c.Right++
		case SideCenter:
			c.Center++
		default:
			c.Unrated++
		}
	}
	return c
}

// ArticlesBy returns the story's articles from side s, in import order.
func (s *Story) ArticlesBy(side Side) []Article {
	var out []Article
	for _, a := range s.Articles {
		if a.Bias.Side() == side {
			out = append(out, a)
		}
	}
	return out
}

// UnratedArticles returns the articles of unrated sources, in order.
func (s *Story) UnratedArticles() []Article {
	var out []Article
	for _, a := range s.Articles {
		if a.Bias.Side() == "" {
			out = append(out, a)
		}
	}
	return out
}

// LastChange is when the story was last published or updated.
func (s *Story) LastChange() time.Time {
	if s.UpdatedAt.After(s.PublishedAt) {
		return s.UpdatedAt
	}
	return s.PublishedAt
}
