package subscribers

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"bothsides/sqlite"
)

// Delivery is one mail sent, or meant, to a subscriber.
type Delivery struct {
	EditionDate, Schedule string
	Status                string
	Attempts              int
	LastReply             string
	MessageID             string
	SentAt                time.Time
}

// Report is a reader's report on a story that left this address for a reply.
type Report struct {
	StoryID, Kind, Message string
	CreatedAt              time.Time
}

// PersonalData is everything held about one address (GDPR access).
type PersonalData struct {
	Email      string
	Subscriber *Subscriber // nil when the address is not a subscriber
	Deliveries []Delivery
	Reports    []Report
	Suppressed bool // the address's one-way hash is on the suppression list
}

// Access gathers everything held about the address: the subscriber row,
// every delivery ledger row, and whether it is on the suppression list.
// Rate-limit records hold only keyed hashes and expire within a day.
func (s *Store) Access(ctx context.Context, email string) (*PersonalData, error) {
	addr, err := NormalizeAddress(email)
	if err != nil {
		return nil, err
	}
	pd := &PersonalData{Email: addr}
	if pd.Suppressed, err = s.IsSuppressed(ctx, addr); err != nil {
		return nil, err
	}
	if pd.Reports, err = s.reports(ctx, email, addr); err != nil {
		return nil, err
	}
	sub, err := s.FindByEmail(ctx, addr)
	if err == ErrNotFound {
		return pd, nil
	}
	if err != nil {
		return nil, err
	}
	pd.Subscriber = sub
	rows, err := s.db.R.QueryContext(ctx, `SELECT e.date, e.schedule, d.status, d.attempts, d.last_reply, d.message_id, d.sent_at
		FROM deliveries d JOIN editions e ON e.id = d.edition_id
		WHERE d.subscriber_id = ? ORDER BY e.date, e.schedule`, sub.ID)
	if err != nil {
		return nil, fmt.Errorf("deliveries of %d: %w", sub.ID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var d Delivery
		var sent sql.NullString
		if err := rows.Scan(&d.EditionDate, &d.Schedule, &d.Status, &d.Attempts, &d.LastReply, &d.MessageID, &sent); err != nil {
			return nil, fmt.Errorf("deliveries of %d: %w", sub.ID, err)
		}
		if d.SentAt, err = sqlite.ParseNullTime(sent); err != nil {
			return nil, err
		}
		pd.Deliveries = append(pd.Deliveries, d)
	}
	return pd, rows.Err()
}

func (s *Store) reports(ctx context.Context, typed, addr string) ([]Report, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT story_id, kind, message, created_at FROM reports
		WHERE `+reportEmailMatch+` ORDER BY id`, reportEmailArgs(typed, addr)...)
	if err != nil {
		return nil, fmt.Errorf("reports of an address: %w", err)
	}
	defer rows.Close()
	var out []Report
	for rows.Next() {
		var r Report
		var created string
		if err := rows.Scan(&r.StoryID, &r.Kind, &r.Message, &created); err != nil {
			return nil, fmt.Errorf("reports of an address: %w", err)
		}
		if r.CreatedAt, err = sqlite.ParseTime(created); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
