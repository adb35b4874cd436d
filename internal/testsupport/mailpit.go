package testsupport

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// MailpitVersion is the mailpit release the tests and CI install
// (go install github.com/axllent/mailpit@MailpitVersion).
const MailpitVersion = "v1.33.1"

// Mailpit is a real mailpit process catching mail for one test: a strict
// SMTP server (STARTTLS required, envelope syntax checked, headers with a
// bare CR refused) and the HTTP API to read what it accepted.
type Mailpit struct {
	// SMTPAddr and HTTPAddr are host:port on 127.0.0.1.
	SMTPAddr, HTTPAddr string
	// CAFile is the PEM file of the private CA that signed mailpit's SMTP
	// certificate; TLS is a client configuration trusting it.
	CAFile string
	TLS    *tls.Config

	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{} // closed when the process has exited
}

// MailpitMessage is one entry of mailpit's message list.
type MailpitMessage struct {
	ID        string // mailpit's own ID, for the other API calls
	MessageID string // the Message-ID header, without angle brackets
	From      MailpitAddress
	To        []MailpitAddress
	Subject   string
	Size      int
	Created   time.Time
}

// MailpitAddress is a name and address as mailpit's API returns them.
type MailpitAddress struct {
	Name    string
	Address string
}

// HTMLCheck is mailpit's HTML compatibility check of a message, from the
// caniemail.com data: the share of tested clients that support, partly
// support or do not support the features found, in percent.
type HTMLCheck struct {
	Total    HTMLScore
	Warnings []HTMLWarning
}

// HTMLScore is a support score in percent. Tests and Nodes are only set on
// the total.
type HTMLScore struct {
	Tests, Nodes                    int
	Found                           int
	Supported, Partial, Unsupported float64
}

// HTMLWarning is one feature found in the HTML that not every client
// supports.
type HTMLWarning struct {
	Slug, Title, Category, URL string
	Score                      HTMLScore
}

// FindMailpit returns the path of the mailpit binary: on PATH, else in
// GOBIN, else in GOPATH/bin (where go install puts it).
func FindMailpit() (string, error) {
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p, nil
	}
	var dirs []string
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		// One line each, the first empty when GOBIN is unset.
		lines := strings.Split(string(out), "\n")
		if gobin := strings.TrimSpace(lines[0]); gobin != "" {
			dirs = append(dirs, gobin)
		}
		if len(lines) > 1 {
			for _, p := range filepath.SplitList(strings.TrimSpace(lines[1])) {
				dirs = append(dirs, filepath.Join(p, "bin"))
			}
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "mailpit")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("mailpit not found on PATH nor in %s (go install github.com/axllent/mailpit@%s)", strings.Join(dirs, ", "), MailpitVersion)
}

// StartMailpit starts mailpit on free 127.0.0.1 ports with its database in
// a temp dir, waits until its SMTP and HTTP ports answer, and stops it when
// the test ends, logging its output if the test failed. Without the binary
// the test is skipped, except in CI (CI=true), where it fails.
func StartMailpit(tb testing.TB) *Mailpit {
	tb.Helper()
	bin, err := FindMailpit()
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("CI=true and %v", err)
		}
		tb.Skipf("skipping: %v", err)
	}
	dir := tb.TempDir()
	caFile, certFile, keyFile := writeTestCertificate(tb, dir)
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	// Free ports are found by listening and closing: another process may
	// take one in between, so a start that fails is retried on new ports.
	var lastErr error
	for attempt := range 3 {
		m := &Mailpit{SMTPAddr: freeAddr(tb), HTTPAddr: freeAddr(tb), CAFile: caFile,
			TLS: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}}
		lastErr = m.start(bin, filepath.Join(dir, fmt.Sprintf("mailpit-%d.db", attempt)), certFile, keyFile)
		if lastErr == nil {
			tb.Cleanup(func() {
				m.stop()
				if tb.Failed() {
					tb.Logf("mailpit output:\n%s", m.out.String())
				}
			})
			return m
		}
		m.stop()
		tb.Logf("mailpit start (attempt %d): %v\n%s", attempt+1, lastErr, m.out.String())
	}
	tb.Fatalf("mailpit did not start: %v", lastErr)
	return nil
}

func (m *Mailpit) start(bin, db, certFile, keyFile string) error {
	m.out = &lockedBuffer{}
	m.done = make(chan struct{})
	m.cmd = exec.Command(bin,
		"--database", db,
		"--smtp", m.SMTPAddr,
		"--listen", m.HTTPAddr,
		"--smtp-tls-cert", certFile,
		"--smtp-tls-key", keyFile,
		"--smtp-require-starttls",
		"--smtp-strict-rfc-headers",
		"--smtp-disable-rdns",
		"--disable-version-check",
	)
	m.cmd.Stdout, m.cmd.Stderr = m.out, m.out
	if err := m.cmd.Start(); err != nil {
		close(m.done)
		return fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		m.cmd.Wait()
		close(m.done)
	}()
	deadline := time.Now().Add(15 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-m.done:
			return fmt.Errorf("mailpit exited: %v", m.cmd.ProcessState)
		default:
		}
		if m.ready(client) {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("mailpit's ports did not answer within 15s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ready reports whether the SMTP port greets and the HTTP API answers.
func (m *Mailpit) ready(client *http.Client) bool {
	c, err := net.DialTimeout("tcp", m.SMTPAddr, time.Second)
	if err != nil {
		return false
	}
	c.SetDeadline(time.Now().Add(time.Second))
	greeting := make([]byte, 4)
	_, err = io.ReadFull(c, greeting)
	c.Close()
	if err != nil || string(greeting[:3]) != "220" {
		return false
	}
	res, err := client.Get("http://" + m.HTTPAddr + "/readyz")
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

func (m *Mailpit) stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	select {
	case <-m.done:
		return
	default:
	}
	m.cmd.Process.Signal(os.Interrupt)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		m.cmd.Process.Kill()
		<-m.done
	}
}

// SMTPURL is the relay URL to give bothsides: STARTTLS required, trusting
// the test CA.
func (m *Mailpit) SMTPURL() string {
	return "smtp://" + m.SMTPAddr + "?tls=required&ca=" + url.QueryEscape(m.CAFile)
}

// Messages lists the messages mailpit holds, newest first.
func (m *Mailpit) Messages(tb testing.TB) []MailpitMessage {
	tb.Helper()
	msgs, err := m.messages()
	if err != nil {
		tb.Fatal(err)
	}
	return msgs
}

func (m *Mailpit) messages() ([]MailpitMessage, error) {
	var list struct {
		Total    int
		Messages []MailpitMessage
	}
	if err := m.getJSON("/api/v1/messages?limit=1000", &list); err != nil {
		return nil, err
	}
	if len(list.Messages) != list.Total {
		return nil, fmt.Errorf("mailpit listed %d of %d messages", len(list.Messages), list.Total)
	}
	return list.Messages, nil
}

// WaitMessages waits until mailpit holds at least n messages, polling for
// up to 10 s, and returns them; the test fails when they do not arrive.
func (m *Mailpit) WaitMessages(tb testing.TB, n int) []MailpitMessage {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msgs, err := m.messages()
		if err != nil {
			tb.Fatal(err)
		}
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			tb.Fatalf("mailpit holds %d messages after 10s, want %d", len(msgs), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Raw returns the source of a message as mailpit stored it.
func (m *Mailpit) Raw(tb testing.TB, id string) []byte {
	tb.Helper()
	b, err := m.get("/api/v1/message/" + url.PathEscape(id) + "/raw")
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// HTMLCheck returns mailpit's HTML compatibility check of a message.
func (m *Mailpit) HTMLCheck(tb testing.TB, id string) *HTMLCheck {
	tb.Helper()
	var c HTMLCheck
	if err := m.getJSON("/api/v1/message/"+url.PathEscape(id)+"/html-check", &c); err != nil {
		tb.Fatal(err)
	}
	if c.Total.Tests == 0 {
		tb.Fatalf("mailpit's HTML check of %s ran no test", id)
	}
	return &c
}

func (m *Mailpit) get(path string) ([]byte, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.Get("http://" + m.HTTPAddr + path)
	if err != nil {
		return nil, fmt.Errorf("mailpit GET %s: %w", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("mailpit GET %s: %w", path, err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mailpit GET %s: %s: %.200s", path, res.Status, b)
	}
	return b, nil
}

func (m *Mailpit) getJSON(path string, v any) error {
	b, err := m.get(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("mailpit GET %s: %w", path, err)
	}
	return nil
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// lockedBuffer collects a process's output written from exec's copying
// goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
