package local_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"bothsides/digest"
	"bothsides/schedule"
	"bothsides/subscribers"
)

const none = subscribers.NoPreferredHour

// reader is a subscriber of the DST tests.
type reader struct {
	email, zone string
	hour        int // preferred hour, or none
}

// readers live in 11 zones, with offsets of whole hours, half hours and
// 45 minutes, on both sides of the date line; two pick an hour that does
// not exist or happens twice on a transition day; one has no zone.
var readers = []reader{
	{"ny@example.com", "America/New_York", none},
	{"ny-1@example.com", "America/New_York", 1},
	{"ny-2@example.com", "America/New_York", 2},
	{"london@example.com", "Europe/London", none},
	{"london-1@example.com", "Europe/London", 1},
	{"kolkata@example.com", "Asia/Kolkata", none},
	{"kathmandu@example.com", "Asia/Kathmandu", none},
	{"adelaide@example.com", "Australia/Adelaide", none},
	{"chatham@example.com", "Pacific/Chatham", none},
	{"stjohns@example.com", "America/St_Johns", none},
	{"kiritimati@example.com", "Pacific/Kiritimati", none},
	{"pagopago@example.com", "Pacific/Pago_Pago", none},
	{"nozone@example.com", "", none}, // the schedule's zone: Europe/Paris
}

// firstShown is the reference for "the first instant the clocks in loc show
// date at hh:mm or later", found by walking minute by minute: independent of
// the scheduling code it checks.
func firstShown(loc *time.Location, date string, hh, mm int) (time.Time, bool) {
	d, _ := time.Parse(schedule.DateFormat, date)
	for u := d.Add(-16 * time.Hour); u.Before(d.Add(40 * time.Hour)); u = u.Add(time.Minute) {
		l := u.In(loc)
		if l.Format(schedule.DateFormat) == date && l.Hour()*60+l.Minute() >= hh*60+mm {
			return u, true
		}
	}
	return time.Time{}, false
}

// TestTicker_DST runs a local schedule at 07:30 (Europe/Paris for readers
// without a zone) for three days around each 2026 transition in New York
// and London, ticking every five minutes, and checks that every reader got
// exactly one edition per local date, at their local time or, when the
// clocks skip it, the first minute after; the one edition of each date
// went to every zone, its window ending at the first zone's send.
func TestTicker_DST(t *testing.T) {
	for _, tt := range []struct {
		name, date string
		anchors    map[string]string // reader -> when they get date's edition (UTC)
	}{
		{"NewYorkSpring", "2026-03-08", map[string]string{
			"ny@example.com":   "2026-03-08T11:30:00Z", // 07:30 EDT
			"ny-2@example.com": "2026-03-08T07:00:00Z", // 02:30 does not exist: 03:00 EDT
			"ny-1@example.com": "2026-03-08T06:30:00Z", // 01:30 EST
		}},
		{"NewYorkFall", "2026-11-01", map[string]string{
			"ny@example.com":   "2026-11-01T12:30:00Z", // 07:30 EST
			"ny-1@example.com": "2026-11-01T05:30:00Z", // 01:30 happens twice: the first, EDT
			"ny-2@example.com": "2026-11-01T07:30:00Z", // 02:30 EST
		}},
		{"LondonSpring", "2026-03-29", map[string]string{
			"london@example.com":   "2026-03-29T06:30:00Z", // 07:30 BST
			"london-1@example.com": "2026-03-29T01:00:00Z", // 01:30 does not exist: 02:00 BST
		}},
		{"LondonFall", "2026-10-25", map[string]string{
			"london@example.com":   "2026-10-25T07:30:00Z", // 07:30 GMT
			"london-1@example.com": "2026-10-25T00:30:00Z", // 01:30 twice: the first, BST
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			day, _ := time.Parse(schedule.DateFormat, tt.date)
			start, end := day.Add(-24*time.Hour), day.Add(48*time.Hour)
			before, after := day.AddDate(0, 0, -3).Format(schedule.DateFormat), day.AddDate(0, 0, 2).Format(schedule.DateFormat)
			e := newEnv(t, start, "local 07:30 Europe/Paris", before, after)
			for _, r := range readers {
				e.add(r.email, r.zone, r.hour)
			}
			e.runUntil(end, 5*time.Minute)

			got := map[string]map[string]time.Time{}
			for _, d := range e.deliveries() {
				if got[d.to] == nil {
					got[d.to] = map[string]time.Time{}
				}
				if prev, dup := got[d.to][d.edition]; dup {
					t.Fatalf("%s got the %s edition twice: at %s and %s", d.to, d.edition, prev, d.at)
				}
				got[d.to][d.edition] = d.at
			}
			for _, r := range readers {
				zone := r.zone
				if zone == "" {
					zone = "Europe/Paris"
				}
				loc := mustLoc(t, zone)
				hh := 7
				if r.hour != none {
					hh = r.hour
				}
				want := map[string]time.Time{}
				for d := before; d <= after; d = schedule.NextDate(d) {
					if at, ok := firstShown(loc, d, hh, 30); ok && at.After(start) && !at.After(end) {
						want[d] = at
					}
				}
				if len(want) < 2 {
					t.Fatalf("%s: the test expects at least two runs, has %v", r.email, want)
				}
				if len(got[r.email]) != len(want) {
					t.Fatalf("%s (%s %02d:30) got editions %v, want %v", r.email, zone, hh, got[r.email], want)
				}
				for d, at := range want {
					if g := got[r.email][d]; !g.Equal(at) {
						t.Fatalf("%s got the %s edition at %s, want %s (%s)", r.email, d, g.UTC(), at.UTC(), at.In(loc))
					}
				}
				if a, ok := tt.anchors[r.email]; ok {
					if g := got[r.email][tt.date]; !g.Equal(utc(a)) {
						t.Fatalf("%s got the %s edition at %s, want %s", r.email, tt.date, g.UTC().Format(time.RFC3339), a)
					}
				}
			}

			// One edition per date, shared by every zone; its window ends at
			// the first send of that date.
			first := map[string]time.Time{}
			for _, byDate := range got {
				for d, at := range byDate {
					if f, ok := first[d]; !ok || at.Before(f) {
						first[d] = at
					}
				}
			}
			rows, err := e.db.R.Query(`SELECT date, window_end, status FROM editions WHERE schedule = 'morning' ORDER BY date`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var dates []string
			for rows.Next() {
				var d, end, status string
				if err := rows.Scan(&d, &end, &status); err != nil {
					t.Fatal(err)
				}
				dates = append(dates, d)
				if f := first[d].UTC().Format(time.RFC3339); end != f {
					t.Fatalf("edition %s: window ends %s, want the first zone's send %s", d, end, f)
				}
				// Sending while a zone is still waiting for that date, sent
				// after the last one.
				var waiting int
				if err := e.db.R.QueryRow(`SELECT COUNT(*) FROM local_due WHERE local_date = ?`, d).Scan(&waiting); err != nil {
					t.Fatal(err)
				}
				if want := map[bool]string{true: "sending", false: "sent"}[waiting > 0]; status != want {
					t.Fatalf("edition %s: status %s with %d readers waiting, want %s", d, status, waiting, want)
				}
			}
			var wantDates []string
			for d := range first {
				wantDates = append(wantDates, d)
			}
			sort.Strings(wantDates)
			if fmt.Sprint(dates) != fmt.Sprint(wantDates) {
				t.Fatalf("editions %v, want one per date sent %v", dates, wantDates)
			}
		})
	}
}

// TestTicker_Restart stops the process in the middle of the day twice:
// once between ticks, once after a tick queued deliveries and before they
// were sent. Every reader still gets each date's edition exactly once, the
// queued ones at the first tick after the restart.
func TestTicker_Restart(t *testing.T) {
	start := utc("2026-11-26T00:00:00Z")
	e := newEnv(t, start, "local 07:30 Europe/Paris", "2026-11-23", "2026-11-29")
	for _, r := range readers {
		e.add(r.email, r.zone, r.hour)
	}
	e.runUntil(utc("2026-11-26T10:00:00Z"), 5*time.Minute)
	e.restart()
	e.runUntil(utc("2026-11-26T12:25:00Z"), 5*time.Minute)
	// 12:30 UTC is 07:30 in New York: queue, then "crash" before sending.
	e.clock.Set(utc("2026-11-26T12:30:00Z"))
	res, err := e.ticker.Tick(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Queued != 1 {
		t.Fatalf("queued %d at 12:30, want 1 (ny@)", res.Queued)
	}
	e.restart()
	e.clock.Set(utc("2026-11-26T12:35:00Z"))
	e.tick()
	var nyAt time.Time
	for _, d := range e.deliveries() {
		if d.to == "ny@example.com" && d.edition == "2026-11-26" {
			nyAt = d.at
		}
	}
	if !nyAt.Equal(utc("2026-11-26T12:35:00Z")) {
		t.Fatalf("ny@ got the 2026-11-26 edition at %s, want 12:35 (the first tick after the restart)", nyAt)
	}
	e.runUntil(utc("2026-11-28T00:00:00Z"), 5*time.Minute)
	for to, byDate := range e.perDate() {
		for d, n := range byDate {
			if n != 1 {
				t.Fatalf("%s got the %s edition %d times", to, d, n)
			}
		}
		if len(byDate) < 2 {
			t.Fatalf("%s got %v, want at least two dates", to, byDate)
		}
	}
}

// TestTicker_PreferenceChange changes readers' zone, hour and status
// between ticks.
func TestTicker_PreferenceChange(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, utc("2026-11-26T12:00:00Z"), "local 07:30", "2026-11-24", "2026-11-30")
	tokyo := e.add("tokyo@example.com", "Asia/Tokyo", none)
	late := e.add("late@example.com", "America/New_York", none)
	east := e.add("east@example.com", "America/Los_Angeles", none)
	gone := e.add("gone@example.com", "Europe/Berlin", none)
	paused := e.add("paused@example.com", "Europe/Berlin", none)
	e.add("stay@example.com", "Europe/Berlin", none)

	prefs := func(id int64, tz string, hour int) {
		t.Helper()
		if _, err := e.subs.UpdatePreferences(ctx, id, subscribers.Preferences{Timezone: tz, PreferredHour: hour}); err != nil {
			t.Fatal(err)
		}
	}
	// tokyo@ gets 27 November at 07:30 JST (22:30 UTC on the 26th).
	e.runUntil(utc("2026-11-26T23:00:00Z"), 5*time.Minute)
	// ...then moves to New York, where the 27th's 07:30 is still ahead:
	// the ledger stops a second copy of the 27th.
	prefs(tokyo, "America/New_York", none)
	// gone@ unsubscribes and paused@ pauses before Berlin's morning.
	if err := e.subs.Unsubscribe(ctx, gone); err != nil {
		t.Fatal(err)
	}
	if _, err := e.subs.Pause(ctx, paused, 1); err != nil {
		t.Fatal(err)
	}
	e.runUntil(utc("2026-11-27T11:00:00Z"), 5*time.Minute)
	// 06:00 in New York: late@ moves their hour to 05 (05:30 has passed
	// today, their 07:30 has not): today's edition goes now, not tomorrow.
	prefs(late, "America/New_York", 5)
	// 04:00 in Los Angeles, 13:00 in Berlin: east@ moves to Berlin, where
	// 07:30 has passed: today's edition goes now.
	prefs(east, "Europe/Berlin", none)
	e.runUntil(utc("2026-11-29T00:00:00Z"), 5*time.Minute)

	want := map[string]map[string]string{
		"tokyo@example.com": {"2026-11-27": "2026-11-26T22:30:00Z", "2026-11-28": "2026-11-28T12:30:00Z"},
		"late@example.com":  {"2026-11-26": "2026-11-26T12:30:00Z", "2026-11-27": "2026-11-27T11:05:00Z", "2026-11-28": "2026-11-28T10:30:00Z"},
		"east@example.com":  {"2026-11-26": "2026-11-26T15:30:00Z", "2026-11-27": "2026-11-27T11:05:00Z", "2026-11-28": "2026-11-28T06:30:00Z"},
		"stay@example.com":  {"2026-11-27": "2026-11-27T06:30:00Z", "2026-11-28": "2026-11-28T06:30:00Z"},
	}
	got := map[string]map[string]string{}
	for _, d := range e.deliveries() {
		if got[d.to] == nil {
			got[d.to] = map[string]string{}
		}
		if prev, dup := got[d.to][d.edition]; dup {
			t.Fatalf("%s got the %s edition twice (%s and %s)", d.to, d.edition, prev, d.at.UTC().Format(time.RFC3339))
		}
		got[d.to][d.edition] = d.at.UTC().Format(time.RFC3339)
	}
	for _, who := range []string{"gone@example.com", "paused@example.com"} {
		if len(got[who]) != 0 {
			t.Fatalf("%s got %v, want nothing", who, got[who])
		}
	}
	for who, w := range want {
		if fmt.Sprint(got[who]) != fmt.Sprint(w) {
			t.Fatalf("%s got %v, want %v", who, got[who], w)
		}
	}
	_ = late
	_ = east
}

// TestTicker_EditionControls: an admin pauses a local edition between
// zones (the later zones queue and are mailed on resume), then cancels it
// (nobody else gets it); editing the schedule's time moves everyone's next
// run.
func TestTicker_EditionControls(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, utc("2026-11-26T12:00:00Z"), "local 07:30", "2026-11-24", "2026-11-30")
	e.add("tokyo@example.com", "Asia/Tokyo", none)
	e.add("london@example.com", "Europe/London", none)
	e.add("ny@example.com", "America/New_York", none)
	e.runUntil(utc("2026-11-26T23:00:00Z"), 5*time.Minute) // Tokyo has the 27th
	ed, err := digest.NewStore(e.db).Edition(ctx, "2026-11-27", "morning")
	if err != nil {
		t.Fatal(err)
	}
	if err := digest.SetEditionStatus(ctx, e.db, ed.ID, "paused"); err != nil {
		t.Fatal(err)
	}
	e.runUntil(utc("2026-11-27T08:00:00Z"), 5*time.Minute) // London's 07:30 passes
	if n := e.perDate()["london@example.com"]["2026-11-27"]; n != 0 {
		t.Fatalf("london@ got the paused edition %d times", n)
	}
	if err := digest.SetEditionStatus(ctx, e.db, ed.ID, "sending"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5 * time.Minute)
	e.tick()
	if n := e.perDate()["london@example.com"]["2026-11-27"]; n != 1 {
		t.Fatalf("london@ got the resumed edition %d times, want 1", n)
	}
	if err := digest.SetEditionStatus(ctx, e.db, ed.ID, "cancelled"); err != nil {
		t.Fatal(err)
	}
	e.runUntil(utc("2026-11-28T01:00:00Z"), 5*time.Minute) // New York's 07:30 passes
	if n := e.perDate()["ny@example.com"]["2026-11-27"]; n != 0 {
		t.Fatalf("ny@ got the cancelled edition %d times", n)
	}
	if _, err := e.sched.Update(ctx, "morning", schedule.Schedule{Spec: "local 09:00", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	e.runUntil(utc("2026-11-29T00:00:00Z"), 5*time.Minute)
	got := map[string]string{}
	for _, d := range e.deliveries() {
		if d.edition == "2026-11-28" {
			got[d.to] = d.at.UTC().Format(time.RFC3339)
		}
	}
	want := map[string]string{
		"tokyo@example.com":  "2026-11-27T22:30:00Z", // before the change
		"london@example.com": "2026-11-28T09:00:00Z",
		"ny@example.com":     "2026-11-28T14:00:00Z",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("28th sent at %v, want %v", got, want)
	}
	for to, byDate := range e.perDate() {
		for d, n := range byDate {
			if n != 1 {
				t.Fatalf("%s got %s %d times", to, d, n)
			}
		}
	}
}

// TestTicker_LastZoneSkipped: when the last zone of a date has nobody to
// mail (its reader paused), the edition is still marked sent once that
// zone's time has passed; until then it is sending.
func TestTicker_LastZoneSkipped(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, utc("2026-11-26T12:00:00Z"), "local 07:30", "2026-11-24", "2026-11-30")
	e.add("tokyo@example.com", "Asia/Tokyo", none)
	berlin := e.add("berlin@example.com", "Europe/Berlin", none)
	if _, err := e.subs.Pause(ctx, berlin, 1); err != nil {
		t.Fatal(err)
	}
	status := func() digest.EditionStatus {
		ed, err := digest.NewStore(e.db).Edition(ctx, "2026-11-27", "morning")
		if err != nil {
			t.Fatal(err)
		}
		return ed.Status
	}
	e.runUntil(utc("2026-11-26T23:00:00Z"), 5*time.Minute)
	if s := status(); s != "sending" {
		t.Fatalf("after Tokyo, before Berlin: status %s, want sending", s)
	}
	e.runUntil(utc("2026-11-27T07:00:00Z"), 5*time.Minute)
	if s := status(); s != "sent" {
		t.Fatalf("after Berlin's morning: status %s, want sent", s)
	}
	if n := len(e.srv.To("berlin@example.com")); n != 0 {
		t.Fatalf("paused berlin@ got %d mails", n)
	}
}

// TestTicker_Start runs the background loop as serve does: its first tick
// at start mails the reader whose morning it is, and Stop waits for the
// send to be recorded.
func TestTicker_Start(t *testing.T) {
	e := newEnv(t, utc("2026-11-27T06:00:00Z"), "local 07:30", "2026-11-24", "2026-11-29")
	e.add("london@example.com", "Europe/London", none)
	e.add("ny@example.com", "America/New_York", none)
	if _, err := e.ticker.Tick(context.Background()); err != nil { // builds the due index
		t.Fatal(err)
	}
	e.clock.Set(utc("2026-11-27T07:30:00Z"))
	if err := e.ticker.Start(); err != nil {
		t.Fatal(err)
	}
	e.srv.WaitFor(t, "london@example.com", 1)
	e.ticker.Stop(context.Background())
	var status string
	if err := e.db.R.QueryRow(`SELECT d.status FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
		WHERE s.email = 'london@example.com'`).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status != "sent" {
		t.Fatalf("london@'s delivery is %s after Stop, want sent", status)
	}
	if n := len(e.srv.To("ny@example.com")); n != 0 {
		t.Fatalf("ny@ got %d mails at 02:30 New York time", n)
	}
}
