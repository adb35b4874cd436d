package digest_test

import (
	"bytes"
	"context"
	"html"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/sample"
)

// sampleEdition assembles the edition of the sample stories.
func sampleEdition(t *testing.T) *digest.Edition {
	t.Helper()
	db, _ := testsupport.MustOpenDB(t)
	stories, err := digest.ParseImport(bytes.NewReader(sample.Stories))
	if err != nil {
		t.Fatal(err)
	}
	store := digest.NewStore(db)
	if _, err := store.Import(context.Background(), stories); err != nil {
		t.Fatal(err)
	}
	e, err := store.Assemble(context.Background(), digest.AssembleParams{Date: "2026-11-27", WindowEnd: testsupport.Epoch})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Blindspots) == 0 || len(e.Extras) == 0 || len(e.Stories) < 3 {
		t.Fatalf("the sample edition should have stories, blindspots and extras: %d, %d, %d", len(e.Stories), len(e.Blindspots), len(e.Extras))
	}
	return e
}

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

// checkBalanced asserts the invariant of every variant: the edition's
// blindspots unchanged; every top story still there, unchanged (so with
// every side's framing); at most one story added, from the extras and of a
// favoured topic; the favoured stories first.
func checkBalanced(t *testing.T, e *digest.Edition, topics []string) *digest.Edition {
	t.Helper()
	v := e.Variant(topics)
	if !reflect.DeepEqual(v.Blindspots, e.Blindspots) {
		t.Fatalf("topics %q: blindspots changed", topics)
	}
	byID := map[string]digest.Story{}
	for _, s := range v.Stories {
		if _, dup := byID[s.ID]; dup {
			t.Fatalf("topics %q: story %s twice", topics, s.ID)
		}
		byID[s.ID] = s
	}
	for _, s := range e.Stories {
		got, ok := byID[s.ID]
		if !ok {
			t.Fatalf("topics %q: base story %s removed", topics, s.ID)
		}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("topics %q: story %s changed (framing %+v, was %+v)", topics, s.ID, got.Framing, s.Framing)
		}
	}
	added := len(v.Stories) - len(e.Stories)
	if added < 0 || added > 1 {
		t.Fatalf("topics %q: %d stories added, want 0 or 1", topics, added)
	}
	if added == 1 {
		for _, s := range v.Stories {
			if slicesContainsID(e.Stories, s.ID) {
				continue
			}
			if !slicesContainsID(e.Extras, s.ID) || !hasTopic(&s, topics) {
				t.Fatalf("topics %q: added %s, not an extra of a favoured topic", topics, s.ID)
			}
		}
	}
	// Favoured first: once a story without a favoured topic shows, no
	// favoured one follows.
	seenOther := false
	for _, s := range v.Stories {
		f := hasTopic(&s, topics)
		if f && seenOther {
			t.Fatalf("topics %q: favoured story %s after an unfavoured one", topics, s.ID)
		}
		seenOther = seenOther || !f
	}
	return v
}

func slicesContainsID(list []digest.Story, id string) bool {
	for _, s := range list {
		if s.ID == id {
			return true
		}
	}
	return false
}

func TestEdition_Variant(t *testing.T) {
	e := sampleEdition(t)
	for _, tt := range []struct {
		name   string
		topics []string
		same   bool // the edition itself
	}{
		{"None", nil, true},
		{"Unknown", []string{"Gardening"}, true},
		{"Health", []string{"Health"}, false},
		{"CaseAndSpaces", []string{"  sCIENCE "}, false},
		{"Several", []string{"Sports", "Courts", "World"}, false},
		{"Everything", []string{"Technology", "Politics", "Economy", "Climate", "Science", "Education", "Health", "Courts", "World", "Sports"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := checkBalanced(t, e, tt.topics)
			if (v == e) != tt.same {
				t.Fatalf("Variant(%q) returned the edition itself: %v, want %v", tt.topics, v == e, tt.same)
			}
		})
	}
	t.Run("AddsOneFavouredStory", func(t *testing.T) {
		// A topic no top story has, but an extra has: that story is added
		// and leads.
		var topic string
		for _, x := range e.Extras {
			for _, tp := range x.Topics {
				in := false
				for _, s := range e.Stories {
					in = in || hasTopic(&s, []string{tp})
				}
				if !in && topic == "" {
					topic = tp
				}
			}
		}
		if topic == "" {
			t.Skip("the sample has no topic outside the top stories")
		}
		v := checkBalanced(t, e, []string{topic})
		if len(v.Stories) != len(e.Stories)+1 || !hasTopic(&v.Stories[0], []string{topic}) {
			t.Fatalf("topic %q: stories %d, first %q", topic, len(v.Stories), v.Stories[0].Title)
		}
	})
}

// TestEdition_Variant_Random checks the invariant for random preferences
// (fixed seed): random subsets of the real topics with unknown ones mixed
// in, and renders a sample of them: every story keeps its three framing
// blocks, the blindspot section stays, the subject names the variant's top
// story and the preheader its second.
func TestEdition_Variant_Random(t *testing.T) {
	e := sampleEdition(t)
	r, err := digest.NewRenderer(digest.RenderConfig{BaseURL: "https://news.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	var universe []string
	seen := map[string]bool{}
	for _, list := range [][]digest.Story{e.Stories, e.Extras} {
		for _, s := range list {
			for _, tp := range s.Topics {
				if !seen[tp] {
					seen[tp] = true
					universe = append(universe, tp)
				}
			}
		}
	}
	universe = append(universe, "Gardening", "Chess", "")
	rng := rand.New(rand.NewPCG(8, 2026))
	for i := range 2000 {
		var topics []string
		for _, tp := range universe {
			if rng.IntN(4) == 0 {
				if rng.IntN(2) == 0 {
					tp = strings.ToUpper(tp)
				}
				topics = append(topics, tp)
			}
		}
		v := checkBalanced(t, e, topics)
		if i%80 != 0 {
			continue
		}
		rendered, err := r.Render(v)
		if err != nil {
			t.Fatal(err)
		}
		htmlPart, textPart := rendered.Personalize(digest.Personal{Email: "r@example.com"})
		h, tx := string(htmlPart), string(textPart)
		if !strings.Contains(h, ">Blindspot</h2>") {
			t.Fatalf("topics %q: no blindspot section", topics)
		}
		for _, list := range [][]digest.Story{v.Stories, blindStories(v)} {
			for _, s := range list {
				for _, side := range digest.Sides {
					f := s.Framing.Of(side)
					if f == "" {
						continue
					}
					if !strings.Contains(h, html.EscapeString(f)) {
						t.Fatalf("topics %q: story %s lost its %s framing in the HTML", topics, s.ID, side)
					}
					if !strings.Contains(collapse(tx), collapse(f)) {
						t.Fatalf("topics %q: story %s lost its %s framing in the text", topics, s.ID, side)
					}
				}
			}
		}
		if !strings.HasSuffix(rendered.Subject, ": "+v.Stories[0].Title) {
			t.Fatalf("topics %q: subject %q does not name the top story %q", topics, rendered.Subject, v.Stories[0].Title)
		}
		if want := "Also today: " + v.Stories[1].Title; !strings.HasPrefix(rendered.Preheader, want) {
			t.Fatalf("topics %q: preheader %q does not start with the second story %q", topics, rendered.Preheader, v.Stories[1].Title)
		}
	}
}

func blindStories(e *digest.Edition) []digest.Story {
	var out []digest.Story
	for _, b := range e.Blindspots {
		out = append(out, b.Story)
	}
	return out
}

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }
