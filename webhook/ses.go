package webhook

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"bothsides/bounce"
)

// SESConfig configures the Amazon SES webhook (SES notifications through
// an SNS topic with an HTTPS subscription).
type SESConfig struct {
	// TopicARNs are the SNS topics whose messages are taken; at least one.
	TopicARNs []string
	// Region, when set, is the only region whose SNS hosts may serve the
	// signing certificate and the subscription link.
	Region string
	// Client fetches signing certificates and confirms subscriptions; nil
	// is a client with a 10s timeout. Tests pass one that serves a local
	// certificate.
	Client *http.Client
	Now    func() time.Time
	Logger *slog.Logger
}

// SES reads SES bounce, complaint and delivery notifications from SNS.
type SES struct {
	cfg   SESConfig
	certs *certCache
}

// NewSES checks cfg and returns the provider.
func NewSES(cfg SESConfig) (*SES, error) {
	if len(cfg.TopicARNs) == 0 {
		return nil, fmt.Errorf("SES webhook: no topic ARN")
	}
	for _, arn := range cfg.TopicARNs {
		if topicRegion(arn) == "" {
			return nil, fmt.Errorf("SES webhook: topic ARN %q: want arn:aws:sns:REGION:ACCOUNT:NAME", arn)
		}
		if cfg.Region != "" && topicRegion(arn) != cfg.Region {
			return nil, fmt.Errorf("SES webhook: topic ARN %q is not in the region %s", arn, cfg.Region)
		}
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &SES{cfg: cfg, certs: &certCache{client: cfg.Client, now: cfg.Now, certs: map[string]*x509.Certificate{}}}, nil
}

// Name is "ses".
func (*SES) Name() string { return "ses" }

// Events verifies an SNS message and returns the SES events of a
// notification; a subscription confirmation is confirmed by a GET of its
// SubscribeURL (on an SNS host).
func (s *SES) Events(r *http.Request, body []byte) ([]bounce.Event, error) {
	var m snsMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, malformed("SNS message is not JSON: %v", err)
	}
	if m.Type == "" || m.TopicArn == "" || m.MessageID == "" {
		return nil, malformed("SNS message without Type, TopicArn or MessageId")
	}
	if !slices.Contains(s.cfg.TopicARNs, m.TopicArn) {
		return nil, unauthorized("TopicArn %q is not an allowed topic", m.TopicArn)
	}
	if err := s.certs.verify(r.Context(), &m, s.cfg.Region); err != nil {
		return nil, err
	}
	switch m.Type {
	case "SubscriptionConfirmation":
		return nil, s.confirm(r, &m)
	case "UnsubscribeConfirmation":
		s.cfg.Logger.Warn("SES webhook: the SNS subscription was removed", "topic", m.TopicArn)
		return nil, nil
	}
	return s.notification(&m, body)
}

// confirm visits the SubscribeURL of a verified confirmation message.
func (s *SES) confirm(r *http.Request, m *snsMessage) error {
	u, _, err := snsURL("SubscribeURL", m.SubscribeURL, s.cfg.Region)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("confirm SNS subscription: %w", err)
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("confirm SNS subscription to %s: %w", m.TopicArn, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("confirm SNS subscription to %s: %s", m.TopicArn, resp.Status)
	}
	s.cfg.Logger.Info("SES webhook: SNS subscription confirmed", "topic", m.TopicArn)
	return nil
}

// sesMail is the "mail" object of every SES notification: the message the
// notification is about.
type sesMail struct {
	Source  string `json:"source"`
	Headers []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"headers"`
}

// sesNotification is the SES notification SNS carries as its Message: a
// feedback notification (notificationType) or a configuration set's event
// (eventType), in the same shape.
type sesNotification struct {
	NotificationType string  `json:"notificationType"`
	EventType        string  `json:"eventType"`
	Mail             sesMail `json:"mail"`
	Bounce           *struct {
		BounceType        string    `json:"bounceType"`
		BounceSubType     string    `json:"bounceSubType"`
		Timestamp         time.Time `json:"timestamp"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			Status         string `json:"status"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Complaint *struct {
		Timestamp             time.Time `json:"timestamp"`
		ComplaintFeedbackType string    `json:"complaintFeedbackType"`
		ComplainedRecipients  []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
	} `json:"complaint"`
	Delivery *struct {
		Timestamp    time.Time `json:"timestamp"`
		Recipients   []string  `json:"recipients"`
		SMTPResponse string    `json:"smtpResponse"`
	} `json:"delivery"`
}

// notification turns a verified SES notification into one event per
// recipient.
func (s *SES) notification(m *snsMessage, body []byte) ([]bounce.Event, error) {
	var n sesNotification
	if err := json.Unmarshal([]byte(m.Message), &n); err != nil {
		return nil, malformed("SES notification in the SNS Message is not JSON: %v", err)
	}
	typ := n.NotificationType
	if typ == "" {
		typ = n.EventType
	}
	token := sesToken(n.Mail)
	ev := func(kind bounce.Kind, rcpt string, at time.Time) bounce.Event {
		return bounce.Event{Kind: kind, Recipient: strings.TrimSpace(rcpt), Token: token, Source: "ses",
			ExternalID: m.MessageID + "/" + strings.ToLower(strings.TrimSpace(rcpt)), Raw: body,
			At: orNow(at, s.cfg.Now), Verified: true}
	}
	var out []bounce.Event
	switch {
	case typ == "Bounce" && n.Bounce != nil:
		kind := bounce.KindSoft // Transient and Undetermined
		if n.Bounce.BounceType == "Permanent" {
			kind = bounce.KindHard
		}
		for _, r := range n.Bounce.BouncedRecipients {
			e := ev(kind, r.EmailAddress, n.Bounce.Timestamp)
			e.Diagnostic = trimDiagnostic(r.DiagnosticCode)
			if e.Status = statusIn(r.Status); e.Status == "" {
				e.Status = statusIn(r.DiagnosticCode)
			}
			if e.Diagnostic == "" {
				e.Diagnostic = trimDiagnostic(n.Bounce.BounceType + " " + n.Bounce.BounceSubType)
			}
			out = append(out, e)
		}
	case typ == "Complaint" && n.Complaint != nil:
		for _, r := range n.Complaint.ComplainedRecipients {
			e := ev(bounce.KindComplaint, r.EmailAddress, n.Complaint.Timestamp)
			e.Diagnostic = trimDiagnostic(n.Complaint.ComplaintFeedbackType)
			out = append(out, e)
		}
	case typ == "Delivery" && n.Delivery != nil:
		for _, r := range n.Delivery.Recipients {
			e := ev(bounce.KindDelivered, r, n.Delivery.Timestamp)
			e.Diagnostic = trimDiagnostic(n.Delivery.SMTPResponse)
			e.Status = statusIn(n.Delivery.SMTPResponse)
			out = append(out, e)
		}
	}
	return out, nil
}

// sesToken is the delivery's token: from the VERP envelope sender SES
// reports as the mail's source, else from the signed header when SES
// passed the headers on.
func sesToken(m sesMail) string {
	if t := verpToken(m.Source); t != "" {
		return t
	}
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, bounce.DeliveryHeader) {
			return strings.TrimSpace(h.Value)
		}
	}
	return ""
}
