package web

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"bothsides/digest"
	"bothsides/internal/testsupport"
	"bothsides/mailer"
	"bothsides/subscribers"
)

// TestServer_signUpMailRetries: a sign-up mail refused with a temporary
// reply is sent again; a permanent refusal is not retried.
func TestServer_signUpMailRetries(t *testing.T) {
	saved := mailRetryDelays
	mailRetryDelays = []time.Duration{0, 0}
	t.Cleanup(func() { mailRetryDelays = saved })

	db, _ := testsupport.MustOpenDB(t)
	smtpSrv := testsupport.StartSMTP(t)
	var tries, laterTries atomic.Int32
	smtpSrv.OnRcpt = func(to string) error {
		tries.Add(1)
		switch {
		case to == "gone@example.com":
			return testsupport.Reply(550, "no such user")
		case laterTries.Add(1) == 1:
			return testsupport.Reply(451, "try again later")
		}
		return nil
	}
	m, err := mailer.NewSMTP(mailer.Config{URL: smtpSrv.URL() + "?tls=none", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	key, _ := db.Secret(context.Background(), "token_secret")
	r, err := digest.NewRenderer(digest.RenderConfig{BaseURL: "http://127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	subs := subscribers.NewStore(db)
	srv, err := New(Config{BaseURL: "http://127.0.0.1", Mailer: m, From: "Both Sides <digest@bothsides.example>",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, db, digest.NewStore(db), subs, subscribers.NewSigner(key), r)
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"gone@example.com", "later@example.com"} {
		sub, outcome, err := subs.SignUp(context.Background(), subscribers.SignUp{Email: addr}, subscribers.SignUpConfig{})
		if err != nil {
			t.Fatal(err)
		}
		msg, err := srv.signUpMail(sub, outcome)
		if err != nil {
			t.Fatal(err)
		}
		srv.enqueue(msg)
	}
	srv.Close() // sends what is queued
	if got := len(smtpSrv.To("later@example.com")); got != 1 {
		t.Fatalf("later@: %d messages after a 451, want 1", got)
	}
	if got := tries.Load(); got != 3 {
		t.Fatalf("%d RCPT attempts, want 3 (550 once, 451 then 250)", got)
	}
}
