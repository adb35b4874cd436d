package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/mailer"
	"bothsides/sample"
	"bothsides/sqlite"
	"bothsides/subscribers"
)

// benchFrom is the envelope sender of both sides.
const benchFrom = "digest@bench.example.com"

// benchSize is one size's database, sender and raw message; its pairs send
// one edition each to all n subscribers.
type benchSize struct {
	n      int
	dir    string
	db     *sqlite.DB
	store  *digest.Store
	sender *delivery.Sender
	sel    digest.Selection
	now    time.Time
	msg    []byte        // the raw clients' message
	insert time.Duration // writing the n subscribers
}

// newBenchSize makes a database in a temporary folder with the sample
// stories and n subscribers, and a sender whose connections go to addr.
func newBenchSize(ctx context.Context, a *app, o *benchOptions, addr string, n int) (_ *benchSize, err error) {
	b := &benchSize{n: n, now: a.now()}
	if b.dir, err = os.MkdirTemp("", "bothsides-bench-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	if b.db, err = sqlite.Open(ctx, filepath.Join(b.dir, "bench.db")); err != nil {
		return nil, err
	}
	b.db.Now = func() time.Time { return b.now }
	stories, err := digest.ParseImport(bytes.NewReader(sample.Stories))
	if err != nil {
		return nil, err
	}
	shiftToToday(stories, b.now)
	b.store = digest.NewStore(b.db)
	if _, err := b.store.Import(ctx, stories); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := benchSubscribers(ctx, b.db, n); err != nil {
		return nil, err
	}
	b.insert = time.Since(start)
	b.sel = digest.DefaultSelection
	// Exactly the top --stories: no reading-time cap, no topic limit, no
	// extra blindspot stories.
	b.sel.Count, b.sel.PerTopic, b.sel.Blindspots, b.sel.ReadingMinutes = o.Stories, o.Stories, -1, -1
	e, err := b.edition(ctx, 0)
	if err != nil {
		return nil, err
	}
	key, err := b.db.Secret(ctx, "token_secret")
	if err != nil {
		return nil, err
	}
	r, err := a.renderer()
	if err != nil {
		return nil, err
	}
	var dk *mailer.DKIM
	if o.DKIM {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		if dk, err = mailer.NewDKIM(k, "bench", "bench.example.com"); err != nil {
			return nil, err
		}
	}
	relay, err := mailer.NewSMTP(mailer.Config{URL: "smtp://" + addr + "?tls=none", DKIM: dk})
	if err != nil {
		return nil, err
	}
	const from = "Both Sides <" + benchFrom + ">"
	b.sender = delivery.NewSender(delivery.Config{
		From: from, BaseURL: "https://bench.example.com",
		Connections: a.cfg.Connections, Rate: a.cfg.Rate,
		Logger: slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}, b.db, r, subscribers.NewSigner(key), func() delivery.Conn { return relay.Open() })
	// The raw clients' message: one subscriber's copy of the same edition.
	if b.msg, err = benchMessage(r, e, from); err != nil {
		return nil, err
	}
	return b, nil
}

// edition returns pair p's edition: the same stories, dated p days back,
// so that each pair sends a fresh one with its own ledger.
func (b *benchSize) edition(ctx context.Context, p int) (*digest.Edition, error) {
	e, err := b.store.Open(ctx, digest.AssembleParams{Date: b.now.AddDate(0, 0, -p).Format("2006-01-02"),
		WindowEnd: b.now, WindowHours: 72, Selection: b.sel})
	if err != nil {
		return nil, err
	}
	if len(e.Stories) < b.sel.Count {
		return nil, fmt.Errorf("bench: only %d stories in the window, want %d", len(e.Stories), b.sel.Count)
	}
	return e, nil
}

// Close removes the database.
func (b *benchSize) Close() {
	if b.db != nil {
		b.db.Close()
	}
	os.RemoveAll(b.dir)
}

// benchSubscribers inserts n active subscribers in one statement: a
// recursive CTE counts them out inside SQLite, with no round trip or
// formatting in Go per row.
func benchSubscribers(ctx context.Context, db *sqlite.DB, n int) error {
	now := sqlite.Time(db.Now())
	_, err := db.W.ExecContext(ctx, `WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?)
		INSERT INTO subscribers (email, name, status, created_at, updated_at, confirmed_at)
		SELECT printf('reader%07d@example.com', i), CASE WHEN i % 3 = 0 THEN '' ELSE 'Reader ' || i END, 'active', ?, ?, ?
		FROM seq`, n, now, now, now)
	if err != nil {
		return fmt.Errorf("bench subscribers: %w", err)
	}
	return nil
}

// benchMessage renders one copy of e, personalised for a sample reader.
func benchMessage(r *digest.Renderer, e *digest.Edition, from string) ([]byte, error) {
	rendered, err := r.Render(e)
	if err != nil {
		return nil, err
	}
	unsub := "https://bench.example.com/unsubscribe/AQA.CJnUYaAbdUCh6kX5MhQS0kF7"
	html, text := rendered.Personalize(digest.Personal{Name: "Reader 1", Email: "reader0000001@example.com",
		UnsubscribeURL: unsub, PreferencesURL: "https://bench.example.com/preferences/AQA.CJnUYaAbdUCh6kX5MhQS0kF7"})
	t, err := mailer.NewTemplate(mailer.TemplateConfig{From: from, Subject: rendered.Subject,
		ListID: "Both Sides daily digest <default.bench.example.com>", FeedbackID: e.Date + ":default:digest:bothsides",
		Headers: []mailer.Header{{Name: "Precedence", Value: "bulk"}}, HTML: html, Text: text})
	if err != nil {
		return nil, err
	}
	m, err := t.Append(nil, &mailer.Recipient{To: "reader0000001@example.com", Name: "Reader 1",
		MessageID: "e1.s1.a1.bench@bench.example.com", Date: time.Now(), Unsubscribe: unsub})
	return m.Data, err
}
