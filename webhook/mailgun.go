package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"bothsides/bounce"
)

// MailgunConfig configures the Mailgun webhook.
type MailgunConfig struct {
	// SigningKey is the account's HTTP webhook signing key.
	SigningKey string
	// MaxAge is how far the signed timestamp may be from the clock, and so
	// how long a token is remembered; DefaultMaxAge when zero.
	MaxAge time.Duration
	Now    func() time.Time
}

// Mailgun reads Mailgun's webhooks: the HMAC in the body authenticates, and
// a token seen once is refused again.
type Mailgun struct {
	cfg  MailgunConfig
	mu   sync.Mutex
	seen map[string]time.Time // token -> signed time, pruned past MaxAge
	// pruned is when seen was last pruned: at most once per MaxAge.
	pruned time.Time
}

// NewMailgun checks the key and returns the provider.
func NewMailgun(cfg MailgunConfig) (*Mailgun, error) {
	if len(cfg.SigningKey) < 16 {
		return nil, errors.New("Mailgun webhook signing key: want the key Mailgun shows (at least 16 characters)")
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Mailgun{cfg: cfg, seen: map[string]time.Time{}}, nil
}

// Name is "mailgun".
func (*Mailgun) Name() string { return "mailgun" }

// mailgunBody is a webhook's body: the signature and one event.
type mailgunBody struct {
	Signature *struct {
		Timestamp string `json:"timestamp"`
		Token     string `json:"token"`
		Signature string `json:"signature"`
	} `json:"signature"`
	EventData *struct {
		Event          string  `json:"event"`
		ID             string  `json:"id"`
		Timestamp      float64 `json:"timestamp"`
		Severity       string  `json:"severity"`
		Reason         string  `json:"reason"`
		Recipient      string  `json:"recipient"`
		DeliveryStatus struct {
			Code         json.Number `json:"code"`
			EnhancedCode string      `json:"enhanced-code"`
			Message      string      `json:"message"`
			Description  string      `json:"description"`
		} `json:"delivery-status"`
	} `json:"event-data"`
}

// Events checks the signature, the timestamp and the token, and returns
// the event of a failure, a complaint or a delivery.
func (m *Mailgun) Events(r *http.Request, body []byte) ([]bounce.Event, error) {
	var b mailgunBody
	if err := json.Unmarshal(body, &b); err != nil {
		// Nothing is authenticated yet: the signature is inside the JSON.
		return nil, malformed("Mailgun webhook is not JSON: %v", err)
	}
	if b.Signature == nil || b.Signature.Token == "" || b.Signature.Signature == "" {
		return nil, unauthorized("Mailgun webhook without signature.timestamp, token and signature")
	}
	if err := m.verify(b.Signature.Timestamp, b.Signature.Token, b.Signature.Signature); err != nil {
		return nil, err
	}
	d := b.EventData
	if d == nil {
		return nil, malformed("Mailgun webhook without event-data")
	}
	var kind bounce.Kind
	switch {
	case d.Event == "failed" && d.Severity == "permanent":
		kind = bounce.KindHard
	case d.Event == "failed":
		kind = bounce.KindSoft
	case d.Event == "complained":
		kind = bounce.KindComplaint
	case d.Event == "delivered":
		kind = bounce.KindDelivered
	default: // accepted, opened, clicked, unsubscribed …
		return nil, nil
	}
	if d.Recipient == "" || d.ID == "" {
		return nil, malformed("Mailgun %s event without recipient or id", d.Event)
	}
	ds := d.DeliveryStatus
	words := ds.Message
	if words == "" {
		words = ds.Description
	}
	ev := bounce.Event{Kind: kind, Recipient: strings.TrimSpace(d.Recipient), Source: "mailgun", ExternalID: d.ID,
		Raw: body, Verified: true, Diagnostic: trimDiagnostic(words), At: m.cfg.Now().UTC()}
	if d.Timestamp > 0 {
		sec, frac := math.Modf(d.Timestamp)
		ev.At = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	}
	if ev.Status = statusIn(ds.EnhancedCode); ev.Status == "" {
		ev.Status = statusIn(words)
	}
	if ev.Status == "" && kind != bounce.KindDelivered {
		// Only the basic reply code: its class, as RFC 3463 does.
		if c := ds.Code.String(); len(c) == 3 && (c[0] == '4' || c[0] == '5') {
			ev.Status = c[:1] + ".0.0"
		}
	}
	return []bounce.Event{ev}, nil
}

// verify checks the HMAC-SHA256 of timestamp+token, the timestamp's age,
// and that the token was not seen before (Acknowledged remembers it).
func (m *Mailgun) verify(tsText, token, sigHex string) error {
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return unauthorized("Mailgun signature.timestamp %q is not Unix seconds", tsText)
	}
	now := m.cfg.Now()
	if err := checkAge(ts, now, m.cfg.MaxAge); err != nil {
		return err
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil {
		return unauthorized("Mailgun signature is not hex")
	}
	mac := hmac.New(sha256.New, []byte(m.cfg.SigningKey))
	mac.Write([]byte(tsText + token))
	if !hmac.Equal(mac.Sum(nil), sig) {
		return unauthorized("Mailgun signature does not verify")
	}
	m.mu.Lock()
	_, dup := m.seen[token]
	m.mu.Unlock()
	if dup {
		return unauthorized("Mailgun signature token already used (a replay)")
	}
	return nil
}

// Acknowledged remembers the token of a post whose events were recorded:
// the same post again is a replay. Two copies in flight at once may both
// pass; the store records their event once.
func (m *Mailgun) Acknowledged(body []byte) {
	var b mailgunBody
	if json.Unmarshal(body, &b) != nil || b.Signature == nil {
		return
	}
	ts, err := strconv.ParseInt(b.Signature.Timestamp, 10, 64)
	if err != nil {
		return
	}
	now := m.cfg.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.Sub(m.pruned) > m.cfg.MaxAge {
		// A token older than MaxAge is refused by its timestamp anyway.
		for t, at := range m.seen {
			if now.Sub(at) > m.cfg.MaxAge {
				delete(m.seen, t)
			}
		}
		m.pruned = now
	}
	m.seen[b.Signature.Token] = time.Unix(ts, 0)
}
