package schedule

import (
	"testing"
	"time"

	"bothsides/digest"
)

func TestSchedule_EditionParams(t *testing.T) {
	s := &Schedule{Name: "brief", Spec: "CRON_TZ=Europe/Berlin 0 8 * * 1-5", Stories: 3, WindowHours: 12, Subject: "Your brief", Title: "Brief"}
	end := time.Date(2026, 11, 27, 8, 0, 0, 0, time.FixedZone("CET", 3600))
	p := s.EditionParams("2026-11-27", end)
	sel := digest.DefaultSelection
	sel.Count = 3
	want := digest.AssembleParams{Date: "2026-11-27", Schedule: "brief", WindowEnd: end.UTC(), WindowHours: 12,
		Selection: sel, Title: "Brief", Subject: "Your brief"}
	if p != want {
		t.Fatalf("EditionParams=%+v, want %+v", p, want)
	}
	if got, want := p.WindowEnd.Location(), time.UTC; got != want {
		t.Fatalf("WindowEnd in %v, want %v", got, want)
	}
}

func TestSchedule_RunOn(t *testing.T) {
	s := &Schedule{Name: "brief", Spec: "CRON_TZ=Europe/Berlin 0 8 * * 1-5", Stories: 3, WindowHours: 12}
	// 23:30 UTC on Thursday 26 November is already Friday in Berlin.
	now := time.Date(2026, 11, 26, 23, 30, 0, 0, time.UTC)
	june := time.Date(2026, 6, 10, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name, date string
		now        time.Time
		wantDate   string
		wantDue    string // RFC 3339 in UTC; "" for none
		wantEnd    string // the edition's window end made at now
	}{
		{"Today", "", now, "2026-11-27", "2026-11-27T07:00:00Z", "2026-11-26T23:30:00Z"},
		{"Past", "2026-11-20", now, "2026-11-20", "2026-11-20T07:00:00Z", "2026-11-20T07:00:00Z"},
		{"Later", "2026-12-01", now, "2026-12-01", "2026-12-01T07:00:00Z", "2026-11-26T23:30:00Z"},
		{"DSTSummer", "2026-06-05", june, "2026-06-05", "2026-06-05T06:00:00Z", "2026-06-05T06:00:00Z"},
		{"NoRunWeekend", "2026-11-28", now, "2026-11-28", "", ""},
		{"NoRunBadDate", "27-11-2026", now, "27-11-2026", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, ok, err := s.RunOn(tt.date, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := r.Date, tt.wantDate; got != want {
				t.Fatalf("Date=%s, want %s", got, want)
			}
			if got, want := ok, tt.wantDue != ""; got != want {
				t.Fatalf("ok=%v, want %v", got, want)
			}
			if !ok {
				if !r.Due.IsZero() {
					t.Fatalf("Due=%v, want zero", r.Due)
				}
				return
			}
			if got, want := r.Due.UTC().Format(time.RFC3339), tt.wantDue; got != want {
				t.Fatalf("Due=%s, want %s", got, want)
			}
			if r.Schedule.Name != s.Name {
				t.Fatalf("Schedule=%q, want %q", r.Schedule.Name, s.Name)
			}
			p := r.EditionParams(tt.now)
			if got, want := p.WindowEnd.Format(time.RFC3339), tt.wantEnd; got != want {
				t.Fatalf("WindowEnd=%s, want %s", got, want)
			}
			if got, want := p.Date, tt.wantDate; got != want {
				t.Fatalf("params Date=%s, want %s", got, want)
			}
		})
	}
	t.Run("ErrSpec", func(t *testing.T) {
		bad := &Schedule{Name: "bad", Spec: "0 25 * * *"}
		if _, _, err := bad.RunOn("", now); err == nil {
			t.Fatal("RunOn with a bad spec: no error")
		}
	})
}

func TestRun_WindowEnd(t *testing.T) {
	due := time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		now  time.Time
		want time.Time
	}{
		{"Late", due.Add(3 * time.Hour), due},
		{"OnTime", due, due},
		{"Early", due.Add(-time.Minute), due.Add(-time.Minute)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Run{Due: due}).WindowEnd(tt.now); !got.Equal(tt.want) {
				t.Fatalf("WindowEnd=%v, want %v", got, tt.want)
			}
		})
	}
}
