package main

import (
	"fmt"
	"net/mail"
	"strings"
	"time"

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

// signUpWebConfig fills the sign-up and unsubscribe part of the web
// server's configuration, with a mailer of its own for the sign-up mails
// (the same kind the digest goes through). Call the returned function after
// the server's Close.
func (a *app) signUpWebConfig(cfg *web.Config) (func(), error) {
	su, err := a.signUpConfig()
	if err != nil {
		return nil, err
	}
	if err := checkMailto(a.cfg.UnsubscribeMailto); err != nil {
		return nil, err
	}
	m, where, err := a.mailer()
	if err != nil {
		return nil, err
	}
	a.log.Info("sign-up mails", "via", where, "pending_expiry", su.PendingExpiry.String())
	cfg.Mailer, cfg.From, cfg.ReplyTo, cfg.PostalAddress = m, a.cfg.From, a.cfg.ReplyTo, a.cfg.PostalAddress
	cfg.UnsubscribeMailto, cfg.ClientIPHeader, cfg.SignUp = a.cfg.UnsubscribeMailto, a.cfg.ClientIPHeader, su
	return func() { m.Close() }, nil
}
