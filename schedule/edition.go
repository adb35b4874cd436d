package schedule

import (
	"time"

	"bothsides/digest"
)

// EditionParams is the edition s makes on date, its window ending at end:
// the schedule's stories, window and overrides.
func (s *Schedule) EditionParams(date string, end time.Time) digest.AssembleParams {
	sel := digest.DefaultSelection
	sel.Count = s.Stories
	return digest.AssembleParams{
		Date: date, Schedule: s.Name, WindowEnd: end.UTC(), WindowHours: s.WindowHours,
		Selection: sel, Title: s.Title, Subject: s.Subject,
	}
}

// RunOn returns the run of s on date (YYYY-MM-DD; "" for today in the
// schedule's zone at now), due at the time its spec gives that day. ok is
// false, and Due zero, when the schedule has no run that day. The caller
// checks the date's form: a date that does not parse has no run.
func (s *Schedule) RunOn(date string, now time.Time) (r Run, ok bool, err error) {
	spec, err := s.Parsed()
	if err != nil {
		return Run{}, false, err
	}
	if date == "" {
		date = now.In(spec.Location).Format(DateFormat)
	}
	due, ok := spec.OnDate(date)
	return Run{Schedule: *s, Date: date, Due: due}, ok, nil
}

// WindowEnd is when the window of r's edition ends if the edition is made
// at now: the run's due time, or now when it is made early.
func (r Run) WindowEnd(now time.Time) time.Time {
	if r.Due.After(now) {
		return now
	}
	return r.Due
}

// EditionParams is the edition r makes at now: its schedule's, its window
// ending at WindowEnd(now).
func (r Run) EditionParams(now time.Time) digest.AssembleParams {
	return r.Schedule.EditionParams(r.Date, r.WindowEnd(now))
}
