package delivery_test

import (
	"context"
	"fmt"
	"html"
	"strings"
	"testing"

	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/subscribers"
)

func hasTopic(st *digest.Story, topics []string) bool {
	for _, a := range st.Topics {
		for _, b := range topics {
			if strings.EqualFold(strings.Join(strings.Fields(a), " "), strings.Join(strings.Fields(b), " ")) {
				return true
			}
		}
	}
	return false
}

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestSender_Personal sends one edition to readers with different topics:
// each mail leads with a story of the reader's topics in its subject and
// keeps every blindspot; readers with the same variant share a rendering.
func TestSender_Personal(t *testing.T) {
	f := newFixture(t, 4)
	ctx := context.Background()
	prefs := map[int][]string{0: nil, 1: {"Health"}, 2: {"Sports"}, 3: {"HEALTH"}}
	for i, topics := range prefs {
		if _, err := f.subs.UpdatePreferences(ctx, f.ids[i], subscribers.Preferences{Topics: topics, PreferredHour: subscribers.NoPreferredHour}); err != nil {
			t.Fatal(err)
		}
	}
	s := f.sender(t, delivery.Config{}, nil)
	if _, err := s.Send(ctx, f.e); err != nil {
		t.Fatal(err)
	}
	for i, topics := range prefs {
		msgs := f.srv.To(f.emails[i])
		if len(msgs) != 1 {
			t.Fatalf("%s got %d messages", f.emails[i], len(msgs))
		}
		m, err := testsupport.ParseMail(msgs[0].Data)
		if err != nil {
			t.Fatal(err)
		}
		v := f.e.Variant(topics)
		subject := testsupport.DecodeHeader(m.Header.Get("Subject"))
		if !strings.HasSuffix(subject, ": "+v.Stories[0].Title) {
			t.Fatalf("%s (%q): subject %q, want the variant's top story %q", f.emails[i], topics, subject, v.Stories[0].Title)
		}
		if topics != nil && !hasTopic(&v.Stories[0], topics) {
			t.Fatalf("%s: top story %q is not of %q", f.emails[i], v.Stories[0].Title, topics)
		}
		if !strings.Contains(m.HTML, ">Blindspot</h2>") {
			t.Fatalf("%s: the blindspot section is missing", f.emails[i])
		}
		for _, b := range f.e.Blindspots {
			if !strings.Contains(m.HTML, html.EscapeString(b.Story.Title)) {
				t.Fatalf("%s: blindspot %q missing", f.emails[i], b.Story.Title)
			}
		}
		if want := fmt.Sprintf("Also today: %s", v.Stories[1].Title); !strings.Contains(collapse(m.HTML), html.EscapeString(want)) {
			t.Fatalf("%s: preheader does not name the second story %q", f.emails[i], v.Stories[1].Title)
		}
	}
}
