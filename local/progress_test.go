package local_test

import (
	"context"
	"testing"
	"time"

	"bothsides/local"
)

// TestProgress stops the clock in the middle of 26 November and checks the
// dashboard's numbers zone by zone against when each reader's 07:30 falls.
func TestProgress(t *testing.T) {
	ctx := context.Background()
	start := utc("2026-11-26T00:00:00Z")
	e := newEnv(t, start, "local 07:30 Europe/Paris", "2026-11-23", "2026-11-28")
	for _, r := range readers {
		e.add(r.email, r.zone, r.hour)
	}
	now := utc("2026-11-26T10:00:00Z")
	e.runUntil(now, 5*time.Minute)
	sch, err := e.sched.Get(ctx, "morning")
	if err != nil {
		t.Fatal(err)
	}
	p, err := local.Progress(ctx, e.db, *sch, "2026-11-26")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int{} // zone -> sent, waiting
	for _, r := range readers {
		zone := r.zone
		if zone == "" {
			zone = "Europe/Paris"
		}
		hh := 7
		if r.hour != none {
			hh = r.hour
		}
		at, _ := firstShown(mustLoc(t, zone), "2026-11-26", hh, 30)
		w := want[zone]
		switch {
		case !at.After(start): // before the readers signed up: not due
		case !at.After(now):
			w[0]++
		default:
			w[1]++
		}
		want[zone] = w
	}
	got := map[string][2]int{}
	for _, z := range p.Zones {
		if z.Pending != 0 || z.Failed != 0 {
			t.Fatalf("zone %s: %+v, want nothing pending or failed", z.Zone, z)
		}
		got[z.Zone] = [2]int{z.Sent, z.Waiting}
	}
	for zone, w := range want {
		if w != [2]int{} && got[zone] != w {
			t.Fatalf("zone %s: sent, waiting = %v, want %v (all: %+v)", zone, got[zone], w, p.Zones)
		}
	}
	if p.Total.Sent == 0 || p.Total.Waiting == 0 || p.Status != "sending" {
		t.Fatalf("total %+v status %s: want some sent and some waiting", p.Total, p.Status)
	}
	if ny := got["America/New_York"]; ny != [2]int{2, 1} {
		t.Fatalf("New York: sent, waiting = %v, want 2 sent (01:30, 02:30) and 1 waiting (07:30)", ny)
	}
	days, err := local.Today(ctx, e.db, e.sched, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(days) == 0 || days[0].Schedule != "morning" {
		t.Fatalf("Today=%+v", days)
	}
}
