package local_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"strings"
	"testing"
	"time"

	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/local"
	"bothsides/mailer"
	"bothsides/sample"
	"bothsides/schedule"
	"bothsides/sqlite"
	"bothsides/subscribers"
)

// env is a database with stories for every day around a date, a local
// schedule, subscribers in many zones, an SMTP server on loopback and a
// ticker driven by the test clock.
type env struct {
	t      *testing.T
	path   string
	db     *sqlite.DB
	clock  *testsupport.Clock
	srv    *testsupport.SMTPServer
	subs   *subscribers.Store
	sched  *schedule.Store
	ticker *local.Ticker
	ids    map[string]int64 // email -> subscriber id
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newEnv opens a database with the clock at start, stories for the days
// from first to last (the sample, moved to each day), and the schedule
// "morning" with spec.
func newEnv(t *testing.T, start time.Time, spec string, first, last string) *env {
	t.Helper()
	path := t.TempDir() + "/bothsides.db"
	db, clock := testsupport.MustOpenDBAt(t, path)
	clock.Set(start)
	e := &env{t: t, path: path, db: db, clock: clock, srv: testsupport.StartSMTP(t), subs: subscribers.NewStore(db),
		sched: schedule.NewStore(db), ids: map[string]int64{}}
	importDays(t, db, first, last)
	// The schedule exists from well before the test's first run.
	clock.Set(start.Add(-48 * time.Hour))
	if _, err := e.sched.Add(context.Background(), schedule.Schedule{Name: "morning", Spec: spec, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	clock.Set(start)
	e.ticker = e.newTicker()
	return e
}

// importDays imports the sample stories once per day from first to last,
// moved so that each day has a copy published at the sample's times of day.
func importDays(t testing.TB, db *sqlite.DB, first, last string) {
	t.Helper()
	base, _ := time.Parse(schedule.DateFormat, "2026-11-27")
	store := digest.NewStore(db)
	for d := first; d <= last; d = schedule.NextDate(d) {
		day, _ := time.Parse(schedule.DateFormat, d)
		shift := day.Sub(base)
		stories, err := digest.ParseImport(bytes.NewReader(sample.Stories))
		if err != nil {
			t.Fatal(err)
		}
		for i := range stories {
			s := &stories[i]
			s.ID += "-" + strings.ReplaceAll(d, "-", "")
			s.PublishedAt = s.PublishedAt.Add(shift)
			if !s.UpdatedAt.IsZero() {
				s.UpdatedAt = s.UpdatedAt.Add(shift)
			}
			for j := range s.Articles {
				if !s.Articles[j].PublishedAt.IsZero() {
					s.Articles[j].PublishedAt = s.Articles[j].PublishedAt.Add(shift)
				}
			}
		}
		if _, err := store.Import(context.Background(), stories); err != nil {
			t.Fatal(err)
		}
	}
}

// newTicker returns a ticker with its own sender, as a fresh process has.
func (e *env) newTicker() *local.Ticker {
	e.t.Helper()
	ctx := context.Background()
	key, err := e.db.Secret(ctx, "token_secret")
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := digest.NewRenderer(digest.RenderConfig{BaseURL: "https://news.example.com"})
	if err != nil {
		e.t.Fatal(err)
	}
	relay, err := mailer.NewSMTP(mailer.Config{URL: e.srv.URL(), Timeout: 5 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	sender := delivery.NewSender(delivery.Config{From: "Both Sides <digest@news.example.com>", BaseURL: "https://news.example.com",
		Connections: 2, Logger: quiet()}, e.db, r, subscribers.NewSigner(key), func() delivery.Conn { return relay.Open() })
	return local.New(local.Config{Logger: quiet(), Batch: 7}, e.db, e.sched, digest.NewStore(e.db), sender)
}

// restart closes the database and opens it again with a new ticker, as a
// new process would.
func (e *env) restart() {
	e.t.Helper()
	now := e.clock.Now()
	e.db.Close()
	db, clock := testsupport.MustOpenDBAt(e.t, e.path)
	clock.Set(now)
	e.db, e.clock = db, clock
	e.subs, e.sched = subscribers.NewStore(db), schedule.NewStore(db)
	e.ticker = e.newTicker()
}

// add adds an active subscriber in zone tz ("" for none) with a preferred
// hour (subscribers.NoPreferredHour for none).
func (e *env) add(email, tz string, hour int, topics ...string) int64 {
	e.t.Helper()
	ctx := context.Background()
	s, err := e.subs.Add(ctx, email, "")
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.subs.UpdatePreferences(ctx, s.ID, subscribers.Preferences{Timezone: tz, PreferredHour: hour, Topics: topics}); err != nil {
		e.t.Fatal(err)
	}
	e.ids[email] = s.ID
	return s.ID
}

// tick runs one tick and sends what it queued.
func (e *env) tick() local.Result {
	e.t.Helper()
	ctx := context.Background()
	res, err := e.ticker.Tick(ctx)
	if err != nil {
		e.t.Fatalf("tick at %s: %v", e.clock.Now().Format(time.RFC3339), err)
	}
	if err := e.ticker.Flush(ctx); err != nil {
		e.t.Fatalf("flush at %s: %v", e.clock.Now().Format(time.RFC3339), err)
	}
	return res
}

// runUntil ticks every step until the clock reaches end.
func (e *env) runUntil(end time.Time, step time.Duration) {
	e.t.Helper()
	for e.clock.Now().Before(end) {
		e.clock.Advance(step)
		e.tick()
	}
}

// received is one message the SMTP server received.
type received struct {
	to      string
	at      time.Time // the message's Date: when the test clock sent it
	edition string    // the edition's date, from Feedback-ID
	subject string
	mail    *testsupport.Mail
}

func (e *env) deliveries() []received {
	e.t.Helper()
	var out []received
	for _, m := range e.srv.Messages() {
		pm, err := testsupport.ParseMail(m.Data)
		if err != nil {
			e.t.Fatal(err)
		}
		at, err := mail.ParseDate(pm.Header.Get("Date"))
		if err != nil {
			e.t.Fatal(err)
		}
		fb := pm.Header.Get("Feedback-ID")
		date, _, _ := strings.Cut(fb, ":")
		for _, to := range m.To {
			out = append(out, received{to: to, at: at, edition: date, subject: testsupport.DecodeHeader(pm.Header.Get("Subject")), mail: pm})
		}
	}
	return out
}

// perDate counts the deliveries of each subscriber per edition date.
func (e *env) perDate() map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, d := range e.deliveries() {
		if out[d.to] == nil {
			out[d.to] = map[string]int{}
		}
		out[d.to][d.edition]++
	}
	return out
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(fmt.Sprintf("bad time %q", s))
	}
	return t
}
