package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/internal/smtpsink"
	"bothsides/mailer"
	"bothsides/sample"
	"bothsides/sqlite"
	"bothsides/subscribers"
)

// benchOptions are bench's flags.
type benchOptions struct {
	Subscribers string
	Stories     int
	DKIM        bool
	CPUProfile  string
}

func benchCommand() *command {
	var o benchOptions
	return &command{
		name:    "bench",
		summary: "measure the send pipeline against a raw SMTP client on loopback",
		help: `Creates a database in a temporary folder with the sample stories and N
synthetic subscribers, starts an SMTP sink on 127.0.0.1, and sends a real
edition (--stories, default 10) through the full pipeline: ledger, rendering,
the pre-encoded message, go-mail over --connections connections. In the same
run it sends as many copies of one pre-rendered message of the same edition
with a minimal raw SMTP client over the same number of connections. It
prints both rates, their ratio, and the peak memory (VmHWM) of each phase.
--subscribers takes a comma-separated list to show how memory grows with N.
Nothing leaves the machine; the database and sink are removed afterwards.`,
		settings: []setting{
			stringSetting(&o.Subscribers, "subscribers", "", "10000", "subscribers to send to; a comma-separated list runs each size"),
			intSetting(&o.Stories, "stories", "", 10, "top stories in the edition"),
			boolSetting(&o.DKIM, "dkim", "", false, "DKIM-sign every pipeline message with a fresh RSA-2048 key"),
			stringSetting(&o.CPUProfile, "cpuprofile", "", "", "write a CPU profile of the whole run to this file (go tool pprof)"),
		},
		run: func(ctx context.Context, a *app, args []string) error { return runBench(ctx, a, &o) },
	}
}

type benchResult struct {
	n                     int
	size                  int
	pipeline, raw         time.Duration
	pipelineCPU, rawCPU   time.Duration // user+system time of the process, sink included
	pipelinePeak, rawPeak int64
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func runBench(ctx context.Context, a *app, o *benchOptions) error {
	var sizes []int
	for _, f := range strings.Split(o.Subscribers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("%w: --subscribers %q: want positive whole numbers separated by commas", errUsage, f)
		}
		sizes = append(sizes, n)
	}
	if a.cfg.Connections < 1 {
		return fmt.Errorf("%w: --connections %d: want at least 1", errUsage, a.cfg.Connections)
	}
	if path := o.CPUProfile; path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	sink, err := startSink()
	if err != nil {
		return err
	}
	defer sink.Close()
	fmt.Fprintf(a.stdout, "bench: %d-story edition, %d connections, SMTP sink on %s, GOMAXPROCS=%d\n",
		o.Stories, a.cfg.Connections, sink.Addr, runtime.GOMAXPROCS(0))
	fmt.Fprintf(a.stdout, "%11s %9s %14s %9s %6s %13s %11s %13s %11s\n", "subscribers", "msg bytes", "pipeline msg/s", "raw msg/s", "ratio",
		"pipeline peak", "raw peak", "pipeline cpu", "raw cpu")
	for _, n := range sizes {
		r, err := benchOnce(ctx, a, o, sink, n)
		if err != nil {
			return err
		}
		pr := float64(r.n) / r.pipeline.Seconds()
		rr := float64(r.n) / r.raw.Seconds()
		fmt.Fprintf(a.stdout, "%11d %9d %14.0f %9.0f %5.0f%% %10.1f MB %8.1f MB %8.0f µs/msg %6.0f µs/msg\n",
			r.n, r.size, pr, rr, 100*pr/rr, float64(r.pipelinePeak)/(1<<20), float64(r.rawPeak)/(1<<20),
			float64(r.pipelineCPU.Microseconds())/float64(r.n), float64(r.rawCPU.Microseconds())/float64(r.n))
	}
	return nil
}

// benchOnce builds a database of n subscribers and runs both senders.
func benchOnce(ctx context.Context, a *app, o *benchOptions, sink *smtpsink.Server, n int) (benchResult, error) {
	res := benchResult{n: n}
	dir, err := os.MkdirTemp("", "bothsides-bench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	db, err := sqlite.Open(ctx, filepath.Join(dir, "bench.db"))
	if err != nil {
		return res, err
	}
	defer db.Close()
	now := a.now()
	db.Now = func() time.Time { return now }
	stories, err := digest.ParseImport(bytes.NewReader(sample.Stories))
	if err != nil {
		return res, err
	}
	shiftToToday(stories, now)
	store := digest.NewStore(db)
	if _, err := store.Import(ctx, stories); err != nil {
		return res, err
	}
	if err := benchSubscribers(ctx, db, n); err != nil {
		return res, err
	}
	sel := digest.DefaultSelection
	// Exactly the top --stories: no reading-time cap, no topic limit, no
	// extra blindspot stories.
	sel.Count, sel.PerTopic, sel.Blindspots, sel.ReadingMinutes = o.Stories, o.Stories, -1, -1
	e, err := store.Open(ctx, digest.AssembleParams{Date: now.Format("2006-01-02"), WindowEnd: now, WindowHours: 72, Selection: sel})
	if err != nil {
		return res, err
	}
	if len(e.Stories) < sel.Count {
		return res, fmt.Errorf("bench: only %d stories in the window, want %d", len(e.Stories), sel.Count)
	}
	key, err := db.Secret(ctx, "token_secret")
	if err != nil {
		return res, err
	}
	r, err := a.renderer()
	if err != nil {
		return res, err
	}
	var dk *mailer.DKIM
	if o.DKIM {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return res, err
		}
		if dk, err = mailer.NewDKIM(k, "bench", "bench.example.com"); err != nil {
			return res, err
		}
	}
	relay, err := mailer.NewSMTP(mailer.Config{URL: "smtp://" + sink.Addr + "?tls=none", DKIM: dk})
	if err != nil {
		return res, err
	}
	const from = "Both Sides <digest@bench.example.com>"
	sender := delivery.NewSender(delivery.Config{
		From: from, BaseURL: "https://bench.example.com",
		Connections: a.cfg.Connections, Rate: a.cfg.Rate,
		Logger: slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}, db, r, subscribers.NewSigner(key), func() delivery.Conn { return relay.Open() })

	// The raw client's message: one subscriber's copy of the same edition.
	msg, err := benchMessage(r, e, from)
	if err != nil {
		return res, err
	}
	res.size = len(msg)

	settle()
	sink.Reset()
	start, cpu := time.Now(), cpuTime()
	var st delivery.Stats
	// Profile labels tell the phases apart in --cpuprofile (pprof -tagfocus).
	pprof.Do(ctx, pprof.Labels("phase", "pipeline"), func(ctx context.Context) { st, err = sender.Send(ctx, e) })
	res.pipeline, res.pipelineCPU = time.Since(start), cpuTime()-cpu
	res.pipelinePeak = peakRSS()
	if err != nil {
		return res, err
	}
	if st.Sent != n || sink.Count() != n {
		return res, fmt.Errorf("bench: pipeline sent %d, sink got %d, want %d", st.Sent, sink.Count(), n)
	}

	settle()
	sink.Reset()
	start, cpu = time.Now(), cpuTime()
	pprof.Do(ctx, pprof.Labels("phase", "raw"), func(ctx context.Context) {
		err = rawSend(ctx, sink.Addr, a.cfg.Connections, n, "digest@bench.example.com", msg)
	})
	if err != nil {
		return res, err
	}
	res.raw, res.rawCPU = time.Since(start), cpuTime()-cpu
	res.rawPeak = peakRSS()
	if sink.Count() != n {
		return res, fmt.Errorf("bench: raw client: sink got %d, want %d", sink.Count(), n)
	}
	return res, nil
}

// benchSubscribers inserts n active subscribers in one transaction.
func benchSubscribers(ctx context.Context, db *sqlite.DB, n int) error {
	now := sqlite.Time(db.Now())
	return db.Tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO subscribers (email, name, status, created_at, updated_at, confirmed_at)
			VALUES (?, ?, 'active', ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for i := range n {
			name := ""
			if i%3 != 0 {
				name = fmt.Sprintf("Reader %d", i)
			}
			if _, err := st.ExecContext(ctx, fmt.Sprintf("reader%07d@example.com", i), name, now, now, now); err != nil {
				return fmt.Errorf("bench subscribers: %w", err)
			}
		}
		return nil
	})
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

// rawSend sends n copies of msg over conns connections with the least an
// SMTP client can do: EHLO once, then MAIL, RCPT, DATA and the message,
// dot-stuffed once beforehand, waiting for each reply as go-mail does.
func rawSend(ctx context.Context, addr string, conns, n int, from string, msg []byte) error {
	var stuffed bytes.Buffer
	dw := textproto.NewWriter(bufio.NewWriter(&stuffed)).DotWriter()
	dw.Write(msg)
	dw.Close()
	body := stuffed.Bytes()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rawConn(ctx, addr, n, &next, from, body); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func rawConn(ctx context.Context, addr string, n int, next *atomic.Int64, from string, body []byte) error {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	c := textproto.NewConn(nc)
	if _, _, err := c.ReadResponse(220); err != nil {
		return err
	}
	cmd := func(code int, format string, args ...any) error {
		if err := c.PrintfLine(format, args...); err != nil {
			return err
		}
		_, _, err := c.ReadResponse(code)
		return err
	}
	if err := cmd(250, "EHLO bench.localhost"); err != nil {
		return err
	}
	for {
		i := next.Add(1)
		if i > int64(n) {
			return cmd(221, "QUIT")
		}
		if err := cmd(250, "MAIL FROM:<%s>", from); err != nil {
			return err
		}
		if err := cmd(250, "RCPT TO:<raw%d@example.com>", i); err != nil {
			return err
		}
		if err := cmd(354, "DATA"); err != nil {
			return err
		}
		if _, err := c.W.Write(body); err != nil {
			return err
		}
		if err := c.W.Flush(); err != nil {
			return err
		}
		if _, _, err := c.ReadResponse(250); err != nil {
			return err
		}
	}
}

// settle returns freed memory to the OS and restarts the peak RSS count,
// so that each phase's peak is its own.
func settle() {
	runtime.GC()
	debug.FreeOSMemory()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // resets VmHWM (Linux)
}

// peakRSS is VmHWM from /proc/self/status in bytes, or 0 where unknown.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// startSink starts an SMTP server on 127.0.0.1 that counts and discards
// messages.
func startSink() (*smtpsink.Server, error) {
	s, err := smtpsink.Listen(smtpsink.Config{Timeout: time.Minute})
	if err != nil {
		return nil, err
	}
	s.CountOnly = true
	go s.Serve()
	return s, nil
}
