package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/sample"
	"bothsides/schedule"
	"bothsides/subscribers"
)

func TestScheduleCommands(t *testing.T) {
	c := newCLI(t)
	cmd := func(args ...string) (string, error) {
		out, errOut, err := c.run("", args...)
		return out + errOut, err
	}
	t.Run("Add", func(t *testing.T) {
		out, err := cmd("schedule", "add", "weekday", "CRON_TZ=Europe/London 0 7 * * 1-5", "--stories", "4", "--subject", "Weekday news")
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		for _, want := range []string{"weekday\tenabled\tCRON_TZ=Europe/London 0 7 * * 1-5\t4 stories\t24h window\tnext: ", "07:00 GMT"} {
			if !strings.Contains(out, want) {
				t.Fatalf("output %q lacks %q", out, want)
			}
		}
		if n := strings.Count(out, "GMT"); n != 3 {
			t.Fatalf("output %q shows %d runs, want the next three", out, n)
		}
	})
	t.Run("ErrZone", func(t *testing.T) {
		_, err := cmd("schedule", "add", "moon", "CRON_TZ=Moon/Base 0 7 * * *")
		if err == nil || !strings.Contains(err.Error(), `unknown time zone "Moon/Base"`) {
			t.Fatalf("err=%v, want the unknown zone named", err)
		}
	})
	t.Run("ErrSpec", func(t *testing.T) {
		_, err := cmd("schedule", "add", "bad", "0 7 * * mon-xyz")
		if err == nil || !strings.Contains(err.Error(), "failed to parse") {
			t.Fatalf("err=%v, want the parser's reason", err)
		}
	})
	t.Run("Edit", func(t *testing.T) {
		out, err := cmd("schedule", "edit", "weekday", "--spec", "CRON_TZ=America/New_York 30 6 * * *")
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if !strings.Contains(out, "CRON_TZ=America/New_York 30 6 * * *\t4 stories") || !strings.Contains(out, "06:30 EST") {
			t.Fatalf("edit kept the other fields? %q", out)
		}
		if _, err := cmd("schedule", "edit", "weekday"); !errors.Is(err, errUsage) {
			t.Fatalf("edit without flags: err=%v, want a usage error", err)
		}
	})
	t.Run("PauseResume", func(t *testing.T) {
		out, _ := cmd("schedule", "pause", "weekday")
		if !strings.Contains(out, "weekday\tpaused") {
			t.Fatalf("pause: %q", out)
		}
		out, _ = cmd("schedule", "resume", "weekday")
		if !strings.Contains(out, "weekday\tenabled") {
			t.Fatalf("resume: %q", out)
		}
	})
	t.Run("Remove", func(t *testing.T) {
		if out, err := cmd("schedule", "rm", "weekday"); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if _, err := cmd("schedule", "rm", "weekday"); !errors.Is(err, schedule.ErrNotFound) {
			t.Fatalf("second rm: err=%v, want ErrNotFound", err)
		}
		out, _ := cmd("schedule", "list")
		if !strings.Contains(out, "no schedules") {
			t.Fatalf("list=%q", out)
		}
	})
}

// fixture is a database with the sample stories dated to the clock, two
// subscribers and an SMTP server.
type fixture struct {
	a     *app
	clock *testsupport.Clock
	smtp  *testsupport.SMTPServer
}

func newFixture(t *testing.T, now time.Time) *fixture {
	t.Helper()
	clock := testsupport.NewClock(now)
	srv := testsupport.StartSMTP(t)
	a := newApp(strings.NewReader(""), io.Discard, io.Discard, func(string) string { return "" })
	a.cfg.DB = t.TempDir() + "/b.db"
	a.cfg.SMTP = srv.URL() + "?tls=none"
	a.log = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	a.now = clock.Now
	t.Cleanup(a.close)
	ctx := context.Background()
	db, err := a.openDB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stories, err := digest.ParseImport(bytes.NewReader(sample.Stories))
	if err != nil {
		t.Fatal(err)
	}
	shiftToToday(stories, now)
	if _, err := digest.NewStore(db).Import(ctx, stories); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"ana@example.com", "ben@example.org"} {
		if _, err := subscribers.NewStore(db).Add(ctx, addr, ""); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{a: a, clock: clock, smtp: srv}
}

// waitFor polls cond until it holds or the test's deadline nears.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServe_CatchUp starts the server half an hour after the default
// schedule's 07:00 run: the run is within the grace period and goes out at
// once, through the real SMTP server.
func TestServe_CatchUp(t *testing.T) {
	f := newFixture(t, time.Date(2026, 11, 27, 7, 30, 0, 0, time.UTC))
	f.a.grace = defaultGrace
	// The schedule was there before the server went down.
	f.clock.Set(time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC))
	if _, err := schedule.NewStore(f.a.db).Seed(context.Background(), "CRON_TZ=UTC 0 7 * * *"); err != nil {
		t.Fatal(err)
	}
	// The 26th's edition went out; the 27th's fell due while down.
	if _, err := f.a.db.W.Exec(`INSERT INTO editions (date, schedule, window_start, window_end, content, status, created_at)
		VALUES ('2026-11-26', 'default', '2026-11-25T07:00:00Z', '2026-11-26T07:00:00Z', '{}', 'sent', '2026-11-26T07:00:00Z')`); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(time.Date(2026, 11, 27, 7, 30, 0, 0, time.UTC))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- f.a.serve(ctx, ln, "CRON_TZ=UTC 0 7 * * *", nil) }()
	waitFor(t, "two messages", func() bool { return len(f.smtp.Messages()) == 2 })
	store := schedule.NewStore(f.a.db)
	waitFor(t, "the run recorded", func() bool {
		rec, err := store.RunOf(context.Background(), schedule.DefaultName, "2026-11-27")
		return err == nil && rec.Status == schedule.RunDone
	})
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	e, err := digest.NewStore(f.a.db).Edition(context.Background(), "2026-11-27", schedule.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.WindowEnd.Format(time.RFC3339), "2026-11-27T07:00:00Z"; got != want {
		t.Fatalf("window end=%s, want the run's due time %s", got, want)
	}
	if e.Status != "sent" {
		t.Fatalf("status=%s, want sent", e.Status)
	}
}

// TestServe_ScheduleOff checks that --schedule off only skips seeding the
// default schedule: a schedule added through the CLI, console or API is
// still sent when due (here, caught up at start within the grace period).
func TestServe_ScheduleOff(t *testing.T) {
	f := newFixture(t, time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC))
	f.a.grace = defaultGrace
	ctx := context.Background()
	store := schedule.NewStore(f.a.db)
	if _, err := store.Add(ctx, schedule.Schedule{Name: "morning", Spec: "CRON_TZ=UTC 0 7 * * *", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(time.Date(2026, 11, 27, 7, 30, 0, 0, time.UTC))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- f.a.serve(sctx, ln, "off", nil) }()
	waitFor(t, "the morning run done", func() bool {
		rec, err := store.RunOf(ctx, "morning", "2026-11-27")
		return err == nil && rec.Status == schedule.RunDone
	})
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if got := len(f.smtp.Messages()); got != 2 {
		t.Fatalf("%d messages, want 2 (one per subscriber)", got)
	}
	list, err := store.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "morning" {
		t.Fatalf("schedules %v, want only morning (off seeds no default)", list)
	}
}

func TestSend_Schedule(t *testing.T) {
	f := newFixture(t, time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
	ctx := context.Background()
	st := schedule.NewStore(f.a.db)
	if _, err := st.Add(ctx, schedule.Schedule{Name: "brief", Spec: "CRON_TZ=Europe/London 0 8 * * 1-5", Enabled: true, Stories: 2, Subject: "Your brief"}); err != nil {
		t.Fatal(err)
	}
	p, _, err := f.a.scheduleParams(ctx, "brief", "2026-11-27")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.sendEdition(ctx, p); err != nil {
		t.Fatal(err)
	}
	e, err := digest.NewStore(f.a.db).Edition(ctx, "2026-11-27", "brief")
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Stories) != 2 || e.Subject != "Your brief" || e.WindowEnd.Format(time.RFC3339) != "2026-11-27T08:00:00Z" {
		t.Fatalf("edition: %d stories, subject %q, window end %s", len(e.Stories), e.Subject, e.WindowEnd)
	}
	if n := len(f.smtp.Messages()); n != 2 {
		t.Fatalf("%d messages, want 2", n)
	}
	if _, _, err := f.a.scheduleParams(ctx, "brief", "2026-11-28"); err == nil || !strings.Contains(err.Error(), "has no run on 2026-11-28") {
		t.Fatalf("Saturday: err=%v, want no run", err)
	}
}

// testWriter sends logs to t.Log, shown when a test fails or with -v.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestServe_PauseResume pauses a send through the API while a message is
// in the relay, then resumes it: the run is recorded as stopped, then done,
// and every reader gets the edition exactly once.
func TestServe_PauseResume(t *testing.T) {
	f := newFixture(t, time.Date(2026, 11, 27, 7, 30, 0, 0, time.UTC))
	ctx := context.Background()
	for i := range 8 {
		if _, err := subscribers.NewStore(f.a.db).Add(ctx, fmt.Sprintf("reader%d@example.net", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	store := schedule.NewStore(f.a.db)
	// Due at 08:00, after the clock's 07:30: the scheduler, which runs
	// with --schedule off too, leaves it to the API's send.
	if _, err := store.Add(ctx, schedule.Schedule{Name: "brief", Spec: "0 8 * * *", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}, 100), make(chan struct{})
	f.smtp.OnData = func([]string, []byte) error {
		entered <- struct{}{}
		<-release
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	f.a.cfg.BaseURL, f.a.grace, f.a.apiToken = base, defaultGrace, "tok"
	sctx, cancel := context.WithCancel(ctx)
	errc, ready := make(chan error, 1), make(chan struct{})
	go func() { errc <- f.a.serve(sctx, ln, "off", func() { close(ready) }) }()
	<-ready
	api := func(path string, body string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer tok")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := api("/api/send", `{"schedule": "brief", "date": "2026-11-27"}`); code != http.StatusAccepted {
		t.Fatalf("send: %d", code)
	}
	<-entered // a message is in the relay
	if code := api("/api/editions/brief/2026-11-27/pause", ""); code != http.StatusOK {
		t.Fatalf("pause: %d", code)
	}
	close(release)
	runIs := func(status string) func() bool {
		return func() bool {
			rec, err := store.RunOf(ctx, "brief", "2026-11-27")
			return err == nil && rec.Status == status
		}
	}
	waitFor(t, "the run stopped", runIs(schedule.RunStopped))
	e, err := digest.NewStore(f.a.db).Edition(ctx, "2026-11-27", "brief")
	if err != nil {
		t.Fatal(err)
	}
	st, err := delivery.LedgerStats(ctx, f.a.db.R, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != "paused" || st.Pending() == 0 || len(f.smtp.Messages()) >= 10 {
		t.Fatalf("after pause: status %s, %d pending, %d mails; want paused with mail left", e.Status, st.Pending(), len(f.smtp.Messages()))
	}
	if code := api("/api/editions/brief/2026-11-27/resume", ""); code != http.StatusOK {
		t.Fatalf("resume: %d", code)
	}
	waitFor(t, "the run done", runIs(schedule.RunDone))
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, m := range f.smtp.Messages() {
		for _, to := range m.To {
			got[to]++
		}
	}
	if len(got) != 10 {
		t.Fatalf("%d readers mailed, want 10: %v", len(got), got)
	}
	for to, n := range got {
		if n != 1 {
			t.Fatalf("%s got %d mails, want 1", to, n)
		}
	}
}

func TestServeGrace(t *testing.T) {
	for _, tt := range []struct {
		name, env string
		args      []string
		want      time.Duration
		err       string
	}{
		{"Default", "", nil, 6 * time.Hour, ""},
		{"Flag", "", []string{"--grace", "90m"}, 90 * time.Minute, ""},
		{"Env", "2h", nil, 2 * time.Hour, ""},
		{"FlagBeatsEnv", "2h", []string{"--grace", "30m"}, 30 * time.Minute, ""},
		{"ErrEnv", "soon", nil, 0, `BOTHSIDES_GRACE "soon"`},
		{"ErrZero", "", []string{"--grace", "0s"}, 0, "want a positive duration"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "BOTHSIDES_GRACE" {
					return tt.env
				}
				return ""
			}
			var o serveConfig
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			_, _, err := loadSettings(fs, o.settings(), tt.args, getenv)
			var got time.Duration
			if err == nil {
				got, err = o.grace()
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err=%v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("grace=%s, %v; want %s", got, err, tt.want)
			}
		})
	}
}
