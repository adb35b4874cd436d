package webhook

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"bothsides/bounce"
)

// PostmarkConfig configures the Postmark webhook, which authenticates by
// basic auth given in the webhook's URL (https://USER:PASSWORD@host/…).
type PostmarkConfig struct {
	// Auth is "USER:PASSWORD".
	Auth string
	Now  func() time.Time
}

// Postmark reads Postmark's bounce, spam complaint and delivery webhooks.
type Postmark struct {
	now            func() time.Time
	user, password [sha256.Size]byte
}

// NewPostmark checks the credentials and returns the provider.
func NewPostmark(cfg PostmarkConfig) (*Postmark, error) {
	user, password, ok := strings.Cut(cfg.Auth, ":")
	if !ok || user == "" || len(password) < 16 {
		return nil, fmt.Errorf("Postmark webhook credentials: want USER:PASSWORD with a password of at least 16 characters")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Postmark{now: cfg.Now, user: sha256.Sum256([]byte(user)), password: sha256.Sum256([]byte(password))}, nil
}

// Name is "postmark".
func (*Postmark) Name() string { return "postmark" }

// postmarkRecord is one webhook's body; the fields of its RecordType are
// set.
type postmarkRecord struct {
	RecordType  string
	ID          json.Number // Bounce, SpamComplaint
	Type        string      // Bounce: HardBounce, SoftBounce …
	MessageID   string
	Email       string // Bounce, SpamComplaint
	Recipient   string // Delivery
	Description string
	Details     string
	BouncedAt   time.Time
	DeliveredAt time.Time
}

// Events checks the credentials (compared in constant time) and returns the
// record's event.
func (p *Postmark) Events(r *http.Request, body []byte) ([]bounce.Event, error) {
	user, password, ok := r.BasicAuth()
	if !ok {
		return nil, unauthorized("missing basic auth credentials")
	}
	u, pw := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))
	if subtle.ConstantTimeCompare(u[:], p.user[:])&subtle.ConstantTimeCompare(pw[:], p.password[:]) != 1 {
		return nil, unauthorized("wrong basic auth credentials")
	}
	var rec postmarkRecord
	if err := json.Unmarshal(body, &rec); err != nil {
		return nil, malformed("Postmark record is not JSON: %v", err)
	}
	ev := bounce.Event{Source: "postmark", Raw: body, Verified: true}
	switch rec.RecordType {
	case "Bounce", "SpamComplaint":
		kind, ok := postmarkKind(rec)
		if !ok {
			return nil, nil
		}
		if rec.Email == "" {
			return nil, malformed("Postmark %s without Email", rec.RecordType)
		}
		ev.Kind, ev.Recipient = kind, strings.TrimSpace(rec.Email)
		if rec.ID != "" { // without it the store tells a repeat by the body
			ev.ExternalID = "bounce/" + rec.ID.String()
		}
		ev.At = orNow(rec.BouncedAt, p.now)
		ev.Diagnostic = trimDiagnostic(rec.Details)
		if ev.Diagnostic == "" {
			ev.Diagnostic = trimDiagnostic(rec.Description)
		}
		ev.Status = statusIn(rec.Details)
	case "Delivery":
		if rec.Recipient == "" {
			return nil, malformed("Postmark Delivery without Recipient")
		}
		ev.Kind, ev.Recipient = bounce.KindDelivered, strings.TrimSpace(rec.Recipient)
		if rec.MessageID != "" {
			ev.ExternalID = "delivery/" + rec.MessageID + "/" + strings.ToLower(ev.Recipient)
		}
		ev.At = orNow(rec.DeliveredAt, p.now)
		ev.Diagnostic = trimDiagnostic(rec.Details)
		ev.Status = statusIn(rec.Details)
	default: // Open, Click, SubscriptionChange …
		return nil, nil
	}
	return []bounce.Event{ev}, nil
}

// postmarkKind maps a bounce's Type to its kind; false for the types that
// say nothing about the address (an unsubscribe, a challenge, a virus …).
func postmarkKind(rec postmarkRecord) (bounce.Kind, bool) {
	if rec.RecordType == "SpamComplaint" {
		return bounce.KindComplaint, true
	}
	switch rec.Type {
	case "HardBounce", "BadEmailAddress", "ManuallyDeactivated":
		return bounce.KindHard, true
	case "SoftBounce", "Transient", "DnsError", "Blocked", "SMTPApiError":
		return bounce.KindSoft, true
	case "SpamComplaint":
		return bounce.KindComplaint, true
	case "AutoResponder":
		return bounce.KindAutoReply, true
	}
	return "", false
}
