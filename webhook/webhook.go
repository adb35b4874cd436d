// Package webhook reads the bounce, complaint and delivery notifications
// that sending services post: Amazon SES through SNS, SendGrid, Postmark
// and Mailgun. Each provider authenticates a request (a signature or basic
// auth) and turns its JSON into bounce.Events; the web package routes the
// requests, caps the bodies and hands the events to a bounce.Recorder.
package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"bothsides/bounce"
)

// MaxBody is the largest request body a webhook takes; a larger one is
// refused whole.
const MaxBody = 1 << 20

// DefaultMaxAge is how far a signed timestamp (SendGrid, Mailgun) may be
// from the clock, either way, before the request is refused as stale.
const DefaultMaxAge = 10 * time.Minute

// The expected errors of a request: the web package answers 401 and 400.
var (
	// ErrUnauthorized is a request whose signature, key or credentials do
	// not check out, or that is stale or replayed: nothing is recorded.
	ErrUnauthorized = errors.New("webhook not authenticated")
	// ErrMalformed is an authenticated request whose body cannot be read.
	ErrMalformed = errors.New("malformed webhook")
)

func unauthorized(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnauthorized, fmt.Sprintf(format, args...))
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Provider is one sending service's webhook.
type Provider interface {
	// Name is the service's name, the last element of its path
	// (/webhooks/NAME) and the Source of its events.
	Name() string
	// Events authenticates r, whose body has been read into body, and
	// returns the events it reports. Kinds bothsides does not handle (opens,
	// clicks …) are left out: an empty result is acknowledged. An error
	// wraps ErrUnauthorized or ErrMalformed, or is unexpected.
	Events(r *http.Request, body []byte) ([]bounce.Event, error)
}

// Acknowledger is a Provider that must hear when a request's events have
// all been recorded: Mailgun remembers a token only then, so that a post
// answered 500 can come again with the same signature.
type Acknowledger interface {
	Acknowledged(body []byte)
}

// enhancedCode finds an RFC 3463 enhanced status code (5.1.1) in a
// server's words.
var enhancedCode = regexp.MustCompile(`\b[245]\.\d{1,3}\.\d{1,3}\b`)

// statusIn is the first enhanced status code in s, or "".
func statusIn(s string) string { return enhancedCode.FindString(s) }

// trimDiagnostic trims a server's words to one line of reasonable length.
func trimDiagnostic(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}

// orNow is t, or now when the report gives no time.
func orNow(t time.Time, now func() time.Time) time.Time {
	if t.IsZero() {
		return now().UTC()
	}
	return t.UTC()
}

// checkAge refuses a signed timestamp (Unix seconds) further than maxAge
// from now.
func checkAge(ts int64, now time.Time, maxAge time.Duration) error {
	t := time.Unix(ts, 0)
	if d := now.Sub(t); d > maxAge || d < -maxAge {
		return unauthorized("timestamp %s is more than %s from the server's clock %s", t.UTC().Format(time.RFC3339), maxAge, now.UTC().Format(time.RFC3339))
	}
	return nil
}
