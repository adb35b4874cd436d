package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"bothsides/digest"
	"bothsides/schedule"
	"bothsides/subscribers"
	"bothsides/web"
)

func serveFlags(fs *flag.FlagSet) {
	fs.String("addr", "127.0.0.1:8080", "address to listen on (env BOTHSIDES_ADDR)")
	fs.String("schedule", schedule.DefaultSpec, "cron spec of the daily send, with its time zone (env BOTHSIDES_SCHEDULE); 'off' disables it")
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

// serve runs the HTTP server on ln and, unless spec is "off", the scheduler,
// until ctx ends. ready, when set, is called once the server accepts requests.
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
	srv, err := web.New(web.Config{BaseURL: a.cfg.BaseURL, Logger: a.log}, db,
		digest.NewStore(db), subscribers.NewStore(db), signer, r)
	if err != nil {
		ln.Close()
		return err
	}
	httpSrv := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}

	// Sends run under their own context so that shutdown can let the
	// message in flight finish and be recorded before the database closes.
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()
	var runner *schedule.Runner
	var sends sync.WaitGroup
	if spec != "off" {
		sp, err := schedule.Parse(spec)
		if err != nil {
			ln.Close()
			return err
		}
		runner = schedule.NewRunner(a.log)
		err = runner.Add(sp, func(at time.Time) {
			sends.Add(1)
			defer sends.Done()
			p, err := a.editionParams("", 0)
			if err != nil {
				a.log.Error("scheduled send", "err", err)
				return
			}
			p.Date, p.WindowEnd = at.Format("2006-01-02"), at.UTC()
			stats, err := a.sendEdition(sendCtx, p)
			if err != nil {
				a.log.Error("scheduled send failed", "date", p.Date, "err", err)
				return
			}
			a.log.Info("scheduled send done", "date", p.Date, "sent", stats.Sent, "failed", stats.Failed)
		})
		if err != nil {
			ln.Close()
			return err
		}
		runner.Start()
		a.log.Info("scheduler started", "schedule", spec, "next", sp.Next(a.now()).Format(time.RFC3339))
	}

	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	a.log.Info("listening", "addr", ln.Addr().String(), "base_url", a.cfg.BaseURL)
	if ready != nil {
		ready()
	}
	select {
	case err := <-errc:
		cancelSends()
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	a.log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.log.Warn("http shutdown", "err", err)
	}
	// Stop the send loop between messages, then wait for it to record.
	cancelSends()
	if runner != nil {
		runner.Stop(shutCtx)
	}
	sends.Wait()
	a.log.Info("stopped")
	return nil
}
