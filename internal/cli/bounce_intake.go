package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"bothsides/bounce"
	"bothsides/sqlite"
)

// bounceIntakeConfig is serve's intake of what comes back: the SMTP
// listener and the mailbox poller.
type bounceIntakeConfig struct {
	Listen         string
	MaxSize        int
	MaxConnections int
	Timeout        time.Duration
	TLSCert        string
	TLSKey         string
	Mailbox        string
	Poll           time.Duration
}

func (c *bounceIntakeConfig) settings() []setting {
	timeout := durationSetting(&c.Timeout, "bounce-timeout", "BOTHSIDES_BOUNCE_TIMEOUT", bounce.DefaultListenTimeout, "the bounce listener's limit on each read and write of a conversation, and the mailbox poller's on connecting (go-imap bounds each answer to 30s itself)")
	timeout.docDefault = "`1m`"
	poll := durationSetting(&c.Poll, "bounce-poll", "BOTHSIDES_BOUNCE_POLL", bounce.DefaultPoll, "how often `--bounce-mailbox` is read")
	poll.docDefault = "`5m`"
	return []setting{
		stringSetting(&c.Listen, "bounce-listen", "BOTHSIDES_BOUNCE_LISTEN", "", "host:port of an SMTP server that takes delivery reports and complaints for `--bounce-address` (and nothing else: any other recipient gets 550) and records them; point the bounce domain's MX or the relay's transport map at it (see OPERATIONS.md)"),
		intSetting(&c.MaxSize, "bounce-max-size", "BOTHSIDES_BOUNCE_MAX_SIZE", bounce.DefaultMaxMessageBytes, "largest report in bytes the bounce listener takes (advertised as SIZE; larger gets 552) and the mailbox poller reads (larger is left in place, flagged `$BothsidesTooBig`)"),
		intSetting(&c.MaxConnections, "bounce-max-connections", "BOTHSIDES_BOUNCE_MAX_CONNECTIONS", bounce.DefaultMaxConnections, "clients the bounce listener serves at once; one more is answered 421"),
		timeout,
		stringSetting(&c.TLSCert, "bounce-tls-cert", "BOTHSIDES_BOUNCE_TLS_CERT", "", "PEM certificate chain: with `--bounce-tls-key`, the bounce listener offers STARTTLS"),
		stringSetting(&c.TLSKey, "bounce-tls-key", "BOTHSIDES_BOUNCE_TLS_KEY", "", "PEM private key of `--bounce-tls-cert`"),
		stringSetting(&c.Mailbox, "bounce-mailbox", "BOTHSIDES_BOUNCE_MAILBOX", "", "IMAP folder to read reports from: `imaps://USER:PASS@HOST/INBOX`, or `imap://…` with STARTTLS; `?move=FOLDER` moves each recorded message there, `?ca=FILE` trusts that CA; messages are flagged, never deleted (see OPERATIONS.md); prefer the environment variable"),
		poll,
	}
}

// check refuses settings the intakes cannot run with, naming them.
func (c *bounceIntakeConfig) check(bounceAddress string) error {
	if c.MaxSize <= 0 || c.MaxConnections <= 0 || c.Timeout <= 0 || c.Poll <= 0 {
		return fmt.Errorf("%w: --bounce-max-size %d, --bounce-max-connections %d, --bounce-timeout %s, --bounce-poll %s: want positive values",
			errUsage, c.MaxSize, c.MaxConnections, c.Timeout, c.Poll)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("%w: --bounce-tls-cert and --bounce-tls-key go together", errUsage)
	}
	if (c.Listen != "" || c.Mailbox != "") && bounceAddress == "" {
		return fmt.Errorf("%w: --bounce-listen and --bounce-mailbox need --bounce-address (BOTHSIDES_BOUNCE_ADDRESS), the address reports come back to", errUsage)
	}
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			return fmt.Errorf("%w: --bounce-listen %q: want host:port such as 127.0.0.1:2525", errUsage, c.Listen)
		}
	}
	return nil
}

// rateSetting is a rate limit given as a fraction (0.003) or a percentage
// ("0.3%"), from 0 to 1.
func rateSetting(dst *float64, name, env string, def float64, usage string) setting {
	return setting{name: name, env: env, usage: usage, want: "a fraction such as 0.003 or a percentage such as 0.3%",
		bind: func(fs *flag.FlagSet, u string) {
			*dst = def
			fs.Var((*rateValue)(dst), name, u)
		}}
}

type rateValue float64

func (r *rateValue) String() string {
	if r == nil {
		return "0"
	}
	return strconv.FormatFloat(float64(*r), 'g', -1, 64)
}

func (r *rateValue) Set(s string) error {
	s = strings.TrimSpace(s)
	scale := 1.0
	if p, ok := strings.CutSuffix(s, "%"); ok {
		s, scale = strings.TrimSpace(p), 0.01
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= 0 && v*scale <= 1) { // NaN fails both
		return errors.New("want a fraction from 0 to 1 such as 0.003, or a percentage such as 0.3%")
	}
	*r = rateValue(v * scale)
	return nil
}

// reputationSettings are the reputation guard's limits (global: `editions
// show` judges by them too).
func (c *config) reputationSettings() []setting {
	return []setting{
		rateSetting(&c.MaxComplaintRate, "max-complaint-rate", "BOTHSIDES_MAX_COMPLAINT_RATE", bounce.DefaultMaxComplaintRate, "an edition being sent pauses itself when, after 500 deliveries, its complaint rate passes this (`0.003` or `0.3%`); from a third of it (0.1 % by default) the log and the console warn"),
		rateSetting(&c.MaxBounceRate, "max-bounce-rate", "BOTHSIDES_MAX_BOUNCE_RATE", bounce.DefaultMaxBounceRate, "an edition being sent pauses itself when, after 500 deliveries, its hard-bounce rate (refusals at send time and reports later) passes this (`0.05` or `5%`)"),
	}
}

// guard is the reputation guard over db with the configured limits.
func (a *app) guard(db *sqlite.DB) (*bounce.Guard, error) {
	g, err := bounce.NewGuard(bounce.GuardConfig{
		MaxComplaintRate:  a.cfg.MaxComplaintRate,
		WarnComplaintRate: a.cfg.MaxComplaintRate / 3,
		MaxBounceRate:     a.cfg.MaxBounceRate,
		Logger:            a.log,
		Now:               a.now,
	}, db)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return g, nil
}

// startBounceIntake starts the bounce listener and the mailbox poller
// that c asks for, handing what they take in to the store, behind the
// reputation guard. stop closes them.
func (a *app) startBounceIntake(ctx context.Context, c bounceIntakeConfig, db *sqlite.DB, g *bounce.Guard, metrics *bounce.IntakeMetrics) (stop func(), err error) {
	stop = func() {}
	if c.Listen == "" && c.Mailbox == "" {
		return stop, nil
	}
	if err := c.check(a.cfg.BounceAddress); err != nil {
		return stop, err
	}
	address, err := a.bounceAddress()
	if err != nil {
		return stop, err
	}
	store, err := a.bounceStore(ctx, db)
	if err != nil {
		return stop, err
	}
	rcv := g.Receiver(store)
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	if c.Listen != "" {
		var tlsConf *tls.Config
		if c.TLSCert != "" {
			cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
			if err != nil {
				return stop, fmt.Errorf("%w: --bounce-tls-cert %s, --bounce-tls-key %s: %v", errUsage, c.TLSCert, c.TLSKey, err)
			}
			tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}
		l, err := bounce.NewListener(bounce.ListenerConfig{Address: address, MaxMessageBytes: int64(c.MaxSize),
			MaxConnections: c.MaxConnections, Timeout: c.Timeout, TLS: tlsConf, Logger: a.log, Metrics: metrics}, rcv)
		if err != nil {
			return stop, fmt.Errorf("%w: --bounce-address: %v", errUsage, err)
		}
		ln, err := net.Listen("tcp", c.Listen)
		if err != nil {
			return stop, fmt.Errorf("--bounce-listen %s: %w", c.Listen, err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := l.Serve(ln); err != nil {
				a.log.Error("bounce listener stopped", "err", err)
			}
		}()
		stops = append(stops, func() {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := l.Close(sctx); err != nil {
				a.log.Warn("bounce listener shutdown", "err", err)
			}
			<-done
		})
		a.log.Info("bounce listener", "addr", ln.Addr().String(), "starttls", tlsConf != nil, "max_bytes", c.MaxSize)
	}
	if c.Mailbox != "" {
		m, err := bounce.NewMailbox(bounce.MailboxConfig{URL: c.Mailbox, Address: address, Poll: c.Poll,
			MaxMessageBytes: int64(c.MaxSize), Timeout: c.Timeout, Logger: a.log, Metrics: metrics}, rcv)
		if err != nil {
			return stop, fmt.Errorf("%w: --bounce-mailbox: %v", errUsage, err)
		}
		mctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			m.Run(mctx)
		}()
		stops = append(stops, func() { cancel(); <-done })
		a.log.Info("bounce mailbox", "mailbox", m.String(), "poll", c.Poll.String())
	}
	return stop, nil
}

// guardInterval is how often serve checks the editions being sent against
// the reputation limits, for the refusals the sender records at send time
// (reports that arrive are checked as each is recorded).
const guardInterval = time.Minute

// watchSending checks the editions being sent every guardInterval until
// stop is called or ctx ends.
func (a *app) watchSending(ctx context.Context, g *bounce.Guard) (stop func()) {
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(guardInterval)
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
				if err := g.CheckSending(wctx); err != nil && wctx.Err() == nil {
					a.log.Error("reputation guard", "err", err)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// printReputation writes edition id's reputation for `editions show`: the
// guard's verdict, then the counts and rates per recipient domain.
func (a *app) printReputation(ctx context.Context, db *sqlite.DB, id int64) error {
	g, err := a.guard(db)
	if err != nil {
		return err
	}
	r, err := bounce.EditionReputation(ctx, db.R, id)
	if err != nil {
		return err
	}
	v := g.Judge(r)
	line := "reputation: " + string(v.Level)
	if v.Level == bounce.LevelTooFew {
		line += fmt.Sprintf(" (judged from %d deliveries)", g.Config().MinDeliveries)
	}
	if v.Reason != "" {
		line += ": " + v.Reason
	}
	fmt.Fprintln(a.stdout, line)
	for _, c := range append(r.Domains, r.Total) {
		name := c.Domain
		if name == "" {
			name = "all"
		}
		fmt.Fprintf(a.stdout, "  %s\t%d sent, %d delivered, %d hard (%s), %d soft, %d complaints (%s)\n",
			name, c.Sent, c.Delivered(), c.Hard, bounce.Percent(c.BounceRate()), c.Soft, c.Complaints, bounce.Percent(c.ComplaintRate()))
	}
	return nil
}
