package cli

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/local"
	"bothsides/schedule"
	"bothsides/subscribers"
)

func TestScheduleCommands_Local(t *testing.T) {
	c := newCLI(t)
	cmd := func(args ...string) (string, error) {
		out, errOut, err := c.run("", args...)
		return out + errOut, err
	}
	t.Run("Add", func(t *testing.T) {
		out, err := cmd("schedule", "add", "morning", "local 07:00 Europe/London")
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		for _, want := range []string{"morning\tenabled\tlocal 07:00 Europe/London\t5 stories", "07:00 GMT",
			"(in Europe/London; each subscriber at 07:00 in their own zone)"} {
			if !strings.Contains(out, want) {
				t.Fatalf("output %q lacks %q", out, want)
			}
		}
	})
	t.Run("ErrTime", func(t *testing.T) {
		_, err := cmd("schedule", "add", "dawn", "local 7am")
		if err == nil || !strings.Contains(err.Error(), `time "7am": want HH:MM`) {
			t.Fatalf("err=%v, want the bad time named", err)
		}
	})
	t.Run("ErrZone", func(t *testing.T) {
		_, err := cmd("schedule", "add", "dawn", "local 07:00 Moon/Base")
		if err == nil || !strings.Contains(err.Error(), `unknown time zone "Moon/Base"`) {
			t.Fatalf("err=%v, want the unknown zone named", err)
		}
	})
	t.Run("EditToLocal", func(t *testing.T) {
		if out, err := cmd("schedule", "add", "evening", "0 19 * * *"); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		out, err := cmd("schedule", "edit", "evening", "--spec", "local 19:30")
		if err != nil || !strings.Contains(out, "local 19:30\t") || !strings.Contains(out, "19:30 UTC") {
			t.Fatalf("edit: %v %q", err, out)
		}
	})
}

// TestServe_Local: the server sends a local schedule at each subscriber's
// own time. The due index was built by an earlier run at 06:00; the server
// starts at 07:30 UTC, when it is 07:30 in London and 16:30 in Tokyo: the
// London reader is mailed at once, the Tokyo reader (mailed at 07:30 JST,
// before the server went down) is not mailed again.
func TestServe_Local(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC))
	db := f.a.db
	subs := subscribers.NewStore(db)
	for addr, tz := range map[string]string{"ana@example.com": "Europe/London", "ben@example.org": "Asia/Tokyo"} {
		s, err := subs.FindByEmail(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := subs.UpdatePreferences(ctx, s.ID, subscribers.Preferences{Timezone: tz, PreferredHour: subscribers.NoPreferredHour}); err != nil {
			t.Fatal(err)
		}
	}
	store := schedule.NewStore(db)
	if _, err := store.Add(ctx, schedule.Schedule{Name: "morning", Spec: "local 07:30", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	sender, _, err := f.a.newSender(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	ticker := local.New(local.Config{Logger: f.a.log}, db, store, digest.NewStore(db), sender)
	for _, at := range []time.Time{time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC), time.Date(2026, 11, 26, 22, 30, 0, 0, time.UTC)} {
		f.clock.Set(at)
		if _, err := ticker.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if err := ticker.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.smtp.To("ben@example.org")); n != 1 {
		t.Fatalf("ben (Tokyo) got %d mails by 07:30 JST, want 1", n)
	}

	f.clock.Set(time.Date(2026, 11, 27, 7, 30, 0, 0, time.UTC))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- f.a.serve(sctx, ln, "local 07:30", nil) }()
	waitFor(t, "ana's edition", func() bool { return len(f.smtp.To("ana@example.com")) == 1 })
	waitFor(t, "the edition sent", func() bool {
		e, err := digest.NewStore(db).Edition(ctx, "2026-11-27", "morning")
		return err == nil && e.Status == "sent"
	})
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if n := len(f.smtp.To("ben@example.org")); n != 1 {
		t.Fatalf("ben got %d mails, want still 1", n)
	}
	e, err := digest.NewStore(db).Edition(ctx, "2026-11-27", "morning")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.WindowEnd.Format(time.RFC3339), "2026-11-26T22:30:00Z"; got != want {
		t.Fatalf("window end=%s, want Tokyo's 07:30, the first zone to send it: %s", got, want)
	}
	// editions show adds the progress by zone.
	var out bytes.Buffer
	f.a.stdout = &out
	if err := f.a.printLocalProgress(ctx, db, "morning", "2026-11-27"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Asia/Tokyo\tFri 07:30 JST\t1 due\t1 sent\t0 pending\t0 waiting", "Europe/London\tFri 07:30 GMT\t1 due\t1 sent"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("progress by zone %q lacks %q", out.String(), want)
		}
	}
}

// TestPreview_Topics: preview --topics shows the edition as a reader who
// favours those topics gets it: their story first, the rest still there.
func TestPreview_Topics(t *testing.T) {
	c := newCLI(t)
	at := testsupport.Epoch.Add(-time.Hour)
	c.must(importFile(t, story("alpha", "Alpha story", at, "left", "center", "right", "left"),
		story("beta", "Beta story", at, "left", "center", "right"),
		story("gamma", "Gamma story", at, "left", "right")), "stories", "import", "-")
	plain := c.must("", "preview", "--text", "--stories", "2")
	if !strings.Contains(plain, "Alpha story") || !strings.Contains(plain, "Beta story") || strings.Contains(plain, "Gamma story") {
		t.Fatalf("plain preview:\n%s", plain)
	}
	tuned := c.must("", "preview", "--text", "--stories", "2", "--topics", "topic gamma, Topic beta")
	b, g, a := strings.Index(tuned, "Beta story"), strings.Index(tuned, "Gamma story"), strings.Index(tuned, "Alpha story")
	if b < 0 || g < 0 || a < 0 || !(b < g && g < a) {
		t.Fatalf("tuned preview: want Beta (favoured top story), Gamma (one extra of a favoured topic), then Alpha:\n%s", tuned)
	}
}
