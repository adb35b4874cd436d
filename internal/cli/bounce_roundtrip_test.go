package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"bothsides/bounce"
	"bothsides/internal/testsupport"
)

// TestPostfix_BounceRoundTrip is the whole way back: an edition goes
// through a real Postfix with a VERP envelope sender; the destination
// refuses one reader with 550 5.1.1; Postfix writes its own delivery
// status notification to bounces+TOKEN@bounce.example.com and its
// transport map hands it to serve's bounce listener, which records it:
// that reader is bounced (--bounce-limit 1) and nobody else changes.
func TestPostfix_BounceRoundTrip(t *testing.T) {
	listen := "127.0.0.1:" + freePort(t)
	pf := testsupport.StartPostfix(t, testsupport.PostfixOptions{
		Transport: map[string]string{"bounce.example.com": "smtp:[" + strings.Replace(listen, ":", "]:", 1)},
	})
	pf.Sink.OnRcpt = func(to string) error {
		if to == "ben@example.org" {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<ben@example.org>: Recipient address rejected: User unknown"}
		}
		return nil
	}
	c := newCLI(t)
	c.env["BOTHSIDES_SMTP_URL"] = pf.URL()
	c.env["BOTHSIDES_FROM"] = "Both Sides <digest@news.example.com>"
	c.env["BOTHSIDES_BOUNCE_ADDRESS"] = "bounces@bounce.example.com"
	c.env["BOTHSIDES_BOUNCE_LIMIT"] = "1"
	day := testsupport.Epoch.Add(-3 * time.Hour)
	c.must(importFile(t, story("alpha", "Alpha story", day, "left", "center", "right")), "stories", "import", "-")
	readers := []string{"ana@example.com", "ben@example.org", "chidi@example.net"}
	for _, r := range readers {
		c.must("", "subscribers", "add", r)
	}

	// serve with the bounce listener, as in production.
	ctx, cancel := context.WithCancel(context.Background())
	a, _, errb := c.app("")
	web := "127.0.0.1:" + freePort(t)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.main(ctx, []string{"serve", "--addr", web, "--schedule", "off", "--bounce-listen", listen}); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	defer func() { cancel(); wg.Wait() }()
	waitSMTP(t, listen, "bounce.example.com")

	if out := c.must("", "send", "--date", "2026-11-27"); !strings.Contains(out, "3 sent, 0 failed") {
		t.Fatalf("send: %q (Postfix accepts all three; the refusal comes later)", out)
	}
	got := pf.WaitMessages(t, 2)
	for _, m := range got {
		if !strings.HasPrefix(m.From, "bounces+") || !strings.HasSuffix(m.From, "@bounce.example.com") {
			t.Fatalf("envelope sender at the destination %q, want bounces+TOKEN@bounce.example.com", m.From)
		}
		if len(m.To) != 1 || m.To[0] == "ben@example.org" {
			t.Fatalf("the destination kept a message for %v", m.To)
		}
	}

	// Postfix's DSN reaches the listener and the store: wait for its
	// effect (the deadline only bounds a failure).
	deadline := time.Now().Add(30 * time.Second)
	var list string
	for {
		list = c.must("", "subscribers", "list")
		if strings.Contains(list, "ben@example.org\t-\tbounced") || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, want := range []string{"ana@example.com\t-\tactive", "ben@example.org\t-\tbounced", "chidi@example.net\t-\tactive"} {
		if !strings.Contains(list, want) {
			t.Errorf("subscribers list lacks %q:\n%s\nPostfix queue:\n%s\nserve:\n%s", want, list, pf.Queue(), errb)
		}
	}
	var events []bounce.RecordJSON
	if err := json.Unmarshal([]byte(c.must("", "bounces", "list", "--json")), &events); err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Fatalf("bounces list: %d events, want 1: %+v", len(events), events)
	}
	ev := events[0]
	if ev.Kind != "hard" || ev.Status != "5.1.1" || ev.Source != "smtp" || ev.MatchedBy != "token" ||
		ev.Recipient != "ben@example.org" || ev.Edition != "2026-11-27" {
		t.Fatalf("bounce event %+v, want hard 5.1.1 from smtp, matched by token, for ben on 2026-11-27", ev)
	}
	// The report came from Postfix itself, to the VERP address, with the
	// null sender; nothing else reached the destination.
	_, port, _ := net.SplitHostPort(listen)
	toListener := regexp.MustCompile(`to=<bounces\+[a-z2-7]+@bounce\.example\.com>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:` + port + `, .*status=sent`)
	if log := pf.Log(); !toListener.MatchString(log) || !strings.Contains(log, "from=<>") {
		t.Errorf("Postfix's log shows no report from <> delivered to the bounce listener:\n%s", log)
	}
	if n := len(pf.Sink.Messages()); n != 2 {
		t.Errorf("the destination has %d messages, want 2", n)
	}

	// The edition's reputation counts the late bounce; the listener's
	// metrics count the report.
	show := c.must("", "editions", "show", "2026-11-27")
	for _, want := range []string{"reputation: too few (judged from 500 deliveries)",
		"  other\t3 sent, 2 delivered, 1 hard (33.33 %), 0 soft, 0 complaints (0.00 %)"} {
		if !strings.Contains(show, want) {
			t.Errorf("editions show lacks %q:\n%s", want, show)
		}
	}
	resp, err := http.Get("http://" + web + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`bothsides_bounce_messages_total{result="recorded",source="smtp"} 1`,
		`bothsides_reputation_messages{domain="other",edition="2026-11-27",outcome="hard",schedule="default"} 1`,
		`bothsides_reputation_rate{domain="all",edition="2026-11-27",rate="hard_bounce",schedule="default"} 0.3333333333333333`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// waitSMTP waits until addr greets with a 220 that names host.
func waitSMTP(t *testing.T, addr, host string) {
	t.Helper()
	var last error
	for range 200 {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			line, rerr := bufio.NewReader(conn).ReadString('\n')
			io.WriteString(conn, "QUIT\r\n")
			conn.Close()
			if rerr == nil && strings.HasPrefix(line, "220 ") && strings.Contains(line, host) {
				return
			}
			err = errors.Join(rerr, errors.New("greeting "+strings.TrimSpace(line)))
		}
		last = err
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("no SMTP server greeting as %s on %s: %v", host, addr, last)
}

// TestServe_BounceSettings: a bad intake or guard setting stops serve at
// start with an error naming it, before anything listens.
func TestServe_BounceSettings(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"ListenWithoutAddress", nil, []string{"--bounce-listen", "127.0.0.1:0"}, "need --bounce-address"},
		{"MailboxWithoutAddress", map[string]string{"BOTHSIDES_BOUNCE_MAILBOX": "imaps://u:secret-pw@127.0.0.1/INBOX"}, nil, "need --bounce-address"},
		{"BadListen", map[string]string{"BOTHSIDES_BOUNCE_ADDRESS": "bounces@bounce.example.com"}, []string{"--bounce-listen", "2525"}, `--bounce-listen "2525": want host:port`},
		{"CertWithoutKey", map[string]string{"BOTHSIDES_BOUNCE_ADDRESS": "bounces@bounce.example.com"}, []string{"--bounce-listen", "127.0.0.1:0", "--bounce-tls-cert", "cert.pem"}, "--bounce-tls-cert and --bounce-tls-key go together"},
		{"BadMailbox", map[string]string{"BOTHSIDES_BOUNCE_ADDRESS": "bounces@bounce.example.com", "BOTHSIDES_BOUNCE_MAILBOX": "pop3://u:secret-pw@127.0.0.1/INBOX"}, nil, `--bounce-mailbox: bounce mailbox: scheme "pop3"`},
		{"RateTooHigh", nil, []string{"--max-complaint-rate", "30"}, "want a fraction from 0 to 1"},
		{"RateFromEnv", map[string]string{"BOTHSIDES_MAX_BOUNCE_RATE": "five"}, nil, `BOTHSIDES_MAX_BOUNCE_RATE "five": want a fraction`},
		{"ZeroSize", nil, []string{"--bounce-max-size", "0"}, "--bounce-max-size 0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			for k, v := range tt.env {
				c.env[k] = v
			}
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--schedule", "off"}, tt.args...)
			_, stderr, err := c.run("", args...)
			if err == nil || !strings.Contains(err.Error()+stderr, tt.want) {
				t.Fatalf("serve %v: %v\n%s\nwant an error with %q", args, err, stderr, tt.want)
			}
			if strings.Contains(err.Error()+stderr, "secret-pw") {
				t.Fatalf("the error shows the mailbox password: %v", err)
			}
		})
	}
	t.Run("Percentages", func(t *testing.T) {
		var v rateValue
		for in, want := range map[string]float64{"0.3%": 0.003, "5 %": 0.05, "0.003": 0.003, "0": 0, "100%": 1} {
			if err := v.Set(in); err != nil || float64(v) != want {
				t.Errorf("Set(%q) = %v, %v; want %v", in, float64(v), err, want)
			}
		}
		for _, in := range []string{"", "-1", "101%", "1.5", "0.3%%", "NaN%"} {
			if err := v.Set(in); err == nil {
				t.Errorf("Set(%q) = nil error", in)
			}
		}
	})
}
