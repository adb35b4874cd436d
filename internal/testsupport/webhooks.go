package testsupport

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// SNS stands in for Amazon SNS in the webhook tests: it signs messages
// with an RSA key whose self-signed certificate (valid around Epoch) it
// serves from a loopback server, reached through Client whatever host a URL
// names, so a SigningCertURL on sns.REGION.amazonaws.com is fetched
// locally. It records every URL the client asked for.
type SNS struct {
	Key     *rsa.PrivateKey
	CertURL string // https://sns.REGION.amazonaws.com/SimpleNotificationService-test.pem
	// Client sends every request to the loopback server.
	Client *http.Client

	mu       sync.Mutex
	requests []string
}

// rsaKeys are the SNS test keys, generated once per test binary (a 2048-bit
// key takes a while on a busy machine).
var rsaKeys struct {
	sync.Mutex
	keys []*rsa.PrivateKey
}

// rsaKey is the i-th test key.
func rsaKey(tb testing.TB, i int) *rsa.PrivateKey {
	tb.Helper()
	rsaKeys.Lock()
	defer rsaKeys.Unlock()
	for len(rsaKeys.keys) <= i {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			tb.Fatal(err)
		}
		rsaKeys.keys = append(rsaKeys.keys, key)
	}
	return rsaKeys.keys[i]
}

// NewSNS starts the fake SNS for region.
func NewSNS(tb testing.TB, region string) *SNS {
	tb.Helper()
	return newSNS(tb, region, rsaKey(tb, 0))
}

// NewOtherSNS is NewSNS with another key: what it signs does not verify
// against NewSNS's certificate.
func NewOtherSNS(tb testing.TB, region string) *SNS {
	tb.Helper()
	return newSNS(tb, region, rsaKey(tb, 1))
}

func newSNS(tb testing.TB, region string, key *rsa.PrivateKey) *SNS {
	tb.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sns." + region + ".amazonaws.com"},
		NotBefore:    Epoch.Add(-24 * time.Hour),
		NotAfter:     Epoch.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	s := &SNS{Key: key, CertURL: "https://sns." + region + ".amazonaws.com/SimpleNotificationService-test.pem"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".pem") {
			w.Write(certPEM)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		w.Write([]byte("<ConfirmSubscriptionResponse/>"))
	}))
	tb.Cleanup(srv.Close)
	target, _ := url.Parse(srv.URL)
	s.Client = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.String())
		s.mu.Unlock()
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host, r.Host = target.Scheme, target.Host, ""
		return http.DefaultTransport.RoundTrip(r)
	})}
	return s
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Requests is every request the client sent, "GET URL", in order.
func (s *SNS) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// Sign sets msg's SignatureVersion ("1" SHA1withRSA, "2" SHA256withRSA),
// SigningCertURL (unless already set) and Signature over the fields of its
// Type, and returns msg as JSON.
func (s *SNS) Sign(tb testing.TB, msg map[string]string, version string) []byte {
	tb.Helper()
	msg["SignatureVersion"] = version
	if msg["SigningCertURL"] == "" {
		msg["SigningCertURL"] = s.CertURL
	}
	keys := []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	if msg["Type"] != "Notification" {
		keys = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	}
	// JSON carries valid UTF-8 only: sign what the receiver will read.
	for k, v := range msg {
		msg[k] = strings.ToValidUTF8(v, "\uFFFD")
	}
	var b strings.Builder
	for _, k := range keys {
		if v, ok := msg[k]; ok {
			b.WriteString(k + "\n" + v + "\n")
		}
	}
	var sig []byte
	var err error
	if version == "1" {
		d := sha1.Sum([]byte(b.String()))
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.Key, crypto.SHA1, d[:])
	} else {
		d := sha256.Sum256([]byte(b.String()))
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.Key, crypto.SHA256, d[:])
	}
	if err != nil {
		tb.Fatal(err)
	}
	msg["Signature"] = base64.StdEncoding.EncodeToString(sig)
	body, err := json.Marshal(msg)
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// SNSNotification is an SNS Notification of topic carrying message (an SES
// notification's JSON), unsigned.
func SNSNotification(topic, id, message string) map[string]string {
	return map[string]string{"Type": "Notification", "MessageId": id, "TopicArn": topic,
		"Message": message, "Timestamp": Epoch.Format("2006-01-02T15:04:05.000Z")}
}

// SendGridKey is a generated SendGrid verification key pair: Private signs,
// Public is the base64 DER the webhook is configured with.
type SendGridKey struct {
	Private *ecdsa.PrivateKey
	Public  string
}

// NewSendGridKey generates an ECDSA P-256 key pair.
func NewSendGridKey(tb testing.TB) SendGridKey {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	return SendGridKey{Private: key, Public: base64.StdEncoding.EncodeToString(der)}
}

// Sign is SendGrid's signature of a post: ECDSA over SHA-256 of the
// timestamp then the body, ASN.1, base64.
func (k SendGridKey) Sign(tb testing.TB, timestamp string, body []byte) string {
	tb.Helper()
	d := sha256.Sum256(append([]byte(timestamp), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.Private, d[:])
	if err != nil {
		tb.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// MailgunSignature is Mailgun's signature: hex HMAC-SHA256 of timestamp
// then token under the signing key.
func MailgunSignature(key, timestamp, token string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(timestamp + token))
	return hex.EncodeToString(mac.Sum(nil))
}
