package webhook_test

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"bothsides/bounce"
	"bothsides/internal/testsupport"
	"bothsides/webhook"
)

// FuzzEvents posts any body, correctly authenticated, to each service:
// nothing panics, a refusal is ErrMalformed, and every event has a kind,
// a recipient and its service as the source.
func FuzzEvents(f *testing.F) {
	for _, seed := range []string{
		`[{"email": "bob@example.net", "event": "bounce", "type": "bounce", "status": "5.1.1", "sg_event_id": "x"}]`,
		`{"RecordType": "Bounce", "ID": 1, "Type": "HardBounce", "Email": "bob@example.net"}`,
		`{"event": "failed", "severity": "permanent", "id": "x", "recipient": "bob@example.net", "delivery-status": {"code": 550}}`,
		`{"notificationType": "Bounce", "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "bob@example.net"}]}, "mail": {"source": "a+b@c.d"}}`,
		`{"RecordType": "Delivery", "ID": 1e400}`, `[{"email": "", "event": "spamreport"}]`, `null`, `[null]`, `{"event-data": null}`,
	} {
		f.Add([]byte(seed))
	}
	clock := testsupport.NewClock(testsupport.Epoch)
	sgKey := testsupport.NewSendGridKey(f)
	sg, err := webhook.NewSendGrid(webhook.SendGridConfig{PublicKey: sgKey.Public, Now: clock.Now})
	if err != nil {
		f.Fatal(err)
	}
	pm, err := webhook.NewPostmark(webhook.PostmarkConfig{Auth: "hooks:correct-horse-battery-staple", Now: clock.Now})
	if err != nil {
		f.Fatal(err)
	}
	const mgKey = "key-5f1b0d7e9c2a4b6f8e0d1c3a"
	mg, err := webhook.NewMailgun(webhook.MailgunConfig{SigningKey: mgKey, Now: clock.Now})
	if err != nil {
		f.Fatal(err)
	}
	sns := testsupport.NewSNS(f, "us-east-1")
	ses, err := webhook.NewSES(webhook.SESConfig{TopicARNs: []string{topic}, Client: sns.Client, Now: clock.Now, Logger: quiet})
	if err != nil {
		f.Fatal(err)
	}
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, body []byte) {
		ts := strconv.FormatInt(clock.Now().Unix(), 10)
		check := func(p webhook.Provider, r *http.Request, body []byte) {
			evs, err := p.Events(r, body)
			if err != nil {
				if !errors.Is(err, webhook.ErrMalformed) {
					t.Fatalf("%s: %v, want ErrMalformed or events", p.Name(), err)
				}
				return
			}
			for _, ev := range evs {
				switch ev.Kind {
				case bounce.KindHard, bounce.KindSoft, bounce.KindComplaint, bounce.KindAutoReply, bounce.KindDelivered:
				default:
					t.Fatalf("%s: kind %q", p.Name(), ev.Kind)
				}
				if ev.Source != p.Name() || !ev.Verified || ev.At.IsZero() {
					t.Fatalf("%s: event %+v", p.Name(), ev)
				}
				if ev.Recipient == "" && p.Name() != "ses" {
					t.Fatalf("%s: event without recipient %+v", p.Name(), ev)
				}
			}
		}
		r := post(body)
		r.Header.Set("X-Twilio-Email-Event-Webhook-Timestamp", ts)
		r.Header.Set("X-Twilio-Email-Event-Webhook-Signature", sgKey.Sign(t, ts, body))
		check(sg, r, body)

		r = post(body)
		r.SetBasicAuth("hooks", "correct-horse-battery-staple")
		check(pm, r, body)

		token := "tok-" + strconv.FormatInt(n.Add(1), 10)
		mgBody := []byte(`{"signature": {"timestamp": "` + ts + `", "token": "` + token + `", "signature": "` +
			testsupport.MailgunSignature(mgKey, ts, token) + `"}, "event-data": `)
		mgBody = append(append(mgBody, bytes.TrimSpace(body)...), '}')
		check(mg, post(mgBody), mgBody)

		sesBody := sns.Sign(t, testsupport.SNSNotification(topic, "m-"+token, string(body)), "2")
		check(ses, post(sesBody), sesBody)
	})
}
