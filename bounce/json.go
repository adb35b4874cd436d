package bounce

import "time"

// RecordJSON is one stored event in JSON, the one shape of `bounces list
// --json`, `subscribers show --json` and GET /api/bounces.
type RecordJSON struct {
	ID         int64  `json:"id"`
	ReceivedAt string `json:"received_at"`
	At         string `json:"at"`
	Kind       string `json:"kind"`
	Status     string `json:"status"`
	Diagnostic string `json:"diagnostic"`
	Source     string `json:"source"`
	Recipient  string `json:"recipient"`
	Domain     string `json:"domain"`
	Subscriber *int64 `json:"subscriber_id"`
	Email      string `json:"subscriber_email,omitempty"`
	Edition    string `json:"edition,omitempty"`
	Schedule   string `json:"schedule,omitempty"`
	MatchedBy  string `json:"matched_by"`
	Effect     string `json:"effect"`
	RawSize    int    `json:"raw_size"`
	RawKept    bool   `json:"raw_kept"`
}

// JSON returns the records in their JSON shape, times in UTC RFC 3339 and
// the subscriber null when unmatched; never nil.
func JSON(list []Record) []RecordJSON {
	out := make([]RecordJSON, 0, len(list))
	for _, r := range list {
		j := RecordJSON{ID: r.ID, ReceivedAt: r.ReceivedAt.UTC().Format(time.RFC3339), At: r.At.UTC().Format(time.RFC3339),
			Kind: string(r.Kind), Status: r.Status, Diagnostic: r.Diagnostic, Source: r.Source, Recipient: r.Recipient,
			Domain: r.Domain, Email: r.Email, Edition: r.Date, Schedule: r.Schedule, MatchedBy: r.MatchedBy,
			Effect: r.Effect, RawSize: r.RawSize, RawKept: r.RawKept}
		if r.Subscriber != 0 {
			id := r.Subscriber
			j.Subscriber = &id
		}
		out = append(out, j)
	}
	return out
}
