package webhook_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"bothsides/bounce"
	"bothsides/internal/testsupport"
	"bothsides/webhook"
)

const topic = "arn:aws:sns:us-east-1:123456789012:ses-feedback"

var quiet = slog.New(slog.DiscardHandler)

func post(body []byte) *http.Request {
	r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/webhooks/ses", bytes.NewReader(body))
	return r
}

func TestNewProviders_Errors(t *testing.T) {
	for name, f := range map[string]func() error{
		"SESNoTopic": func() error { _, err := webhook.NewSES(webhook.SESConfig{}); return err },
		"SESBadARN": func() error {
			_, err := webhook.NewSES(webhook.SESConfig{TopicARNs: []string{"ses-feedback"}})
			return err
		},
		"SESOtherRegion": func() error {
			_, err := webhook.NewSES(webhook.SESConfig{TopicARNs: []string{topic}, Region: "eu-west-1"})
			return err
		},
		"SendGridNotBase64": func() error {
			_, err := webhook.NewSendGrid(webhook.SendGridConfig{PublicKey: "not base64!"})
			return err
		},
		"SendGridNotAKey": func() error { _, err := webhook.NewSendGrid(webhook.SendGridConfig{PublicKey: "AAAA"}); return err },
		"PostmarkNoColon": func() error { _, err := webhook.NewPostmark(webhook.PostmarkConfig{Auth: "hooks"}); return err },
		"PostmarkShort":   func() error { _, err := webhook.NewPostmark(webhook.PostmarkConfig{Auth: "hooks:short"}); return err },
		"MailgunShort":    func() error { _, err := webhook.NewMailgun(webhook.MailgunConfig{SigningKey: "key"}); return err },
	} {
		t.Run(name, func(t *testing.T) {
			if err := f(); err == nil {
				t.Fatal("no error")
			}
		})
	}
	t.Run("SendGridPEM", func(t *testing.T) {
		k := testsupport.NewSendGridKey(t)
		pemKey := "-----BEGIN PUBLIC KEY-----\n" + k.Public + "\n-----END PUBLIC KEY-----\n"
		if _, err := webhook.NewSendGrid(webhook.SendGridConfig{PublicKey: pemKey}); err != nil {
			t.Fatal(err)
		}
	})
}

func newSES(t *testing.T, sns *testsupport.SNS, clock *testsupport.Clock) *webhook.SES {
	t.Helper()
	s, err := webhook.NewSES(webhook.SESConfig{TopicARNs: []string{topic}, Client: sns.Client, Now: clock.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSES_Events(t *testing.T) {
	clock := testsupport.NewClock(testsupport.Epoch)
	t.Run("SubjectSigned", func(t *testing.T) {
		sns := testsupport.NewSNS(t, "us-east-1")
		ses := newSES(t, sns, clock)
		msg := testsupport.SNSNotification(topic, "m-subject", `{"notificationType": "Delivery", "mail": {"source": "Both Sides <bounces+tok1@bounce.example.com>"},
		  "delivery": {"timestamp": "2026-11-27T06:58:00.000Z", "recipients": ["dee@example.org"], "smtpResponse": "250 2.6.0 Message received"}}`)
		msg["Subject"] = "Amazon SES Email Event Notification"
		body := sns.Sign(t, msg, "2")
		evs, err := ses.Events(post(body), body)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || evs[0].Kind != bounce.KindDelivered || evs[0].Token != "tok1" || evs[0].Status != "2.6.0" || evs[0].Recipient != "dee@example.org" {
			t.Fatalf("events %+v", evs)
		}
		// The subject is part of what is signed.
		tampered := bytes.Replace(body, []byte("Amazon SES Email"), []byte("Amazon SES Other"), 1)
		if _, err := ses.Events(post(tampered), tampered); !errors.Is(err, webhook.ErrUnauthorized) {
			t.Fatalf("tampered subject: err %v, want ErrUnauthorized", err)
		}
	})
	t.Run("TransientIsSoft", func(t *testing.T) {
		sns := testsupport.NewSNS(t, "us-east-1")
		ses := newSES(t, sns, clock)
		body := sns.Sign(t, testsupport.SNSNotification(topic, "m-soft", `{"notificationType": "Bounce", "mail": {"source": "digest@example.com"},
		  "bounce": {"bounceType": "Transient", "bounceSubType": "MailboxFull", "timestamp": "2026-11-27T06:58:00.000Z",
		    "bouncedRecipients": [{"emailAddress": "bob@example.net", "diagnosticCode": "smtp; 552 5.2.2 Mailbox full"}]}}`), "1")
		evs, err := ses.Events(post(body), body)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || evs[0].Kind != bounce.KindSoft || evs[0].Status != "5.2.2" || evs[0].Token != "" {
			t.Fatalf("events %+v", evs)
		}
	})
	t.Run("ErrSignatureVersion", func(t *testing.T) {
		sns := testsupport.NewSNS(t, "us-east-1")
		ses := newSES(t, sns, clock)
		body := sns.Sign(t, testsupport.SNSNotification(topic, "m", `{}`), "2")
		body = bytes.Replace(body, []byte(`"SignatureVersion":"2"`), []byte(`"SignatureVersion":"3"`), 1)
		if _, err := ses.Events(post(body), body); !errors.Is(err, webhook.ErrUnauthorized) || !strings.Contains(err.Error(), "SignatureVersion") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("ErrCertificateExpired", func(t *testing.T) {
		sns := testsupport.NewSNS(t, "us-east-1")
		late := testsupport.NewClock(testsupport.Epoch.Add(2 * 365 * 24 * time.Hour))
		ses := newSES(t, sns, late)
		body := sns.Sign(t, testsupport.SNSNotification(topic, "m", `{}`), "2")
		if _, err := ses.Events(post(body), body); !errors.Is(err, webhook.ErrUnauthorized) || !strings.Contains(err.Error(), "not valid at") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("ChinaHost", func(t *testing.T) {
		cn := "arn:aws-cn:sns:cn-north-1:123456789012:ses-feedback"
		sns := testsupport.NewSNS(t, "cn-north-1")
		sns.CertURL = "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-test.pem"
		ses, err := webhook.NewSES(webhook.SESConfig{TopicARNs: []string{cn}, Client: sns.Client, Now: clock.Now, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		body := sns.Sign(t, testsupport.SNSNotification(cn, "m", `{"notificationType": "Complaint", "mail": {}, "complaint": {"complainedRecipients": [{"emailAddress": "ann@example.org"}]}}`), "2")
		evs, err := ses.Events(post(body), body)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || evs[0].Kind != bounce.KindComplaint || !evs[0].At.Equal(testsupport.Epoch) {
			t.Fatalf("events %+v", evs)
		}
	})
}
