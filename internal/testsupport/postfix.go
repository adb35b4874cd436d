package testsupport

import (
	"bufio"
	"bytes"
	"context"
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

// PostfixOptions configure StartPostfix. Whatever they say, the instance is
// strict: strict_rfc821_envelopes, smtpd_helo_required, bare newlines and
// unauthorized pipelining refused, STARTTLS offered with a certificate for
// 127.0.0.1 signed by a test CA.
type PostfixOptions struct {
	// RequireTLS refuses MAIL before STARTTLS (smtpd_tls_security_level =
	// encrypt) and makes URL ask for tls=required.
	RequireTLS bool
	// Username and Password, when set, are the one account of a Cyrus SASL
	// sasldb: Postfix then relays only for a client that authenticated
	// (PLAIN or LOGIN, offered after STARTTLS only). Without them it relays
	// for any client on 127.0.0.0/8.
	Username, Password string
	// Transport routes mail for a domain to a next hop of its own instead
	// of the sink (a transport map: "bounce.example.com" ->
	// "smtp:[127.0.0.1]:2525"), as a relay hands its delivery status
	// notifications to a bounce processor.
	Transport map[string]string
	// RejectRecipients are addresses smtpd refuses at RCPT TO (554,
	// "Recipient address rejected"), for a refusal in the middle of a
	// pipelined conversation.
	RejectRecipients []string
}

// Postfix is a private Postfix instance started by StartPostfix: its smtpd
// listens on Addr and it relays every message it accepts to Sink.
type Postfix struct {
	// Addr is smtpd's host:port on 127.0.0.1.
	Addr string
	// CAFile is the PEM file of the CA that signed smtpd's certificate.
	CAFile string
	// Sink is the in-process SMTP server Postfix relays everything to.
	Sink *SMTPServer
	// Dir holds the instance's configuration (conf/), queue (queue/), data
	// (data/) and log (maillog).
	Dir string

	opts   PostfixOptions
	cmd    *exec.Cmd
	exited chan struct{} // closed when the postfix command has returned
}

// postfixRealm is the SASL realm of the test account and Postfix's
// smtpd_sasl_local_domain: a client authenticates as the bare user name.
const postfixRealm = "bothsides.test"

// StartPostfix starts a private Postfix on a free 127.0.0.1 port that relays
// everything to a fresh StartSMTP sink, waits until its smtpd greets, and
// stops it when the test ends. The maillog is logged when the test fails.
//
// It needs the postfix package (and sasl2-bin for Username) and root, as
// Postfix's master does. Without them it skips the test, except with
// CI=true, where it fails it: in CI these tests must never skip silently.
func StartPostfix(tb testing.TB, opts PostfixOptions) *Postfix {
	tb.Helper()
	postfixBin, err := postfixAvailable(opts)
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("postfix: %v (with CI=true these tests must run, not skip)", err)
		}
		tb.Skipf("postfix: %v", err)
	}
	owner, err := user.Lookup("postfix")
	if err != nil {
		tb.Fatalf("postfix: the mail_owner account: %v", err)
	}
	uid, _ := strconv.Atoi(owner.Uid)
	gid, _ := strconv.Atoi(owner.Gid)

	sink := StartSMTP(tb)
	dir := tb.TempDir()
	// Postfix's unprivileged processes (smtpd as the postfix user reads the
	// sasldb, tlsmgr the data directory) open files by absolute path: every
	// directory above them must be searchable. t.TempDir's parent is 0700.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			tb.Fatal(err)
		}
	}
	for d := filepath.Dir(filepath.Dir(dir)); ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm()&0o001 == 0 {
			tb.Fatalf("postfix: %s is not searchable by the postfix user (set TMPDIR to a directory under /tmp)", d)
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	p := &Postfix{Dir: dir, Sink: sink, opts: opts}
	conf := filepath.Join(dir, "conf")
	for _, d := range []string{conf, filepath.Join(conf, "sasl"), filepath.Join(dir, "queue"), filepath.Join(dir, "data")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	// The data directory must belong to mail_owner (master's lock file is
	// created there by an unprivileged process); the queue directory to root
	// (post-install creates its subdirectories with the right owners).
	if err := os.Chown(filepath.Join(dir, "data"), uid, gid); err != nil {
		tb.Fatal(err)
	}
	var certFile, keyFile string
	p.CAFile, certFile, keyFile = writeTestCertificate(tb, conf)
	if opts.Username != "" {
		p.writeSASL(tb, conf, gid)
	}

	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("postfix maillog (%s):\n%s", p.Dir, p.Log())
		}
	})
	var lastErr error
	for range 3 { // a free port can be taken between choosing and binding it
		p.Addr = freeAddr(tb)
		p.writeConfig(tb, conf, certFile, keyFile)
		if lastErr = p.start(tb, postfixBin); lastErr == nil {
			return p
		}
		p.stop(tb)
		if !errors.Is(lastErr, errPortTaken) && !strings.Contains(p.Log(), "in use") {
			break
		}
	}
	tb.Fatalf("postfix: %v", lastErr) // the maillog is logged on the way out
	return nil
}

// postfixAvailable returns the postfix command, or why it cannot run here.
func postfixAvailable(opts PostfixOptions) (string, error) {
	bin, err := sbin("postfix")
	if err != nil {
		return "", fmt.Errorf("no postfix command (apt-get install postfix): %w", err)
	}
	if os.Geteuid() != 0 {
		return "", errors.New("not root: Postfix's master must start as root to drop privileges to the postfix user")
	}
	if opts.Username != "" {
		if _, err := sbin("saslpasswd2"); err != nil {
			return "", fmt.Errorf("no saslpasswd2 for the SMTP AUTH account (apt-get install sasl2-bin libsasl2-modules): %w", err)
		}
	}
	return bin, nil
}

// sbin finds an administrative command on PATH or in /usr/sbin, which a
// test's PATH may lack.
func sbin(name string) (string, error) {
	bin, err := exec.LookPath(name)
	if err == nil {
		return bin, nil
	}
	if _, serr := os.Stat("/usr/sbin/" + name); serr == nil {
		return "/usr/sbin/" + name, nil
	}
	return "", err
}

// writeSASL makes the sasldb with the test account and the Cyrus SASL
// configuration smtpd reads. Debian's Postfix looks for smtpd.conf in
// $config_directory/sasl whatever cyrus_sasl_config_path says; both point
// there.
func (p *Postfix) writeSASL(tb testing.TB, conf string, gid int) {
	tb.Helper()
	db := filepath.Join(conf, "sasl", "sasldb2")
	bin, err := sbin("saslpasswd2")
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", db, "-c", "-u", postfixRealm, "-p", p.opts.Username)
	cmd.Stdin = strings.NewReader(p.opts.Password) // -p: no prompt, no newline
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("saslpasswd2: %v\n%s", err, out)
	}
	// smtpd opens the sasldb as the postfix user when a client authenticates.
	if err := os.Chown(db, 0, gid); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(db, 0o640); err != nil {
		tb.Fatal(err)
	}
	saslConf := "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: " + db + "\n"
	if err := os.WriteFile(filepath.Join(conf, "sasl", "smtpd.conf"), []byte(saslConf), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// writeConfig writes main.cf and master.cf for p.Addr.
func (p *Postfix) writeConfig(tb testing.TB, conf, certFile, keyFile string) {
	tb.Helper()
	tlsLevel, relay := "may", "permit_mynetworks, reject"
	if p.opts.RequireTLS {
		tlsLevel = "encrypt"
	}
	var sasl string
	if p.opts.Username != "" {
		relay = "permit_sasl_authenticated, reject"
		sasl = fmt.Sprintf(`smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = %s
smtpd_sasl_local_domain = %s
smtpd_sasl_security_options = noanonymous
`, filepath.Join(conf, "sasl"), postfixRealm)
	}
	if len(p.opts.RejectRecipients) > 0 {
		var rules []string
		for _, a := range p.opts.RejectRecipients {
			rules = append(rules, a+"=REJECT")
		}
		sasl += "smtpd_recipient_restrictions = check_recipient_access inline:{" + strings.Join(rules, ", ") + "}\n"
	}
	mainCF := fmt.Sprintf(`# A private, strict Postfix for one test (internal/testsupport/postfix.go).
compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
maillog_file = /dev/stdout
myhostname = relay.%[2]s
mydomain = %[2]s
myorigin = $myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
biff = no
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8

# Strict, as a real relay is.
strict_rfc821_envelopes = yes
smtpd_helo_required = yes
smtpd_forbid_bare_newline = yes
smtpd_forbid_bare_newline_exclusions =
smtpd_forbid_unauth_pipelining = yes
smtpd_relay_restrictions = %[3]s

smtpd_tls_security_level = %[4]s
smtpd_tls_cert_file = %[5]s
smtpd_tls_key_file = %[6]s
smtpd_tls_auth_only = yes
smtpd_tls_loglevel = 1
%[7]s
# Everything goes on to the test's sink, in clear.
relayhost = [127.0.0.1]:%[8]s
smtp_tls_security_level = none
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
`, p.Dir, postfixRealm, relay, tlsLevel, certFile, keyFile, sasl, portOf(p.Sink.Addr))
	// No chroot (the stock master.cf chroots into the queue directory,
	// which then needs copies of /etc files); only the services a relay uses.
	masterCF := p.Addr + " inet n - n - - smtpd\n" + `pickup    unix  n - n 60    1 pickup
cleanup   unix  n - n -     0 cleanup
qmgr      unix  n - n 300   1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n -     - trivial-rewrite
bounce    unix  - - n -     0 bounce
defer     unix  - - n -     0 bounce
trace     unix  - - n -     0 bounce
verify    unix  - - n -     1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -     - proxymap
smtp      unix  - - n -     - smtp
relay     unix  - - n -     - smtp
showq     unix  n - n -     - showq
error     unix  - - n -     - error
retry     unix  - - n -     - error
discard   unix  - - n -     - discard
anvil     unix  - - n -     1 anvil
scache    unix  - - n -     1 scache
postlog   unix-dgram n - n - 1 postlogd
`
	// A banner of this instance's own, so that the start-up check knows
	// the 220 on p.Addr is this smtpd's and not another test's server
	// that took the port between choosing and binding it.
	mainCF += "smtpd_banner = $myhostname ESMTP " + p.banner() + "\n"
	if len(p.opts.Transport) > 0 {
		var table strings.Builder
		for domain, next := range p.opts.Transport {
			fmt.Fprintf(&table, "%s %s\n", domain, next)
		}
		file := filepath.Join(conf, "transport")
		if err := os.WriteFile(file, []byte(table.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
		// texthash: read as text, no postmap needed.
		mainCF += "transport_maps = texthash:" + file + "\n"
	}
	if err := os.WriteFile(filepath.Join(conf, "main.cf"), []byte(mainCF), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "master.cf"), []byte(masterCF), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// start runs `postfix start-fg` in the background and waits until smtpd
// greets on p.Addr. (`postfix start` returns 0 here with no master left
// running; start-fg keeps master as the script's child.) No
// alternate_config_directories entry is needed: as root, postfix -c reads
// any directory, and /etc/postfix/main.cf need not exist.
func (p *Postfix) start(tb testing.TB, bin string) error {
	tb.Helper()
	logFile, err := os.OpenFile(filepath.Join(p.Dir, "maillog"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close() // the processes keep their own descriptors
	p.cmd = exec.Command(bin, "-c", filepath.Join(p.Dir, "conf"), "start-fg")
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	p.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		cmd.Wait()
		close(exited)
	}(p.cmd, p.exited)
	tb.Cleanup(func() { p.stop(tb) })

	deadline := time.Now().Add(30 * time.Second)
	for {
		err := greets(p.Addr, p.banner())
		if err == nil || errors.Is(err, errPortTaken) {
			return err
		}
		select {
		case <-p.exited:
			return fmt.Errorf("postfix start-fg exited (%v) before smtpd answered on %s", p.cmd.ProcessState, p.Addr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("smtpd on %s did not greet within 30s: %v", p.Addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// errPortTaken is a 220 on the chosen port from a server other than this
// Postfix: the port was taken by someone else before smtpd bound it.
var errPortTaken = errors.New("another server answers on the port")

// banner is the word this instance's smtpd greets with, unique among the
// tests running: its folder's full path, which t.TempDir makes unique.
func (p *Postfix) banner() string {
	return "bothsides-test" + strings.NewReplacer("/", "-", " ", "_").Replace(p.Dir)
}

// greets connects to addr and reads a 220 greeting that names banner.
func greets(addr, banner string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "220 ") {
		return fmt.Errorf("greeting %q", strings.TrimSpace(line))
	}
	if !strings.Contains(line, banner) {
		fmt.Fprint(c, "QUIT\r\n")
		return fmt.Errorf("%w: %s greets %q", errPortTaken, addr, strings.TrimSpace(line))
	}
	fmt.Fprint(c, "QUIT\r\n")
	return nil
}

// stop terminates master (which terminates its process group) and waits
// for the script that started it and every Postfix process to end, so that
// the temp dir can be removed.
func (p *Postfix) stop(tb testing.TB) {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	cmd, exited := p.cmd, p.exited
	p.cmd = nil
	master := p.masterPID()
	if master > 0 {
		syscall.Kill(master, syscall.SIGTERM)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		tb.Logf("postfix: start-fg still running 10s after SIGTERM to master %d; killing", master)
	}
	// master runs in a session of its own: its children are in process
	// group master, the script in ours (Setpgid).
	for _, pg := range []int{master, cmd.Process.Pid} {
		if pg <= 0 {
			continue
		}
		deadline := time.Now().Add(5 * time.Second)
		for processGroupAlive(pg) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if processGroupAlive(pg) {
			syscall.Kill(-pg, syscall.SIGKILL)
		}
	}
	<-exited
}

// masterPID reads master's pid file, 0 if there is none.
func (p *Postfix) masterPID() int {
	b, err := os.ReadFile(filepath.Join(p.Dir, "queue", "pid", "master.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// processGroupAlive reports whether a process of group pgid is still
// running (a zombie does not count: here PID 1 may never reap it).
func processGroupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return syscall.Kill(-pgid, 0) == nil
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces and parens.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if pg, _ := strconv.Atoi(f[2]); pg == pgid {
			return true
		}
	}
	return false
}

// URL is the smtp:// URL to hand bothsides: the account when there is one,
// ca= for the test CA and tls=required when the instance requires TLS.
func (p *Postfix) URL() string {
	u := "smtp://"
	if p.opts.Username != "" {
		u += url.UserPassword(p.opts.Username, p.opts.Password).String() + "@"
	}
	u += p.Addr + "?ca=" + url.QueryEscape(p.CAFile)
	if p.opts.RequireTLS {
		u += "&tls=required"
	}
	return u
}

// Log returns Postfix's maillog so far.
func (p *Postfix) Log() string {
	b, _ := os.ReadFile(filepath.Join(p.Dir, "maillog"))
	return string(b)
}

// Queue returns what postqueue -p lists: the mail Postfix still holds.
func (p *Postfix) Queue() string {
	bin, err := sbin("postqueue")
	if err != nil {
		return err.Error()
	}
	out, err := exec.Command(bin, "-c", filepath.Join(p.Dir, "conf"), "-p").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("postqueue -p: %v\n%s", err, out)
	}
	return string(out)
}

// WaitMessages waits until the sink has received n messages in all and
// returns them; after 30 seconds it fails the test with Postfix's queue.
func (p *Postfix) WaitMessages(tb testing.TB, n int) []Received {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := p.Sink.WaitAll(ctx, n)
	if err != nil {
		tb.Fatalf("postfix: the sink has %d message(s) after 30s, want %d; queue:\n%s", len(p.Sink.Messages()), n, p.Queue())
	}
	return msgs
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}
