package schedule

import (
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

func TestParse(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		s, err := Parse("CRON_TZ=Europe/London 0 7 * * 1-5")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := s.Location.String(), "Europe/London"; got != want {
			t.Fatalf("Location=%s, want %s", got, want)
		}
		if s.Hour != 7 || s.Minute != 0 {
			t.Fatalf("time=%02d:%02d, want 07:00", s.Hour, s.Minute)
		}
	})
	for _, tt := range []struct{ name, spec, reason string }{
		{"ErrFields", "0 7 * *", "expected exactly 5 fields"},
		{"ErrRange", "0 25 * * *", "above maximum"},
		{"ErrZone", "CRON_TZ=Mars/Olympus 0 7 * * *", `unknown time zone "Mars/Olympus"`},
		{"ErrNothingAfterZone", "CRON_TZ=UTC", "nothing after the time zone"},
		{"ErrTwoZones", "TZ=Australia/Lord_Howe TZ=", "more than one time zone"},
		{"ErrTwoZonesSpec", "CRON_TZ=UTC TZ=Europe/Paris 0 7 * * *", "more than one time zone"},
		{"ErrEvery", "@every 1h", "@every is not supported"},
		{"ErrTwiceADay", "0 7,19 * * *", "fires 2 times a day"},
		{"ErrEveryMinute", "* 7 * * *", "fires 60 times a day"},
		{"ErrEmpty", " ", "empty cron spec"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("err=%v, want one containing %q", err, tt.reason)
			}
		})
	}
}

func mustParse(t *testing.T, spec string) *Spec {
	t.Helper()
	s, err := Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSpec_NextN(t *testing.T) {
	t.Run("WeekdaysInLondon", func(t *testing.T) {
		s := mustParse(t, "CRON_TZ=Europe/London 0 7 * * 1-5")
		// Friday 23 October 2026, 08:00 UTC: after Friday's run. The clocks
		// go back on Sunday 25 October, so Monday's 07:00 is GMT.
		got := s.NextN(time.Date(2026, 10, 23, 8, 0, 0, 0, time.UTC), 3)
		want := []string{"2026-10-26T07:00:00Z", "2026-10-27T07:00:00Z", "2026-10-28T07:00:00Z"}
		checkTimes(t, got, want)
		if got[0].Location().String() != "Europe/London" {
			t.Fatalf("zone=%s, want Europe/London", got[0].Location())
		}
	})
	t.Run("Tokyo", func(t *testing.T) {
		s := mustParse(t, "CRON_TZ=Asia/Tokyo 30 6 * * *")
		got := s.NextN(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), 2)
		checkTimes(t, got, []string{"2026-11-27T21:30:00Z", "2026-11-28T21:30:00Z"})
		if got, want := s.DateOf(got[0]), "2026-11-28"; got != want {
			t.Fatalf("DateOf=%s, want %s (the date in Tokyo)", got, want)
		}
	})
	t.Run("LeapDay", func(t *testing.T) {
		s := mustParse(t, "0 7 29 2 *")
		// NextN looks five years ahead.
		checkTimes(t, s.NextN(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), 2),
			[]string{"2028-02-29T07:00:00Z"})
	})
	t.Run("DomOrDow", func(t *testing.T) {
		// cron's rule: with both day fields restricted, either matches.
		s := mustParse(t, "0 7 1 * 1")
		checkTimes(t, s.NextN(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), 3),
			[]string{"2026-11-30T07:00:00Z", "2026-12-01T07:00:00Z", "2026-12-07T07:00:00Z"})
	})
}

func checkTimes(t *testing.T, got []time.Time, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d times %v, want %d", len(got), got, len(want))
	}
	for i := range got {
		if g := got[i].UTC().Format(time.RFC3339); g != want[i] {
			t.Fatalf("time %d=%s, want %s", i, g, want[i])
		}
	}
}

// The four transitions of 2026 in two zones: each date has exactly one run.
var dstCases = []struct {
	name, spec, date, want string
}{
	// Clocks jump from 02:00 to 03:00: 02:30 does not exist; run at 03:00.
	{"NewYorkSpringForward", "CRON_TZ=America/New_York 30 2 * * *", "2026-03-08", "2026-03-08T07:00:00Z"},
	// 01:30 happens twice (EDT, then EST): run the first time.
	{"NewYorkFallBack", "CRON_TZ=America/New_York 30 1 * * *", "2026-11-01", "2026-11-01T05:30:00Z"},
	// Clocks jump from 01:00 to 02:00.
	{"LondonSpringForward", "CRON_TZ=Europe/London 30 1 * * *", "2026-03-29", "2026-03-29T01:00:00Z"},
	// 01:30 happens twice (BST, then GMT).
	{"LondonFallBack", "CRON_TZ=Europe/London 30 1 * * *", "2026-10-25", "2026-10-25T00:30:00Z"},
}

func TestSpec_OnDate_DST(t *testing.T) {
	for _, tt := range dstCases {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, tt.spec)
			at, ok := s.OnDate(tt.date)
			if !ok {
				t.Fatalf("OnDate(%s): no run", tt.date)
			}
			if got := at.UTC().Format(time.RFC3339); got != tt.want {
				t.Fatalf("OnDate(%s)=%s, want %s", tt.date, got, tt.want)
			}
			if got := s.DateOf(at); got != tt.date {
				t.Fatalf("DateOf=%s, want %s", got, tt.date)
			}
			// Next from the day before lands on this run, and the run after
			// it is on the next date: no skip, no double.
			d, _ := time.ParseInLocation(DateFormat, tt.date, s.Location)
			runs := s.NextN(d.Add(-12*time.Hour), 3)
			var dates []string
			for _, r := range runs {
				dates = append(dates, s.DateOf(r))
			}
			prev := d.AddDate(0, 0, -1).Format(DateFormat)
			next := d.AddDate(0, 0, 1).Format(DateFormat)
			if strings.Join(dates, " ") != prev+" "+tt.date+" "+next && strings.Join(dates, " ") != tt.date+" "+next+" "+d.AddDate(0, 0, 2).Format(DateFormat) {
				t.Fatalf("next run dates=%v around %s", dates, tt.date)
			}
		})
	}
}

// TestRobfig_DSTTraps pins the robfig/cron v3.0.1 behaviour that OnDate
// exists to correct; if an upgrade fixes it, this test says so.
func TestRobfig_DSTTraps(t *testing.T) {
	p := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)
	t.Run("SkipsSpringForward", func(t *testing.T) {
		s, _ := p.Parse("CRON_TZ=America/New_York 30 2 * * *")
		ny, _ := time.LoadLocation("America/New_York")
		next := s.Next(time.Date(2026, 3, 7, 12, 0, 0, 0, ny))
		if next.Format(DateFormat) == "2026-03-08" {
			t.Skipf("robfig now runs on 2026-03-08 (%s): the trap is gone", next)
		}
		if got, want := next.Format(DateFormat), "2026-03-09"; got != want {
			t.Fatalf("robfig Next=%s, want it to skip to %s", next, want)
		}
	})
	t.Run("DoublesFallBack", func(t *testing.T) {
		s, _ := p.Parse("CRON_TZ=America/New_York 30 1 * * *")
		ny, _ := time.LoadLocation("America/New_York")
		first := s.Next(time.Date(2026, 11, 1, 0, 0, 0, 0, ny))
		second := s.Next(first)
		if second.Format(DateFormat) != "2026-11-01" {
			t.Skipf("robfig now runs once on 2026-11-01: the trap is gone")
		}
		if got, want := second.Sub(first), time.Hour; got != want {
			t.Fatalf("robfig's two runs are %s apart, want %s", got, want)
		}
	})
}
