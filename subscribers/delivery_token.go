package subscribers

import (
	"crypto/hmac"
	"encoding/base32"
	"encoding/binary"
	"time"
)

// PurposeDelivery is the purpose of a delivery token: the value in a VERP
// envelope sender and in the signed header of an edition message, naming
// one edition and one subscriber. A link token never verifies as one, nor
// the other way round: the purpose is in the MAC and the formats differ.
const PurposeDelivery Purpose = "delivery"

// deliveryMACLen is the length of a delivery token's MAC: 80 bits, enough
// against guessing by mail (each guess is one message to the bounce
// address), short enough to keep the envelope sender's local part small.
const deliveryMACLen = 10

// b32 spells delivery tokens in lower-case letters and digits only, so
// that a token survives an MTA that lower-cases local parts.
var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// DeliveryToken returns the delivery token naming edition and subscriber,
// signed with the signing key. It does not expire: a report can come back
// weeks later. Retiring the key that signed it makes it match nothing.
//
// Format: base32 in lower case, no padding, of payload then
// HMAC-SHA256(key, "delivery" 0x00 payload)[:10], payload = uvarint key
// id, uvarint edition id, uvarint subscriber id. About 26 characters.
func (s *Signer) DeliveryToken(edition, subscriber int64) string {
	s.mu.RLock()
	k := s.signing
	s.mu.RUnlock()
	payload := deliveryPayload(k.ID, edition, subscriber)
	return b32.EncodeToString(append(payload, mac(k.Secret, PurposeDelivery, payload)[:deliveryMACLen]...))
}

func deliveryPayload(key uint32, edition, subscriber int64) []byte {
	p := make([]byte, 0, 16+deliveryMACLen)
	p = binary.AppendUvarint(p, uint64(key))
	p = binary.AppendUvarint(p, uint64(edition))
	return binary.AppendUvarint(p, uint64(subscriber))
}

// VerifyDelivery checks a delivery token and returns the edition and
// subscriber it names. A malformed, altered or forged token, or one signed
// by a retired key, is ErrInvalidToken. Upper case is read as lower case
// (some MTAs change the case of a local part); now is for reloading the key
// ring after a rotation by another process.
func (s *Signer) VerifyDelivery(token string, now time.Time) (edition, subscriber int64, err error) {
	if len(token) < 8 || len(token) > 64 {
		return 0, 0, ErrInvalidToken
	}
	b := []byte(token)
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case c >= 'a' && c <= 'z', c >= '2' && c <= '7':
		default:
			return 0, 0, ErrInvalidToken
		}
	}
	raw, derr := b32.DecodeString(string(b))
	// One spelling per token: trailing bits that decoding ignores are refused.
	if derr != nil || len(raw) <= deliveryMACLen || b32.EncodeToString(raw) != string(b) {
		return 0, 0, ErrInvalidToken
	}
	payload, sig := raw[:len(raw)-deliveryMACLen], raw[len(raw)-deliveryMACLen:]
	var fields [3]uint64
	rest := payload
	for i := range fields {
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			return 0, 0, ErrInvalidToken
		}
		fields[i], rest = v, rest[n:]
	}
	if len(rest) != 0 || fields[0] > 1<<32-1 || fields[1] > 1<<62 || fields[2] > 1<<62 {
		return 0, 0, ErrInvalidToken
	}
	keyID := uint32(fields[0])
	if string(deliveryPayload(keyID, int64(fields[1]), int64(fields[2]))) != string(payload) {
		return 0, 0, ErrInvalidToken // a varint written longer than it need be
	}
	key := s.key(keyID, now)
	if key == nil || !hmac.Equal(sig, mac(key, PurposeDelivery, payload)[:deliveryMACLen]) {
		return 0, 0, ErrInvalidToken
	}
	return int64(fields[1]), int64(fields[2]), nil
}
