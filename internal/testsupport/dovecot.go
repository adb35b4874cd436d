package testsupport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Dovecot is a private Dovecot IMAP server started by StartDovecot: one
// account whose mail is a maildir in the test's temp dir.
type Dovecot struct {
	// IMAPSAddr is the implicit-TLS listener (imaps://), IMAPAddr the
	// plain one that requires STARTTLS before login (imap://), both on
	// 127.0.0.1.
	IMAPSAddr, IMAPAddr string
	// User and Password are the one account.
	User, Password string
	// CAFile is the PEM file of the CA that signed the server's
	// certificate; TLS trusts it.
	CAFile string
	TLS    *tls.Config
	// Dir holds the configuration, the maildir and the log.
	Dir string

	cmd    *exec.Cmd
	exited chan struct{}
}

// StartDovecot starts a private Dovecot (Debian's dovecot-imapd) on free
// 127.0.0.1 ports, waits until it greets, and stops it when the test ends;
// its log is shown when the test fails. It needs the dovecot command and
// root (Dovecot drops privileges to its own users). Without them it skips
// the test, except with CI=true, where it fails it.
func StartDovecot(tb testing.TB) *Dovecot {
	tb.Helper()
	bin, err := sbin("dovecot")
	if err == nil && os.Geteuid() != 0 {
		err = errors.New("not root: Dovecot's master must start as root")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("dovecot: %v (with CI=true these tests must run, not skip)", err)
		}
		tb.Skipf("dovecot: %v (apt-get install dovecot-imapd)", err)
	}
	mailUser, err := user.Lookup("mail")
	if err != nil {
		tb.Fatalf("dovecot: the mail account: %v", err)
	}
	uid, _ := strconv.Atoi(mailUser.Uid)
	gid, _ := strconv.Atoi(mailUser.Gid)

	dir := tb.TempDir()
	// Dovecot's unprivileged processes open the files below by path.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			tb.Fatal(err)
		}
	}
	d := &Dovecot{Dir: dir, User: "bounces", Password: "imap-test-password-1"}
	home := filepath.Join(dir, "home")
	for _, p := range []string{filepath.Join(dir, "run"), filepath.Join(dir, "state"), home} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.Chown(home, uid, gid); err != nil {
		tb.Fatal(err)
	}
	var certFile, keyFile string
	d.CAFile, certFile, keyFile = writeTestCertificate(tb, dir)
	pem, err := os.ReadFile(d.CAFile)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	d.TLS = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	users := fmt.Sprintf("%s:{PLAIN}%s::::::\n", d.User, d.Password)
	if err := os.WriteFile(filepath.Join(dir, "users"), []byte(users), 0o644); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			tb.Logf("dovecot log (%s):\n%s", dir, b)
		}
	})
	var lastErr error
	for range 3 { // a free port can be taken between choosing and binding it
		d.IMAPSAddr, d.IMAPAddr = freeAddr(tb), freeAddr(tb)
		d.writeConfig(tb, certFile, keyFile, uid, gid, home)
		if lastErr = d.start(tb, bin); lastErr == nil {
			return d
		}
		d.stop()
	}
	tb.Fatalf("dovecot: %v", lastErr)
	return nil
}

func (d *Dovecot) writeConfig(tb testing.TB, certFile, keyFile string, uid, gid int, home string) {
	tb.Helper()
	conf := fmt.Sprintf(`# A private Dovecot for one test (internal/testsupport/dovecot.go).
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <%[2]s
ssl_key = <%[3]s
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = %[4]d
first_valid_gid = %[5]d
mail_location = maildir:%[6]s/%%u/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/users
}
userdb {
  driver = static
  args = uid=%[4]d gid=%[5]d home=%[6]s/%%u
}
namespace inbox {
  inbox = yes
  separator = /
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[7]s
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = %[8]s
    ssl = yes
  }
}
`, d.Dir, certFile, keyFile, uid, gid, home, portOf(d.IMAPAddr), portOf(d.IMAPSAddr))
	if err := os.WriteFile(filepath.Join(d.Dir, "dovecot.conf"), []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// start runs dovecot -F in the background and waits until the imaps
// listener completes a TLS handshake and greets.
func (d *Dovecot) start(tb testing.TB, bin string) error {
	tb.Helper()
	d.cmd = exec.Command(bin, "-F", "-c", filepath.Join(d.Dir, "dovecot.conf"))
	out, err := os.OpenFile(filepath.Join(d.Dir, "dovecot.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	d.cmd.Stdout, d.cmd.Stderr = out, out
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	d.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		cmd.Wait()
		close(exited)
	}(d.cmd, d.exited)
	tb.Cleanup(d.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := d.greets()
		if err == nil {
			return nil
		}
		select {
		case <-d.exited:
			return fmt.Errorf("dovecot exited (%v) before it answered on %s", d.cmd.ProcessState, d.IMAPSAddr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dovecot on %s did not greet within 30s: %v", d.IMAPSAddr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// greets reads the "* OK" greeting over TLS from the imaps listener.
func (d *Dovecot) greets() error {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", d.IMAPSAddr, d.TLS)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(string(buf[:n]), "* OK") {
		return fmt.Errorf("greeting %q", buf[:n])
	}
	return nil
}

// stop ends the master (SIGTERM to its process group, SIGKILL after 10s)
// and waits for it.
func (d *Dovecot) stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	cmd, exited := d.cmd, d.exited
	d.cmd = nil
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	deadline := time.Now().Add(5 * time.Second)
	for processGroupAlive(cmd.Process.Pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

// URL is the mailbox URL for bothsides: imaps:// (implicit TLS), or with
// startTLS imap:// (STARTTLS), the account, the folder and ca= for the
// test CA.
func (d *Dovecot) URL(startTLS bool, folder string) string {
	scheme, addr := "imaps", d.IMAPSAddr
	if startTLS {
		scheme, addr = "imap", d.IMAPAddr
	}
	return scheme + "://" + url.UserPassword(d.User, d.Password).String() + "@" + addr + "/" + url.PathEscape(folder) + "?ca=" + url.QueryEscape(d.CAFile)
}

// Log returns Dovecot's log so far.
func (d *Dovecot) Log() string {
	b, _ := os.ReadFile(filepath.Join(d.Dir, "dovecot.log"))
	return string(b)
}
