package schedule

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestParse_Local(t *testing.T) {
	for _, tt := range []struct {
		spec, zone string
		h, m       int
	}{
		{"local 07:00", "UTC", 7, 0},
		{"local 7:30 Europe/London", "Europe/London", 7, 30},
		{"  LOCAL   06:15   Asia/Kolkata ", "Asia/Kolkata", 6, 15},
		{"local 00:00 Pacific/Chatham", "Pacific/Chatham", 0, 0},
		{"local 23:59", "UTC", 23, 59},
	} {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := Parse(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if !s.Local || s.Hour != tt.h || s.Minute != tt.m || s.Location.String() != tt.zone {
				t.Fatalf("got local=%v %02d:%02d %s, want %02d:%02d %s", s.Local, s.Hour, s.Minute, s.Location, tt.h, tt.m, tt.zone)
			}
			if !s.RunsOn(2026, 2, 28) {
				t.Fatal("a local schedule runs every day")
			}
		})
	}
	for _, tt := range []struct{ name, spec, reason string }{
		{"ErrNoTime", "local", `"local HH:MM"`},
		{"ErrHour", "local 25:00", `time "25:00": want HH:MM`},
		{"ErrMinute", "local 07:60", `time "07:60"`},
		{"ErrNoColon", "local 7", `time "7"`},
		{"ErrSign", "local +7:00", `time "+7:00"`},
		{"ErrZone", "local 07:00 Mars/Olympus", `unknown time zone "Mars/Olympus"`},
		{"ErrLocalZone", "local 07:00 Local", `unknown time zone "Local"`},
		{"ErrExtra", "local 07:00 UTC daily", `"local HH:MM Zone"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("err=%v, want one containing %q", err, tt.reason)
			}
		})
	}
	t.Run("ValidateNamesTheSpec", func(t *testing.T) {
		s := Schedule{Name: "morning", Spec: "local 7h"}
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), `spec: schedule "local 7h": time "7h"`) {
			t.Fatalf("err=%v", err)
		}
		s = Schedule{Name: "morning", Spec: "local 07:00 Europe/Paris"}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
	})
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLocalRun_DST(t *testing.T) {
	for _, tt := range []struct {
		name, zone, date string
		h, m             int
		want             string // UTC
	}{
		// 02:30 does not exist on 8 March 2026 in New York (02:00 EST ->
		// 03:00 EDT): the first minute after the jump.
		{"NewYorkSpringGap", "America/New_York", "2026-03-08", 2, 30, "2026-03-08T07:00:00Z"},
		{"NewYorkSpringMorning", "America/New_York", "2026-03-08", 7, 0, "2026-03-08T11:00:00Z"},
		{"NewYorkDayBefore", "America/New_York", "2026-03-07", 7, 0, "2026-03-07T12:00:00Z"},
		// 01:30 happens twice on 1 November 2026: the first, in EDT.
		{"NewYorkFallAmbiguous", "America/New_York", "2026-11-01", 1, 30, "2026-11-01T05:30:00Z"},
		{"NewYorkFallMorning", "America/New_York", "2026-11-01", 7, 0, "2026-11-01T12:00:00Z"},
		// London: 01:00 GMT -> 02:00 BST on 29 March; 02:00 BST -> 01:00
		// GMT on 25 October.
		{"LondonSpringGap", "Europe/London", "2026-03-29", 1, 30, "2026-03-29T01:00:00Z"},
		{"LondonSpringMorning", "Europe/London", "2026-03-29", 7, 0, "2026-03-29T06:00:00Z"},
		{"LondonFallAmbiguous", "Europe/London", "2026-10-25", 1, 30, "2026-10-25T00:30:00Z"},
		{"LondonFallMorning", "Europe/London", "2026-10-25", 7, 0, "2026-10-25T07:00:00Z"},
		// Offsets that are not whole hours.
		{"Kolkata", "Asia/Kolkata", "2026-11-27", 7, 0, "2026-11-27T01:30:00Z"},
		{"Kathmandu", "Asia/Kathmandu", "2026-11-27", 7, 0, "2026-11-27T01:15:00Z"},
		{"AdelaideSummer", "Australia/Adelaide", "2026-11-27", 7, 0, "2026-11-26T20:30:00Z"},
		{"ChathamSummer", "Pacific/Chatham", "2026-11-27", 7, 0, "2026-11-26T17:15:00Z"},
		{"StJohns", "America/St_Johns", "2026-11-27", 7, 0, "2026-11-27T10:30:00Z"},
		// Adelaide springs forward on 4 October 2026 at 02:00 ACST.
		{"AdelaideSpringGap", "Australia/Adelaide", "2026-10-04", 2, 15, "2026-10-03T16:30:00Z"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			at, ok := LocalRun(tt.date, tt.h, tt.m, mustZone(t, tt.zone))
			if !ok {
				t.Fatal("no run")
			}
			if got := at.UTC().Format(time.RFC3339); got != tt.want {
				t.Fatalf("LocalRun=%s (%s), want %s", got, at, tt.want)
			}
		})
	}
	t.Run("SkippedDay", func(t *testing.T) {
		// Samoa moved across the date line: 30 December 2011 never happened.
		if at, ok := LocalRun("2011-12-30", 7, 0, mustZone(t, "Pacific/Apia")); ok {
			t.Fatalf("LocalRun on a day that did not exist = %s", at)
		}
		at, date := NextLocal(time.Date(2011, 12, 29, 20, 0, 0, 0, time.UTC), mustZone(t, "Pacific/Apia"), 7, 0)
		if date != "2011-12-31" || at.In(mustZone(t, "Pacific/Apia")).Format("15:04") != "07:00" {
			t.Fatalf("NextLocal = %s %s, want 2011-12-31 07:00", at, date)
		}
	})
	t.Run("BadDate", func(t *testing.T) {
		if _, ok := LocalRun("2026-02-30", 7, 0, time.UTC); ok {
			t.Fatal("LocalRun accepted 2026-02-30")
		}
	})
}

// TestNextLocal_Year walks a year of runs in zones with every kind of
// offset: each local date gets exactly one run, at the local time asked
// for or the first minute after it, always later than the one before.
func TestNextLocal_Year(t *testing.T) {
	zones := []string{"America/New_York", "Europe/London", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Adelaide",
		"Pacific/Chatham", "America/St_Johns", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Australia/Lord_Howe", "UTC"}
	for _, z := range zones {
		for _, hm := range [][2]int{{7, 0}, {2, 30}, {1, 30}, {0, 0}, {23, 45}} {
			loc := mustZone(t, z)
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			at, date := NextLocal(t0, loc, hm[0], hm[1])
			prev := t0
			for range 366 {
				if !at.After(prev) {
					t.Fatalf("%s %02d:%02d: run %s not after %s", z, hm[0], hm[1], at, prev)
				}
				l := at.In(loc)
				if l.Format(DateFormat) != date {
					t.Fatalf("%s: run %s is not on its date %s", z, l, date)
				}
				wall := time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), 0, 0, time.UTC)
				want := time.Date(l.Year(), l.Month(), l.Day(), hm[0], hm[1], 0, 0, time.UTC)
				if wall.Before(want) || wall.Sub(want) > time.Hour {
					t.Fatalf("%s %02d:%02d: run shows %s", z, hm[0], hm[1], l)
				}
				next, nd := NextLocal(at, loc, hm[0], hm[1])
				if nd != NextDate(date) {
					t.Fatalf("%s %02d:%02d: after %s comes %s, want %s", z, hm[0], hm[1], date, nd, NextDate(date))
				}
				prev, at, date = at, next, nd
			}
		}
	}
}

func TestSpec_Local_NextN(t *testing.T) {
	s := mustParse(t, "local 07:00 Europe/London")
	got := s.NextN(time.Date(2026, 10, 24, 8, 0, 0, 0, time.UTC), 2)
	checkTimes(t, got, []string{"2026-10-25T07:00:00Z", "2026-10-26T07:00:00Z"})
	if d := s.Describe(); d != "07:00 in each subscriber's time zone (Europe/London for those without one)" {
		t.Fatalf("Describe=%q", d)
	}
}

// TestScheduler_LeavesLocalSchedules: the scheduler neither sends a local
// schedule's runs nor gives robfig a spec it cannot parse; the local-time
// ticker sends them.
func TestScheduler_LeavesLocalSchedules(t *testing.T) {
	created := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	s, j, clock, _ := newScheduler(t, "local 07:00", created, time.Hour)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 3 * 24 {
		clock.Advance(time.Hour)
		if d := check(t, s); len(d) != 0 {
			t.Fatalf("decisions=%v, want none", d)
		}
	}
	if got := j.dates(); len(got) != 0 {
		t.Fatalf("sent %v, want nothing", got)
	}
	r := NewRunner(quietLog())
	s.runner = r
	defer func() { s.runner = nil }()
	if err := s.Reload(context.Background()); err != nil {
		t.Fatalf("Reload with a local schedule: %v", err)
	}
	if n := len(s.entries); n != 0 {
		t.Fatalf("cron entries=%d, want 0", n)
	}
}
