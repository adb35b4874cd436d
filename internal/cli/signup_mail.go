package cli

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"bothsides/delivery"
	"bothsides/mailer"
	"bothsides/subscribers"
	"bothsides/web"
)

// signUpConfig reads --pending-expiry.
func (a *app) signUpConfig() (subscribers.SignUpConfig, error) {
	d, err := time.ParseDuration(a.cfg.PendingExpiry)
	if err != nil || d < time.Hour {
		return subscribers.SignUpConfig{}, fmt.Errorf("%w: --pending-expiry %q: want a duration of at least 1h, such as 48h or 168h", errUsage, a.cfg.PendingExpiry)
	}
	return subscribers.SignUpConfig{PendingExpiry: d}, nil
}

// checkMailto validates --unsubscribe-mailto.
func checkMailto(m string) error {
	if m == "" {
		return nil
	}
	addr, _, _ := strings.Cut(strings.TrimPrefix(m, "mailto:"), "?")
	if !strings.HasPrefix(m, "mailto:") {
		return fmt.Errorf("%w: --unsubscribe-mailto %q: want mailto:address", errUsage, m)
	}
	if _, err := mail.ParseAddress(addr); err != nil || strings.ContainsAny(m, "\r\n") {
		return fmt.Errorf("%w: --unsubscribe-mailto %q: %q is not an email address", errUsage, m, addr)
	}
	return nil
}

// signUpWorkers is how many sign-up mails serve sends at once, each
// worker over a connection of its own.
const signUpWorkers = 4

// signUpWebConfig fills the sign-up and unsubscribe part of the web
// server's configuration, with signUpWorkers connections of its own for the
// sign-up mails from the transport the digest uses (the same relay or
// outbox, DKIM-signed the same way). Call the returned function after the
// server's Close.
func (a *app) signUpWebConfig(cfg *web.Config) (func(), error) {
	su, err := a.signUpConfig()
	if err != nil {
		return nil, err
	}
	if err := checkMailto(a.cfg.UnsubscribeMailto); err != nil {
		return nil, err
	}
	dial, where, err := a.transport()
	if err != nil {
		return nil, err
	}
	pool := rawMailer{conns: make(chan delivery.Conn, signUpWorkers)}
	all := make([]delivery.Conn, 0, signUpWorkers)
	for range signUpWorkers {
		c := dial()
		all = append(all, c)
		pool.conns <- c
	}
	a.log.Info("sign-up mails", "via", where, "workers", signUpWorkers, "pending_expiry", su.PendingExpiry.String())
	cfg.Mailer, cfg.From, cfg.ReplyTo, cfg.PostalAddress = pool, a.cfg.From, a.cfg.ReplyTo, a.cfg.PostalAddress
	cfg.UnsubscribeMailto, cfg.ClientIPHeader, cfg.SignUp = a.cfg.UnsubscribeMailto, a.cfg.ClientIPHeader, su
	cfg.Outbox.Workers = signUpWorkers
	return func() {
		for _, c := range all {
			c.Close()
		}
	}, nil
}

// rawMailer sends single messages (the sign-up mails) through a pool of
// digest connections, one Send per connection at a time: built by
// mailer.Build, then handed over raw, as editions are, so that they are
// DKIM-signed like editions.
type rawMailer struct{ conns chan delivery.Conn }

var _ delivery.Mailer = rawMailer{}

// Send builds m and sends it from the From address over a free connection.
func (r rawMailer) Send(ctx context.Context, m *mailer.Message) error {
	from, raw, err := mailer.Encode(m)
	if err != nil {
		return err
	}
	var c delivery.Conn
	select {
	case c = <-r.conns:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { r.conns <- c }()
	return c.SendRaw(ctx, from, m.To, raw)
}
