package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"bothsides/delivery"
	"bothsides/digest"
	"bothsides/mailer"
	"bothsides/sqlite"
	"bothsides/subscribers"
)

var (
	// errUsage makes the process exit with status 2.
	errUsage = errors.New("usage")
	// errQuiet is an error already reported to the user.
	errQuiet = errors.New("reported")
)

// config is the global configuration, from flags over environment over defaults.
type config struct {
	DB            string
	SMTP          string
	BaseURL       string
	From          string
	ReplyTo       string
	PostalAddress string
	Outbox        string
	Verbose       bool

	// Sign-up and unsubscribe (see cmd_signup.go).
	PendingExpiry     string
	UnsubscribeMailto string
	ClientIPHeader    string
	// Delivery (issue 4).
	Connections  int
	Rate         float64
	DKIMKey      string
	DKIMSelector string
	DKIMDomain   string
	BounceLimit  int
	PauseAfter   int
}

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
	// grace is serve's --grace; adminPassword and apiToken are serve's
	// secrets, cleared once hashed; adminIterations is PBKDF2's cost (0:
	// the default; tests lower it).
	grace           time.Duration
	adminPassword   string
	apiToken        string
	adminIterations int
	// fs holds the running command's parsed flags; read them with the
	// flag* getters so that no flag value lives in a package variable.
	fs *flag.FlagSet
	// envErr is a bad number in the environment, reported when a command runs.
	envErr error
	// registry holds the Prometheus metrics that serve exposes at /metrics.
	registry *prometheus.Registry
	metrics  *delivery.Metrics
	// showProgress makes sendEdition draw a progress bar or log progress.
	showProgress bool
}

func (a *app) flagValue(name string) any {
	f := a.fs.Lookup(name)
	if f == nil {
		panic("bothsides: no flag -" + name + " registered for this command")
	}
	return f.Value.(flag.Getter).Get()
}

// flagString returns the value of the running command's string flag.
func (a *app) flagString(name string) string { return a.flagValue(name).(string) }

// flagInt returns the value of the running command's int flag.
func (a *app) flagInt(name string) int { return a.flagValue(name).(int) }

// flagBool returns the value of the running command's bool flag.
func (a *app) flagBool(name string) bool { return a.flagValue(name).(bool) }

// flagDuration returns the value of the running command's duration flag.
func (a *app) flagDuration(name string) time.Duration { return a.flagValue(name).(time.Duration) }

// flagSet reports whether the flag was given on the command line.
func (a *app) flagSet(name string) bool {
	set := false
	a.fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

type command struct {
	name    string // "stories import"
	args    string // "FILE"
	summary string
	help    string
	flags   func(fs *flag.FlagSet)
	run     func(ctx context.Context, a *app, args []string) error
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// globalFlags registers the flags every command takes.
func (a *app) globalFlags(fs *flag.FlagSet) {
	fs.StringVar(&a.cfg.DB, "db", a.cfg.DB, "SQLite database file (env BOTHSIDES_DB)")
	fs.StringVar(&a.cfg.SMTP, "smtp", a.cfg.SMTP, "SMTP relay URL, smtp://[user:pass@]host:port or smtps://...; empty writes .eml files to the outbox (env BOTHSIDES_SMTP_URL)")
	fs.StringVar(&a.cfg.BaseURL, "base-url", a.cfg.BaseURL, "public URL of the web server, used in mailed links (env BOTHSIDES_BASE_URL)")
	fs.StringVar(&a.cfg.From, "from", a.cfg.From, "sender of the digest (env BOTHSIDES_FROM)")
	fs.StringVar(&a.cfg.ReplyTo, "reply-to", a.cfg.ReplyTo, "Reply-To address (env BOTHSIDES_REPLY_TO)")
	fs.StringVar(&a.cfg.PostalAddress, "postal-address", a.cfg.PostalAddress, "sender's postal address shown in the footer (env BOTHSIDES_POSTAL_ADDRESS)")
	fs.StringVar(&a.cfg.Outbox, "outbox", a.cfg.Outbox, "folder for .eml files when no SMTP URL is set (env BOTHSIDES_OUTBOX)")
	fs.BoolVar(&a.cfg.Verbose, "v", false, "log debug details")
	fs.StringVar(&a.cfg.PendingExpiry, "pending-expiry", a.cfg.PendingExpiry, "how long a sign-up's confirmation link works; unconfirmed sign-ups are deleted after it (env BOTHSIDES_PENDING_EXPIRY)")
	fs.StringVar(&a.cfg.UnsubscribeMailto, "unsubscribe-mailto", a.cfg.UnsubscribeMailto, "mailto: address offered for unsubscribing by mail, e.g. mailto:unsubscribe@example.com (env BOTHSIDES_UNSUBSCRIBE_MAILTO)")
	fs.StringVar(&a.cfg.ClientIPHeader, "client-ip-header", a.cfg.ClientIPHeader, "header a trusted reverse proxy sets to the client's IP, e.g. X-Forwarded-For; empty uses the peer address (env BOTHSIDES_CLIENT_IP_HEADER)")
	a.deliveryFlags(fs)
}

func newApp(stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) *app {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv,
		now: func() time.Time { return time.Now().UTC() }}
	a.cfg = config{
		DB:            envOr(getenv, "BOTHSIDES_DB", "bothsides.db"),
		SMTP:          getenv("BOTHSIDES_SMTP_URL"),
		BaseURL:       envOr(getenv, "BOTHSIDES_BASE_URL", "http://127.0.0.1:8080"),
		From:          envOr(getenv, "BOTHSIDES_FROM", "Both Sides <digest@localhost>"),
		ReplyTo:       getenv("BOTHSIDES_REPLY_TO"),
		PostalAddress: getenv("BOTHSIDES_POSTAL_ADDRESS"),
		Outbox:        envOr(getenv, "BOTHSIDES_OUTBOX", "outbox"),

		PendingExpiry:     envOr(getenv, "BOTHSIDES_PENDING_EXPIRY", "48h"),
		UnsubscribeMailto: getenv("BOTHSIDES_UNSUBSCRIBE_MAILTO"),
		ClientIPHeader:    getenv("BOTHSIDES_CLIENT_IP_HEADER"),
	}
	a.deliveryEnv()
	a.registry = prometheus.NewRegistry()
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.metrics = delivery.NewMetrics(a.registry)
	return a
}

var commands []*command

func init() {
	commands = []*command{
		cmdHelp, cmdDemo, cmdStoriesImport, cmdStoriesList,
		cmdSubscribersAdd, cmdSubscribersList,
		cmdSubscribersImport, cmdSubscribersExport, cmdSubscribersRemove, cmdSubscribersShow,
		cmdPreview, cmdSend, cmdEditionsList, cmdEditionsShow, cmdEditionsPause, cmdEditionsResume, cmdEditionsCancel, cmdServe, cmdBench,
		cmdReportsList, cmdReportsResolve,
		cmdScheduleAdd, cmdScheduleList, cmdScheduleEdit, cmdSchedulePause, cmdScheduleResume, cmdScheduleRm, cmdScheduleRuns,
	}
}

// run is the whole program, with its streams and environment injected.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	return newApp(stdin, stdout, stderr, getenv).main(ctx, args)
}

// main parses args and runs the command they name.
func (a *app) main(ctx context.Context, args []string) error {
	stderr := a.stderr
	// Global flags may also come before the command.
	gfs := flag.NewFlagSet("bothsides", flag.ContinueOnError)
	gfs.SetOutput(stderr)
	a.globalFlags(gfs)
	gfs.Usage = func() { usage(stderr) }
	if err := gfs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	args = gfs.Args()
	if len(args) == 0 {
		usage(stderr)
		return errUsage
	}
	cmd, rest := findCommand(args)
	if cmd == nil {
		usage(stderr)
		return fmt.Errorf("%w: unknown command %q", errUsage, strings.Join(args, " "))
	}
	fs := flag.NewFlagSet("bothsides "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	a.globalFlags(fs)
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	fs.Usage = func() { commandUsage(stderr, cmd, fs) }
	// Asked-for help goes to standard output, so that it can be paged;
	// usage after a mistake goes to standard error.
	for _, arg := range rest {
		if arg == "--" {
			break
		}
		if arg == "-h" || arg == "-help" || arg == "--help" {
			fs.SetOutput(a.stdout)
			commandUsage(a.stdout, cmd, fs)
			return nil
		}
	}
	if err := fs.Parse(interleave(fs, rest)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	level := slog.LevelInfo
	if a.cfg.Verbose {
		level = slog.LevelDebug
	}
	a.log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	a.fs = fs
	defer a.close()
	if a.envErr != nil {
		return a.envErr
	}
	return cmd.run(ctx, a, fs.Args())
}

// interleave moves flags after positional arguments to the front, so that
// `subscribers add a@b.example --name Ana` works as people type it.
func interleave(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(arg) > 1 && arg[0] == '-' {
			flags = append(flags, arg)
			name := strings.TrimLeft(arg, "-")
			if strings.Contains(name, "=") {
				continue
			}
			if f := fs.Lookup(name); f != nil {
				if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
					continue
				}
				if i+1 < len(args) {
					flags = append(flags, args[i+1])
					i++
				}
			}
			continue
		}
		pos = append(pos, arg)
	}
	return append(flags, pos...)
}

func findCommand(args []string) (*command, []string) {
	var best *command
	bestLen := 0
	for _, c := range commands {
		words := strings.Fields(c.name)
		if len(words) <= len(args) && len(words) > bestLen {
			match := true
			for i, w := range words {
				if args[i] != w {
					match = false
					break
				}
			}
			if match {
				best, bestLen = c, len(words)
			}
		}
	}
	if best == nil {
		return nil, nil
	}
	return best, args[bestLen:]
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "bothsides: a daily both-sides news digest.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: bothsides [global flags] COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]*command, len(commands))
	copy(names, commands)
	sort.SliceStable(names, func(i, j int) bool { return names[i].name < names[j].name })
	for _, c := range names {
		fmt.Fprintf(w, "  %-28s %s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Global flags (also accepted after the command):")
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	fs.SetOutput(w)
	(&app{cfg: newApp(nil, nil, nil, os.Getenv).cfg}).globalFlags(fs)
	fs.PrintDefaults()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'bothsides COMMAND -h' for a command's flags.")
}

func commandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: bothsides %s [flags] %s\n\n%s\n", c.name, c.args, c.summary)
	if c.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help))
	}
	fmt.Fprintln(w, "\nFlags:")
	fs.PrintDefaults()
}

var cmdHelp = &command{
	name:    "help",
	args:    "[COMMAND]",
	summary: "explain the commands and their flags",
	run: func(ctx context.Context, a *app, args []string) error {
		if len(args) > 0 {
			if c, _ := findCommand(args); c != nil {
				fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
				a.globalFlags(fs)
				if c.flags != nil {
					c.flags(fs)
				}
				fs.SetOutput(a.stdout)
				commandUsage(a.stdout, c, fs)
				return nil
			}
			return fmt.Errorf("%w: unknown command %q", errUsage, strings.Join(args, " "))
		}
		usage(a.stdout)
		return nil
	},
}

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

func (a *app) signer(ctx context.Context, db *sqlite.DB) (*subscribers.Signer, error) {
	key, err := db.Secret(ctx, "token_secret")
	if err != nil {
		return nil, err
	}
	return subscribers.NewSigner(key), nil
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

// parseDate reads a YYYY-MM-DD flag value.
func parseDate(s string) (time.Time, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: --date %q: want YYYY-MM-DD", errUsage, s)
	}
	return t, nil
}

func atoiFlag(name, s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q: want a number", errUsage, name, s)
	}
	return n, nil
}
