package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"bothsides/bounce"
	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/sqlite"
	"bothsides/subscribers"
	"bothsides/web"
	"bothsides/webhook"
)

// The webhook fixtures' secrets.
const (
	sesTopic     = "arn:aws:sns:eu-west-1:123456789012:bothsides-feedback"
	postmarkUser = "hooks"
	postmarkPass = "correct-horse-battery-staple"
	mailgunKey   = "key-5f1b0d7e9c2a4b6f8e0d1c3a"
)

// quiet is the webhook tests' logger.
var quiet = slog.New(slog.DiscardHandler)

// recorder is a bounce.Recorder that keeps what it is given.
// With fail set it refuses every event, as a store whose disk is full.
type recorder struct {
	mu     sync.Mutex
	events []bounce.Event
	fail   bool
}

func (r *recorder) Record(_ context.Context, ev bounce.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("database or disk is full")
	}
	r.events = append(r.events, ev)
	return nil
}

func (r *recorder) setFail(v bool) {
	r.mu.Lock()
	r.fail = v
	r.mu.Unlock()
}

func (r *recorder) all() []bounce.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bounce.Event(nil), r.events...)
}

// webhookFixture is the web server with the four webhooks configured over
// a real database with a test clock; each provider's keys are generated
// here.
type webhookFixture struct {
	url   string
	db    *sqlite.DB
	clock *testsupport.Clock
	rec   *recorder
	sns   *testsupport.SNS
	sg    testsupport.SendGridKey
}

// newWebhookFixture serves the webhooks recording into a recorder of the
// fixture's own.
func newWebhookFixture(t *testing.T) *webhookFixture {
	t.Helper()
	db, clock := testsupport.MustOpenDB(t)
	f := &webhookFixture{db: db, clock: clock, rec: &recorder{}}
	f.start(t, f.rec)
	return f
}

// start serves the four webhooks, with keys generated here, recording into
// rec.
func (f *webhookFixture) start(t *testing.T, rec bounce.Recorder) {
	t.Helper()
	f.sns, f.sg = testsupport.NewSNS(t, "eu-west-1"), testsupport.NewSendGridKey(t)
	ses, err := webhook.NewSES(webhook.SESConfig{TopicARNs: []string{sesTopic}, Region: "eu-west-1", Client: f.sns.Client, Now: f.clock.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	sg, err := webhook.NewSendGrid(webhook.SendGridConfig{PublicKey: f.sg.Public, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	pm, err := webhook.NewPostmark(webhook.PostmarkConfig{Auth: postmarkUser + ":" + postmarkPass, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	mg, err := webhook.NewMailgun(webhook.MailgunConfig{SigningKey: mailgunKey, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.url = startWebhookServer(t, f.db, web.Config{Bounces: rec, Webhooks: []webhook.Provider{ses, sg, pm, mg}})
}

func startWebhookServer(t *testing.T, db *sqlite.DB, cfg web.Config) string {
	t.Helper()
	signer, err := subscribers.NewSignerFrom(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	r, err := digest.NewRenderer(digest.RenderConfig{BaseURL: "http://127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	cfg.BaseURL, cfg.Logger = "http://127.0.0.1", quiet
	srv, err := web.New(cfg, db, digest.NewStore(db), subscribers.NewStore(db), signer, r)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return ts.URL
}

// post sends body to path with the header pairs given.
func (f *webhookFixture) post(t *testing.T, path string, body []byte, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

// wantStatus fails unless r has status code; its body names the problem.
func wantStatus(t *testing.T, r response, code int, bodyHas string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.body, bodyHas) {
		t.Fatalf("status %d body %q, want %d with %q", r.code, r.body, code, bodyHas)
	}
}

// oversized is a body one byte past the cap.
func oversized() []byte { return bytes.Repeat([]byte(" "), webhook.MaxBody+1) }

// sesBounce is an SES bounce notification in the shape SES sends.
func sesBounce(bounceType string, rcpts ...string) string {
	var rs []string
	for _, r := range rcpts {
		rs = append(rs, fmt.Sprintf(`{"emailAddress": %q, "action": "failed", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 <%s>: Recipient address rejected: User unknown"}`, r, r))
	}
	return `{"notificationType": "Bounce",
  "bounce": {"bounceType": "` + bounceType + `", "bounceSubType": "General", "bouncedRecipients": [` + strings.Join(rs, ",") + `],
    "timestamp": "2026-11-27T06:58:01.000Z", "feedbackId": "0102018c-bounce", "remoteMtaIp": "192.0.2.25", "reportingMTA": "dsn; a8-30.smtp-out.amazonses.com"},
  "mail": {"timestamp": "2026-11-27T06:57:59.000Z", "source": "bounces+d1.AbC-xyz@bounce.example.com", "sourceArn": "arn:aws:ses:eu-west-1:123456789012:identity/example.com",
    "messageId": "0102018c-mail", "destination": ["` + strings.Join(rcpts, `","`) + `"], "headersTruncated": false,
    "headers": [{"name": "From", "value": "Both Sides <digest@example.com>"}, {"name": "X-Bothsides-Delivery", "value": "header-token"}]}}`
}

const sesComplaint = `{"eventType": "Complaint",
  "complaint": {"complainedRecipients": [{"emailAddress": "ann@example.org"}], "timestamp": "2026-11-27T08:10:00.000Z",
    "feedbackId": "0102018c-complaint", "userAgent": "Yahoo!-Mail-Feedback/2.0", "complaintFeedbackType": "abuse"},
  "mail": {"timestamp": "2026-11-27T06:57:59.000Z", "source": "digest@example.com", "messageId": "0102018c-mail",
    "destination": ["ann@example.org"], "headers": [{"name": "X-Bothsides-Delivery", "value": "header-token"}]}}`

func TestWebhooks_NotConfigured(t *testing.T) {
	db, _ := testsupport.MustOpenDB(t)
	url := startWebhookServer(t, db, web.Config{Bounces: &recorder{}})
	for _, p := range []string{"ses", "sendgrid", "postmark", "mailgun"} {
		resp, err := http.Post(url+"/webhooks/"+p, "application/json", strings.NewReader("[]"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got, want := resp.StatusCode, http.StatusNotFound; got != want {
			t.Fatalf("POST /webhooks/%s: status %d, want %d", p, got, want)
		}
	}
}

func TestWebhookSES(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		f := newWebhookFixture(t)
		for i, v := range []string{"1", "2"} {
			body := f.sns.Sign(t, testsupport.SNSNotification(sesTopic, "msg-v"+v, sesBounce("Permanent", "bob@example.net", "cy@example.net")), v)
			wantStatus(t, f.post(t, "/webhooks/ses", body, "X-Amz-Sns-Message-Type", "Notification"), http.StatusOK, `"events": 2`)
			evs := f.rec.all()
			if got, want := len(evs), 2*(i+1); got != want {
				t.Fatalf("SignatureVersion %s: %d events, want %d", v, got, want)
			}
			ev := evs[len(evs)-1]
			if ev.Kind != bounce.KindHard || ev.Status != "5.1.1" || ev.Recipient != "cy@example.net" || ev.Token != "d1.AbC-xyz" ||
				ev.Source != "ses" || ev.ExternalID != "msg-v"+v+"/cy@example.net" || !ev.Verified ||
				!strings.Contains(ev.Diagnostic, "User unknown") || ev.At.Format("15:04:05") != "06:58:01" {
				t.Fatalf("SignatureVersion %s: event %+v", v, ev)
			}
		}
		body := f.sns.Sign(t, testsupport.SNSNotification(sesTopic, "msg-c", sesComplaint), "2")
		wantStatus(t, f.post(t, "/webhooks/ses", body), http.StatusOK, `"events": 1`)
		if ev := f.rec.all()[4]; ev.Kind != bounce.KindComplaint || ev.Recipient != "ann@example.org" || ev.Token != "header-token" || ev.Diagnostic != "abuse" {
			t.Fatalf("complaint %+v", ev)
		}
		// The certificate was fetched once, through the injected client.
		if got, want := strings.Join(f.sns.Requests(), "\n"), "GET "+f.sns.CertURL; got != want {
			t.Fatalf("requests:\n%s\nwant:\n%s", got, want)
		}
	})
	t.Run("SubscriptionConfirmation", func(t *testing.T) {
		f := newWebhookFixture(t)
		sub := "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + sesTopic + "&Token=2336412f37"
		body := f.sns.Sign(t, map[string]string{"Type": "SubscriptionConfirmation", "MessageId": "sub-1", "Token": "2336412f37",
			"TopicArn": sesTopic, "Message": "You have chosen to subscribe to the topic " + sesTopic + ".\nTo confirm the subscription, visit the SubscribeURL included in this message.",
			"SubscribeURL": sub, "Timestamp": "2026-11-27T06:00:00.000Z"}, "1")
		wantStatus(t, f.post(t, "/webhooks/ses", body), http.StatusOK, `"events": 0`)
		reqs := f.sns.Requests()
		if len(reqs) != 2 || reqs[1] != "GET "+sub {
			t.Fatalf("requests %q: want the certificate, then GET %s", reqs, sub)
		}
		if n := len(f.rec.all()); n != 0 {
			t.Fatalf("%d events recorded", n)
		}
	})
	t.Run("ErrSubscribeURLNotSNS", func(t *testing.T) {
		f := newWebhookFixture(t)
		body := f.sns.Sign(t, map[string]string{"Type": "SubscriptionConfirmation", "MessageId": "sub-2", "Token": "t",
			"TopicArn": sesTopic, "Message": "confirm", "SubscribeURL": "https://attacker.example/confirm", "Timestamp": "2026-11-27T06:00:00.000Z"}, "2")
		wantStatus(t, f.post(t, "/webhooks/ses", body), http.StatusUnauthorized, "not an SNS host")
		if reqs := f.sns.Requests(); len(reqs) != 1 {
			t.Fatalf("requests %q: want only the certificate's", reqs)
		}
	})
	t.Run("ErrBadSignature", func(t *testing.T) {
		f := newWebhookFixture(t)
		other := testsupport.NewOtherSNS(t, "eu-west-1") // another key, the same certificate URL
		body := other.Sign(t, testsupport.SNSNotification(sesTopic, "msg-1", sesBounce("Permanent", "bob@example.net")), "2")
		wantStatus(t, f.post(t, "/webhooks/ses", body), http.StatusUnauthorized, "signature does not verify")
		f.wantNone(t)
	})
	t.Run("ErrTampered", func(t *testing.T) {
		f := newWebhookFixture(t)
		body := f.sns.Sign(t, testsupport.SNSNotification(sesTopic, "msg-1", sesBounce("Transient", "bob@example.net")), "1")
		body = bytes.Replace(body, []byte("Transient"), []byte("Permanent"), 1)
		wantStatus(t, f.post(t, "/webhooks/ses", body), http.StatusUnauthorized, "signature does not verify")
		f.wantNone(t)
	})
	t.Run("ErrCertNotOnSNSHost", func(t *testing.T) {
		f := newWebhookFixture(t)
		for _, u := range []string{"https://sns.eu-west-1.amazonaws.com.attacker.example/cert.pem", "https://attacker.example/sns.eu-west-1.amazonaws.com.pem",
			"http://sns.eu-west-1.amazonaws.com/cert.pem", "https://sns.us-east-1.amazonaws.com/cert.pem"} {
			msg := testsupport.SNSNotification(sesTopic, "msg-1", sesBounce("Permanent", "bob@example.net"))
			msg["SigningCertURL"] = u
			wantStatus(t, f.post(t, "/webhooks/ses", f.sns.Sign(t, msg, "2")), http.StatusUnauthorized, "SigningCertURL")
		}
		if reqs := f.sns.Requests(); len(reqs) != 0 {
			t.Fatalf("requests %q: want none", reqs)
		}
		f.wantNone(t)
	})
	t.Run("ErrTopicNotAllowed", func(t *testing.T) {
		f := newWebhookFixture(t)
		body := f.sns.Sign(t, testsupport.SNSNotification("arn:aws:sns:eu-west-1:999999999999:other", "msg-1", sesBounce("Permanent", "bob@example.net")), "2")
		wantStatus(t, f.post(t, "/webhooks/ses", body), http.StatusUnauthorized, "not an allowed topic")
		f.wantNone(t)
	})
	t.Run("ErrTooLarge", func(t *testing.T) {
		f := newWebhookFixture(t)
		wantStatus(t, f.post(t, "/webhooks/ses", oversized()), http.StatusRequestEntityTooLarge, "larger than 1 MiB")
		f.wantNone(t)
	})
	t.Run("ErrMalformed", func(t *testing.T) {
		f := newWebhookFixture(t)
		wantStatus(t, f.post(t, "/webhooks/ses", []byte(`{"Type": "Notification",`)), http.StatusBadRequest, "SNS message is not JSON")
		body := f.sns.Sign(t, testsupport.SNSNotification(sesTopic, "msg-1", "not json"), "2")
		wantStatus(t, f.post(t, "/webhooks/ses", body), http.StatusBadRequest, "SES notification in the SNS Message is not JSON")
		f.wantNone(t)
	})
	t.Run("Ignored", func(t *testing.T) {
		f := newWebhookFixture(t)
		body := f.sns.Sign(t, testsupport.SNSNotification(sesTopic, "msg-o", `{"eventType": "Open", "open": {"timestamp": "2026-11-27T08:00:00.000Z"}, "mail": {"source": "digest@example.com"}}`), "2")
		wantStatus(t, f.post(t, "/webhooks/ses", body), http.StatusOK, `"events": 0`)
		f.wantNone(t)
	})
}

// wantNone fails if anything was recorded.
func (f *webhookFixture) wantNone(t *testing.T) {
	t.Helper()
	if evs := f.rec.all(); len(evs) != 0 {
		t.Fatalf("recorded %+v, want nothing", evs)
	}
}

// sendGridEvents is a batch in the shape SendGrid posts.
const sendGridEvents = `[
  {"email": "bob@example.net", "timestamp": 1795676400, "event": "bounce", "type": "bounce", "bounce_classification": "Invalid Address",
   "status": "5.1.1", "reason": "550 5.1.1 The email account that you tried to reach does not exist.", "sg_event_id": "ZGVsaXZlcmVk-1", "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"},
  {"email": "cy@example.net", "timestamp": 1795676401, "event": "bounce", "type": "blocked", "status": "4.7.1", "reason": "421 4.7.1 Try again later", "sg_event_id": "ZGVsaXZlcmVk-2"},
  {"email": "ann@example.org", "timestamp": 1795676402, "event": "spamreport", "sg_event_id": "ZGVsaXZlcmVk-3"},
  {"email": "dee@example.org", "timestamp": 1795676403, "event": "delivered", "response": "250 2.0.0 OK", "sg_event_id": "ZGVsaXZlcmVk-4"},
  {"email": "dee@example.org", "timestamp": 1795676404, "event": "open", "sg_event_id": "ZGVsaXZlcmVk-5"},
  {"email": "eve@example.org", "timestamp": 1795676405, "event": "dropped", "reason": "Bounced Address", "sg_event_id": "ZGVsaXZlcmVk-6"},
  {"email": "fay@example.org", "timestamp": 1795676406, "event": "dropped", "reason": "Unsubscribed Address", "sg_event_id": "ZGVsaXZlcmVk-7"}
]`

// sendGridHeaders signs body now by the fixture's clock.
func (f *webhookFixture) sendGridHeaders(t *testing.T, body []byte) []string {
	ts := strconv.FormatInt(f.clock.Now().Unix(), 10)
	return []string{"X-Twilio-Email-Event-Webhook-Timestamp", ts, "X-Twilio-Email-Event-Webhook-Signature", f.sg.Sign(t, ts, body)}
}

func TestWebhookSendGrid(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		f := newWebhookFixture(t)
		body := []byte(sendGridEvents)
		wantStatus(t, f.post(t, "/webhooks/sendgrid", body, f.sendGridHeaders(t, body)...), http.StatusOK, `"events": 5`)
		var got []string
		for _, ev := range f.rec.all() {
			if !ev.Verified || ev.Source != "sendgrid" {
				t.Fatalf("event %+v", ev)
			}
			got = append(got, fmt.Sprintf("%s %s %s %s", ev.Kind, ev.Recipient, ev.Status, ev.ExternalID))
		}
		want := []string{"hard bob@example.net 5.1.1 ZGVsaXZlcmVk-1", "soft cy@example.net 4.7.1 ZGVsaXZlcmVk-2",
			"complaint ann@example.org  ZGVsaXZlcmVk-3", "delivered dee@example.org 2.0.0 ZGVsaXZlcmVk-4", "hard eve@example.org  ZGVsaXZlcmVk-6"}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if ev := f.rec.all()[0]; !json.Valid(ev.Raw) || !bytes.Contains(ev.Raw, []byte("ZGVsaXZlcmVk-1")) || bytes.Contains(ev.Raw, []byte("ZGVsaXZlcmVk-2")) {
			t.Fatalf("Raw is not the one event: %s", ev.Raw)
		}
	})
	t.Run("ErrBadSignature", func(t *testing.T) {
		f := newWebhookFixture(t)
		body := []byte(sendGridEvents)
		other := testsupport.NewSendGridKey(t)
		ts := strconv.FormatInt(f.clock.Now().Unix(), 10)
		wantStatus(t, f.post(t, "/webhooks/sendgrid", body, "X-Twilio-Email-Event-Webhook-Timestamp", ts,
			"X-Twilio-Email-Event-Webhook-Signature", other.Sign(t, ts, body)), http.StatusUnauthorized, "signature does not verify")
		wantStatus(t, f.post(t, "/webhooks/sendgrid", body), http.StatusUnauthorized, "missing")
		f.wantNone(t)
	})
	t.Run("ErrTampered", func(t *testing.T) {
		f := newWebhookFixture(t)
		body := []byte(sendGridEvents)
		h := f.sendGridHeaders(t, body)
		wantStatus(t, f.post(t, "/webhooks/sendgrid", bytes.Replace(body, []byte("blocked"), []byte("bounce"), 1), h...), http.StatusUnauthorized, "signature does not verify")
		// The timestamp is signed too.
		h[1] = strconv.FormatInt(f.clock.Now().Unix()+1, 10)
		wantStatus(t, f.post(t, "/webhooks/sendgrid", body, h...), http.StatusUnauthorized, "signature does not verify")
		f.wantNone(t)
	})
	t.Run("ErrStale", func(t *testing.T) {
		f := newWebhookFixture(t)
		body := []byte(sendGridEvents)
		h := f.sendGridHeaders(t, body)
		f.clock.Advance(webhook.DefaultMaxAge + 1)
		wantStatus(t, f.post(t, "/webhooks/sendgrid", body, h...), http.StatusUnauthorized, "from the server's clock")
		f.wantNone(t)
	})
	t.Run("ErrTooLarge", func(t *testing.T) {
		f := newWebhookFixture(t)
		body := oversized()
		wantStatus(t, f.post(t, "/webhooks/sendgrid", body, f.sendGridHeaders(t, body)...), http.StatusRequestEntityTooLarge, "larger than 1 MiB")
		f.wantNone(t)
	})
	t.Run("ErrMalformed", func(t *testing.T) {
		f := newWebhookFixture(t)
		body := []byte(`{"email": "bob@example.net"}`)
		wantStatus(t, f.post(t, "/webhooks/sendgrid", body, f.sendGridHeaders(t, body)...), http.StatusBadRequest, "want a JSON array")
		f.wantNone(t)
	})
}

// auth is the Authorization header pair of basic auth.
func auth(user, pass string) []string {
	req, _ := http.NewRequest("POST", "/", nil)
	req.SetBasicAuth(user, pass)
	return []string{"Authorization", req.Header.Get("Authorization")}
}

const postmarkBounce = `{"RecordType": "Bounce", "MessageStream": "outbound", "ID": 4323372036854775807, "Type": "HardBounce", "TypeCode": 1,
  "Name": "Hard bounce", "Tag": "digest", "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483", "Metadata": {}, "ServerID": 23,
  "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
  "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.", "Email": "bob@example.net",
  "From": "digest@example.com", "BouncedAt": "2026-11-27T06:58:54.9070259Z", "DumpAvailable": true, "Inactive": true, "CanActivate": true,
  "Subject": "Both Sides, Friday 27 November"}`

func TestWebhookPostmark(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		f := newWebhookFixture(t)
		wantStatus(t, f.post(t, "/webhooks/postmark", []byte(postmarkBounce), auth(postmarkUser, postmarkPass)...), http.StatusOK, `"events": 1`)
		complaint := `{"RecordType": "SpamComplaint", "MessageStream": "outbound", "ID": 42, "Type": "SpamComplaint", "TypeCode": 100001,
		  "MessageID": "00000000-0000-0000-0000-000000000000", "Email": "ann@example.org", "BouncedAt": "2026-11-27T09:00:00Z"}`
		wantStatus(t, f.post(t, "/webhooks/postmark", []byte(complaint), auth(postmarkUser, postmarkPass)...), http.StatusOK, `"events": 1`)
		delivery := `{"RecordType": "Delivery", "ServerID": 23, "MessageStream": "outbound", "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
		  "Recipient": "dee@example.org", "Tag": "digest", "DeliveredAt": "2026-11-27T06:58:00Z", "Details": "Test delivery webhook details", "Metadata": {}}`
		wantStatus(t, f.post(t, "/webhooks/postmark", []byte(delivery), auth(postmarkUser, postmarkPass)...), http.StatusOK, `"events": 1`)
		open := `{"RecordType": "Open", "MessageID": "883953f4", "Recipient": "dee@example.org"}`
		wantStatus(t, f.post(t, "/webhooks/postmark", []byte(open), auth(postmarkUser, postmarkPass)...), http.StatusOK, `"events": 0`)
		var got []string
		for _, ev := range f.rec.all() {
			got = append(got, fmt.Sprintf("%s %s %s %s %v", ev.Kind, ev.Recipient, ev.Status, ev.ExternalID, ev.Verified))
		}
		want := []string{"hard bob@example.net 5.1.1 bounce/4323372036854775807 true", "complaint ann@example.org  bounce/42 true",
			"delivered dee@example.org  delivery/883953f4-6105-42a2-a16a-77a8eac79483/dee@example.org true"}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
	t.Run("ErrBadAuth", func(t *testing.T) {
		f := newWebhookFixture(t)
		r := f.post(t, "/webhooks/postmark", []byte(postmarkBounce), auth(postmarkUser, postmarkPass+"x")...)
		wantStatus(t, r, http.StatusUnauthorized, "wrong basic auth credentials")
		if r.header.Get("WWW-Authenticate") == "" {
			t.Fatal("no WWW-Authenticate")
		}
		wantStatus(t, f.post(t, "/webhooks/postmark", []byte(postmarkBounce), auth("other", postmarkPass)...), http.StatusUnauthorized, "wrong")
		wantStatus(t, f.post(t, "/webhooks/postmark", []byte(postmarkBounce)), http.StatusUnauthorized, "missing basic auth")
		f.wantNone(t)
	})
	t.Run("ErrTooLarge", func(t *testing.T) {
		f := newWebhookFixture(t)
		wantStatus(t, f.post(t, "/webhooks/postmark", oversized(), auth(postmarkUser, postmarkPass)...), http.StatusRequestEntityTooLarge, "larger than 1 MiB")
		f.wantNone(t)
	})
	t.Run("ErrMalformed", func(t *testing.T) {
		f := newWebhookFixture(t)
		wantStatus(t, f.post(t, "/webhooks/postmark", []byte(`{"RecordType": "Bounce"`), auth(postmarkUser, postmarkPass)...), http.StatusBadRequest, "not JSON")
		wantStatus(t, f.post(t, "/webhooks/postmark", []byte(`{"RecordType": "Bounce", "Type": "HardBounce", "ID": 7}`), auth(postmarkUser, postmarkPass)...), http.StatusBadRequest, "without Email")
		f.wantNone(t)
	})
}

// mailgunBody is a webhook in the shape Mailgun posts, signed with key at
// the clock's time with token.
func (f *webhookFixture) mailgunBody(key, token, eventData string) []byte {
	ts := strconv.FormatInt(f.clock.Now().Unix(), 10)
	return []byte(`{"signature": {"timestamp": "` + ts + `", "token": "` + token + `", "signature": "` + testsupport.MailgunSignature(key, ts, token) + `"},
  "event-data": ` + eventData + `}`)
}

const mailgunFailed = `{"event": "failed", "id": "G9Bn5sl1TC6xpLJ3F6EvJw", "timestamp": 1795676400.908181, "log-level": "error",
  "severity": "permanent", "reason": "bounce", "recipient": "bob@example.net", "recipient-domain": "example.net",
  "envelope": {"sender": "digest@mg.example.com", "transport": "smtp", "targets": "bob@example.net"},
  "delivery-status": {"attempt-no": 1, "code": 550, "message": "5.1.1 The email account that you tried to reach does not exist.", "description": "", "mx-host": "mx.example.net"},
  "message": {"headers": {"to": "bob@example.net", "message-id": "20261127065800.1.ABC@mg.example.com", "from": "digest@example.com", "subject": "Both Sides"}},
  "user-variables": {}}`

func TestWebhookMailgun(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		f := newWebhookFixture(t)
		wantStatus(t, f.post(t, "/webhooks/mailgun", f.mailgunBody(mailgunKey, "tok-1-a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0", mailgunFailed)), http.StatusOK, `"events": 1`)
		temp := strings.NewReplacer(`"permanent"`, `"temporary"`, "G9Bn5sl1TC6xpLJ3F6EvJw", "temp-1", `"code": 550`, `"code": 452`, `"message": "5.1.1 The email account that you tried to reach does not exist."`, `"message": "mailbox full"`).Replace(mailgunFailed)
		wantStatus(t, f.post(t, "/webhooks/mailgun", f.mailgunBody(mailgunKey, "tok-2", temp)), http.StatusOK, `"events": 1`)
		wantStatus(t, f.post(t, "/webhooks/mailgun", f.mailgunBody(mailgunKey, "tok-3", `{"event": "complained", "id": "cmp-1", "timestamp": 1795680000.1, "recipient": "ann@example.org"}`)), http.StatusOK, `"events": 1`)
		wantStatus(t, f.post(t, "/webhooks/mailgun", f.mailgunBody(mailgunKey, "tok-4", `{"event": "delivered", "id": "dlv-1", "timestamp": 1795676400, "recipient": "dee@example.org", "delivery-status": {"code": 250, "message": "OK"}}`)), http.StatusOK, `"events": 1`)
		wantStatus(t, f.post(t, "/webhooks/mailgun", f.mailgunBody(mailgunKey, "tok-5", `{"event": "opened", "id": "opn-1", "recipient": "dee@example.org"}`)), http.StatusOK, `"events": 0`)
		var got []string
		for _, ev := range f.rec.all() {
			got = append(got, fmt.Sprintf("%s %s %s %s %v", ev.Kind, ev.Recipient, ev.Status, ev.ExternalID, ev.Verified))
		}
		want := []string{"hard bob@example.net 5.1.1 G9Bn5sl1TC6xpLJ3F6EvJw true", "soft bob@example.net 4.0.0 temp-1 true",
			"complaint ann@example.org  cmp-1 true", "delivered dee@example.org  dlv-1 true"}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if at := f.rec.all()[0].At; at.Unix() != 1795676400 {
			t.Fatalf("At %v", at)
		}
	})
	t.Run("ErrBadSignature", func(t *testing.T) {
		f := newWebhookFixture(t)
		wantStatus(t, f.post(t, "/webhooks/mailgun", f.mailgunBody("key-another-one-0123456789", "tok-1", mailgunFailed)), http.StatusUnauthorized, "signature does not verify")
		wantStatus(t, f.post(t, "/webhooks/mailgun", []byte(`{"event-data": `+mailgunFailed+`}`)), http.StatusUnauthorized, "without signature")
		f.wantNone(t)
	})
	t.Run("ErrTampered", func(t *testing.T) {
		f := newWebhookFixture(t)
		body := f.mailgunBody(mailgunKey, "tok-1", mailgunFailed)
		wantStatus(t, f.post(t, "/webhooks/mailgun", bytes.Replace(body, []byte("tok-1"), []byte("tok-2"), 1)), http.StatusUnauthorized, "signature does not verify")
		f.wantNone(t)
	})
	t.Run("ErrReplay", func(t *testing.T) {
		f := newWebhookFixture(t)
		body := f.mailgunBody(mailgunKey, "tok-1", mailgunFailed)
		wantStatus(t, f.post(t, "/webhooks/mailgun", body), http.StatusOK, `"events": 1`)
		f.clock.Advance(webhook.DefaultMaxAge / 2)
		wantStatus(t, f.post(t, "/webhooks/mailgun", body), http.StatusUnauthorized, "already used")
		if n := len(f.rec.all()); n != 1 {
			t.Fatalf("%d events recorded, want 1", n)
		}
	})
	t.Run("RetryAfterFailure", func(t *testing.T) {
		// A post answered 500 comes again with the same signature: it is
		// not a replay until its events are recorded.
		f := newWebhookFixture(t)
		body := f.mailgunBody(mailgunKey, "tok-1", mailgunFailed)
		f.rec.setFail(true)
		wantStatus(t, f.post(t, "/webhooks/mailgun", body), http.StatusInternalServerError, "Something went wrong")
		f.rec.setFail(false)
		wantStatus(t, f.post(t, "/webhooks/mailgun", body), http.StatusOK, `"events": 1`)
		wantStatus(t, f.post(t, "/webhooks/mailgun", body), http.StatusUnauthorized, "already used")
		if n := len(f.rec.all()); n != 1 {
			t.Fatalf("%d events recorded, want 1", n)
		}
	})
	t.Run("ErrStale", func(t *testing.T) {
		f := newWebhookFixture(t)
		body := f.mailgunBody(mailgunKey, "tok-1", mailgunFailed)
		f.clock.Advance(webhook.DefaultMaxAge + 1)
		wantStatus(t, f.post(t, "/webhooks/mailgun", body), http.StatusUnauthorized, "from the server's clock")
		f.wantNone(t)
	})
	t.Run("ErrTooLarge", func(t *testing.T) {
		f := newWebhookFixture(t)
		wantStatus(t, f.post(t, "/webhooks/mailgun", oversized()), http.StatusRequestEntityTooLarge, "larger than 1 MiB")
		f.wantNone(t)
	})
	t.Run("ErrMalformed", func(t *testing.T) {
		f := newWebhookFixture(t)
		wantStatus(t, f.post(t, "/webhooks/mailgun", []byte(`{"signature": `)), http.StatusBadRequest, "not JSON")
		wantStatus(t, f.post(t, "/webhooks/mailgun", f.mailgunBody(mailgunKey, "tok-9", `{"event": "failed", "severity": "permanent"}`)), http.StatusBadRequest, "without recipient or id")
		f.wantNone(t)
	})
}

// TestWebhooks_TooLargeChunked: a body without a length is cut at the cap
// too.
func TestWebhooks_TooLargeChunked(t *testing.T) {
	f := newWebhookFixture(t)
	req, err := http.NewRequest(http.MethodPost, f.url+"/webhooks/postmark", io.MultiReader(bytes.NewReader(oversized())))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(postmarkUser, postmarkPass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusRequestEntityTooLarge; got != want || req.ContentLength != 0 {
		t.Fatalf("status %d (content length %d), want %d", got, req.ContentLength, want)
	}
	f.wantNone(t)
}
