package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"bothsides/delivery"
	"bothsides/mailer"
	"bothsides/sqlite"
)

// deliveryEnv reads the delivery settings from the environment.
func (a *app) deliveryEnv() {
	g := a.getenv
	a.cfg.Connections = a.envInt("BOTHSIDES_CONNECTIONS", 4)
	a.cfg.BounceLimit = a.envInt("BOTHSIDES_BOUNCE_LIMIT", 3)
	a.cfg.PauseAfter = a.envInt("BOTHSIDES_PAUSE_AFTER", 50)
	if v := g("BOTHSIDES_RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 0 {
			a.envErr = fmt.Errorf("%w: BOTHSIDES_RATE=%q: want messages per second, 0 for unlimited", errUsage, v)
		}
		a.cfg.Rate = r
	}
	a.cfg.DKIMKey = g("BOTHSIDES_DKIM_KEY")
	a.cfg.DKIMSelector = g("BOTHSIDES_DKIM_SELECTOR")
	a.cfg.DKIMDomain = g("BOTHSIDES_DKIM_DOMAIN")
}

func (a *app) envInt(key string, def int) int {
	v := a.getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		a.envErr = fmt.Errorf("%w: %s=%q: want a whole number", errUsage, key, v)
		return def
	}
	return n
}

// deliveryFlags registers the flags of the delivery engine.
func (a *app) deliveryFlags(fs *flag.FlagSet) {
	fs.IntVar(&a.cfg.Connections, "connections", a.cfg.Connections, "SMTP connections sending at once (env BOTHSIDES_CONNECTIONS)")
	fs.Float64Var(&a.cfg.Rate, "rate", a.cfg.Rate, "at most this many messages per second, 0 for no limit (env BOTHSIDES_RATE)")
	fs.StringVar(&a.cfg.DKIMKey, "dkim-key", a.cfg.DKIMKey, "PEM private key (RSA or Ed25519) to DKIM-sign every message (env BOTHSIDES_DKIM_KEY)")
	fs.StringVar(&a.cfg.DKIMSelector, "dkim-selector", a.cfg.DKIMSelector, "DKIM selector: the key is published at SELECTOR._domainkey.DOMAIN (env BOTHSIDES_DKIM_SELECTOR)")
	fs.StringVar(&a.cfg.DKIMDomain, "dkim-domain", a.cfg.DKIMDomain, "DKIM signing domain, default the From address's domain (env BOTHSIDES_DKIM_DOMAIN)")
	fs.IntVar(&a.cfg.BounceLimit, "bounce-limit", a.cfg.BounceLimit, "hard bounces after which a subscriber is suppressed (env BOTHSIDES_BOUNCE_LIMIT)")
	fs.IntVar(&a.cfg.PauseAfter, "pause-after", a.cfg.PauseAfter, "failures in a row with no success that pause the edition (env BOTHSIDES_PAUSE_AFTER)")
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
	s := delivery.NewSender(delivery.Config{
		From: a.cfg.From, ReplyTo: a.cfg.ReplyTo, BaseURL: a.cfg.BaseURL,
		UnsubscribeMailto: a.cfg.UnsubscribeMailto,
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
