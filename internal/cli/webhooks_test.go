package cli

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"bothsides/internal/testsupport"
)

// TestServe_WebhookSettings: a bad key, ARN or credential stops serve at
// start with a usage error naming the setting.
func TestServe_WebhookSettings(t *testing.T) {
	for env, val := range map[string]string{
		"BOTHSIDES_SES_TOPIC_ARN":   "ses-feedback",
		"BOTHSIDES_SENDGRID_KEY":    "not-a-key",
		"BOTHSIDES_POSTMARK_AUTH":   "hooks",
		"BOTHSIDES_MAILGUN_KEY":     "short",
		"BOTHSIDES_SES_REGION":      "eu-west-1",
		"BOTHSIDES_WEBHOOK_MAX_AGE": "-1m",
	} {
		t.Run(env, func(t *testing.T) {
			c := newCLI(t)
			c.env[env] = val
			_, _, err := c.run("", "serve", "--addr", "127.0.0.1:0")
			setting := "--" + strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "BOTHSIDES_")), "_", "-")
			if err == nil || !errors.Is(err, errUsage) || !strings.Contains(err.Error(), setting) {
				t.Fatalf("%s=%s: err=%v, want a usage error naming %s", env, val, err, setting)
			}
		})
	}
}

// TestServe_Webhooks: serve routes a configured webhook into the bounce
// store (a complaint makes the subscriber complained) and answers 404 for
// the ones not configured.
func TestServe_Webhooks(t *testing.T) {
	c := newCLI(t)
	c.must("", "subscribers", "add", "ann@example.org")
	port := freePort(t)
	base := "http://127.0.0.1:" + port
	const key = "key-5f1b0d7e9c2a4b6f8e0d1c3a"
	c.env["BOTHSIDES_BASE_URL"] = base
	c.env["BOTHSIDES_MAILGUN_KEY"] = key
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		a, _, _ := c.app("")
		done <- a.main(ctx, []string{"serve", "--addr", "127.0.0.1:" + port, "--schedule", "off"})
	}()
	waitHealthy(t, base)

	ts := strconv.FormatInt(c.clock.Now().Unix(), 10)
	body := `{"signature": {"timestamp": "` + ts + `", "token": "tok-1", "signature": "` + testsupport.MailgunSignature(key, ts, "tok-1") + `"},
	  "event-data": {"event": "complained", "id": "cmp-1", "timestamp": 1795680000, "recipient": "ann@example.org"}}`
	resp, err := http.Post(base+"/webhooks/mailgun", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /webhooks/mailgun: %d", resp.StatusCode)
	}
	resp, err = http.Post(base+"/webhooks/sendgrid", "application/json", strings.NewReader("[]"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("POST /webhooks/sendgrid unconfigured: %d, want 404", resp.StatusCode)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if out := c.must("", "subscribers", "list"); !strings.Contains(out, "complained") {
		t.Fatalf("subscribers list:\n%s", out)
	}
}
