package subscribers_test

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"bothsides/subscribers"
)

var fuzzKey = []byte("0123456789abcdef0123456789abcdef")

// FuzzVerify checks the signed tokens against forgery: any string that
// verifies must be exactly the token the signer makes for that subscriber
// (one spelling per token), for that purpose only, and only under the key.
func FuzzVerify(f *testing.F) {
	s := subscribers.NewSigner(fuzzKey)
	f.Add(s.Token(subscribers.PurposeUnsubscribe, 42, time.Time{}))
	f.Add(s.Token(subscribers.PurposeConfirm, 1, time.Unix(1_900_000_000, 0)))
	f.Add(s.Token(subscribers.PurposePreferences, -1, time.Unix(1, 0)))
	f.Add("")
	f.Add(".")
	f.Add("AQA.")
	f.Add("AQA.AAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add(strings.Repeat("A", 101))
	now := time.Unix(1_800_000_000, 0)
	other := subscribers.NewSigner([]byte("another key, same length.........."))
	f.Fuzz(func(t *testing.T, tok string) {
		for _, p := range []subscribers.Purpose{subscribers.PurposeUnsubscribe, subscribers.PurposeConfirm, subscribers.PurposePreferences} {
			id, err := s.Verify(p, tok, now)
			if err != nil {
				if !errors.Is(err, subscribers.ErrInvalidToken) {
					t.Fatalf("error %v is not ErrInvalidToken", err)
				}
				continue
			}
			// It verified: it must be the one spelling the signer makes.
			payload, _ := base64.RawURLEncoding.DecodeString(tok[:strings.IndexByte(tok, '.')])
			_, n := binary.Uvarint(payload)
			exp, _ := binary.Varint(payload[n:])
			var expires time.Time
			if exp != 0 {
				expires = time.Unix(exp, 0)
			}
			if want := s.Token(p, id, expires); tok != want {
				t.Fatalf("%q verified as subscriber %d (%s) but the token is %q", tok, id, p, want)
			}
			if _, err := other.Verify(p, tok, now); err == nil {
				t.Fatalf("%q verified under another key", tok)
			}
		}
	})
}

// FuzzVerify_Tamper signs a token and changes one byte of it: the result
// must never verify, for any purpose.
func FuzzVerify_Tamper(f *testing.F) {
	f.Add(int64(1), int64(0), uint8(0), byte('A'))
	f.Add(int64(1<<40), int64(1_900_000_000), uint8(30), byte('.'))
	f.Add(int64(-7), int64(-1), uint8(5), byte('_'))
	s := subscribers.NewSigner(fuzzKey)
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, id, exp int64, pos uint8, b byte) {
		var expires time.Time
		if exp != 0 {
			expires = time.Unix(exp, 0)
		}
		tok := s.Token(subscribers.PurposeUnsubscribe, id, expires)
		got, err := s.Verify(subscribers.PurposeUnsubscribe, tok, now)
		if expires.IsZero() || now.Unix() <= exp {
			if err != nil || got != id {
				t.Fatalf("own token %q for %d: got %d, %v", tok, id, got, err)
			}
		} else if err == nil {
			t.Fatalf("expired token %q (exp %d) verified", tok, exp)
		}
		i := int(pos) % len(tok)
		if tok[i] == b {
			return
		}
		forged := tok[:i] + string(b) + tok[i+1:]
		for _, p := range []subscribers.Purpose{subscribers.PurposeUnsubscribe, subscribers.PurposeConfirm, subscribers.PurposePreferences} {
			if id2, err := s.Verify(p, forged, now); err == nil {
				t.Fatalf("forged %q (from %q) verified as %d for %s", forged, tok, id2, p)
			}
		}
	})
}
