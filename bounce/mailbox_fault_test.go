package bounce_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"bothsides/bounce"
	"bothsides/internal/testsupport"
)

// lockedLog is a server's traffic, for checking what a client sent.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// memServer is go-imap's in-memory server on loopback, for the cases
// Dovecot will not play: no STARTTLS, no MOVE. It returns the address, the
// CA file and the server's traffic.
func memServer(t *testing.T, startTLS bool, caps imap.CapSet) (string, string, *lockedLog) {
	t.Helper()
	caFile, certFile, keyFile := testsupport.WriteTestCertificate(t, t.TempDir())
	var conf *tls.Config
	if startTLS {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		conf = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	mem := imapmemserver.New()
	u := imapmemserver.NewUser("bounces", "mem-secret-pw")
	if err := u.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(u)
	traffic := &lockedLog{}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         caps,
		TLSConfig:    conf,
		InsecureAuth: !startTLS, // it would take a password in clear: the client must not give it
		DebugWriter:  traffic,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), caFile, traffic
}

func TestMailbox_Faults(t *testing.T) {
	t.Run("NoSTARTTLS", func(t *testing.T) {
		addr, caFile, traffic := memServer(t, false, imap.CapSet{imap.CapIMAP4rev1: {}})
		m, err := bounce.NewMailbox(bounce.MailboxConfig{URL: "imap://bounces:mem-secret-pw@" + addr + "/INBOX?ca=" + url.QueryEscape(caFile)}, &scriptedReceiver{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Poll(context.Background())
		if err == nil {
			t.Fatal("Poll over a server without STARTTLS = nil error, want a refusal")
		}
		if strings.Contains(traffic.String(), "mem-secret-pw") || strings.Contains(strings.ToUpper(traffic.String()), "LOGIN") {
			t.Fatalf("the password went over the plain connection:\n%s", traffic)
		}
	})
	t.Run("NoMOVE", func(t *testing.T) {
		addr, caFile, _ := memServer(t, true, imap.CapSet{imap.CapIMAP4rev1: {}})
		pem, err := os.ReadFile(caFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		admin, err := imapclient.DialStartTLS(addr, &imapclient.Options{TLSConfig: &tls.Config{RootCAs: pool}})
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		if err := admin.Login("bounces", "mem-secret-pw").Wait(); err != nil {
			t.Fatal(err)
		}
		appendMessage(t, admin, "INBOX", report("dsn", "bounces+tok1@bounce.example.com", "The mail could not be delivered."))
		rcv := &scriptedReceiver{}
		m, err := bounce.NewMailbox(bounce.MailboxConfig{URL: "imap://bounces:mem-secret-pw@" + addr + "/INBOX?move=Recorded&ca=" + url.QueryEscape(caFile)}, rcv)
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Poll(context.Background())
		if err == nil || !strings.Contains(err.Error(), "does not offer MOVE") {
			t.Fatalf("Poll = %v, want the missing MOVE named", err)
		}
		if n := len(rcv.received()); n != 0 {
			t.Fatalf("Receive called %d times, want 0: nothing is read that could not be moved", n)
		}
		if f := flagsBySubject(t, admin, "INBOX")["dsn"]; len(f) != 0 {
			t.Fatalf("message flags %v, want none", f)
		}
	})
}
