package bounce

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// The keywords the poller sets. A message with any of them is not read
// again; none is ever deleted or expunged.
const (
	// FlagRecorded marks a message whose events were recorded (with
	// \Seen, unless it was moved).
	FlagRecorded imap.Flag = "$BothsidesRecorded"
	// FlagUnparsed marks a message that could not be read: it was stored
	// as unparsed with the reason, and is left in place, unseen, for a
	// person to look at.
	FlagUnparsed imap.Flag = "$BothsidesUnparsed"
	// FlagTooBig marks a message over the size limit: left in place,
	// unseen, not read.
	FlagTooBig imap.Flag = "$BothsidesTooBig"
)

// DefaultPoll is how often the mailbox is read.
const DefaultPoll = 5 * time.Minute

// maxPerPoll bounds the messages one poll reads; the rest wait for the next.
const maxPerPoll = 500

// MailboxConfig configures the mailbox intake. URL is required.
type MailboxConfig struct {
	// URL is imaps://USER:PASS@HOST[:993]/FOLDER (implicit TLS) or
	// imap://USER:PASS@HOST[:143]/FOLDER (STARTTLS, required); FOLDER
	// defaults to INBOX. Its query may hold ca=FILE (a PEM file of CAs to
	// trust instead of the system's) and move=FOLDER (move each recorded
	// message there instead of leaving it flagged in place).
	URL string
	// Address is the bounce address; when set, the envelope recipient is
	// the first of Delivered-To, X-Original-To and To that is it (with or
	// without a +TOKEN), else the first of them.
	Address string
	// Poll is the time between two polls; default DefaultPoll.
	Poll time.Duration
	// MaxMessageBytes: a larger message is left in place unread (flagged
	// FlagTooBig); default DefaultMaxMessageBytes.
	MaxMessageBytes int64
	// Timeout bounds connecting; default one minute. (go-imap bounds each
	// answer and each command written itself.)
	Timeout time.Duration
	// Logger gets one line per poll that found something and per message
	// not recorded; default slog.Default().
	Logger *slog.Logger
	// Metrics counts the messages and polls; nil counts nothing.
	Metrics *IntakeMetrics
}

// Mailbox is the mailbox intake: it polls an IMAP folder (emersion/go-imap
// v2) and hands each message not yet flagged to a Receiver.
type Mailbox struct {
	cfg                 MailboxConfig
	scheme, host        string
	user, pass          string
	folder, moveTo      string
	tls                 *tls.Config
	rcv                 Receiver
	log                 *slog.Logger
	local, domain       string // the bounce address's parts, when set
	redactedDescription string
}

// PollResult counts what one poll did.
type PollResult struct {
	Recorded, Unparsed, TooBig, Failed int
}

// NewMailbox checks cfg and returns a Mailbox that hands what it reads to
// rcv. An error names what is wrong in the URL but never shows the
// password.
func NewMailbox(cfg MailboxConfig, rcv Receiver) (*Mailbox, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, password and all
		}
		return nil, fmt.Errorf("bounce mailbox: not a URL: %v", err)
	}
	m := &Mailbox{cfg: cfg, rcv: rcv, scheme: u.Scheme, host: u.Host}
	var port string
	switch u.Scheme {
	case "imaps":
		port = "993"
	case "imap":
		port = "143"
	default:
		return nil, fmt.Errorf("bounce mailbox: scheme %q: want imaps:// (TLS) or imap:// (STARTTLS)", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("bounce mailbox: the URL names no host: want imaps://USER:PASS@HOST/INBOX")
	}
	if u.Port() == "" {
		m.host = net.JoinHostPort(u.Hostname(), port)
	}
	if u.User == nil || u.User.Username() == "" {
		return nil, errors.New("bounce mailbox: the URL names no user: want imaps://USER:PASS@HOST/INBOX")
	}
	m.user = u.User.Username()
	var ok bool
	if m.pass, ok = u.User.Password(); !ok || m.pass == "" {
		return nil, errors.New("bounce mailbox: the URL has no password: want imaps://USER:PASS@HOST/INBOX (percent-encode special characters)")
	}
	m.folder = strings.TrimPrefix(u.Path, "/")
	if m.folder == "" {
		m.folder = "INBOX"
	}
	q := u.Query()
	for k := range q {
		if k != "ca" && k != "move" {
			return nil, fmt.Errorf("bounce mailbox: unknown URL parameter %q: want ca= or move=", k)
		}
	}
	m.moveTo = q.Get("move")
	if m.moveTo == m.folder {
		return nil, fmt.Errorf("bounce mailbox: move=%s is the folder read", m.moveTo)
	}
	m.tls = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	if ca := q.Get("ca"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("bounce mailbox: ca=%s: %w", ca, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("bounce mailbox: ca=%s holds no PEM certificate", ca)
		}
		m.tls.RootCAs = pool
	}
	if cfg.Address != "" {
		var ok bool
		if m.local, m.domain, ok = splitAddress(cfg.Address); !ok {
			return nil, fmt.Errorf("bounce mailbox: address %q: want local@domain", cfg.Address)
		}
	}
	if m.cfg.Poll == 0 {
		m.cfg.Poll = DefaultPoll
	}
	if m.cfg.Poll < 0 {
		return nil, fmt.Errorf("bounce mailbox: poll interval %s: want a positive duration", m.cfg.Poll)
	}
	if m.cfg.MaxMessageBytes == 0 {
		m.cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if m.cfg.Timeout == 0 {
		m.cfg.Timeout = time.Minute
	}
	m.log = cfg.Logger
	if m.log == nil {
		m.log = slog.Default()
	}
	m.redactedDescription = u.Scheme + "://" + m.user + "@" + m.host + "/" + m.folder
	return m, nil
}

// String names the mailbox without its password.
func (m *Mailbox) String() string { return m.redactedDescription }

// Run polls at once and then every Poll until ctx ends. A failed poll is
// logged and counted, and the next one tries again.
func (m *Mailbox) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.Poll)
	defer t.Stop()
	for {
		if _, err := m.Poll(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("bounce mailbox: poll failed", "mailbox", m.String(), "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll reads the folder once, within the poll interval: each message without one of the poller's
// keywords (and not \Deleted) is handed to the Receiver with source "imap"
// and then flagged (and moved, with move=). A message the Receiver could
// not record is left as it was, for the next poll.
func (m *Mailbox) Poll(ctx context.Context) (PollResult, error) {
	var res PollResult
	// go-imap waits for an answer without a deadline once a command is
	// sent: a server that stops answering is cut off when the poll's time
	// (the interval, at least Timeout) is up, by closing the connection.
	ctx, cancel := context.WithTimeout(ctx, max(m.cfg.Poll, m.cfg.Timeout))
	defer cancel()
	c, err := m.dial()
	if err != nil {
		m.cfg.Metrics.polled("error")
		return res, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	res, err = m.poll(ctx, c)
	if err != nil {
		m.cfg.Metrics.polled("error")
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return res, err
	}
	m.cfg.Metrics.polled("ok")
	if err := c.Logout().Wait(); err != nil {
		m.log.Debug("bounce mailbox: logout", "err", err)
	}
	if res != (PollResult{}) {
		m.log.Info("bounce mailbox: polled", "mailbox", m.String(), "recorded", res.Recorded,
			"unparsed", res.Unparsed, "too_big", res.TooBig, "failed", res.Failed)
	}
	return res, nil
}

// dial connects, with TLS or STARTTLS, and logs in.
func (m *Mailbox) dial() (*imapclient.Client, error) {
	opts := &imapclient.Options{TLSConfig: m.tls, Dialer: &net.Dialer{Timeout: m.cfg.Timeout}}
	var c *imapclient.Client
	var err error
	if m.scheme == "imaps" {
		c, err = imapclient.DialTLS(m.host, opts)
	} else {
		c, err = imapclient.DialStartTLS(m.host, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", m.host, err)
	}
	if err := c.Login(m.user, m.pass).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("log in to %s as %s: %w", m.host, m.user, err)
	}
	return c, nil
}

func (m *Mailbox) poll(ctx context.Context, c *imapclient.Client) (PollResult, error) {
	var res PollResult
	if _, err := c.Select(m.folder, nil).Wait(); err != nil {
		return res, fmt.Errorf("select %s: %w", m.folder, err)
	}
	if m.moveTo != "" && !c.Caps().Has(imap.CapMove) {
		return res, fmt.Errorf("move=%s: the server does not offer MOVE", m.moveTo)
	}
	found, err := c.UIDSearch(&imap.SearchCriteria{
		NotFlag: []imap.Flag{FlagRecorded, FlagUnparsed, FlagTooBig, imap.FlagDeleted},
	}, nil).Wait()
	if err != nil {
		return res, fmt.Errorf("search %s: %w", m.folder, err)
	}
	uids := found.AllUIDs()
	if len(uids) > maxPerPoll {
		uids = uids[:maxPerPoll]
	}
	for _, uid := range uids {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		err := m.take(ctx, c, uid, &res)
		if errors.Is(err, errGone) {
			// Expunged by another client since the search: nothing to do.
			m.log.Debug("bounce mailbox: message gone before it was read", "uid", uid)
			continue
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// errGone is a message expunged between the search and its fetch.
var errGone = errors.New("message gone")

// take reads one message, hands it to the Receiver and flags it. Only an
// IMAP error is returned: a Receiver error leaves the message for the next
// poll.
func (m *Mailbox) take(ctx context.Context, c *imapclient.Client, uid imap.UID, res *PollResult) error {
	set := imap.UIDSetNum(uid)
	size, err := m.size(c, set)
	if err != nil {
		return err
	}
	if size > m.cfg.MaxMessageBytes {
		res.TooBig++
		m.cfg.Metrics.received("imap", "skipped")
		m.log.Warn("bounce mailbox: message over the size limit left in place", "uid", uid, "bytes", size, "max_bytes", m.cfg.MaxMessageBytes)
		return m.flag(c, set, FlagTooBig)
	}
	raw, err := m.fetch(c, set)
	if err != nil {
		return err
	}
	rc, err := m.rcv.Receive(ctx, "imap", m.envelopeTo(raw), raw)
	if err != nil {
		res.Failed++
		m.cfg.Metrics.received("imap", "error")
		m.log.Error("bounce mailbox: report not recorded, left for the next poll", "uid", uid, "err", err)
		return nil
	}
	if rc.Unparsed {
		// Stored as unparsed: left in place and unseen for a person, and
		// flagged so that the next poll does not read it again.
		res.Unparsed++
		m.cfg.Metrics.received("imap", "unparsed")
		m.log.Warn("bounce mailbox: message not understood, stored as unparsed and left in place", "uid", uid, "reason", rc.Reason)
		return m.flag(c, set, FlagUnparsed)
	}
	res.Recorded++
	m.cfg.Metrics.received("imap", "recorded")
	if err := m.flag(c, set, FlagRecorded, imap.FlagSeen); err != nil {
		return err
	}
	if m.moveTo != "" {
		if _, err := c.Move(set, m.moveTo).Wait(); err != nil {
			return fmt.Errorf("move message %d to %s: %w", uid, m.moveTo, err)
		}
	}
	return nil
}

func (m *Mailbox) size(c *imapclient.Client, set imap.UIDSet) (int64, error) {
	msgs, err := c.Fetch(set, &imap.FetchOptions{RFC822Size: true}).Collect()
	if err != nil {
		return 0, fmt.Errorf("fetch size: %w", err)
	}
	if len(msgs) == 0 {
		return 0, errGone
	}
	return msgs[0].RFC822Size, nil
}

// fetch reads a whole message without setting \Seen (BODY.PEEK[]).
func (m *Mailbox) fetch(c *imapclient.Client, set imap.UIDSet) ([]byte, error) {
	section := &imap.FetchItemBodySection{Peek: true}
	cmd := c.Fetch(set, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}})
	defer cmd.Close()
	msg := cmd.Next()
	if msg == nil {
		if err := cmd.Close(); err != nil {
			return nil, fmt.Errorf("fetch message: %w", err)
		}
		return nil, errGone
	}
	for {
		item := msg.Next()
		if item == nil {
			break
		}
		if body, ok := item.(imapclient.FetchItemDataBodySection); ok {
			raw, err := io.ReadAll(io.LimitReader(body.Literal, m.cfg.MaxMessageBytes+1))
			if err != nil {
				return nil, fmt.Errorf("fetch message: %w", err)
			}
			return raw, cmd.Close()
		}
	}
	if err := cmd.Close(); err != nil {
		return nil, fmt.Errorf("fetch message: %w", err)
	}
	return nil, errors.New("fetch message: no body in the answer")
}

func (m *Mailbox) flag(c *imapclient.Client, set imap.UIDSet, flags ...imap.Flag) error {
	err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: flags}, nil).Close()
	if err != nil {
		return fmt.Errorf("flag message %v %v: %w", set, flags, err)
	}
	return nil
}

// envelopeTo is the address the message was delivered to, from its
// headers: Delivered-To, X-Original-To, To, the bounce address first.
func (m *Mailbox) envelopeTo(raw []byte) string {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	var first string
	for _, h := range []string{"Delivered-To", "X-Original-To", "To"} {
		for _, v := range msg.Header[h] {
			list, err := mail.ParseAddressList(v)
			if err != nil {
				continue
			}
			for _, a := range list {
				if first == "" {
					first = a.Address
				}
				if m.local != "" && m.isBounceAddress(a.Address) {
					return a.Address
				}
			}
		}
	}
	return first
}

func (m *Mailbox) isBounceAddress(addr string) bool {
	local, domain, ok := splitAddress(addr)
	if !ok || !strings.EqualFold(domain, m.domain) {
		return false
	}
	base, _, _ := strings.Cut(local, "+")
	return strings.EqualFold(base, m.local)
}
