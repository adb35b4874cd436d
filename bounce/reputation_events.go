package bounce

import "context"

// eventCounts adds to by the subscribers of edition id with a hard, soft or
// complaint event recorded, each once per kind, by the domain of their
// address. A hard bounce of a delivery the ledger already has as failed
// (refused at SMTP time, then reported again) is not counted twice.
func eventCounts(ctx context.Context, q querier, id int64, by map[string]*Tally) error {
	rows, err := q.QueryContext(ctx, `
		SELECT lower(substr(s.email, instr(s.email, '@') + 1)), e.kind, COUNT(DISTINCT e.subscriber_id)
		FROM bounces e JOIN subscribers s ON s.id = e.subscriber_id
		WHERE e.edition_id = ? AND e.kind IN ('hard', 'soft', 'complaint')
		  AND NOT (e.kind = 'hard' AND EXISTS (SELECT 1 FROM deliveries d
		      WHERE d.edition_id = e.edition_id AND d.subscriber_id = e.subscriber_id AND d.status = 'failed'))
		GROUP BY 1, 2`, id)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var domain string
		var kind Kind
		var n int
		if err := rows.Scan(&domain, &kind, &n); err != nil {
			return err
		}
		c := by[DomainFamily(domain)]
		switch kind {
		case KindHard:
			c.Hard += n
		case KindSoft:
			c.Soft += n
		case KindComplaint:
			c.Complaints += n
		}
	}
	return rows.Err()
}
