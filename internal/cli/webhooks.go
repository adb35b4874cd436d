package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"bothsides/bounce"
	"bothsides/sqlite"
	"bothsides/web"
	"bothsides/webhook"
)

// webhookConfig is serve's sending-service webhooks: each is served at
// POST /webhooks/NAME once its secret or key is set.
type webhookConfig struct {
	SESTopics    string
	SESRegion    string
	SendGridKey  string
	PostmarkAuth string
	MailgunKey   string
	MaxAge       time.Duration
}

func (c *webhookConfig) settings() []setting {
	maxAge := durationSetting(&c.MaxAge, "webhook-max-age", "BOTHSIDES_WEBHOOK_MAX_AGE", webhook.DefaultMaxAge, "how far the signed timestamp of a SendGrid or Mailgun webhook may be from the server's clock, either way, before it is refused as stale (401)")
	maxAge.docDefault = "`10m`"
	return []setting{
		stringSetting(&c.SESTopics, "ses-topic-arn", "BOTHSIDES_SES_TOPIC_ARN", "", "enables `POST /webhooks/ses` for the SES notifications of these SNS topics (ARNs, comma-separated); see WEBHOOKS.md"),
		stringSetting(&c.SESRegion, "ses-region", "BOTHSIDES_SES_REGION", "", "the only AWS region whose SNS hosts may serve the SES webhook's signing certificate and subscription link; empty takes the topic's region"),
		stringSetting(&c.SendGridKey, "sendgrid-key", "BOTHSIDES_SENDGRID_KEY", "", "enables `POST /webhooks/sendgrid`: the signed event webhook's verification key (base64, as SendGrid shows it)"),
		stringSetting(&c.PostmarkAuth, "postmark-auth", "BOTHSIDES_POSTMARK_AUTH", "", "enables `POST /webhooks/postmark`: `USER:PASSWORD` of the basic auth in the webhook's URL (a password of at least 16 characters); prefer the environment variable"),
		stringSetting(&c.MailgunKey, "mailgun-key", "BOTHSIDES_MAILGUN_KEY", "", "enables `POST /webhooks/mailgun`: the HTTP webhook signing key; prefer the environment variable"),
		maxAge,
	}
}

// providers builds the configured webhooks; a bad key or ARN is a usage
// error naming its setting.
func (c *webhookConfig) providers(now func() time.Time, log *slog.Logger) ([]webhook.Provider, error) {
	if c.MaxAge <= 0 {
		return nil, fmt.Errorf("%w: --webhook-max-age %s: want a positive duration such as 10m", errUsage, c.MaxAge)
	}
	var ps []webhook.Provider
	if c.SESTopics != "" {
		var topics []string
		for _, t := range strings.Split(c.SESTopics, ",") {
			if t = strings.TrimSpace(t); t != "" {
				topics = append(topics, t)
			}
		}
		p, err := webhook.NewSES(webhook.SESConfig{TopicARNs: topics, Region: c.SESRegion, Now: now, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("%w: --ses-topic-arn (BOTHSIDES_SES_TOPIC_ARN): %v", errUsage, err)
		}
		ps = append(ps, p)
	} else if c.SESRegion != "" {
		return nil, fmt.Errorf("%w: --ses-region without --ses-topic-arn (BOTHSIDES_SES_TOPIC_ARN)", errUsage)
	}
	if c.SendGridKey != "" {
		p, err := webhook.NewSendGrid(webhook.SendGridConfig{PublicKey: c.SendGridKey, MaxAge: c.MaxAge, Now: now})
		if err != nil {
			return nil, fmt.Errorf("%w: --sendgrid-key (BOTHSIDES_SENDGRID_KEY): %v", errUsage, err)
		}
		ps = append(ps, p)
	}
	if c.PostmarkAuth != "" {
		p, err := webhook.NewPostmark(webhook.PostmarkConfig{Auth: c.PostmarkAuth, Now: now})
		if err != nil {
			return nil, fmt.Errorf("%w: --postmark-auth (BOTHSIDES_POSTMARK_AUTH): %v", errUsage, err)
		}
		ps = append(ps, p)
	}
	if c.MailgunKey != "" {
		p, err := webhook.NewMailgun(webhook.MailgunConfig{SigningKey: c.MailgunKey, MaxAge: c.MaxAge, Now: now})
		if err != nil {
			return nil, fmt.Errorf("%w: --mailgun-key (BOTHSIDES_MAILGUN_KEY): %v", errUsage, err)
		}
		ps = append(ps, p)
	}
	// The secrets live on only inside the providers.
	c.SendGridKey, c.PostmarkAuth, c.MailgunKey = "", "", ""
	return ps, nil
}

// webhookWebConfig serves the configured webhooks, recording into the
// bounce store behind the reputation guard, and logs each one's URL.
func (a *app) webhookWebConfig(ctx context.Context, cfg *web.Config, db *sqlite.DB, guard *bounce.Guard) error {
	if len(a.webhooks) == 0 {
		return nil
	}
	store, err := a.bounceStore(ctx, db)
	if err != nil {
		return err
	}
	// Each event a webhook records is followed by the reputation guard's
	// check of the editions being sent, as for the SMTP and mailbox intakes.
	cfg.Bounces, cfg.Webhooks = guard.Recorder(store), a.webhooks
	for _, p := range a.webhooks {
		a.log.Info("webhook enabled", "provider", p.Name(), "url", strings.TrimRight(a.cfg.BaseURL, "/")+"/webhooks/"+p.Name())
	}
	return nil
}
