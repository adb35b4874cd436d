// Package bounce hears what comes back after a send: delivery status
// notifications, complaints and out-of-office replies (by SMTP, from a
// mailbox, or as a sending service's webhook), matches each to the delivery
// it is about, records it and applies its effect on the subscriber.
package bounce

import (
	"context"
	"time"
)

// Kind is what a report says happened to one delivery.
type Kind string

// The kinds of event.
const (
	KindHard      Kind = "hard"      // permanent: no such user, disabled mailbox (5.1.1, 5.1.10, 5.2.1 …)
	KindSoft      Kind = "soft"      // temporary: 4.x.x, mailbox full (5.2.2)
	KindComplaint Kind = "complaint" // the reader marked the mail as spam (ARF, a webhook)
	KindAutoReply Kind = "autoreply" // out-of-office and other RFC 3834 replies: ignored
	KindDelivered Kind = "delivered" // a webhook's delivery confirmation (counts for the reputation guard)
	KindUnparsed  Kind = "unparsed"  // a message that could not be read: stored with the reason
	KindFeedback  Kind = "feedback"  // an ARF report that is no complaint (not-spam, auth-failure): stored, no effect
)

// Kinds lists every kind, in the order listings show them.
var Kinds = []Kind{KindHard, KindSoft, KindComplaint, KindAutoReply, KindFeedback, KindUnparsed, KindDelivered}

// Event is one report about one recipient, in the shape every intake
// produces: the SMTP listener and the mailbox poller from parsed MIME, the
// webhooks from a service's JSON.
type Event struct {
	Kind       Kind
	Status     string    // enhanced status code, "5.1.1"; empty when the report gives none
	Diagnostic string    // the remote server's words, trimmed
	Recipient  string    // the address the report is about, when it names one
	Token      string    // the VERP token or signed header value that names the delivery; may be empty
	Source     string    // "smtp", "imap", "ses", "sendgrid", "postmark", "mailgun"
	ExternalID string    // the source's own id for the event, for de-duplication; may be empty
	Raw        []byte    // the report as received, capped by the store
	At         time.Time // when the report says it happened, or when it arrived
	// Verified says the source authenticated the event (a webhook's
	// signature). Only then may Recipient alone, without a token, name the
	// subscriber; an unauthenticated report without a valid token is stored
	// as unmatched.
	Verified bool
}

// Recorder takes events in. Every intake (SMTP listener, mailbox poller,
// webhooks) hands what it read to a Recorder; the store is the one
// implementation.
type Recorder interface {
	// Record stores ev, matches it to its delivery and applies its effect.
	// The same event twice (same Source and ExternalID, or the same raw
	// report) records once.
	Record(ctx context.Context, ev Event) error
}

// Receipt says what became of one received message.
type Receipt struct {
	Events   int    // events recorded from it (an auto-reply counts: it is stored, with no effect)
	Unparsed bool   // it could not be read; it was stored as unparsed
	Reason   string // why it could not be read, when Unparsed
}

// Receiver takes in one whole message that arrived for the bounce address,
// by SMTP (envelopeTo is the RCPT TO address) or from the mailbox (envelopeTo
// is the Delivered-To, X-Original-To or To address, or empty): it parses it,
// records each event it holds, and stores one it cannot read as unparsed.
// An error means nothing was stored and the message should be offered again.
type Receiver interface {
	Receive(ctx context.Context, source, envelopeTo string, raw []byte) (Receipt, error)
}
