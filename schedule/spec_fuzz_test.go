package schedule

import (
	"strings"
	"testing"
	"time"
)

// FuzzParse checks that any spec is either refused with an error naming
// it, or gives a once-a-day schedule whose runs are consistent: each run is
// in the future of the time asked about, falls on a day the spec runs, and
// is the run OnDate gives for its date.
func FuzzParse(f *testing.F) {
	for _, s := range []string{DefaultSpec, "0 7 * * *", "CRON_TZ=Europe/London 30 1 * * 1-5",
		"TZ=America/New_York 30 2 * * *", "CRON_TZ=Australia/Lord_Howe 0 2 * * *", "@daily", "@every 1h",
		"* * * * *", "0 7 30 2 *", "CRON_TZ=Local 0 7 * * *", "CRON_TZ= 0 7 * * *", "CRON_TZ=../../etc/passwd 0 7 * * *",
		"0 7 * * * *", "61 7 * * *", "0 7 L * *", "0 7 */0 * *", "0 0-23/25 * * *", "\x00", "CRON_TZ=UTC"} {
		f.Add(s)
	}
	at := time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec string) {
		if len(spec) > 200 {
			return
		}
		s, err := Parse(spec)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "schedule") {
				t.Fatalf("error %q does not say it is about the schedule", err)
			}
			return
		}
		if s.Hour < 0 || s.Hour > 23 || s.Minute < 0 || s.Minute > 59 || s.Location == nil {
			t.Fatalf("%q parsed to %02d:%02d in %v", spec, s.Hour, s.Minute, s.Location)
		}
		runs := s.NextN(at, 3)
		prev := at
		for _, r := range runs {
			if !r.After(prev) {
				t.Fatalf("%q: run %v is not after %v", spec, r, prev)
			}
			prev = r
			date := s.DateOf(r)
			on, ok := s.OnDate(date)
			if !ok || !on.Equal(r) {
				t.Fatalf("%q: run %v, but OnDate(%s)=%v, %v", spec, r, date, on, ok)
			}
		}
	})
}
