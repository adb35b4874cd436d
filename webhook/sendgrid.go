package webhook

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"bothsides/bounce"
)

// The headers of SendGrid's signed event webhook.
const (
	sendGridSignature = "X-Twilio-Email-Event-Webhook-Signature"
	sendGridTimestamp = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// SendGridConfig configures the SendGrid event webhook.
type SendGridConfig struct {
	// PublicKey is the webhook's verification key as SendGrid shows it:
	// base64 of the DER of an ECDSA P-256 public key (a PEM block is taken
	// too).
	PublicKey string
	// MaxAge is how far the signed timestamp may be from the clock;
	// DefaultMaxAge when zero.
	MaxAge time.Duration
	Now    func() time.Time
}

// SendGrid reads SendGrid's signed event webhook.
type SendGrid struct {
	cfg SendGridConfig
	key *ecdsa.PublicKey
}

// NewSendGrid parses the verification key and returns the provider.
func NewSendGrid(cfg SendGridConfig) (*SendGrid, error) {
	raw := strings.TrimSpace(cfg.PublicKey)
	var der []byte
	if block, _ := pem.Decode([]byte(raw)); block != nil {
		der = block.Bytes
	} else {
		var err error
		if der, err = base64.StdEncoding.DecodeString(raw); err != nil {
			return nil, fmt.Errorf("SendGrid verification key: not base64: %w", err)
		}
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("SendGrid verification key: %w", err)
	}
	key, ok := pub.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("SendGrid verification key: want an ECDSA P-256 public key, have %T", pub)
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &SendGrid{cfg: cfg, key: key}, nil
}

// Name is "sendgrid".
func (*SendGrid) Name() string { return "sendgrid" }

// sendGridEvent is one element of the posted array.
type sendGridEvent struct {
	Email     string `json:"email"`
	Timestamp int64  `json:"timestamp"`
	Event     string `json:"event"`
	Type      string `json:"type"` // of a bounce: "bounce" or "blocked"
	Status    string `json:"status"`
	Reason    string `json:"reason"`
	Response  string `json:"response"`
	ID        string `json:"sg_event_id"`
}

// Events verifies the signature over the timestamp and the raw body and
// returns the array's bounces, drops, spam reports and deliveries.
func (s *SendGrid) Events(r *http.Request, body []byte) ([]bounce.Event, error) {
	tsText := r.Header.Get(sendGridTimestamp)
	sigText := r.Header.Get(sendGridSignature)
	if tsText == "" || sigText == "" {
		return nil, unauthorized("missing %s or %s", sendGridSignature, sendGridTimestamp)
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return nil, unauthorized("%s %q is not Unix seconds", sendGridTimestamp, tsText)
	}
	if err := checkAge(ts, s.cfg.Now(), s.cfg.MaxAge); err != nil {
		return nil, err
	}
	sig, err := base64.StdEncoding.DecodeString(sigText)
	if err != nil {
		return nil, unauthorized("%s is not base64", sendGridSignature)
	}
	h := sha256.New()
	h.Write([]byte(tsText))
	h.Write(body)
	if !ecdsa.VerifyASN1(s.key, h.Sum(nil), sig) {
		return nil, unauthorized("SendGrid signature does not verify")
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, malformed("SendGrid events: want a JSON array: %v", err)
	}
	var out []bounce.Event
	for i, raw := range raws {
		var e sendGridEvent
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, malformed("SendGrid event %d: %v", i, err)
		}
		kind, ok := sendGridKind(e)
		if !ok {
			continue
		}
		if e.Email == "" {
			return nil, malformed("SendGrid %s event %d without email", e.Event, i)
		}
		// Without sg_event_id the store tells a repeat by the event's bytes.
		ev := bounce.Event{Kind: kind, Recipient: strings.TrimSpace(e.Email), Source: "sendgrid", ExternalID: e.ID,
			Raw: raw, Verified: true, At: s.cfg.Now().UTC()}
		if e.Timestamp > 0 {
			ev.At = time.Unix(e.Timestamp, 0).UTC()
		}
		words := e.Reason
		if words == "" {
			words = e.Response
		}
		ev.Diagnostic = trimDiagnostic(words)
		if ev.Status = statusIn(e.Status); ev.Status == "" {
			ev.Status = statusIn(words)
		}
		out = append(out, ev)
	}
	return out, nil
}

// sendGridKind maps an event to its kind; false for events bothsides does
// not handle (processed, deferred, open, click …).
func sendGridKind(e sendGridEvent) (bounce.Kind, bool) {
	switch e.Event {
	case "bounce":
		if e.Type == "blocked" { // a refusal for now (reputation, content): SendGrid's soft bounce
			return bounce.KindSoft, true
		}
		return bounce.KindHard, true
	case "dropped":
		// SendGrid did not try: the address is on one of its suppression
		// lists. An unsubscribe there is not a bounce.
		r := strings.ToLower(e.Reason)
		switch {
		case strings.Contains(r, "spam"):
			return bounce.KindComplaint, true
		case strings.Contains(r, "unsubscribe"):
			return "", false
		}
		return bounce.KindHard, true
	case "spamreport":
		return bounce.KindComplaint, true
	case "delivered":
		return bounce.KindDelivered, true
	}
	return "", false
}
