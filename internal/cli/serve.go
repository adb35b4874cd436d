package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"bothsides/digest"
	"bothsides/schedule"
	"bothsides/subscribers"
	"bothsides/web"
)

// defaultGrace is how late a run missed while the server was down may still
// be sent at start.
const defaultGrace = 6 * time.Hour

// serveConfig is serve's own configuration (demo takes it too).
type serveConfig struct {
	Addr          string
	Schedule      string
	Grace         time.Duration
	AdminPassword string
	APIToken      string
	MetricsToken  string
	// AdminFailDelay, AdminLoginQueue and AdminIdle are the console's
	// login limits and idle timeout (web.AdminConfig).
	AdminFailDelay  time.Duration
	AdminLoginQueue int
	AdminIdle       time.Duration
	// Webhooks are the sending services' webhooks (webhooks.go).
	Webhooks webhookConfig
	// Ingest is how and how often the sources' feeds are fetched.
	Ingest ingestConfig
	// Bounce is the intake of delivery reports (bounce_intake.go).
	Bounce bounceIntakeConfig
}

func (c *serveConfig) settings() []setting {
	grace := durationSetting(&c.Grace, "grace", "BOTHSIDES_GRACE", defaultGrace, "at start, a run missed while down is sent if it fell due at most this long ago, else recorded as missed")
	grace.docDefault = "`6h`"
	idle := durationSetting(&c.AdminIdle, "admin-idle-timeout", "BOTHSIDES_ADMIN_IDLE_TIMEOUT", 30*time.Minute, "an admin session ends after this long without a request (and 12 hours after the login in any case)")
	idle.docDefault = "`30m`"
	return append([]setting{
		stringSetting(&c.Addr, "addr", "BOTHSIDES_ADDR", "127.0.0.1:8080", "address to listen on"),
		stringSetting(&c.Schedule, "schedule", "BOTHSIDES_SCHEDULE", schedule.DefaultSpec, "spec of the schedule `default`, added only when there is no schedule; `off` seeds none (schedules added later with the CLI, console or API are still sent when due; pause them to stop sends)"),
		grace,
		stringSetting(&c.AdminPassword, "admin-password", "BOTHSIDES_ADMIN_PASSWORD", "", "enables the admin console at `/admin`; at least 12 characters; prefer the environment variable"),
		stringSetting(&c.APIToken, "api-token", "BOTHSIDES_API_TOKEN", "", "enables the JSON API at `/api/` (bearer token)"),
		stringSetting(&c.MetricsToken, "metrics-token", "BOTHSIDES_METRICS_TOKEN", "", "bearer token `/metrics` requires (at least 16 characters); without it `/metrics` answers loopback clients only; prefer the environment variable"),
		durationSetting(&c.AdminFailDelay, "admin-fail-delay", "BOTHSIDES_ADMIN_FAIL_DELAY", time.Second, "a failed admin login's answer waits this long, even if the client hangs up; it doubles with each failure of the client network (see `--client-ip-header`) and every 10 failures of all networks within 15 minutes, up to 30s; meanwhile the network's logins are answered 429"),
		intSetting(&c.AdminLoginQueue, "admin-login-queue", "BOTHSIDES_ADMIN_LOGIN_QUEUE", 4, "admin logins that may wait for the password check (two run at a time); more are answered 429 at once"),
		idle,
	}, append(append(c.Bounce.settings(), c.Webhooks.settings()...), c.Ingest.settings(true)...)...)
}

// adminLimits is the console's login limits and idle timeout, checked.
func (c *serveConfig) adminLimits() (web.AdminConfig, error) {
	if c.AdminFailDelay <= 0 || c.AdminLoginQueue < 1 || c.AdminIdle <= 0 {
		return web.AdminConfig{}, fmt.Errorf("%w: --admin-fail-delay %s, --admin-login-queue %d, --admin-idle-timeout %s: want positive values", errUsage, c.AdminFailDelay, c.AdminLoginQueue, c.AdminIdle)
	}
	return web.AdminConfig{FailDelay: c.AdminFailDelay, LoginQueue: c.AdminLoginQueue, IdleTimeout: c.AdminIdle}, nil
}

// checkAdminPassword refuses a password shorter than web.MinPasswordLength
// at start, naming the setting.
func checkAdminPassword(p string) error {
	if n := utf8.RuneCountInString(p); p != "" && n < web.MinPasswordLength {
		return fmt.Errorf("%w: the admin password (--admin-password or BOTHSIDES_ADMIN_PASSWORD) has %d characters: want at least %d", errUsage, n, web.MinPasswordLength)
	}
	return nil
}

// grace is --grace, checked.
func (c *serveConfig) grace() (time.Duration, error) {
	if c.Grace <= 0 {
		return 0, fmt.Errorf("%w: --grace %s: want a positive duration such as 6h", errUsage, c.Grace)
	}
	return c.Grace, nil
}

func serveCommand() *command {
	var o serveConfig
	return &command{
		name:    "serve",
		summary: "run the web server and the send scheduler until SIGINT or SIGTERM",
		help: `Serves the unsubscribe and preferences links and the archive (/editions,
/stories/ID), and sends each edition when its schedule falls due. On SIGINT or
SIGTERM it stops taking requests, finishes what is in flight, closes the
database and exits with status 0.`,
		settings: o.settings(),
		run: func(ctx context.Context, a *app, args []string) error {
			ln, err := net.Listen("tcp", o.Addr)
			if err != nil {
				return err
			}
			if a.grace, err = o.grace(); err != nil {
				ln.Close()
				return err
			}
			if a.adminLimits, err = o.adminLimits(); err != nil {
				ln.Close()
				return err
			}
			if a.webhooks, err = o.Webhooks.providers(a.now, a.log); err != nil {
				ln.Close()
				return err
			}
			if err := o.Ingest.check(); err != nil {
				ln.Close()
				return err
			}
			a.ingest = o.Ingest
			if err = o.Bounce.check(a.cfg.BounceAddress); err != nil {
				ln.Close()
				return err
			}
			// The secrets live only until the console has hashed them.
			a.adminPassword, a.apiToken, a.metricsToken = o.AdminPassword, o.APIToken, o.MetricsToken
			o.AdminPassword, o.APIToken, o.MetricsToken = "", "", ""
			a.bounceIntake, o.Bounce.Mailbox = o.Bounce, "" // the mailbox URL holds a password
			return a.serve(ctx, ln, o.Schedule, nil)
		},
	}
}

// minMetricsToken is the shortest --metrics-token serve takes.
const minMetricsToken = 16

// serve runs the HTTP server on ln and the scheduler until ctx ends; spec
// seeds the default schedule into an empty table, unless it is "off". ready, when set, is called once the server accepts requests.
func (a *app) serve(ctx context.Context, ln net.Listener, spec string, ready func()) error {
	if err := a.checkBaseURL(); err != nil {
		ln.Close()
		return err
	}
	if n := len(a.metricsToken); n > 0 && n < minMetricsToken {
		ln.Close()
		return fmt.Errorf("%w: --metrics-token: %d characters, want at least %d (openssl rand -hex 32)", errUsage, n, minMetricsToken)
	}
	if err := checkAdminPassword(a.adminPassword); err != nil {
		a.adminPassword, a.apiToken = "", ""
		ln.Close()
		return err
	}
	db, err := a.openDB(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	signer, err := a.signer(ctx, db)
	if err != nil {
		ln.Close()
		return err
	}
	r, err := a.renderer()
	if err != nil {
		ln.Close()
		return err
	}
	guard, err := a.guard(db)
	if err != nil {
		ln.Close()
		return err
	}
	stopBounce, err := a.startBounceIntake(ctx, a.bounceIntake, db, guard, a.bounceMetrics)
	a.bounceIntake.Mailbox = ""
	if err != nil {
		stopBounce()
		ln.Close()
		return err
	}
	defer stopBounce()
	a.registry.MustRegister(guard.Collector())
	defer a.registry.Unregister(guard.Collector())
	stopGuard := a.watchSending(ctx, guard)
	defer stopGuard()
	wcfg := web.Config{BaseURL: a.cfg.BaseURL, Logger: a.log, Metrics: a.metricsHandler(), MetricsToken: a.metricsToken, Registerer: a.registry}
	a.metricsToken = ""
	if err := a.webhookWebConfig(ctx, &wcfg, db, guard); err != nil {
		ln.Close()
		return err
	}
	closeSignUpMail, err := a.signUpWebConfig(&wcfg)
	if err != nil {
		ln.Close()
		return err
	}
	defer closeSignUpMail()
	srv, err := web.New(wcfg, db,
		digest.NewStore(db), subscribers.NewStore(db), signer, r)
	if err != nil {
		ln.Close()
		return err
	}
	defer srv.Close() // after the HTTP shutdown: sends the queued sign-up mails

	// The scheduler runs sends under its own context so that shutdown can
	// let the message in flight finish and be recorded before the database
	// closes.
	store := schedule.NewStore(db)
	sched := schedule.New(schedule.Config{Grace: a.grace, Logger: a.log, Now: a.now},
		store, a.scheduledSend)
	acfg := a.adminLimits
	acfg.Password, acfg.APIToken, acfg.BaseURL = a.adminPassword, a.apiToken, a.cfg.BaseURL
	acfg.Secure, acfg.PasswordIterations = strings.HasPrefix(a.cfg.BaseURL, "https:"), a.adminIterations
	admin, err := web.NewAdmin(acfg, a.log, db, digest.NewStore(db), subscribers.NewStore(db), store, sched, testMailer{a}, r)
	a.adminPassword, a.apiToken = "", ""
	if err != nil {
		ln.Close()
		return err
	}
	room, err := a.newsroom(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	admin.SetRedrafter(room)
	admin.SetReputation(guard)
	srv.SetAdmin(admin)
	if admin.Enabled() {
		a.log.Info("admin console enabled", "url", strings.TrimRight(a.cfg.BaseURL, "/")+"/admin")
	} else {
		a.log.Info("admin console disabled: set --admin-password or BOTHSIDES_ADMIN_PASSWORD to enable it")
	}
	if admin.APIEnabled() {
		a.log.Info("JSON API enabled", "url", strings.TrimRight(a.cfg.BaseURL, "/")+"/api/")
	}
	// "off" only skips seeding the default schedule: the scheduler always
	// runs, so a schedule added later (CLI, console, API) is sent when due.
	if spec == "off" {
		a.log.Info("no default schedule seeded (--schedule off); schedules added later are sent when due")
	} else {
		added, err := store.Seed(ctx, spec)
		if err != nil {
			ln.Close()
			return err
		}
		if added {
			a.log.Info("added schedule", "name", schedule.DefaultName, "spec", spec)
		} else if spec != schedule.DefaultSpec {
			a.log.Info("schedules come from the database; --schedule only seeds an empty table (see 'bothsides schedule list')")
		}
	}
	if err := sched.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	stopLocal, err := a.startLocal(ctx, db, store)
	if err != nil {
		sched.Stop(context.Background())
		ln.Close()
		return err
	}
	defer stopLocal()
	stopIngest, err := a.serveIngest(ctx, db)
	if err != nil {
		sched.Stop(context.Background())
		ln.Close()
		return err
	}
	defer stopIngest() // before the database closes
	list, err := store.List(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	for _, s := range list {
		if sp, err := s.Parsed(); err == nil && s.Enabled {
			a.log.Info("schedule", "name", s.Name, "spec", s.Spec, "next", sp.Next(a.now()).Format(time.RFC3339))
		}
	}

	httpSrv := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}

	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	a.log.Info("listening", "addr", ln.Addr().String(), "base_url", a.cfg.BaseURL)
	if ready != nil {
		ready()
	}
	select {
	case err := <-errc:
		sched.Stop(context.Background())
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	a.log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.log.Warn("http shutdown", "err", err)
	}
	// Stop the cron runner, then the sends between two messages; each
	// records its last message before the database closes.
	sched.Stop(shutCtx)
	a.log.Info("stopped")
	return nil
}
