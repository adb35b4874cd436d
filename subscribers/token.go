package subscribers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrInvalidToken is returned for a token that is malformed, forged, for
// another purpose, expired, or revoked.
var ErrInvalidToken = errors.New("invalid or expired link")

// ErrExpiredToken is returned for a well-signed link that is past its
// expiry; it wraps ErrInvalidToken, so that a page can tell "expired" from
// "broken" while every other caller treats both alike.
var ErrExpiredToken = fmt.Errorf("%w: expired", ErrInvalidToken)

// Purpose keeps a token for one action from being used for another.
type Purpose string

// The token purposes.
const (
	PurposeUnsubscribe Purpose = "unsubscribe"
	PurposeConfirm     Purpose = "confirm"
	PurposePreferences Purpose = "preferences"
)

// How long the links in a mail work after it was made. Bulk-sender rules
// (Gmail, Yahoo, RFC 8058 practice) ask that an unsubscribe link keep
// working for at least 60 days after the mail: 90 leaves a month's margin.
// A preferences link opens a page that changes what is sent, so it lives
// shorter; every daily mail carries a fresh one, and a 4-week pause is
// within it.
const (
	UnsubscribeLinkLifetime = 90 * 24 * time.Hour
	PreferencesLinkLifetime = 30 * 24 * time.Hour
)

// LinkExpiry returns when a link for p made at issued expires: the
// lifetimes above for unsubscribe and preferences links, the zero time (no
// expiry of its own) for any other purpose.
func LinkExpiry(p Purpose, issued time.Time) time.Time {
	switch p {
	case PurposeUnsubscribe:
		return issued.Add(UnsubscribeLinkLifetime)
	case PurposePreferences:
		return issued.Add(PreferencesLinkLifetime)
	}
	return time.Time{}
}

// Key is one token key: the id every token it signs carries, and the
// secret.
type Key struct {
	ID     uint32
	Secret []byte
}

// Claims is what a verified token says.
type Claims struct {
	Subscriber int64
	// Generation is the subscriber's link generation when the token was
	// made; the token is good only while the subscriber's is the same.
	Generation int64
	KeyID      uint32
	Expires    time.Time // zero: no expiry
	// Legacy marks a token of the first format (no key id, no generation):
	// it verifies as key 0, generation 0.
	Legacy bool
}

// Signer makes and checks signed, URL-safe subscriber tokens with a key
// ring: the newest key signs, every key in the ring verifies.
type Signer struct {
	mu      sync.RWMutex
	signing Key
	keys    map[uint32][]byte
	// legacyIssued is when links of the first format are taken to have
	// been made (the upgrade): they expire by the lifetimes from then. Zero:
	// there are none, and such a token is refused.
	legacyIssued time.Time

	// reload, when set, fetches the key ring again when a token names a
	// key the signer does not hold (another process rotated), at most once
	// per reloadEvery.
	reload     func() ([]Key, error)
	lastReload time.Time
}

const reloadEvery = 10 * time.Second

// NewSigner returns a signer with one key, id 0, that signs and verifies.
func NewSigner(secret []byte) *Signer {
	s, _ := NewKeyring([]Key{{ID: 0, Secret: secret}})
	return s
}

// NewKeyring returns a signer over keys: the one with the highest id
// signs, all verify.
func NewKeyring(keys []Key) (*Signer, error) {
	s := &Signer{}
	if err := s.setKeys(keys); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Signer) setKeys(keys []Key) error {
	if len(keys) == 0 {
		return errors.New("token key ring is empty")
	}
	m := make(map[uint32][]byte, len(keys))
	sign := keys[0]
	for _, k := range keys {
		if len(k.Secret) == 0 {
			return fmt.Errorf("token key %d is empty", k.ID)
		}
		m[k.ID] = k.Secret
		if k.ID > sign.ID {
			sign = k
		}
	}
	s.mu.Lock()
	s.signing, s.keys = sign, m
	s.mu.Unlock()
	return nil
}

// SetLegacyIssued accepts tokens of the first format (made before key ids
// and generations) as if they were made at t: unsubscribe links until
// t+UnsubscribeLinkLifetime, preferences links until
// t+PreferencesLinkLifetime. Call it before serving.
func (s *Signer) SetLegacyIssued(t time.Time) { s.legacyIssued = t }

// SetReload makes Verify fetch the ring again through f when a token names
// an unknown key id (a rotation by another process), at most every 10 s.
// Call it before serving.
func (s *Signer) SetReload(f func() ([]Key, error)) { s.reload = f }

// SigningKey returns the id of the key that signs.
func (s *Signer) SigningKey() uint32 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.signing.ID
}

// Strict: a token has exactly one spelling (no ignored trailing bits).
var b64 = base64.RawURLEncoding.Strict()

// formatV1 starts the payload of a token with a key id and a generation.
// A first-format payload starts with the subscriber id as a uvarint, never
// 0 for a real subscriber (ids start at 1).
const formatV1 = 0

// Token returns a token naming subscriber id at link generation 0 for
// purpose, valid until expires (the zero time: no expiry).
func (s *Signer) Token(p Purpose, id int64, expires time.Time) string {
	return s.Sign(p, Claims{Subscriber: id, Expires: expires})
}

// Link returns the token of a link in a mail or a page made at now, with
// the lifetime of its purpose (LinkExpiry).
func (s *Signer) Link(p Purpose, id, generation int64, now time.Time) string {
	return s.Sign(p, Claims{Subscriber: id, Generation: generation, Expires: LinkExpiry(p, now)})
}

// Sign returns the token of c for purpose p, signed with the signing key
// (c.KeyID and c.Legacy are ignored).
//
// Format: base64url(payload) "." base64url(HMAC-SHA256(key, purpose 0x00
// payload)[:18]), payload = 0x00, uvarint key id, uvarint subscriber id,
// uvarint generation, varint expiry in Unix seconds (0: none).
func (s *Signer) Sign(p Purpose, c Claims) string {
	s.mu.RLock()
	k := s.signing
	s.mu.RUnlock()
	c.KeyID, c.Legacy = k.ID, false
	payload := encodePayload(c)
	return b64.EncodeToString(payload) + "." + b64.EncodeToString(mac(k.Secret, p, payload))
}

// encodePayload writes c in its format: the first one for a legacy claim
// (tests make those to stand for links mailed before the change).
func encodePayload(c Claims) []byte {
	payload := make([]byte, 0, 32)
	if c.Legacy {
		payload = binary.AppendUvarint(payload, uint64(c.Subscriber))
	} else {
		payload = append(payload, formatV1)
		payload = binary.AppendUvarint(payload, uint64(c.KeyID))
		payload = binary.AppendUvarint(payload, uint64(c.Subscriber))
		payload = binary.AppendUvarint(payload, uint64(c.Generation))
	}
	var exp int64
	if !c.Expires.IsZero() {
		exp = c.Expires.Unix()
	}
	return binary.AppendVarint(payload, exp)
}

func mac(key []byte, p Purpose, payload []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(p))
	h.Write([]byte{0})
	h.Write(payload)
	return h.Sum(nil)[:18]
}

// key returns the secret of key id, reloading the ring once if it is not
// known.
func (s *Signer) key(id uint32, now time.Time) []byte {
	s.mu.RLock()
	k, ok := s.keys[id]
	s.mu.RUnlock()
	if ok || s.reload == nil {
		return k
	}
	s.mu.Lock()
	due := now.Sub(s.lastReload) >= reloadEvery || now.Before(s.lastReload)
	if due {
		s.lastReload = now
	}
	s.mu.Unlock()
	if !due {
		return nil
	}
	if keys, err := s.reload(); err == nil {
		_ = s.setKeys(keys)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.keys[id]
}

// Verify checks a token for purpose p at time now and returns its claims.
// It does not know the subscriber's generation: Store.FindByToken checks
// that too.
func (s *Signer) Verify(p Purpose, token string, now time.Time) (Claims, error) {
	if len(token) > 100 {
		return Claims{}, ErrInvalidToken
	}
	// Only the URL-safe alphabet and one dot: Go's base64 decoder skips
	// CR and LF even in strict mode, which would give a token more than
	// one spelling.
	i := -1
	for j := 0; j < len(token); j++ {
		switch c := token[j]; {
		case c == '.' && i < 0:
			i = j
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return Claims{}, ErrInvalidToken
		}
	}
	if i <= 0 {
		return Claims{}, ErrInvalidToken
	}
	payload, err1 := b64.DecodeString(token[:i])
	sig, err2 := b64.DecodeString(token[i+1:])
	if err1 != nil || err2 != nil || len(payload) == 0 {
		return Claims{}, ErrInvalidToken
	}
	// One spelling per token: a varint written longer than it need be is
	// refused.
	c, ok := parsePayload(payload)
	if !ok || string(encodePayload(c)) != string(payload) {
		return Claims{}, ErrInvalidToken
	}
	key := s.key(c.KeyID, now)
	if key == nil || !hmac.Equal(sig, mac(key, p, payload)) {
		return Claims{}, ErrInvalidToken
	}
	if c.Legacy && c.Expires.IsZero() {
		// A first-format unsubscribe or preferences link: no expiry of
		// its own; it lives as if made at the upgrade.
		if s.legacyIssued.IsZero() {
			return Claims{}, ErrInvalidToken
		}
		c.Expires = LinkExpiry(p, s.legacyIssued)
		if c.Expires.IsZero() {
			return Claims{}, ErrInvalidToken
		}
	}
	if !c.Expires.IsZero() && now.Unix() > c.Expires.Unix() {
		return Claims{}, ErrExpiredToken
	}
	return c, nil
}

// parsePayload reads either format; every field must be there and nothing
// after it.
func parsePayload(b []byte) (Claims, bool) {
	var c Claims
	var fields []uint64
	var n int
	if b[0] == formatV1 {
		b = b[1:]
		fields = make([]uint64, 3) // key id, subscriber, generation
	} else {
		c.Legacy = true
		fields = make([]uint64, 1) // subscriber
	}
	for i := range fields {
		if fields[i], n = binary.Uvarint(b); n <= 0 {
			return c, false
		}
		b = b[n:]
	}
	exp, n := binary.Varint(b)
	if n <= 0 || n != len(b) {
		return c, false
	}
	if c.Legacy {
		c.Subscriber = int64(fields[0])
	} else {
		if fields[0] > 1<<32-1 {
			return c, false
		}
		c.KeyID, c.Subscriber, c.Generation = uint32(fields[0]), int64(fields[1]), int64(fields[2])
	}
	if exp != 0 {
		c.Expires = time.Unix(exp, 0)
	}
	return c, true
}
