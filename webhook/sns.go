package webhook

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// snsMessage is the JSON document SNS posts to an HTTPS subscriber.
type snsMessage struct {
	Type             string
	MessageID        string `json:"MessageId"`
	Token            string
	TopicArn         string
	Subject          string
	Message          string
	Timestamp        string
	SignatureVersion string
	Signature        string
	SigningCertURL   string
	SubscribeURL     string
	UnsubscribeURL   string
}

// stringToSign is what SNS signs: the fields of the message's type, each as
// its name and its value on lines of their own, in this order.
func (m *snsMessage) stringToSign() (string, error) {
	var b strings.Builder
	add := func(k, v string) { b.WriteString(k + "\n" + v + "\n") }
	switch m.Type {
	case "Notification":
		add("Message", m.Message)
		add("MessageId", m.MessageID)
		if m.Subject != "" {
			add("Subject", m.Subject)
		}
		add("Timestamp", m.Timestamp)
		add("TopicArn", m.TopicArn)
		add("Type", m.Type)
	case "SubscriptionConfirmation", "UnsubscribeConfirmation":
		add("Message", m.Message)
		add("MessageId", m.MessageID)
		add("SubscribeURL", m.SubscribeURL)
		add("Timestamp", m.Timestamp)
		add("Token", m.Token)
		add("TopicArn", m.TopicArn)
		add("Type", m.Type)
	default:
		return "", malformed("SNS message Type %q: want Notification, SubscriptionConfirmation or UnsubscribeConfirmation", m.Type)
	}
	return b.String(), nil
}

// snsHost is an SNS endpoint's host name: sns.REGION.amazonaws.com, or
// .com.cn in China.
var snsHost = regexp.MustCompile(`^sns\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$`)

// snsURL checks that raw is an https URL on an SNS host (of region, when
// set) and returns it with the host's region.
func snsURL(field, raw, region string) (*url.URL, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", unauthorized("%s %q is not a URL", field, raw)
	}
	if u.Scheme != "https" || u.User != nil || (u.Port() != "" && u.Port() != "443") {
		return nil, "", unauthorized("%s %q: want an https URL on port 443", field, raw)
	}
	m := snsHost.FindStringSubmatch(strings.ToLower(u.Hostname()))
	if m == nil {
		return nil, "", unauthorized("%s host %q is not an SNS host (sns.REGION.amazonaws.com)", field, u.Hostname())
	}
	if region != "" && m[1] != region {
		return nil, "", unauthorized("%s host %q is not in the region %s", field, u.Hostname(), region)
	}
	return u, m[1], nil
}

// topicRegion is the region of a topic's ARN (arn:aws:sns:REGION:ACCOUNT:NAME).
func topicRegion(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sns" {
		return ""
	}
	return parts[3]
}

// maxCerts bounds the certificate cache; SNS signs with a handful.
const maxCerts = 32

// certCache fetches the certificates SNS signs with and keeps them.
type certCache struct {
	client *http.Client
	now    func() time.Time
	mu     sync.Mutex
	certs  map[string]*x509.Certificate
}

// get returns the certificate at u, fetched once, if it is valid now.
func (c *certCache) get(ctx context.Context, u *url.URL) (*x509.Certificate, error) {
	key := u.String()
	c.mu.Lock()
	cert, ok := c.certs[key]
	c.mu.Unlock()
	if !ok {
		var err error
		if cert, err = c.fetch(ctx, key); err != nil {
			return nil, err
		}
		c.mu.Lock()
		if len(c.certs) >= maxCerts {
			clear(c.certs)
		}
		c.certs[key] = cert
		c.mu.Unlock()
	}
	if now := c.now(); now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, unauthorized("signing certificate %s is not valid at %s", key, now.UTC().Format(time.RFC3339))
	}
	return cert, nil
}

func (c *certCache) fetch(ctx context.Context, u string) (*x509.Certificate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch SNS signing certificate: %w", err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch SNS signing certificate %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch SNS signing certificate %s: %s", u, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("fetch SNS signing certificate %s: %w", u, err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("SNS signing certificate %s: no PEM certificate", u)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("SNS signing certificate %s: %w", u, err)
	}
	if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
		return nil, fmt.Errorf("SNS signing certificate %s: not an RSA key", u)
	}
	return cert, nil
}

// verify checks m's signature against the certificate at its
// SigningCertURL, which must be on an SNS host.
func (c *certCache) verify(ctx context.Context, m *snsMessage, region string) error {
	var h crypto.Hash
	switch m.SignatureVersion {
	case "1":
		h = crypto.SHA1
	case "2":
		h = crypto.SHA256
	default:
		return unauthorized("SignatureVersion %q: want 1 or 2", m.SignatureVersion)
	}
	u, certRegion, err := snsURL("SigningCertURL", m.SigningCertURL, region)
	if err != nil {
		return err
	}
	if tr := topicRegion(m.TopicArn); tr != certRegion {
		return unauthorized("SigningCertURL host %q is not in the topic's region %q", u.Hostname(), tr)
	}
	if !strings.HasSuffix(u.Path, ".pem") {
		return unauthorized("SigningCertURL %q is not a .pem file", m.SigningCertURL)
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil || len(sig) == 0 {
		return unauthorized("Signature is not base64")
	}
	s, err := m.stringToSign()
	if err != nil {
		return err
	}
	cert, err := c.get(ctx, u)
	if err != nil {
		return err
	}
	var digest []byte
	if h == crypto.SHA1 {
		d := sha1.Sum([]byte(s))
		digest = d[:]
	} else {
		d := sha256.Sum256([]byte(s))
		digest = d[:]
	}
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), h, digest, sig); err != nil {
		return unauthorized("SNS signature does not verify")
	}
	return nil
}
