package subscribers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// ErrInvalidToken is returned for a token that is malformed, forged, for
// another purpose, or expired.
var ErrInvalidToken = errors.New("invalid or expired link")

// Purpose keeps a token for one action from being used for another.
type Purpose string

// The token purposes.
const (
	PurposeUnsubscribe Purpose = "unsubscribe"
	PurposeConfirm     Purpose = "confirm"
	PurposePreferences Purpose = "preferences"
)

// Signer makes and checks signed, URL-safe subscriber tokens.
type Signer struct {
	key []byte
}

// NewSigner returns a signer with the server secret key.
func NewSigner(key []byte) *Signer { return &Signer{key: key} }

// Strict: a token has exactly one spelling (no ignored trailing bits).
var b64 = base64.RawURLEncoding.Strict()

// Token returns a token naming subscriber id for purpose, valid until
// expires (the zero time: no expiry).
func (s *Signer) Token(p Purpose, id int64, expires time.Time) string {
	payload := make([]byte, 0, 20)
	payload = binary.AppendUvarint(payload, uint64(id))
	var exp int64
	if !expires.IsZero() {
		exp = expires.Unix()
	}
	payload = binary.AppendVarint(payload, exp)
	return b64.EncodeToString(payload) + "." + b64.EncodeToString(s.mac(p, payload))
}

func (s *Signer) mac(p Purpose, payload []byte) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(p))
	h.Write([]byte{0})
	h.Write(payload)
	return h.Sum(nil)[:18]
}

// Verify checks a token for purpose p at time now and returns its subscriber id.
func (s *Signer) Verify(p Purpose, token string, now time.Time) (int64, error) {
	if len(token) > 100 {
		return 0, ErrInvalidToken
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
			return 0, ErrInvalidToken
		}
	}
	if i <= 0 {
		return 0, ErrInvalidToken
	}
	payload, err1 := b64.DecodeString(token[:i])
	sig, err2 := b64.DecodeString(token[i+1:])
	if err1 != nil || err2 != nil {
		return 0, ErrInvalidToken
	}
	if !hmac.Equal(sig, s.mac(p, payload)) {
		return 0, ErrInvalidToken
	}
	id, n := binary.Uvarint(payload)
	if n <= 0 {
		return 0, ErrInvalidToken
	}
	exp, m := binary.Varint(payload[n:])
	if m <= 0 || n+m != len(payload) {
		return 0, ErrInvalidToken
	}
	if exp != 0 && now.Unix() > exp {
		return 0, ErrInvalidToken
	}
	return int64(id), nil
}
