package local_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/local"
	"bothsides/mailer"
	"bothsides/schedule"
	"bothsides/sqlite"
	"bothsides/subscribers"
)

// benchSubscribers is the audience of BenchmarkLocalTick.
const benchSubscribers = 1_000_000

// benchDue is how many subscribers fall due in each measured tick.
const benchDue = 1000

// benchZones are 40 zones around the world; the 4-zone run takes the first 4.
var benchZones = []string{
	"America/New_York", "Europe/London", "Asia/Kolkata", "Australia/Sydney", "America/Chicago", "America/Denver",
	"America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "America/Sao_Paulo", "America/St_Johns",
	"Atlantic/Azores", "Europe/Paris", "Europe/Berlin", "Europe/Athens", "Europe/Moscow", "Asia/Dubai",
	"Asia/Karachi", "Asia/Kathmandu", "Asia/Dhaka", "Asia/Yangon", "Asia/Bangkok", "Asia/Shanghai", "Asia/Tokyo",
	"Australia/Adelaide", "Australia/Darwin", "Australia/Brisbane", "Pacific/Noumea", "Pacific/Auckland",
	"Pacific/Chatham", "Pacific/Tongatapu", "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/Mexico_City",
	"America/Bogota", "America/Caracas", "Africa/Lagos", "Africa/Cairo", "Africa/Nairobi", "Asia/Tehran",
}

// BenchmarkLocalTick measures one tick that hands benchDue subscribers to
// the ledger, out of benchSubscribers spread over 4 or over 40 zones. The
// due rows are found through the index on (schedule_id, due_at), so the cost
// follows the rows due and stays flat in the number of zones (and of
// subscribers). The setup writes a million subscribers in one transaction
// through a prepared statement, then the first tick builds the index;
// both times are reported.
func BenchmarkLocalTick(b *testing.B) {
	for _, nz := range []int{4, 40} {
		b.Run(fmt.Sprintf("zones=%d", nz), func(b *testing.B) {
			benchTick(b, benchZones[:nz])
		})
	}
}

func benchTick(b *testing.B, zones []string) {
	ctx := context.Background()
	db, clock := testsupport.MustOpenDB(b)
	now := utc("2026-11-27T12:00:00Z")
	clock.Set(now.Add(-72 * time.Hour))
	sched := schedule.NewStore(db)
	if _, err := sched.Add(ctx, schedule.Schedule{Name: "morning", Spec: "local 07:00", Enabled: true}); err != nil {
		b.Fatal(err)
	}
	clock.Set(now)
	importDays(b, db, "2026-11-25", "2026-11-28")

	start := time.Now()
	if err := insertSubscribers(ctx, db, benchSubscribers, zones); err != nil {
		b.Fatal(err)
	}
	insert := time.Since(start)
	ticker := local.New(local.Config{Logger: quiet()}, db, sched, digest.NewStore(db),
		delivery.NewSender(delivery.Config{From: "digest@news.example.com", BaseURL: "https://news.example.com", Logger: quiet()},
			db, nil, subscribers.NewSigner([]byte("k")), func() delivery.Conn { return &mailer.Outbox{Dir: b.TempDir()} }))
	start = time.Now()
	if _, err := ticker.Tick(ctx); err != nil {
		b.Fatal(err)
	}
	build := time.Since(start)

	var id int64
	if err := db.R.QueryRow(`SELECT id FROM schedules WHERE name = 'morning'`).Scan(&id); err != nil {
		b.Fatal(err)
	}
	next := int64(1)
	b.ResetTimer()
	for b.Loop() {
		// benchDue consecutive subscribers (all zones, round robin) fall
		// due now, for the date of the edition they get.
		b.StopTimer()
		lo, hi := next, next+benchDue-1
		if hi > benchSubscribers {
			lo, hi = 1, benchDue
		}
		next = hi + 1
		if _, err := db.W.Exec(`UPDATE local_due SET due_at = ?, local_date = '2026-11-27'
			WHERE schedule_id = ? AND subscriber_id BETWEEN ? AND ?`, sqlite.Time(now), id, lo, hi); err != nil {
			b.Fatal(err)
		}
		if _, err := db.W.Exec(`DELETE FROM deliveries WHERE subscriber_id BETWEEN ? AND ?`, lo, hi); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := ticker.Tick(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if res.Queued != benchDue {
			b.Fatalf("queued %d, want %d", res.Queued, benchDue)
		}
	}
	// After the loop: ResetTimer clears reported metrics.
	b.ReportMetric(insert.Seconds(), "insert-s")
	b.ReportMetric(build.Seconds(), "build-s")
}

// insertSubscribers writes n active subscribers, zones round robin, in one
// transaction through one prepared statement.
func insertSubscribers(ctx context.Context, db *sqlite.DB, n int, zones []string) error {
	ts := sqlite.Time(db.Now())
	return db.Tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO subscribers (id, email, status, timezone, created_at, updated_at)
			VALUES (?, ?, 'active', ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for i := 1; i <= n; i++ {
			if _, err := st.ExecContext(ctx, i, fmt.Sprintf("r%d@example.com", i), zones[i%len(zones)], ts, ts); err != nil {
				return err
			}
		}
		// The first tick builds every row in one statement; the triggers'
		// per-subscriber queue is not needed for a fresh audience.
		_, err = tx.ExecContext(ctx, `DELETE FROM local_dirty`)
		return err
	})
}
