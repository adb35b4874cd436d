package web

import (
	"context"
	"net/http"

	"bothsides/local"
)

// localProgress is the progress by zone of the local schedules' editions
// going out around now, for the dashboard and GET /api/local.
func (a *Admin) localProgress(ctx context.Context) ([]local.DayProgress, error) {
	return local.Today(ctx, a.db, a.schedules, a.db.Now())
}

// apiLocal answers GET /api/local: the day's progress of each local
// schedule by zone (due, waiting, pending, sent, failed per zone).
func (a *Admin) apiLocal(w http.ResponseWriter, r *http.Request) {
	days, err := a.localProgress(r.Context())
	if err != nil {
		a.error(w, r, err)
		return
	}
	type zone struct {
		local.ZoneProgress
		Due int `json:"due"`
	}
	type day struct {
		local.DayProgress
		Zones []zone `json:"zones"`
		Total zone   `json:"total"`
	}
	out := make([]day, 0, len(days))
	for _, d := range days {
		v := day{DayProgress: d, Total: zone{d.Total, d.Total.Due()}}
		for _, z := range d.Zones {
			v.Zones = append(v.Zones, zone{z, z.Due()})
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"local": out})
}
