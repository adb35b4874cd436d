package schedule

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"bothsides/internal/testsupport"
	"bothsides/sqlite"
)

// sends is a Job that freezes an edition row for the run, as the real
// job does through digest.Store.Open, and records every call. A run's
// send can be held open with hold.
type sends struct {
	db *sqlite.DB

	mu      sync.Mutex
	runs    []Run
	active  int
	maxSeen int
	hold    map[string]chan struct{} // date -> released when closed
	fail    map[string]error
}

func newSends(db *sqlite.DB) *sends {
	return &sends{db: db, hold: map[string]chan struct{}{}, fail: map[string]error{}}
}

func (j *sends) job(ctx context.Context, r Run) error {
	j.mu.Lock()
	j.runs = append(j.runs, r)
	j.active++
	j.maxSeen = max(j.maxSeen, j.active)
	hold, fail := j.hold[r.Date], j.fail[r.Date]
	j.mu.Unlock()
	defer func() {
		j.mu.Lock()
		j.active--
		j.mu.Unlock()
	}()
	if fail != nil {
		return fail
	}
	_, err := j.db.W.ExecContext(ctx, `INSERT INTO editions (date, schedule, window_start, window_end, content, status, created_at)
		VALUES (?, ?, ?, ?, '{}', 'sending', ?) ON CONFLICT DO NOTHING`,
		r.Date, r.Schedule.Name, sqlite.Time(r.Due.Add(-24*time.Hour)), sqlite.Time(r.Due), sqlite.Time(j.db.Now()))
	if err != nil {
		return err
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	_, err = j.db.W.ExecContext(ctx, `UPDATE editions SET status = 'sent' WHERE date = ? AND schedule = ?`, r.Date, r.Schedule.Name)
	return err
}

func (j *sends) dates() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []string
	for _, r := range j.runs {
		out = append(out, r.Date)
	}
	return out
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newScheduler returns a manual scheduler over a fresh database whose
// schedule was created at created (the clock is left there).
func newScheduler(t *testing.T, spec string, created time.Time, grace time.Duration) (*Scheduler, *sends, *testsupport.Clock, *Store) {
	t.Helper()
	db, clock := testsupport.MustOpenDB(t)
	clock.Set(created)
	store := NewStore(db)
	if _, err := store.Add(context.Background(), Schedule{Name: "morning", Spec: spec, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	j := newSends(db)
	s := New(Config{Grace: grace, Logger: quietLog(), Now: clock.Now, Manual: true}, store, j.job)
	t.Cleanup(func() { s.Stop(context.Background()) })
	return s, j, clock, store
}

func check(t *testing.T, s *Scheduler) []Decision {
	t.Helper()
	d, err := s.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.Wait()
	return d
}

// TestScheduler_DST runs the scheduler across each 2026 transition, checking
// every 10 minutes for three days: one edition per date, at the right time.
func TestScheduler_DST(t *testing.T) {
	for _, tt := range dstCases {
		t.Run(tt.name, func(t *testing.T) {
			day, _ := time.Parse(DateFormat, tt.date)
			from := day.Add(-36 * time.Hour)
			s, j, clock, store := newScheduler(t, tt.spec, from, time.Hour)
			if err := s.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			for clock.Now().Before(day.Add(48 * time.Hour)) {
				clock.Advance(10 * time.Minute)
				check(t, s)
			}
			got := j.dates()
			want := []string{day.AddDate(0, 0, -1).Format(DateFormat), tt.date, day.AddDate(0, 0, 1).Format(DateFormat)}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("sent dates=%v, want %v", got, want)
			}
			rec, err := store.RunOf(context.Background(), "morning", tt.date)
			if err != nil {
				t.Fatal(err)
			}
			if got := rec.Due.UTC().Format(time.RFC3339); got != tt.want {
				t.Fatalf("due=%s, want %s", got, tt.want)
			}
			if rec.Status != RunDone {
				t.Fatalf("status=%s, want done", rec.Status)
			}
		})
	}
}

func TestScheduler_CatchUp(t *testing.T) {
	created := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	t.Run("WithinGraceSentOlderMissed", func(t *testing.T) {
		s, j, clock, store := newScheduler(t, "CRON_TZ=UTC 0 7 * * *", created, 6*time.Hour)
		// Down since the 25th: the runs of the 25th and 26th are older
		// than 6 hours, the 27th's fell due 3 hours ago.
		db := store.db
		for _, d := range []string{"2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24"} {
			db.W.Exec(`INSERT INTO editions (date, schedule, window_start, window_end, content, status, created_at)
				VALUES (?, 'morning', '', '', '{}', 'sent', '')`, d)
		}
		clock.Set(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.Wait()
		if got, want := fmt.Sprint(j.dates()), "[2026-11-27]"; got != want {
			t.Fatalf("sent=%s, want %s", got, want)
		}
		missed, err := store.Runs(context.Background(), RunMissed, 10)
		if err != nil {
			t.Fatal(err)
		}
		var dates []string
		for _, r := range missed {
			dates = append(dates, r.Date)
		}
		if got, want := fmt.Sprint(dates), "[2026-11-26 2026-11-25]"; got != want {
			t.Fatalf("missed=%s, want %s", got, want)
		}
		// A later check changes nothing: missed stays missed.
		clock.Advance(time.Hour)
		if d := check(t, s); len(d) != 0 {
			t.Fatalf("second check decided %v", d)
		}
	})
	t.Run("PastGraceSkipped", func(t *testing.T) {
		s, j, clock, store := newScheduler(t, "CRON_TZ=UTC 0 7 * * *", time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), 2*time.Hour)
		clock.Set(time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC))
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.Wait()
		if n := len(j.dates()); n != 0 {
			t.Fatalf("sent %d runs, want none", n)
		}
		rec, err := store.RunOf(context.Background(), "morning", "2026-11-27")
		if err != nil {
			t.Fatal(err)
		}
		if rec.Status != RunMissed {
			t.Fatalf("status=%s, want missed", rec.Status)
		}
	})
	t.Run("EditionExists", func(t *testing.T) {
		s, j, clock, store := newScheduler(t, "CRON_TZ=UTC 0 7 * * *", created, 6*time.Hour)
		store.db.W.Exec(`INSERT INTO editions (date, schedule, window_start, window_end, content, status, created_at)
			VALUES ('2026-11-27', 'morning', '', '', '{}', 'sent', '')`)
		clock.Set(time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC))
		store.db.W.Exec(`UPDATE schedules SET updated_at = ?`, sqlite.Time(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)))
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.Wait()
		if n := len(j.dates()); n != 0 {
			t.Fatalf("sent %v, want nothing: the edition was sent by hand", j.dates())
		}
	})
	t.Run("PausedNotCaughtUp", func(t *testing.T) {
		s, j, clock, store := newScheduler(t, "CRON_TZ=UTC 0 7 * * *", created, 6*time.Hour)
		ctx := context.Background()
		clock.Set(time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC))
		if _, err := store.SetEnabled(ctx, "morning", false); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		s.Wait()
		clock.Set(time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC))
		check(t, s)
		clock.Set(time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC))
		if _, err := store.SetEnabled(ctx, "morning", true); err != nil {
			t.Fatal(err)
		}
		check(t, s)
		if n := len(j.dates()); n != 0 {
			t.Fatalf("sent %v while paused", j.dates())
		}
		clock.Set(time.Date(2026, 11, 28, 7, 0, 0, 0, time.UTC))
		check(t, s)
		if got, want := fmt.Sprint(j.dates()), "[2026-11-28]"; got != want {
			t.Fatalf("sent=%s, want %s", got, want)
		}
	})
	t.Run("InterruptedResumed", func(t *testing.T) {
		s, j, clock, store := newScheduler(t, "CRON_TZ=UTC 0 7 * * *", created, 6*time.Hour)
		ctx := context.Background()
		clock.Set(time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC))
		sch, _ := store.Get(ctx, "morning")
		// A previous process claimed the run and died mid-send.
		if ok, err := store.claim(ctx, Run{Schedule: *sch, Date: "2026-11-27", Due: clock.Now()}, false); !ok || err != nil {
			t.Fatalf("claim=%v, %v", ok, err)
		}
		clock.Set(time.Date(2026, 11, 27, 7, 20, 0, 0, time.UTC))
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		s.Wait()
		if got, want := fmt.Sprint(j.dates()), "[2026-11-27]"; got != want {
			t.Fatalf("resumed=%s, want %s", got, want)
		}
		rec, _ := store.RunOf(ctx, "morning", "2026-11-27")
		if rec.Status != RunDone {
			t.Fatalf("status=%s, want done", rec.Status)
		}
	})
}

func TestScheduler_NoOverlap(t *testing.T) {
	created := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	s, j, clock, store := newScheduler(t, "CRON_TZ=UTC 0 7 * * *", created, 6*time.Hour)
	ctx := context.Background()
	release := make(chan struct{})
	j.hold["2026-11-27"] = release
	clock.Set(time.Date(2026, 11, 27, 6, 59, 0, 0, time.UTC))
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Set(time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC))
	if d, err := s.Check(ctx); err != nil || len(d) != 1 || d[0].Action != "sent" {
		t.Fatalf("Check=%v, %v; want the 27th sent", d, err)
	}
	// The 27th's edition is still going out a day later.
	clock.Set(time.Date(2026, 11, 28, 7, 0, 0, 0, time.UTC))
	d, err := s.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 1 || d[0].Action != "waiting" || d[0].Run.Date != "2026-11-28" {
		t.Fatalf("Check=%+v, want the 28th waiting", d)
	}
	if err := s.Launch(d[0].Run); !errors.Is(err, ErrBusy) {
		t.Fatalf("Launch=%v, want ErrBusy", err)
	}
	if _, ok := s.Running()["morning"]; !ok {
		t.Fatal("Running does not list the schedule")
	}
	// The 28th's run is more than the grace period late when the 27th
	// ends, but it fell due while the server was up: it goes out.
	clock.Set(time.Date(2026, 11, 28, 15, 0, 0, 0, time.UTC))
	close(release)
	s.Wait()
	if got, want := fmt.Sprint(j.dates()), "[2026-11-27 2026-11-28]"; got != want {
		t.Fatalf("sent=%s, want %s", got, want)
	}
	if j.maxSeen != 1 {
		t.Fatalf("%d sends of the schedule ran at once, want 1", j.maxSeen)
	}
	for _, date := range []string{"2026-11-27", "2026-11-28"} {
		rec, err := store.RunOf(ctx, "morning", date)
		if err != nil || rec.Status != RunDone {
			t.Fatalf("run %s=%+v, %v; want done", date, rec, err)
		}
	}
}

func TestScheduler_FailuresRecorded(t *testing.T) {
	created := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	s, j, clock, store := newScheduler(t, "CRON_TZ=UTC 0 7 * * *", created, 6*time.Hour)
	ctx := context.Background()
	clock.Set(time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC))
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	j.fail["2026-11-26"] = errors.New("no stories for 2026-11-26")
	clock.Set(time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC))
	check(t, s)
	rec, _ := store.RunOf(ctx, "morning", "2026-11-26")
	if rec.Status != RunFailed || rec.Detail != "no stories for 2026-11-26" {
		t.Fatalf("run=%+v, want failed with the reason", rec)
	}
	// A failed run is not retried by the clock...
	clock.Advance(time.Minute)
	if d := check(t, s); len(d) != 0 {
		t.Fatalf("Check=%v, want nothing", d)
	}
	// ...but an admin may send it again.
	delete(j.fail, "2026-11-26")
	sch, _ := store.Get(ctx, "morning")
	if err := s.Launch(Run{Schedule: *sch, Date: rec.Date, Due: rec.Due}); err != nil {
		t.Fatal(err)
	}
	s.Wait()
	rec, _ = store.RunOf(ctx, "morning", "2026-11-26")
	if rec.Status != RunDone {
		t.Fatalf("status=%s after Launch, want done", rec.Status)
	}
	// A panicking job fails its run and the scheduler goes on.
	s2 := New(Config{Logger: quietLog(), Now: clock.Now, Manual: true}, store, func(context.Context, Run) error { panic("boom") })
	defer s2.Stop(ctx)
	clock.Set(time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC))
	check(t, s2)
	rec, _ = store.RunOf(ctx, "morning", "2026-11-27")
	if rec.Status != RunFailed || rec.Detail != "panic: boom" {
		t.Fatalf("run=%+v, want failed with the panic", rec)
	}
}

func TestScheduler_Reload(t *testing.T) {
	db, clock := testsupport.MustOpenDB(t)
	ctx := context.Background()
	store := NewStore(db)
	for _, name := range []string{"weekday", "weekend"} {
		if _, err := store.Add(ctx, Schedule{Name: name, Spec: "CRON_TZ=Europe/London 0 7 * * 1-5", Enabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	s := New(Config{Logger: quietLog(), Now: clock.Now}, store, func(context.Context, Run) error { return nil })
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(ctx)
	// One entry per enabled schedule and the minute tick.
	if got, want := len(s.runner.c.Entries()), 3; got != want {
		t.Fatalf("entries=%d, want %d", got, want)
	}
	if _, err := store.SetEnabled(ctx, "weekend", false); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := len(s.runner.c.Entries()), 2; got != want {
		t.Fatalf("entries after pause=%d, want %d", got, want)
	}
	if err := store.Remove(ctx, "weekday"); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := len(s.runner.c.Entries()), 1; got != want {
		t.Fatalf("entries after remove=%d, want %d", got, want)
	}
	// A change made by another process (the CLI) is picked up by the
	// minute tick, without a Reload.
	clock.Advance(time.Minute)
	if _, err := store.SetEnabled(ctx, "weekend", true); err != nil {
		t.Fatal(err)
	}
	s.tick()
	if got, want := len(s.runner.c.Entries()), 2; got != want {
		t.Fatalf("entries after a change elsewhere and a tick=%d, want %d", got, want)
	}
}

// BenchmarkScheduler_Check measures one check (what the minute tick does)
// with one schedule and with fifty, each with a week of settled runs.
func BenchmarkScheduler_Check(b *testing.B) {
	for _, n := range []int{1, 50} {
		b.Run(fmt.Sprintf("schedules=%d", n), func(b *testing.B) {
			db, clock := testsupport.MustOpenDB(b)
			ctx := context.Background()
			store := NewStore(db)
			clock.Set(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
			for i := range n {
				if _, err := store.Add(ctx, Schedule{Name: fmt.Sprintf("s%d", i), Spec: fmt.Sprintf("CRON_TZ=Europe/London %d 7 * * *", i%60), Enabled: true}); err != nil {
					b.Fatal(err)
				}
			}
			s := New(Config{Logger: quietLog(), Now: clock.Now, Manual: true}, store, func(context.Context, Run) error { return nil })
			defer s.Stop(ctx)
			clock.Set(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
			if _, err := s.Check(ctx); err != nil {
				b.Fatal(err)
			}
			s.Wait()
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.Check(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
