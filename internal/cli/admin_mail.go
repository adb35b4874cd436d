package cli

import (
	"context"
	"strings"

	"bothsides/digest"
	"bothsides/mailer"
	"bothsides/subscribers"
	"bothsides/web"
)

// testMailer sends the admin console's test mails through the configured
// mailer: one copy of an edition, marked as a test, with placeholder links.
type testMailer struct{ a *app }

var _ web.TestMailer = testMailer{}

func (t testMailer) SendTest(ctx context.Context, e *digest.Edition, to string) error {
	a := t.a
	addr, err := subscribers.NormalizeAddress(to)
	if err != nil {
		return err
	}
	rendered, err := a.render(e)
	if err != nil {
		return err
	}
	base := strings.TrimRight(a.cfg.BaseURL, "/")
	html, text := rendered.Personalize(digest.Personal{Email: addr,
		UnsubscribeURL: base + "/unsubscribe/test", PreferencesURL: base + "/preferences/test"})
	m, _, err := a.mailer()
	if err != nil {
		return err
	}
	defer m.Close()
	return m.Send(ctx, &mailer.Message{
		From: a.cfg.From, ReplyTo: a.cfg.ReplyTo, To: addr,
		Subject: "[Test] " + rendered.Subject, Date: a.now(),
		Headers: []mailer.Header{{Name: "X-Bothsides-Test", Value: e.Schedule + " " + e.Date}},
		HTML:    html, Text: text,
	})
}
