package web

import (
	"context"

	"bothsides/bounce"
)

// SetReputation shows the reputation guard's counts and verdicts on the
// dashboard and the edition pages; without it they are left out. Call it
// before serving.
func (a *Admin) SetReputation(g *bounce.Guard) { a.reputation = g }

// reputationView is one edition's reputation as the console shows it.
type reputationView struct {
	Date, Schedule, Status string
	Verdict                bounce.Verdict
	Rows                   []reputationRow // one per domain family, then the total
	Min                    int             // deliveries before the guard judges
}

type reputationRow struct {
	Domain                                string
	Sent, Delivered, Hard, Soft, Complain int
	HardRate, SoftRate, ComplaintRate     string
	Total                                 bool
}

func (a *Admin) reputationView(r bounce.Reputation) *reputationView {
	v := &reputationView{Date: r.Date, Schedule: r.Schedule, Status: r.Status, Verdict: a.reputation.Judge(r),
		Min: a.reputation.Config().MinDeliveries}
	for _, c := range append(r.Domains, r.Total) {
		row := reputationRow{Domain: c.Domain, Sent: c.Sent, Delivered: c.Delivered(), Hard: c.Hard, Soft: c.Soft, Complain: c.Complaints,
			HardRate: bounce.Percent(c.BounceRate()), SoftRate: bounce.Percent(c.SoftRate()), ComplaintRate: bounce.Percent(c.ComplaintRate())}
		if c.Domain == "" {
			row.Domain, row.Total = "All domains", true
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}

// editionReputation is edition id's reputation view, or nil without a
// guard.
func (a *Admin) editionReputation(ctx context.Context, id int64) (*reputationView, error) {
	if a.reputation == nil {
		return nil, nil
	}
	r, err := a.reputation.Reputation(ctx, id)
	if err != nil {
		return nil, err
	}
	return a.reputationView(r), nil
}

// recentReputation is the reputation of the editions being sent and the
// latest, for the dashboard; nil without a guard.
func (a *Admin) recentReputation(ctx context.Context, n int) ([]*reputationView, error) {
	if a.reputation == nil {
		return nil, nil
	}
	reps, err := a.reputation.Recent(ctx, n)
	if err != nil {
		return nil, err
	}
	out := make([]*reputationView, len(reps))
	for i, r := range reps {
		out[i] = a.reputationView(r)
	}
	return out, nil
}
