package digest

// Listing is a story as `stories list --json` and the API list it.
type Listing struct {
	ID           string           `json:"id"`
	Title        string           `json:"title"`
	Status       StoryStatus      `json:"status"`
	PublishedAt  string           `json:"published_at"`
	Version      int              `json:"version"`
	Coverage     ListingCoverage  `json:"coverage"`
	Blindspot    bool             `json:"blindspot"`
	BlindspotFor Side             `json:"blindspot_for,omitempty"`
	Drafted      []string         `json:"drafted"`
	Articles     []ListingArticle `json:"articles"`
}

// ListingCoverage counts distinct sources per side and the unrated ones.
type ListingCoverage struct {
	Left    int `json:"left"`
	Center  int `json:"center"`
	Right   int `json:"right"`
	Unrated int `json:"unrated"`
}

// ListingArticle is one article of a Listing, with why it joined.
type ListingArticle struct {
	URL    string `json:"url"`
	Source string `json:"source"`
	Bias   Bias   `json:"bias"`
	Title  string `json:"title,omitempty"`
	Join   *Join  `json:"join,omitempty"`
}

// List returns st as listed, its blindspot judged by rule.
func (s *Story) List(rule BlindspotRule) Listing {
	c := s.Coverage()
	l := Listing{ID: s.ID, Title: s.Title, Status: StatusPublished, PublishedAt: s.PublishedAt.UTC().Format("2006-01-02T15:04:05Z"),
		Version: s.Version, Coverage: ListingCoverage{Left: c.Left, Center: c.Center, Right: c.Right, Unrated: c.Unrated},
		BlindspotFor: rule.For(c), Drafted: nonNil(s.Drafted), Articles: []ListingArticle{}}
	if !s.Published() {
		l.Status = StatusDraft
	}
	l.Blindspot = l.BlindspotFor != ""
	for _, a := range s.Articles {
		l.Articles = append(l.Articles, ListingArticle{URL: a.URL, Source: a.Source, Bias: a.Bias, Title: a.Title, Join: a.Join})
	}
	return l
}
