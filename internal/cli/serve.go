package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"bothsides/digest"
	"bothsides/schedule"
	"bothsides/subscribers"
	"bothsides/web"
)

// defaultGrace is how late a run missed while the server was down may still
// be sent at start.
const defaultGrace = 6 * time.Hour

func serveFlags(fs *flag.FlagSet) {
	fs.String("addr", "127.0.0.1:8080", "address to listen on (env BOTHSIDES_ADDR)")
	fs.String("schedule", schedule.DefaultSpec, "cron spec of the schedule named \"default\", added when there is no schedule yet (env BOTHSIDES_SCHEDULE); 'off' seeds none (schedules added later still send)")
	fs.String("admin-password", "", "password of the admin console at /admin; without it the console is disabled (env BOTHSIDES_ADMIN_PASSWORD, which keeps it out of the process list)")
	fs.String("api-token", "", "bearer token of the JSON API at /api/; without it the API is disabled (env BOTHSIDES_API_TOKEN)")
	fs.Duration("grace", defaultGrace, "at start, send a run missed while the server was down if it fell due at most this long ago; older ones are recorded as missed (env BOTHSIDES_GRACE)")
}

// serveGrace is --grace, else BOTHSIDES_GRACE, else the default.
func (a *app) serveGrace() (time.Duration, error) {
	d := a.flagDuration("grace")
	if v := a.getenv("BOTHSIDES_GRACE"); v != "" && !a.flagSet("grace") {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, fmt.Errorf("%w: BOTHSIDES_GRACE %q: want a duration such as 6h or 90m", errUsage, v)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%w: --grace %s: want a positive duration such as 6h", errUsage, d)
	}
	return d, nil
}

var cmdServe = &command{
	name:    "serve",
	summary: "run the web server and the send scheduler until SIGINT or SIGTERM",
	help: `Serves the unsubscribe and preferences links and the archive (/editions,
/stories/ID), and sends each edition when its schedule falls due. On SIGINT or
SIGTERM it stops taking requests, finishes what is in flight, closes the
database and exits with status 0.`,
	flags: serveFlags,
	run: func(ctx context.Context, a *app, args []string) error {
		ln, err := net.Listen("tcp", a.serveAddr())
		if err != nil {
			return err
		}
		spec := a.flagString("schedule")
		if v := a.getenv("BOTHSIDES_SCHEDULE"); v != "" && !a.flagSet("schedule") {
			spec = v
		}
		if a.grace, err = a.serveGrace(); err != nil {
			ln.Close()
			return err
		}
		a.adminPassword = a.flagString("admin-password")
		if v := a.getenv("BOTHSIDES_ADMIN_PASSWORD"); v != "" && !a.flagSet("admin-password") {
			a.adminPassword = v
		}
		a.apiToken = a.flagString("api-token")
		if v := a.getenv("BOTHSIDES_API_TOKEN"); v != "" && !a.flagSet("api-token") {
			a.apiToken = v
		}
		return a.serve(ctx, ln, spec, nil)
	},
}

// serveAddr is --addr, else BOTHSIDES_ADDR, else the default.
func (a *app) serveAddr() string {
	if v := a.getenv("BOTHSIDES_ADDR"); v != "" && !a.flagSet("addr") {
		return v
	}
	return a.flagString("addr")
}

// serve runs the HTTP server on ln and the scheduler until ctx ends; spec
// seeds the default schedule into an empty table, unless it is "off". ready, when set, is called once the server accepts requests.
func (a *app) serve(ctx context.Context, ln net.Listener, spec string, ready func()) error {
	if err := a.checkBaseURL(); err != nil {
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
	wcfg := web.Config{BaseURL: a.cfg.BaseURL, Logger: a.log, Metrics: a.metricsHandler()}
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
	admin, err := web.NewAdmin(web.AdminConfig{
		Password: a.adminPassword, APIToken: a.apiToken, BaseURL: a.cfg.BaseURL,
		Secure: strings.HasPrefix(a.cfg.BaseURL, "https:"), PasswordIterations: a.adminIterations,
	}, a.log, db, digest.NewStore(db), subscribers.NewStore(db), store, sched, testMailer{a}, r)
	a.adminPassword, a.apiToken = "", ""
	if err != nil {
		ln.Close()
		return err
	}
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
