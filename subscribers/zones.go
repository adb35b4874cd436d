package subscribers

import (
	_ "embed"
	"slices"
	"strings"
	"time"
)

// zones.txt is "UTC" and the zone names of the IANA database's zone.tab and
// zone1970.tab: one per line, sorted.
//
//go:embed zones.txt
var zonesTxt string

// Timezones lists the time zones offered in a select, sorted.
var Timezones = strings.Fields(zonesTxt)

// CleanTimezone checks an IANA time zone name. The empty string (the
// schedule's zone) is allowed. Names outside the list but known to the
// system's time zone database (older aliases such as Asia/Calcutta, which
// some browsers report) are accepted too.
func CleanTimezone(tz string) (string, error) {
	tz = strings.TrimSpace(tz)
	if tz == "" {
		return "", nil
	}
	if _, ok := slices.BinarySearch(Timezones[1:], tz); ok || tz == "UTC" {
		return tz, nil
	}
	if len(tz) > 64 || strings.ContainsAny(tz, " .\\") || strings.EqualFold(tz, "local") {
		return "", invalid("timezone", "time zone %q is not an IANA name such as Europe/Paris", tz)
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return "", invalid("timezone", "time zone %q is not an IANA name such as Europe/Paris", tz)
	}
	return tz, nil
}
