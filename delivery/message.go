package delivery

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"bothsides/digest"
	"bothsides/mailer"
	"bothsides/subscribers"
)

// editionMail is an edition encoded once as MIME, in two variants (with
// and without the reader's name in the greeting), ready to be filled in
// per subscriber.
type editionMail struct {
	named, anon *mailer.Template
	from        string
	domain      string
}

// numMarkers is how many personal parts a message has: name, address,
// unsubscribe and preferences links, in the order of the markers.
const numMarkers = 4

func (s *Sender) newEditionMail(e *digest.Edition, r *digest.Rendered) (*editionMail, error) {
	b := make([]byte, 8)
	rand.Read(b)
	nonce := hex.EncodeToString(b)
	var markers [numMarkers]string
	for i := range markers {
		markers[i] = fmt.Sprintf("bsmark%dy%s", i, nonce)
	}
	host := mailer.HostOf(s.cfg.BaseURL)
	base := mailer.TemplateConfig{
		From:              s.cfg.From,
		ReplyTo:           s.cfg.ReplyTo,
		Subject:           r.Subject,
		ListID:            fmt.Sprintf("Both Sides daily digest <%s.%s>", e.Schedule, host),
		FeedbackID:        fmt.Sprintf("%s:%s:digest:bothsides", e.Date, e.Schedule),
		UnsubscribeMailto: s.cfg.UnsubscribeMailto,
		Headers:           []mailer.Header{{Name: "Precedence", Value: "bulk"}},
		Markers:           markers[:],
	}
	m := &editionMail{}
	for i, name := range []string{markers[0], ""} {
		html, text := r.Personalize(digest.Personal{Name: name, Email: markers[1], UnsubscribeURL: markers[2], PreferencesURL: markers[3]})
		cfg := base
		cfg.HTML, cfg.Text = html, text
		t, err := mailer.NewTemplate(cfg)
		if err != nil {
			return nil, fmt.Errorf("encode edition %s: %w", e.Date, err)
		}
		if i == 0 {
			m.named = t
		} else {
			m.anon = t
		}
	}
	m.from = m.named.Sender()
	m.domain = mailer.Domain(m.from)
	return m, nil
}

func (m *editionMail) size() int { return m.named.Size() + 1024 }

// messageID is unique per attempt and names the edition, subscriber and
// attempt, on the sender's domain.
func (m *editionMail) messageID(e *digest.Edition, subscriberID int64, attempt int) string {
	b := make([]byte, 6)
	rand.Read(b)
	return fmt.Sprintf("e%d.s%d.a%d.%s@%s", e.ID, subscriberID, attempt, hex.EncodeToString(b), m.domain)
}

// build appends one subscriber's message to dst and returns it with its
// envelope sender: the From address, or with a bounce address the VERP
// address naming this delivery (see verp).
func (m *editionMail) build(dst []byte, s *Sender, editionID int64, j job, msgID string) (mailer.Raw, string, error) {
	// The links live from the moment the message is made: an unsubscribe
	// link 90 days, a preferences link 30 (subscribers.LinkExpiry).
	now := s.db.Now()
	unsub := s.cfg.BaseURL + "/unsubscribe/" + s.signer.Link(subscribers.PurposeUnsubscribe, j.subscriberID, j.generation, now)
	prefs := s.cfg.BaseURL + "/preferences/" + s.signer.Link(subscribers.PurposePreferences, j.subscriberID, j.generation, now)
	t := m.anon
	if j.name != "" {
		t = m.named
	}
	r := &mailer.Recipient{
		To:          j.email,
		Name:        j.name,
		MessageID:   msgID,
		Date:        now,
		Unsubscribe: unsub,
		Values:      []string{j.name, j.email, unsub, prefs},
	}
	from := m.from
	if s.cfg.BounceAddress != "" {
		token := s.signer.DeliveryToken(editionID, j.subscriberID)
		from = verp(s.cfg.BounceAddress, token)
		r.Headers = []mailer.Header{{Name: DeliveryHeader, Value: token}}
	}
	raw, err := t.Append(dst, r)
	return raw, from, err
}

// DeliveryHeader carries the delivery token in every edition message sent
// with a bounce address; DKIM signs it (mailer.DKIMIfPresent). The bounce
// package reads it back from complaint reports.
const DeliveryHeader = "X-Bothsides-Delivery"

// verp returns the envelope sender for one delivery: the bounce address
// with "+" and the delivery token after its local part,
// bounces+TOKEN@bounce.example.com. The token is lower-case letters and
// digits, so a relay that lower-cases local parts keeps it.
func verp(bounceAddress, token string) string {
	at := strings.LastIndexByte(bounceAddress, '@')
	return bounceAddress[:at] + "+" + token + bounceAddress[at:]
}

// maxVariants bounds the renderings a send keeps; beyond it a variant is
// rendered for its message and dropped (slow, but still the reader's own).
const maxVariants = 1024

// variants renders each distinct variant of an edition once per send and
// keeps the MIME templates, keyed by the subscribers' stored topics (the
// JSON text, so a message costs a map lookup) and by the variant itself.
type variants struct {
	mu       sync.Mutex
	base     *editionMail
	byTopics map[string]*editionMail
	byKey    map[string]*editionMail
}

func newVariants(base *editionMail, e *digest.Edition) *variants {
	v := &variants{base: base, byTopics: map[string]*editionMail{"": base, "[]": base}, byKey: map[string]*editionMail{}}
	v.byKey[e.VariantKey()] = base
	return v
}

// mailFor returns the encoded mail for a subscriber whose topics column
// holds topics.
func (r *run) mailFor(topics string) (*editionMail, error) {
	vs := r.variants
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if m, ok := vs.byTopics[topics]; ok {
		return m, nil
	}
	var list []string
	if err := json.Unmarshal([]byte(topics), &list); err != nil {
		// Unreadable preferences must not cost the reader their digest.
		r.log.Warn("subscriber topics unreadable; sending the edition as is", "err", err)
		return vs.base, nil
	}
	v := r.e.Variant(list)
	key := v.VariantKey()
	m, ok := vs.byKey[key]
	if !ok {
		rendered, err := r.s.render.Render(v)
		if err != nil {
			return nil, fmt.Errorf("render variant: %w", err)
		}
		if m, err = r.s.newEditionMail(v, rendered); err != nil {
			return nil, err
		}
		if len(vs.byKey) < maxVariants {
			vs.byKey[key] = m
		}
	}
	if len(vs.byTopics) < 16*maxVariants {
		vs.byTopics[topics] = m
	}
	return m, nil
}
