package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"bothsides/bounce"
	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/mailer"
	"bothsides/newsroom"
	"bothsides/sqlite"
	"bothsides/subscribers"
	"bothsides/web"
	"bothsides/webhook"
)

// app is one invocation: configuration, streams and the resources opened.
type app struct {
	cfg    config
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	log    *slog.Logger
	now    func() time.Time

	db *sqlite.DB
	// room is the newsroom, made on first use (newsroom.go).
	room *newsroom.Newsroom
	// grace is serve's --grace; adminPassword, apiToken and metricsToken
	// are serve's secrets, cleared once hashed or handed to the server;
	// adminIterations is PBKDF2's cost (0: the default; tests lower it).
	grace           time.Duration
	adminPassword   string
	apiToken        string
	metricsToken    string
	adminIterations int
	// adminLimits is serve's login limits and idle timeout (zero: the
	// defaults).
	adminLimits web.AdminConfig
	// webhooks are serve's sending-service webhooks, built from their
	// settings.
	webhooks []webhook.Provider
	// ingest is serve's feed fetching (zero Every: none, as in tests);
	// ingestTransport, when set, replaces the network (the demo's feeds).
	ingest          ingestConfig
	ingestTransport http.RoundTripper
	// bounceIntake is serve's bounce listener and mailbox settings.
	bounceIntake bounceIntakeConfig
	// commands is the command table of this invocation; given holds the
	// flags given on its command line.
	commands []*command
	given    map[string]bool
	// registry holds the Prometheus metrics that serve exposes at /metrics.
	registry *prometheus.Registry
	metrics  *delivery.Metrics
	// bounceMetrics counts what the bounce listener and mailbox take in.
	bounceMetrics *bounce.IntakeMetrics
	// showProgress makes sendEdition draw a progress bar or log progress.
	showProgress bool
	// secretChecked is set once signingKey has compared --secret-file
	// with the database's key (and warned).
	secretChecked bool
}

// newApp makes an invocation with its streams and environment.
func newApp(stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) *app {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv,
		now: func() time.Time { return time.Now().UTC() }}
	// The environment over the defaults, for callers that skip the command
	// line (tests); main loads them again and reports a bad value.
	settings := a.cfg.settings()
	fs := flag.NewFlagSet("defaults", flag.ContinueOnError)
	register(fs, settings)
	_ = loadEnv(fs, settings, nil, getenv)
	a.registry = prometheus.NewRegistry()
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.metrics = delivery.NewMetrics(a.registry)
	a.bounceMetrics = bounce.NewIntakeMetrics(a.registry)
	return a
}

// flagGiven reports whether the flag was given on the command line.
func (a *app) flagGiven(name string) bool { return a.given[name] }

// openDB opens the configured database once.
func (a *app) openDB(ctx context.Context) (*sqlite.DB, error) {
	if a.db != nil {
		return a.db, nil
	}
	db, err := sqlite.Open(ctx, a.cfg.DB)
	if err != nil {
		return nil, err
	}
	db.Now = a.now
	for _, fx := range db.ModeFixes {
		if fx.Err != nil {
			a.log.Warn("database file is open to group or others and could not be made 0600; chmod 600 it", "file", fx.File, "mode", fmt.Sprintf("%04o", fx.Was), "err", fx.Err)
		} else {
			a.log.Warn("database file was open to group or others; made 0600", "file", fx.File, "was", fmt.Sprintf("%04o", fx.Was))
		}
	}
	a.db = db
	return db, nil
}

func (a *app) close() {
	if a.db != nil {
		a.db.Close()
		a.db = nil
	}
}

func (a *app) renderer() (*digest.Renderer, error) {
	return digest.NewRenderer(digest.RenderConfig{BaseURL: a.cfg.BaseURL, PostalAddress: a.cfg.PostalAddress})
}

// render renders e once with the configured renderer, for a preview or a
// test mail.
func (a *app) render(e *digest.Edition) (*digest.Rendered, error) {
	r, err := a.renderer()
	if err != nil {
		return nil, err
	}
	return r.Render(e)
}

// signer returns the link signer over the token key ring stored in the
// database (key 0 is the token_secret row; each "secret rotate" adds one
// that signs from then on; see subscribers.LoadKeys). A signing key read
// from elsewhere (a file) belongs in the same ring: the newest id signs,
// every other one verifies.
func (a *app) signer(ctx context.Context, db *sqlite.DB) (*subscribers.Signer, error) {
	if a.cfg.SecretFile == "" {
		return subscribers.NewSignerFrom(ctx, db)
	}
	key, err := a.signingKey(ctx, db)
	if err != nil {
		return nil, err
	}
	return subscribers.NewSignerWithKey0(ctx, db, key)
}

// mailCloser is a delivery.Mailer that holds a connection.
type mailCloser interface {
	delivery.Mailer
	Close() error
}

var (
	_ delivery.Mailer = (*mailer.SMTP)(nil)
	_ delivery.Mailer = (*mailer.Outbox)(nil)
)

func (a *app) mailer() (mailCloser, string, error) {
	d, err := a.dkim()
	if err != nil {
		return nil, "", err
	}
	if a.cfg.SMTP == "" {
		return &mailer.Outbox{Dir: a.cfg.Outbox, DKIM: d}, "outbox " + a.cfg.Outbox, nil
	}
	m, err := mailer.NewSMTP(mailer.Config{URL: a.cfg.SMTP, DKIM: d})
	if err != nil {
		return nil, "", err
	}
	return m, mailer.Redact(a.cfg.SMTP), nil
}

// checkBaseURL validates the base URL and warns when one-click unsubscribe
// will not be offered by mail providers.
func (a *app) checkBaseURL() error {
	u, err := url.Parse(a.cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--base-url %q: want an absolute http(s) URL such as https://news.example.com", a.cfg.BaseURL)
	}
	if u.Scheme == "http" {
		a.log.Warn("base URL is plain http: mail providers will not offer one-click unsubscribe; use https in production", "base_url", a.cfg.BaseURL)
	}
	return nil
}

// dkim loads the configured DKIM key, or returns nil when none is set.
func (a *app) dkim() (*mailer.DKIM, error) {
	if a.cfg.DKIMKey == "" {
		return nil, nil
	}
	domain := a.cfg.DKIMDomain
	if domain == "" {
		domain = mailer.Domain(a.cfg.From)
	}
	return mailer.LoadDKIM(a.cfg.DKIMKey, a.cfg.DKIMSelector, domain)
}

// transport returns how a send opens its connections, and where they go.
func (a *app) transport() (func() delivery.Conn, string, error) {
	if a.cfg.Connections < 1 || a.cfg.Connections > 100 {
		return nil, "", fmt.Errorf("%w: --connections %d: want 1 to 100", errUsage, a.cfg.Connections)
	}
	if a.cfg.Rate < 0 {
		return nil, "", fmt.Errorf("%w: --rate %v: want 0 (no limit) or more", errUsage, a.cfg.Rate)
	}
	d, err := a.dkim()
	if err != nil {
		return nil, "", err
	}
	if a.cfg.SMTP == "" {
		o := &mailer.Outbox{Dir: a.cfg.Outbox, DKIM: d}
		return func() delivery.Conn { return o }, "outbox " + a.cfg.Outbox, nil
	}
	relay, err := mailer.NewSMTP(mailer.Config{URL: a.cfg.SMTP, DKIM: d})
	if err != nil {
		return nil, "", err
	}
	return func() delivery.Conn { return relay.Open() }, mailer.Redact(a.cfg.SMTP), nil
}

var (
	_ delivery.Conn = (*mailer.SMTP)(nil)
	_ delivery.Conn = (*mailer.Outbox)(nil)
)

// newSender wires a delivery.Sender from the configuration.
func (a *app) newSender(ctx context.Context, db *sqlite.DB) (*delivery.Sender, string, error) {
	r, err := a.renderer()
	if err != nil {
		return nil, "", err
	}
	signer, err := a.signer(ctx, db)
	if err != nil {
		return nil, "", err
	}
	dial, where, err := a.transport()
	if err != nil {
		return nil, "", err
	}
	bounceAddr, err := a.bounceAddress()
	if err != nil {
		return nil, "", err
	}
	s := delivery.NewSender(delivery.Config{
		From: a.cfg.From, ReplyTo: a.cfg.ReplyTo, BaseURL: a.cfg.BaseURL,
		UnsubscribeMailto: a.cfg.UnsubscribeMailto,
		BounceAddress:     bounceAddr,
		Connections:       a.cfg.Connections,
		Rate:              a.cfg.Rate,
		BounceLimit:       a.cfg.BounceLimit,
		PauseAfter:        a.cfg.PauseAfter,
		Logger:            a.log,
		Metrics:           a.metrics,
	}, db, r, signer, dial)
	return s, where, nil
}

// metricsHandler serves the process's Prometheus metrics: the sender's
// counters, send latency and queue depth, and Go and process statistics.
func (a *app) metricsHandler() http.Handler {
	return promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelError),
	})
}

// parseDate reads a YYYY-MM-DD flag value.
func parseDate(s string) (time.Time, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: --date %q: want YYYY-MM-DD", errUsage, s)
	}
	return t, nil
}
