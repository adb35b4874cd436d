package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// LocalKeyword starts the spec of a local schedule: "local 07:00" mails each
// subscriber that day's edition at 07:00 in their own time zone, and
// "local 07:00 Europe/London" names the zone of subscribers who chose none
// (otherwise UTC).
const LocalKeyword = "local"

// IsLocal reports whether spec is written as a local schedule, valid or not.
func IsLocal(spec string) bool {
	f := strings.Fields(spec)
	return len(f) > 0 && strings.EqualFold(f[0], LocalKeyword)
}

// parseLocal reads "local HH:MM [Zone]".
func parseLocal(spec string) (*Spec, error) {
	f := strings.Fields(spec)
	if len(f) < 2 || len(f) > 3 {
		return nil, fmt.Errorf("schedule %q: a local schedule is \"local HH:MM\" or \"local HH:MM Zone\", e.g. \"local 07:00 Europe/London\"", spec)
	}
	h, m, ok := parseClock(f[1])
	if !ok {
		return nil, fmt.Errorf("schedule %q: time %q: want HH:MM from 00:00 to 23:59, e.g. 07:00", spec, f[1])
	}
	loc := time.UTC
	if len(f) == 3 {
		l, err := time.LoadLocation(f[2])
		if err != nil || f[2] == "Local" || strings.EqualFold(f[2], LocalKeyword) {
			return nil, fmt.Errorf("schedule %q: unknown time zone %q (want an IANA name such as Europe/London)", spec, f[2])
		}
		loc = l
	}
	return &Spec{Raw: spec, Location: loc, Hour: h, Minute: m, Local: true}, nil
}

// parseClock reads HH:MM (H:MM allowed).
func parseClock(s string) (h, m int, ok bool) {
	hs, ms, found := strings.Cut(s, ":")
	if !found || len(hs) < 1 || len(hs) > 2 || len(ms) != 2 {
		return 0, 0, false
	}
	h, err1 := strconv.Atoi(hs)
	m, err2 := strconv.Atoi(ms)
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 || hs[0] == '+' || hs[0] == '-' || ms[0] == '+' || ms[0] == '-' {
		return 0, 0, false
	}
	return h, m, true
}

// Clock writes the spec's daily time as HH:MM.
func (s *Spec) Clock() string { return fmt.Sprintf("%02d:%02d", s.Hour, s.Minute) }

// LocalRun returns when the clocks in loc first show hour:minute on date
// (YYYY-MM-DD), or the first minute after it on a day the clocks jump over
// it; ok is false when the date does not exist in loc (a zone that skipped
// a whole day, as Pacific/Apia did on 2011-12-30) or is not a date.
func LocalRun(date string, hour, minute int, loc *time.Location) (at time.Time, ok bool) {
	d, err := time.Parse(DateFormat, date)
	if err != nil {
		return time.Time{}, false
	}
	at = wallTime(d.Year(), d.Month(), d.Day(), hour, minute, loc)
	if at.Format(DateFormat) != date {
		return time.Time{}, false
	}
	return at, true
}

// NextLocal returns the first run at hour:minute in loc strictly after t,
// with its local date: the edition it sends.
func NextLocal(t time.Time, loc *time.Location, hour, minute int) (time.Time, string) {
	l := t.In(loc)
	day := time.Date(l.Year(), l.Month(), l.Day(), 12, 0, 0, 0, time.UTC)
	for i := -1; i < 4; i++ {
		date := day.AddDate(0, 0, i).Format(DateFormat)
		if at, ok := LocalRun(date, hour, minute, loc); ok && at.After(t) {
			return at, date
		}
	}
	// Unreachable for real zones: every zone has a run within four days.
	at := t.Add(24 * time.Hour)
	return at, at.In(loc).Format(DateFormat)
}

// NextDate returns the date after date (YYYY-MM-DD).
func NextDate(date string) string {
	d, err := time.Parse(DateFormat, date)
	if err != nil {
		return date
	}
	return d.AddDate(0, 0, 1).Format(DateFormat)
}

// Describe says in words when the schedule sends: "07:00 in each
// subscriber's time zone (Europe/London for those without one)" for a local
// schedule, the raw spec otherwise.
func (s *Spec) Describe() string {
	if !s.Local {
		return s.Raw
	}
	return fmt.Sprintf("%s in each subscriber's time zone (%s for those without one)", s.Clock(), s.Location)
}
