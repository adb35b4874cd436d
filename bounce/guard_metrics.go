package bounce

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// recentEditions is how many editions the metrics describe: the ones being
// sent and the latest started, newest first.
const recentEditions = 5

var (
	reputationMessagesDesc = prometheus.NewDesc("bothsides_reputation_messages",
		"Outcomes of the most recent editions by recipient domain (gmail.com, yahoo.com, outlook.com, other): sent, delivered, hard (SMTP-time and later), soft, complaint.",
		[]string{"edition", "schedule", "domain", "outcome"}, nil)
	reputationRateDesc = prometheus.NewDesc("bothsides_reputation_rate",
		"Rates of the most recent editions by recipient domain, and for the whole edition (domain \"all\"): hard_bounce over attempted, soft_bounce over attempted, complaint over delivered.",
		[]string{"edition", "schedule", "domain", "rate"}, nil)
	reputationErrorDesc = prometheus.NewDesc("bothsides_reputation_scrape_error",
		"1 when the reputation metrics could not be read from the database.", nil, nil)
)

// Collector returns a Prometheus collector of the reputation of the most
// recent editions, read from the database at each scrape.
func (g *Guard) Collector() prometheus.Collector { return guardCollector{g} }

type guardCollector struct{ g *Guard }

func (c guardCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- reputationMessagesDesc
	ch <- reputationRateDesc
	ch <- reputationErrorDesc
}

func (c guardCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reps, err := c.g.Recent(ctx, recentEditions)
	failed := 0.0
	if err != nil {
		c.g.log.Error("reputation metrics", "err", err)
		failed = 1
	}
	ch <- prometheus.MustNewConstMetric(reputationErrorDesc, prometheus.GaugeValue, failed)
	for _, r := range reps {
		for _, d := range append(r.Domains, r.Total) {
			domain := d.Domain
			if domain == "" {
				domain = "all"
			} else {
				for outcome, n := range map[string]int{"sent": d.Sent, "delivered": d.Delivered(), "hard": d.Hard, "soft": d.Soft, "complaint": d.Complaints} {
					ch <- prometheus.MustNewConstMetric(reputationMessagesDesc, prometheus.GaugeValue, float64(n), r.Date, r.Schedule, domain, outcome)
				}
			}
			for rate, v := range map[string]float64{"hard_bounce": d.BounceRate(), "soft_bounce": d.SoftRate(), "complaint": d.ComplaintRate()} {
				ch <- prometheus.MustNewConstMetric(reputationRateDesc, prometheus.GaugeValue, v, r.Date, r.Schedule, domain, rate)
			}
		}
	}
}

// Recent returns the reputation of the editions being sent and of the
// latest started, at most n, newest first.
func (g *Guard) Recent(ctx context.Context, n int) ([]Reputation, error) {
	rows, err := g.db.R.QueryContext(ctx, `SELECT id FROM editions WHERE started_at IS NOT NULL
		ORDER BY status = 'sending' DESC, started_at DESC, id DESC LIMIT ?`, n)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []Reputation
	for _, id := range ids {
		r, err := g.Reputation(ctx, id)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}
