package cluster

import (
	"reflect"
	"sort"
	"testing"
)

func TestTokenize(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"Words", "Council passes levy", []string{"council", "passes", "levy"}},
		{"Numbers", "Rate rises to 4.75%, costing 2,300 more", []string{"rate", "rises", "to", "4.75", "costing", "2300", "more"}},
		{"Possessive", "Dunmore's nurses", []string{"dunmore", "nurses"}},
		{"Hyphen", "a 48-hour walk-out", []string{"a", "48-hour", "walk-out"}},
		{"Dash", "Storm Aldric - what we know", []string{"storm", "aldric", "what", "we", "know"}},
		{"Empty", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, tk := range tokenize(tc.in) {
				got = append(got, tk.lower)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("tokenize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestVectorize(t *testing.T) {
	cfg := DefaultConfig()
	for _, tc := range []struct {
		name, title, desc string
		has, names        []string // terms present; terms marked as names
		not               []string // terms absent
	}{
		{name: "NameRun", title: "Vote at the Port Ellery City Council tonight",
			has: []string{"port ellery city council", "port ellery", "vote", "council"}, names: []string{"port ellery city council", "elleri"}},
		{name: "InitialWordAlone", title: "Councillors back the plan",
			has: []string{"councillor", "plan"}, not: []string{"the"}},
		{name: "InitialWordInRun", title: "Port Ellery floods",
			has: []string{"port ellery", "flood"}, names: []string{"port ellery", "port"}},
		{name: "OfInsideName", desc: "Shares in the Bank of Westmark fell.",
			has: []string{"bank of westmark"}},
		{name: "TitleCaseUsesDescriptionNames", title: "Harwick Council Votes To Close Libraries", desc: "The vote in Harwick was 5-2.",
			has: []string{"harwick", "vote", "librari"}, names: []string{"harwick"}, not: []string{"harwick council votes close libraries"}},
		{name: "StopWords", title: "What the council says about it",
			has: []string{"council"}, not: []string{"what", "the", "say", "about", "it"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vec, _, names, _ := vectorize(cfg, nil, tc.title, tc.desc)
			for _, k := range tc.has {
				if _, ok := vec[k]; !ok {
					t.Errorf("term %q missing from %v", k, sortedKeys(vec))
				}
			}
			for _, k := range tc.names {
				if !names[k] {
					t.Errorf("term %q not a name", k)
				}
			}
			for _, k := range tc.not {
				if _, ok := vec[k]; ok {
					t.Errorf("term %q present", k)
				}
			}
		})
	}
}

func TestVectorize_Weights(t *testing.T) {
	cfg := DefaultConfig()
	v, _, _, _ := vectorize(cfg, nil, "levy", "tram")
	if got, want := v["levi"]/v["tram"], cfg.TitleWeight; got != want {
		t.Errorf("title/description weight = %v, want %v", got, want)
	}
	v, _, _, _ = vectorize(cfg, nil, "", "levy 38")
	if got, want := v["38"]/v["levi"], cfg.NumberWeight; got != want {
		t.Errorf("number weight = %v, want %v", got, want)
	}
}

func TestVectorize_Fingerprint(t *testing.T) {
	cfg := DefaultConfig()
	_, _, _, a := vectorize(cfg, nil, "Storm hits coast", "Power is out.")
	_, _, _, b := vectorize(cfg, nil, "Storm  hits coast", "Power is out!")
	_, _, _, c := vectorize(cfg, nil, "Storm hits coast", "Power is back.")
	if a != b {
		t.Error("same words, different punctuation: fingerprints differ")
	}
	if a == c {
		t.Error("different words: same fingerprint")
	}
}

func TestSplitSentences(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"Two", "The storm hit. Power is out.", []string{"The storm hit.", "Power is out."}},
		{"Abbreviation", "Mr. Dorn spoke. He left.", []string{"Mr. Dorn spoke.", "He left."}},
		{"Initial", "J. Smith won. Fans cheered.", []string{"J. Smith won.", "Fans cheered."}},
		{"Number", "Rates rose to 4.75 percent. Shares fell.", []string{"Rates rose to 4.75 percent.", "Shares fell."}},
		{"Quote", `"We are tired." Nurses walked out.`, []string{`"We are tired."`, "Nurses walked out."}},
		{"LowerAfter", "It opened at 5 a.m. on Tuesday.", []string{"It opened at 5 a.m. on Tuesday."}},
		{"Question", "Who pays? The city does.", []string{"Who pays?", "The city does."}},
		{"NoEnd", "No full stop", []string{"No full stop"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := splitSentences(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("splitSentences(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestSortedKeys(t *testing.T) {
	got := sortedKeys(map[string]float64{"b": 1, "a": 2, "c": 3})
	if !sort.StringsAreSorted(got) || len(got) != 3 {
		t.Fatalf("sortedKeys = %v", got)
	}
}
