// Package schedule decides when editions go out: the schedules table, cron
// specs with their time zones, the once-a-day run of each schedule (with
// daylight-saving days handled by us, not by cron), missed-run catch-up, and
// the robfig/cron runner with the wrappers bothsides relies on.
package schedule

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// DefaultSpec sends at 07:00 UTC every day.
const DefaultSpec = "CRON_TZ=UTC 0 7 * * *"

// DateFormat is how edition dates are written.
const DateFormat = "2006-01-02"

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Spec is a parsed cron spec and the zone its times are in. A spec fires at
// most once a day: bothsides sends one edition per schedule and date.
type Spec struct {
	Raw      string
	Location *time.Location
	Hour     int // the daily wall-clock time of the run
	Minute   int
	// Local marks a local schedule ("local 07:00 [Zone]"): each subscriber
	// is mailed at Hour:Minute in their own zone, Location being the zone
	// of those who chose none. It runs every day; the scheduler leaves it
	// to the local-time ticker.
	Local bool
	sched *cron.SpecSchedule
}

// Parse reads a robfig/cron v3 spec, optionally prefixed with CRON_TZ= or
// TZ= and a zone name, as in "CRON_TZ=Europe/London 0 7 * * 1-5". The
// error carries the parser's reason. Specs that fire more than once a day
// and @every are refused: an edition is one per schedule and date. A spec
// starting with "local" is a local schedule, "local HH:MM [Zone]".
func Parse(spec string) (*Spec, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("schedule: empty cron spec")
	}
	if IsLocal(spec) {
		return parseLocal(spec)
	}
	loc := time.UTC
	rest := spec
	for _, prefix := range []string{"CRON_TZ=", "TZ="} {
		if strings.HasPrefix(rest, prefix) {
			zone, after, ok := strings.Cut(rest[len(prefix):], " ")
			if !ok || strings.TrimSpace(after) == "" {
				return nil, fmt.Errorf("schedule %q: nothing after the time zone", spec)
			}
			l, err := time.LoadLocation(zone)
			if err != nil || zone == "" || zone == "Local" {
				return nil, fmt.Errorf("schedule %q: unknown time zone %q", spec, zone)
			}
			loc, rest = l, strings.TrimSpace(after)
			break
		}
	}
	if strings.HasPrefix(rest, "TZ=") || strings.HasPrefix(rest, "CRON_TZ=") {
		// robfig/cron would read it as a zone again, and v3.0.1 panics on
		// a bare "TZ=".
		return nil, fmt.Errorf("schedule %q: more than one time zone; give one, as in \"TZ=Europe/Paris 0 7 * * *\"", spec)
	}
	s, err := parser.Parse(rest)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", spec, err)
	}
	ss, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("schedule %q: @every is not supported: an edition goes out once a day; use a time of day such as \"0 7 * * *\"", spec)
	}
	if n := bits.OnesCount64(ss.Hour&^starBit) * bits.OnesCount64(ss.Minute&^starBit); n != 1 {
		return nil, fmt.Errorf("schedule %q: fires %d times a day; a schedule sends one edition a day, so give one minute and one hour (e.g. \"30 6 * * *\")", spec, n)
	}
	return &Spec{Raw: spec, Location: loc, sched: ss,
		Hour: bits.TrailingZeros64(ss.Hour), Minute: bits.TrailingZeros64(ss.Minute)}, nil
}

const starBit = 1 << 63

// RunsOn reports whether the spec has a run on the calendar day of d (year,
// month and day are read in the spec's zone).
func (s *Spec) RunsOn(year int, month time.Month, day int) bool {
	if s.Local {
		return true
	}
	d := time.Date(year, month, day, 12, 0, 0, 0, time.UTC)
	if s.sched.Month&(1<<uint(d.Month())) == 0 {
		return false
	}
	// cron's rule, as robfig implements it: when either day field is a star
	// both must match, otherwise either may.
	dom := s.sched.Dom&(1<<uint(d.Day())) != 0
	dow := s.sched.Dow&(1<<uint(d.Weekday())) != 0
	if s.sched.Dom&starBit != 0 || s.sched.Dow&starBit != 0 {
		return dom && dow
	}
	return dom || dow
}

// OnDate returns the run on the calendar date (YYYY-MM-DD) in the spec's
// zone, and false when the spec has no run that day. Unlike cron itself it
// neither skips nor doubles a run on a daylight-saving day: a time that the
// clocks jump over runs at the first minute after the jump, and a time that
// happens twice runs the first time.
func (s *Spec) OnDate(date string) (time.Time, bool) {
	d, err := time.Parse(DateFormat, date)
	if err != nil {
		return time.Time{}, false
	}
	if !s.RunsOn(d.Year(), d.Month(), d.Day()) {
		return time.Time{}, false
	}
	return wallTime(d.Year(), d.Month(), d.Day(), s.Hour, s.Minute, s.Location), true
}

// wallTime is the first instant at which the clocks in loc show the date
// and time, or the first instant after them when the clocks skip it.
// time.Date leaves both cases unspecified (and resolves them differently
// from zone to zone), so we look at every offset the zone uses around then.
func wallTime(y int, mo time.Month, d, h, mi int, loc *time.Location) time.Time {
	asUTC := time.Date(y, mo, d, h, mi, 0, 0, time.UTC)
	offsets := map[int]bool{}
	for probe := -30 * time.Hour; probe <= 30*time.Hour; probe += time.Hour {
		_, off := asUTC.Add(probe).In(loc).Zone()
		offsets[off] = true
	}
	var best, earliest time.Time
	for off := range offsets {
		u := asUTC.Add(-time.Duration(off) * time.Second)
		if earliest.IsZero() || u.Before(earliest) {
			earliest = u
		}
		l := u.In(loc)
		if l.Year() == y && l.Month() == mo && l.Day() == d && l.Hour() == h && l.Minute() == mi {
			if best.IsZero() || u.Before(best) {
				best = u
			}
		}
	}
	if !best.IsZero() {
		return best.In(loc)
	}
	// The wall time does not exist: the clocks jumped over it. Walk
	// forward to the first minute they show after it.
	target := asUTC
	for u := earliest; u.Before(earliest.Add(48 * time.Hour)); u = u.Add(time.Minute) {
		l := u.In(loc)
		if !time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), 0, 0, time.UTC).Before(target) {
			return l
		}
	}
	return earliest.In(loc)
}

// Next returns the first run strictly after t, in the spec's zone, or the
// zero time when there is none within five years.
func (s *Spec) Next(t time.Time) time.Time {
	if r := s.NextN(t, 1); len(r) == 1 {
		return r[0]
	}
	return time.Time{}
}

// NextN returns the next n runs strictly after t, in the spec's zone.
func (s *Spec) NextN(t time.Time, n int) []time.Time {
	var out []time.Time
	l := t.In(s.Location)
	day := time.Date(l.Year(), l.Month(), l.Day(), 12, 0, 0, 0, time.UTC)
	for i := -1; i < 5*366 && len(out) < n; i++ {
		d := day.AddDate(0, 0, i)
		if !s.RunsOn(d.Year(), d.Month(), d.Day()) {
			continue
		}
		at := wallTime(d.Year(), d.Month(), d.Day(), s.Hour, s.Minute, s.Location)
		if at.After(t) {
			out = append(out, at)
		}
	}
	return out
}

// Between returns the runs due in (from, to], oldest first.
func (s *Spec) Between(from, to time.Time) []time.Time {
	var out []time.Time
	for t := from; ; {
		next := s.Next(t)
		if next.IsZero() || next.After(to) {
			return out
		}
		out = append(out, next)
		t = next
	}
}

// DateOf returns the edition date of a run: its calendar date in the spec's zone.
func (s *Spec) DateOf(run time.Time) string { return run.In(s.Location).Format(DateFormat) }
