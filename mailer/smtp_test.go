package mailer_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"bothsides/internal/testsupport"
	"bothsides/mailer"
)

func rawMessage(t *testing.T, to string) mailer.Raw {
	t.Helper()
	tm := testTemplate(t, "")
	m, err := tm.Append(nil, &mailer.Recipient{To: to, MessageID: "m@news.example.com", Date: time.Now(),
		Unsubscribe: "https://news.example.com/unsubscribe/x", Values: []string{"", to, "https://news.example.com/unsubscribe/x"}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSMTP_SendRaw(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		opts  testsupport.SMTPOptions
		query string // added to the URL
		auth  string // mechanism the server saw
	}{
		{name: "Plain", opts: testsupport.SMTPOptions{}},
		{name: "STARTTLSRequiredAuthPlain", opts: testsupport.SMTPOptions{TLS: true, RequireTLS: true, Username: "relay", Password: "p@ss word"}, query: "&tls=required&auth=plain", auth: "PLAIN"},
		{name: "STARTTLSOpportunisticAuthLogin", opts: testsupport.SMTPOptions{TLS: true, RequireTLS: true, Username: "relay", Password: "secret"}, query: "&auth=login", auth: "LOGIN"},
		{name: "ImplicitTLSAuthAuto", opts: testsupport.SMTPOptions{Implicit: true, Username: "relay", Password: "secret"}, auth: "PLAIN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testsupport.StartSMTPWith(t, tc.opts)
			u := withQuery(srv.URL(), tc.query)
			c, err := mailer.NewSMTP(mailer.Config{URL: u, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// Several messages over one connection.
			for _, to := range []string{"a@example.com", "b@example.com", "c@example.com"} {
				m := rawMessage(t, to)
				if err := c.SendRaw(ctx, "digest@news.example.com", to, m); err != nil {
					t.Fatalf("send to %s over %s: %v", to, mailer.Redact(u), err)
				}
			}
			if got := len(srv.Messages()); got != 3 {
				t.Fatalf("server got %d messages, want 3", got)
			}
			if tc.auth != "" {
				if got := srv.Auths(); len(got) != 1 || got[0] != tc.auth {
					t.Fatalf("authenticated %v times/mechanisms, want once with %s (one connection reused)", got, tc.auth)
				}
			}
		})
	}
	t.Run("ErrUntrustedCA", func(t *testing.T) {
		srv := testsupport.StartSMTPWith(t, testsupport.SMTPOptions{TLS: true})
		c, err := mailer.NewSMTP(mailer.Config{URL: "smtp://" + srv.Addr + "?tls=required", Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		m := rawMessage(t, "a@example.com")
		err = c.SendRaw(ctx, "digest@news.example.com", "a@example.com", m)
		if err == nil || mailer.IsPermanent(err) || mailer.Stage(err) != "connect" {
			t.Fatalf("err = %v (stage %q), want a temporary connect error", err, mailer.Stage(err))
		}
	})
	t.Run("ErrBadPassword", func(t *testing.T) {
		srv := testsupport.StartSMTPWith(t, testsupport.SMTPOptions{TLS: true, Username: "relay", Password: "right"})
		c, err := mailer.NewSMTP(mailer.Config{URL: "smtp://relay:wrong@" + srv.Addr + "?tls=required&ca=" + srv.CAFile, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		m := rawMessage(t, "a@example.com")
		err = c.SendRaw(ctx, "digest@news.example.com", "a@example.com", m)
		if err == nil || mailer.Stage(err) != "connect" || strings.Contains(err.Error(), "wrong") {
			t.Fatalf("err = %v, want a connect error that does not show the password", err)
		}
	})
}

func TestSMTP_Failures(t *testing.T) {
	ctx := context.Background()
	srv := testsupport.StartSMTP(t)
	srv.OnRcpt = func(to string) error {
		switch {
		case strings.HasPrefix(to, "full@"):
			return testsupport.Reply(452, "mailbox full, try later")
		case strings.HasPrefix(to, "gone@"):
			return testsupport.Reply(550, "no such user")
		case strings.HasPrefix(to, "bye@"):
			return testsupport.Reply(421, "closing")
		}
		return nil
	}
	srv.DropData = func(to []string) bool { return to[0] == "drop@example.com" }
	c, err := mailer.NewSMTP(mailer.Config{URL: srv.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		to        string
		code      int
		permanent bool
		stage     string
	}{
		{"ok1@example.com", 0, false, ""},
		{"full@example.com", 452, false, "rcpt"},
		{"ok2@example.com", 0, false, ""},
		{"gone@example.com", 550, true, "rcpt"},
		{"ok3@example.com", 0, false, ""},
		{"bye@example.com", 421, false, "rcpt"},
		{"ok4@example.com", 0, false, ""}, // redialed after 421
		{"drop@example.com", 0, false, "data"},
		{"ok5@example.com", 0, false, ""}, // redialed after the drop
	} {
		m := rawMessage(t, tc.to)
		err := c.SendRaw(ctx, "digest@news.example.com", tc.to, m)
		if tc.stage == "" {
			if err != nil {
				t.Fatalf("%s: %v", tc.to, err)
			}
			continue
		}
		if err == nil {
			t.Fatalf("%s: no error", tc.to)
		}
		if mailer.Code(err) != tc.code || mailer.IsPermanent(err) != tc.permanent || mailer.Stage(err) != tc.stage {
			t.Fatalf("%s: err %v: code %d permanent %v stage %q, want %d %v %q", tc.to, err,
				mailer.Code(err), mailer.IsPermanent(err), mailer.Stage(err), tc.code, tc.permanent, tc.stage)
		}
	}
	if got := len(srv.Messages()); got != 5 {
		t.Fatalf("server stored %d messages, want 5", got)
	}
}

// withQuery adds "&a=b..." parameters to an URL that may have none yet.
func withQuery(u, q string) string {
	if q == "" {
		return u
	}
	if !strings.Contains(u, "?") {
		return u + "?" + strings.TrimPrefix(q, "&")
	}
	return u + q
}

func TestSMTP_SendRaw_DotStuffing(t *testing.T) {
	srv := testsupport.StartSMTP(t)
	c, err := mailer.NewSMTP(mailer.Config{URL: srv.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, body := range []string{
		"From: a@b.example\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nend\r\n",
		"From: a@b.example\r\n\r\nno final line break",
		"From: a@b.example\r\n\r\nbare\nline feed\r\n",
		"From: a@b.example\r\n\r\nplain\r\n",
	} {
		if err := c.SendRaw(context.Background(), "a@b.example", "c@d.example", mailer.Raw{Data: []byte(body), BodyOffset: strings.Index(body, "\r\n\r\n") + 4}); err != nil {
			t.Fatal(err)
		}
		got := string(srv.Messages()[i].Data)
		want := strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n")
		if !strings.HasSuffix(want, "\r\n") {
			want += "\r\n"
		}
		if got != want {
			t.Errorf("case %d: server got %q, want %q", i, got, want)
		}
	}
}

func TestSMTP_SendRaw_Timeout(t *testing.T) {
	srv := testsupport.StartSMTP(t)
	release := make(chan struct{})
	defer close(release)
	var hung atomic.Bool
	srv.OnRcpt = func(to string) error {
		if to == "slow@example.com" && hung.CompareAndSwap(false, true) {
			<-release // never answers within the client's timeout
		}
		return nil
	}
	c, err := mailer.NewSMTP(mailer.Config{URL: srv.URL(), Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.SendRaw(context.Background(), "a@b.example", "slow@example.com", rawMessage(t, "slow@example.com"))
	if err == nil || mailer.Code(err) != 0 || mailer.IsPermanent(err) || mailer.Stage(err) != "rcpt" {
		t.Fatalf("err = %v: want a temporary rcpt error without a code", err)
	}
	// The next message goes over a fresh connection.
	if err := c.SendRaw(context.Background(), "a@b.example", "ok@example.com", rawMessage(t, "ok@example.com")); err != nil {
		t.Fatal(err)
	}
}
