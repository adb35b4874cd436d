package bounce

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// The recipient-domain families the reputation guard counts apart: the
// three mailbox providers that publish complaint-rate limits, and the rest.
const (
	DomainGmail   = "gmail.com"
	DomainYahoo   = "yahoo.com"
	DomainOutlook = "outlook.com"
	DomainOther   = "other"
)

// Domains lists the families in display order.
var Domains = []string{DomainGmail, DomainYahoo, DomainOutlook, DomainOther}

// DomainFamily is the family a recipient domain is counted in. A provider's
// other domains share its family, because they share its filters and its
// limits: googlemail.com is Gmail; ymail.com, rocketmail.com, aol.com
// (Yahoo's mail platform) and yahoo.<country> are Yahoo; hotmail.*, live.*,
// msn.com and outlook.<country> are Outlook.com.
func DomainFamily(domain string) string {
	d := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(domain), "."))
	name, rest, _ := strings.Cut(d, ".")
	if !countrySuffix(rest) {
		name = "" // yahoo.example.org is not Yahoo's
	}
	switch {
	case d == "gmail.com" || d == "googlemail.com":
		return DomainGmail
	case name == "yahoo" || d == "ymail.com" || d == "rocketmail.com" || d == "aol.com":
		return DomainYahoo
	case name == "outlook" || name == "hotmail" || name == "live" || d == "msn.com" || d == "windowslive.com":
		return DomainOutlook
	}
	return DomainOther
}

// countrySuffix says whether s looks like the suffix of a provider's
// national domain: "com", "fr", "co.uk", "com.br" (one or two labels of at
// most three letters).
func countrySuffix(s string) bool {
	labels := strings.Split(s, ".")
	if len(labels) > 2 {
		return false
	}
	for _, l := range labels {
		if len(l) < 2 || len(l) > 3 {
			return false
		}
	}
	return true
}

// Tally is one edition's outcomes for one domain family, or for all.
type Tally struct {
	Domain string // a family, or "" for the whole edition
	// Sent is the ledger's deliveries the relay accepted; SMTPHard the
	// ones it refused with a 5xx (failed at SMTP time).
	Sent, SMTPHard int
	// Hard, Soft and Complaints are the subscribers with an event of that
	// kind recorded for this edition (each counted once). Hard includes
	// SMTPHard.
	Hard, Soft, Complaints int
}

// Attempted is the deliveries that reached a verdict: accepted, or refused
// for good at SMTP time. The guard judges an edition only from
// MinDeliveries attempted.
func (c Tally) Attempted() int { return c.Sent + c.SMTPHard }

// Delivered is the accepted deliveries that did not bounce later.
func (c Tally) Delivered() int { return max(0, c.Sent-(c.Hard-c.SMTPHard)) }

// BounceRate is hard bounces (at SMTP time and later) over attempted.
func (c Tally) BounceRate() float64 { return ratio(c.Hard, c.Attempted()) }

// SoftRate is soft bounces over attempted.
func (c Tally) SoftRate() float64 { return ratio(c.Soft, c.Attempted()) }

// ComplaintRate is complaints over delivered, as mailbox providers count
// it.
func (c Tally) ComplaintRate() float64 { return ratio(c.Complaints, c.Delivered()) }

func ratio(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

func (c *Tally) add(o Tally) {
	c.Sent += o.Sent
	c.SMTPHard += o.SMTPHard
	c.Hard += o.Hard
	c.Soft += o.Soft
	c.Complaints += o.Complaints
}

// Reputation is one edition's counts, in all and per domain family.
type Reputation struct {
	EditionID      int64
	Date, Schedule string
	Status         string // the edition's status
	Total          Tally
	Domains        []Tally // one per family of Domains, in that order
}

// querier is a read pool or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// EditionReputation counts edition id's outcomes from the ledger
// (deliveries: sent, and failed with a 5xx reply) and the recorded events
// (bounces: hard, soft and complaint, each subscriber once), in all and per
// domain family. Splitting the ledger by domain reads every delivery's
// address: a Guard keeps the split while the ledger's counts stay the same
// (Guard.Reputation).
func EditionReputation(ctx context.Context, q querier, id int64) (Reputation, error) {
	return editionReputation(ctx, q, id, nil)
}

// ledgerKey is what the ledger's split by domain depends on: its counts.
type ledgerKey struct{ sent, smtpHard int }

// ledgerSplit is the ledger's part of an edition's tallies, per family.
type ledgerSplit map[string]Tally

func editionReputation(ctx context.Context, q querier, id int64, cache func(ledgerKey, func() (ledgerSplit, error)) (ledgerSplit, error)) (Reputation, error) {
	r, key, err := editionHead(ctx, q, id)
	if err != nil {
		return r, err
	}
	split := func() (ledgerSplit, error) { return ledgerByDomain(ctx, q, id) }
	var ledger ledgerSplit
	if cache != nil {
		ledger, err = cache(key, split)
	} else {
		ledger, err = split()
	}
	if err != nil {
		return r, fmt.Errorf("reputation of edition %d: ledger: %w", id, err)
	}
	by := map[string]*Tally{}
	for _, d := range Domains {
		t := ledger[d]
		t.Domain = d
		by[d] = &t
	}
	if err := eventCounts(ctx, q, id, by); err != nil {
		return r, fmt.Errorf("reputation of edition %d: events: %w", id, err)
	}
	r.Total = Tally{}
	for _, d := range Domains {
		r.Domains = append(r.Domains, *by[d])
		r.Total.add(*by[d])
	}
	return r, nil
}

// EditionTotals is edition id's reputation in all, without the split by
// domain: from the ledger's index and the events alone, cheap enough to
// run after every event recorded.
func EditionTotals(ctx context.Context, q querier, id int64) (Reputation, error) {
	r, _, err := editionHead(ctx, q, id)
	if err != nil {
		return r, err
	}
	by := map[string]*Tally{}
	for _, d := range Domains {
		by[d] = &Tally{}
	}
	if err := eventCounts(ctx, q, id, by); err != nil {
		return r, fmt.Errorf("reputation of edition %d: events: %w", id, err)
	}
	for _, d := range Domains {
		r.Total.Hard += by[d].Hard
		r.Total.Soft += by[d].Soft
		r.Total.Complaints += by[d].Complaints
	}
	return r, nil
}

// editionHead reads the edition and its ledger's counts: sent, and refused
// with a 5xx (Total.Sent, SMTPHard and Hard).
func editionHead(ctx context.Context, q querier, id int64) (Reputation, ledgerKey, error) {
	r := Reputation{EditionID: id}
	if err := q.QueryRowContext(ctx, `SELECT date, schedule, status FROM editions WHERE id = ?`, id).
		Scan(&r.Date, &r.Schedule, &r.Status); err != nil {
		return r, ledgerKey{}, fmt.Errorf("reputation of edition %d: %w", id, err)
	}
	// The first count is read from the index on (edition_id, status, …)
	// alone; the second reads only the failed rows.
	err := q.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM deliveries WHERE edition_id = ?1 AND status = 'sent'),
		(SELECT COUNT(*) FROM deliveries WHERE edition_id = ?1 AND status = 'failed' AND last_code BETWEEN 500 AND 599)`, id).
		Scan(&r.Total.Sent, &r.Total.SMTPHard)
	if err != nil {
		return r, ledgerKey{}, fmt.Errorf("reputation of edition %d: ledger: %w", id, err)
	}
	r.Total.Hard = r.Total.SMTPHard
	return r, ledgerKey{r.Total.Sent, r.Total.SMTPHard}, nil
}

// ledgerByDomain splits edition id's ledger by the family of each
// recipient's domain: the part of the address after its last @ (ours are
// checked to have one outside quotes).
func ledgerByDomain(ctx context.Context, q querier, id int64) (ledgerSplit, error) {
	rows, err := q.QueryContext(ctx, `
		SELECT lower(substr(s.email, instr(s.email, '@') + 1)),
		       SUM(d.status = 'sent'),
		       SUM(d.status = 'failed' AND d.last_code BETWEEN 500 AND 599)
		FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
		WHERE d.edition_id = ? AND d.status IN ('sent', 'failed')
		GROUP BY 1`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := ledgerSplit{}
	for rows.Next() {
		var domain string
		var sent, hard int
		if err := rows.Scan(&domain, &sent, &hard); err != nil {
			return nil, err
		}
		f := DomainFamily(domain)
		t := out[f]
		t.Sent += sent
		t.SMTPHard += hard
		t.Hard += hard
		out[f] = t
	}
	return out, rows.Err()
}
