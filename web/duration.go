package web

import (
	"fmt"
	"time"

	"bothsides/subscribers"
)

// humanDuration says d as people do: "48 hours", "7 days", "90 minutes".
func humanDuration(d time.Duration) string {
	if d <= 0 {
		d = subscribers.DefaultPendingExpiry
	}
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d%(24*time.Hour) == 0 && d > 48*time.Hour:
		return plural(int64(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	default:
		return plural(int64(d/time.Minute), "minute")
	}
}
