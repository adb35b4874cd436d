package mailer_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"bothsides/internal/testsupport"
	"bothsides/mailer"
)

// strictServer is a scripted SMTP server on loopback that keeps every
// command line it reads and answers as strict relays do (mailpit, Gmail,
// Postfix with strict_rfc821_envelopes): a MAIL FROM or RCPT TO whose
// address is not in angle brackets gets 501, and so does a parameter it did
// not advertise. go-smtp's server, used for the fault tests, accepts both.
// It also keeps what each read of the socket returned (Chunks), to show
// which commands a client sent in one write, and can be scripted to refuse
// commands (Refuse).
type strictServer struct {
	addr string
	ext  []string // EHLO keywords, e.g. "SIZE 1000", "SMTPUTF8"

	mu       sync.Mutex
	lines    []string
	chunks   []string
	conns    int
	messages []string // the content of each message taken
	// refuse, when set, returns the reply to a MAIL FROM, RCPT TO or DATA
	// line instead of accepting it ("" accepts); a reply of 421 also
	// closes the connection. A DATA with no recipient accepted gets 554
	// unless refuse says otherwise (a 354 makes it take the message).
	refuse func(line string) string
}

// Refuse scripts the server's refusals (see strictServer.refuse).
func (s *strictServer) Refuse(f func(line string) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = f
}

// Chunks returns what each read of the socket returned, in order.
func (s *strictServer) Chunks() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.chunks...)
}

// Conns returns how many connections the server accepted.
func (s *strictServer) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Messages returns the content of each message the server took.
func (s *strictServer) Messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.messages...)
}

func (s *strictServer) refusal(line string) string {
	s.mu.Lock()
	f := s.refuse
	s.mu.Unlock()
	if f == nil {
		return ""
	}
	return f(line)
}

// recorder keeps what each Read returns.
type recorder struct {
	net.Conn
	s *strictServer
}

func (r recorder) Read(b []byte) (int, error) {
	n, err := r.Conn.Read(b)
	if n > 0 {
		r.s.mu.Lock()
		r.s.chunks = append(r.s.chunks, string(b[:n]))
		r.s.mu.Unlock()
	}
	return n, err
}

func startStrictServer(t *testing.T, ext ...string) *strictServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &strictServer{addr: ln.Addr().String(), ext: ext}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); s.serve(c) }()
		}
	}()
	return s
}

func (s *strictServer) Lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

// Commands returns the lines that start with one of the verbs.
func (s *strictServer) Commands(verbs ...string) []string {
	var out []string
	for _, l := range s.Lines() {
		for _, v := range verbs {
			if strings.HasPrefix(l, v) {
				out = append(out, l)
			}
		}
	}
	return out
}

func (s *strictServer) advertised(kw string) bool {
	for _, e := range s.ext {
		if strings.EqualFold(strings.Fields(e)[0], kw) {
			return true
		}
	}
	return false
}

func (s *strictServer) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
	r := bufio.NewReader(recorder{c, s})
	w := bufio.NewWriter(c)
	reply := func(format string, a ...any) {
		fmt.Fprintf(w, format+"\r\n", a...)
		w.Flush()
	}
	reply("220 strict.test ESMTP")
	mail, recipients := false, 0 // the transaction's state
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.mu.Lock()
		s.lines = append(s.lines, line)
		s.mu.Unlock()
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		if verb == "MAIL" || verb == "RCPT" || verb == "DATA" {
			if r := s.refusal(line); r != "" && !strings.HasPrefix(r, "354") {
				reply("%s", r)
				if strings.HasPrefix(r, "421") {
					return
				}
				continue
			} else if verb != "MAIL" && !mail {
				reply("503 5.5.1 Error: need MAIL command")
				continue
			} else if verb == "DATA" && recipients == 0 && r == "" {
				reply("554 5.5.1 Error: no valid recipients")
				continue
			}
		}
		switch {
		case verb == "EHLO":
			if len(s.ext) == 0 {
				reply("250 strict.test")
				continue
			}
			fmt.Fprintf(w, "250-strict.test\r\n")
			for i, e := range s.ext {
				sep := "-"
				if i == len(s.ext)-1 {
					sep = " "
				}
				fmt.Fprintf(w, "250%s%s\r\n", sep, e)
			}
			w.Flush()
		case strings.HasPrefix(strings.ToUpper(line), "MAIL FROM:"), strings.HasPrefix(strings.ToUpper(line), "RCPT TO:"):
			arg := line[strings.IndexByte(line, ':')+1:]
			if !strings.HasPrefix(arg, "<") || !strings.Contains(arg, ">") {
				reply("501 5.1.7 Bad address syntax")
				continue
			}
			bad := ""
			for _, p := range strings.Fields(arg[strings.IndexByte(arg, '>')+1:]) {
				kw := strings.SplitN(p, "=", 2)[0]
				if kw == "BODY" {
					kw = "8BITMIME"
				}
				if !s.advertised(kw) {
					bad = p
				}
			}
			if bad != "" {
				reply("555 5.5.4 Unsupported option: %s", bad)
				continue
			}
			if verb == "RCPT" {
				recipients++
			} else {
				mail = true
			}
			reply("250 2.1.0 Ok")
		case verb == "DATA":
			reply("354 End data with <CR><LF>.<CR><LF>")
			var msg strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				msg.WriteString(l)
			}
			s.mu.Lock()
			s.messages = append(s.messages, msg.String())
			s.mu.Unlock()
			mail, recipients = false, 0
			reply("250 2.0.0 Ok: queued")
		case verb == "RSET", verb == "NOOP":
			if verb == "RSET" {
				mail, recipients = false, 0
			}
			reply("250 2.0.0 Ok")
		case verb == "QUIT":
			reply("221 2.0.0 Bye")
			return
		default:
			reply("502 5.5.2 Error: command not recognized")
		}
	}
}

// TestSMTP_Envelope is the regression test of the bare envelope addresses
// that every strict relay refused.
func TestSMTP_Envelope(t *testing.T) {
	ctx := context.Background()
	single := func() *mailer.Message {
		return &mailer.Message{From: "Both Sides <digest@news.example.com>", To: "reader@example.org",
			Subject: "Confirm", Date: time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC), Text: []byte("hello\n"), HTML: []byte("<p>hello</p>")}
	}
	t.Run("OK", func(t *testing.T) {
		srv := startStrictServer(t, "PIPELINING", "SIZE 10240000", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES")
		c, err := mailer.NewSMTP(mailer.Config{URL: "smtp://" + srv.addr + "?tls=none", Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		m := rawMessage(t, "reader@example.org")
		if err := c.SendRaw(ctx, "digest@news.example.com", "reader@example.org", m); err != nil {
			t.Fatalf("SendRaw: %v", err)
		}
		if err := c.Send(ctx, single()); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		got := srv.Commands("MAIL", "RCPT", "QUIT")
		if len(got) != 5 {
			t.Fatalf("commands %q, want MAIL, RCPT twice and QUIT", got)
		}
		// 7-bit content with ASCII addresses: SIZE only, no BODY=8BITMIME,
		// no SMTPUTF8 although both are advertised.
		if want := fmt.Sprintf("MAIL FROM:<digest@news.example.com> SIZE=%d", len(m.Data)); got[0] != want {
			t.Fatalf("edition MAIL = %q, want %q", got[0], want)
		}
		for i, want := range map[int]string{1: "RCPT TO:<reader@example.org>", 3: "RCPT TO:<reader@example.org>", 4: "QUIT"} {
			if got[i] != want {
				t.Fatalf("command %d = %q, want %q", i, got[i], want)
			}
		}
		if !strings.HasPrefix(got[2], "MAIL FROM:<digest@news.example.com> SIZE=") || strings.Contains(got[2], "SMTPUTF8") || strings.Contains(got[2], "BODY=") {
			t.Fatalf("single message MAIL = %q, want the bracketed From address with SIZE only", got[2])
		}
	})
	t.Run("NothingAdvertised", func(t *testing.T) {
		srv := startStrictServer(t)
		c, err := mailer.NewSMTP(mailer.Config{URL: "smtp://" + srv.addr + "?tls=none", Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Send(ctx, single()); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if got := srv.Commands("MAIL"); len(got) != 1 || got[0] != "MAIL FROM:<digest@news.example.com>" {
			t.Fatalf("MAIL = %q, want no parameters", got)
		}
	})
	t.Run("UTF8Address", func(t *testing.T) {
		srv := startStrictServer(t, "SIZE 0", "SMTPUTF8")
		c, err := mailer.NewSMTP(mailer.Config{URL: "smtp://" + srv.addr + "?tls=none", Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		m := rawMessage(t, "léa@exemple.fr")
		if err := c.SendRaw(ctx, "digest@news.example.com", "léa@exemple.fr", m); err != nil {
			t.Fatalf("SendRaw: %v", err)
		}
		if got := srv.Commands("MAIL"); len(got) != 1 || !strings.HasSuffix(got[0], " SMTPUTF8") {
			t.Fatalf("MAIL = %q, want SMTPUTF8 for a non-ASCII recipient", got)
		}
	})
	t.Run("ErrUTF8NotOffered", func(t *testing.T) {
		srv := startStrictServer(t, "8BITMIME")
		c, err := mailer.NewSMTP(mailer.Config{URL: "smtp://" + srv.addr + "?tls=none", Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = c.SendRaw(ctx, "digest@news.example.com", "léa@exemple.fr", rawMessage(t, "léa@exemple.fr"))
		if err == nil || !mailer.IsPermanent(err) || !strings.Contains(err.Error(), "SMTPUTF8") {
			t.Fatalf("err = %v, want a permanent error naming SMTPUTF8", err)
		}
		if got := srv.Commands("MAIL"); len(got) != 0 {
			t.Fatalf("sent %q, want nothing", got)
		}
	})
	t.Run("ErrLineTooLong", func(t *testing.T) {
		srv := startStrictServer(t)
		c, err := mailer.NewSMTP(mailer.Config{URL: "smtp://" + srv.addr + "?tls=none", Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		data := []byte("Subject: x\r\n\r\nshort\r\n" + strings.Repeat("a", 999) + "\r\n")
		err = c.SendRaw(ctx, "digest@news.example.com", "a@example.org", mailer.Raw{Data: data, BodyOffset: 14})
		if err == nil || !mailer.IsPermanent(err) || mailer.Stage(err) != "message" || !strings.Contains(err.Error(), "line 4") {
			t.Fatalf("err = %v (stage %q), want a permanent message error naming line 4", err, mailer.Stage(err))
		}
		if got := srv.Commands("MAIL", "DATA"); len(got) != 0 {
			t.Fatalf("sent %q, want nothing", got)
		}
	})
}

func TestSMTP_Size(t *testing.T) {
	ctx := context.Background()
	m := rawMessage(t, "a@example.com")
	t.Run("Declared", func(t *testing.T) {
		srv := testsupport.StartSMTP(t)
		c, err := mailer.NewSMTP(mailer.Config{URL: srv.URL(), Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.SendRaw(ctx, "digest@news.example.com", "a@example.com", m); err != nil {
			t.Fatal(err)
		}
		got := srv.Messages()
		if len(got) != 1 || got[0].Size != int64(len(m.Data)) {
			t.Fatalf("messages %d, SIZE=%d, want 1 with SIZE=%d", len(got), got[0].Size, len(m.Data))
		}
		if got[0].Body != "" || got[0].UTF8 {
			t.Fatalf("BODY=%q SMTPUTF8=%v, want neither for 7-bit content and ASCII addresses", got[0].Body, got[0].UTF8)
		}
	})
	t.Run("ErrOverLimit", func(t *testing.T) {
		srv := testsupport.StartSMTPWith(t, testsupport.SMTPOptions{MaxMessageBytes: 1000})
		c, err := mailer.NewSMTP(mailer.Config{URL: srv.URL(), Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = c.SendRaw(ctx, "digest@news.example.com", "a@example.com", m)
		want := fmt.Sprintf("message of %d bytes is over the relay's limit of 1000 bytes", len(m.Data))
		if err == nil || !mailer.IsPermanent(err) || mailer.Stage(err) != "size" || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v (stage %q), want a permanent size error %q", err, mailer.Stage(err), want)
		}
		if got := len(srv.Messages()); got != 0 {
			t.Fatalf("server got %d messages, want none", got)
		}
	})
	t.Run("TooBigAtData", func(t *testing.T) {
		// A relay that does not advertise SIZE refuses the content: not
		// the reader's fault, so not a bounce (stage size).
		srv := testsupport.StartSMTP(t)
		srv.OnData = func([]string, []byte) error {
			return testsupport.Reply(552, "5.3.4 Message size exceeds fixed limit")
		}
		c, err := mailer.NewSMTP(mailer.Config{URL: srv.URL(), Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = c.SendRaw(ctx, "digest@news.example.com", "a@example.com", m)
		if mailer.Code(err) != 552 || mailer.Stage(err) != "size" {
			t.Fatalf("err = %v (stage %q), want 552 at stage size", err, mailer.Stage(err))
		}
	})
}

// TestSMTP_421 checks that a 421 at any stage is a temporary failure and the
// next message goes on a new connection.
func TestSMTP_421(t *testing.T) {
	ctx := context.Background()
	for _, stage := range []string{"mail", "rcpt", "data"} {
		t.Run(stage, func(t *testing.T) {
			srv := testsupport.StartSMTP(t)
			closing := testsupport.Reply(421, "4.3.2 Service shutting down")
			fail := true
			srv.OnMail = func(string) error {
				if stage == "mail" && fail {
					fail = false
					return closing
				}
				return nil
			}
			srv.OnRcpt = func(string) error {
				if stage == "rcpt" && fail {
					fail = false
					return closing
				}
				return nil
			}
			srv.OnData = func([]string, []byte) error {
				if stage == "data" && fail {
					fail = false
					return closing
				}
				return nil
			}
			srv.Sync()
			c, err := mailer.NewSMTP(mailer.Config{URL: srv.URL(), Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = c.SendRaw(ctx, "digest@news.example.com", "a@example.com", rawMessage(t, "a@example.com"))
			var me *mailer.Error
			if !errors.As(err, &me) || me.Code != 421 || me.Permanent || me.Stage != stage {
				t.Fatalf("err = %v, want a temporary 421 at %s", err, stage)
			}
			if err := c.SendRaw(ctx, "digest@news.example.com", "b@example.com", rawMessage(t, "b@example.com")); err != nil {
				t.Fatalf("after the 421: %v", err)
			}
			if _, total := srv.Conns(); total != 2 {
				t.Fatalf("%d connections, want 2 (a new one after the 421)", total)
			}
		})
	}
}

// TestSMTP_Send checks the single-message path: Message-ID on the sender's
// domain, a Date, and the DKIM signature editions get.
func TestSMTP_Send(t *testing.T) {
	srv := testsupport.StartSMTP(t)
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d, err := mailer.NewDKIM(key, "s1", "news.example.com")
	if err != nil {
		t.Fatal(err)
	}
	c, err := mailer.NewSMTP(mailer.Config{URL: srv.URL(), Timeout: 5 * time.Second, DKIM: d})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Send(context.Background(), &mailer.Message{From: "Both Sides <digest@news.example.com>", To: "reader@example.org",
		Subject: "Test", Date: time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC), Text: []byte("hi\n"), HTML: []byte("<p>hi</p>")})
	if err != nil {
		t.Fatal(err)
	}
	got := srv.To("reader@example.org")
	if len(got) != 1 || got[0].From != "digest@news.example.com" {
		t.Fatalf("received %+v, want one message from digest@news.example.com", got)
	}
	mail, err := testsupport.ParseMail(got[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if id := mail.Header.Get("Message-Id"); !strings.HasSuffix(id, "@news.example.com>") {
		t.Fatalf("Message-ID %q, want one on the sender's domain", id)
	}
	if date := mail.Header.Get("Date"); date == "" {
		t.Fatal("no Date header")
	}
	if _, err := testsupport.VerifyDKIM(got[0].Data, "s1", "news.example.com", pub); err != nil {
		t.Fatalf("DKIM: %v", err)
	}
}
