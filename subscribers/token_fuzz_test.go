package subscribers_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"bothsides/internal/testsupport"
	"bothsides/subscribers"
)

var fuzzKey = []byte("0123456789abcdef0123456789abcdef")

// FuzzVerify checks the signed tokens against forgery: any string that
// verifies must be exactly the token the signer makes for that subscriber
// (one spelling per token), for that purpose only, and only under the key.
func FuzzVerify(f *testing.F) {
	s := subscribers.NewSigner(fuzzKey)
	s.SetLegacyIssued(time.Unix(1_799_000_000, 0))
	f.Add(s.Token(subscribers.PurposeUnsubscribe, 42, time.Time{}))
	f.Add(s.Token(subscribers.PurposeConfirm, 1, time.Unix(1_900_000_000, 0)))
	f.Add(s.Token(subscribers.PurposePreferences, -1, time.Unix(1, 0)))
	f.Add(s.Link(subscribers.PurposeUnsubscribe, 7, 3, time.Unix(1_799_000_000, 0)))
	f.Add(testsupport.LegacyToken(fuzzKey, "unsubscribe", 42, 0))
	f.Add("")
	f.Add(".")
	f.Add("AQA.")
	f.Add("AQA.AAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add(strings.Repeat("A", 101))
	now := time.Unix(1_800_000_000, 0)
	other := subscribers.NewSigner([]byte("another key, same length.........."))
	f.Fuzz(func(t *testing.T, tok string) {
		for _, p := range []subscribers.Purpose{subscribers.PurposeUnsubscribe, subscribers.PurposeConfirm, subscribers.PurposePreferences} {
			c, err := s.Verify(p, tok, now)
			if err != nil {
				if !errors.Is(err, subscribers.ErrInvalidToken) {
					t.Fatalf("error %v is not ErrInvalidToken", err)
				}
				continue
			}
			// It verified: it must be the one spelling the signer makes.
			if c.Legacy {
				// A link of the first format: its own expiry, or none (the
				// legacy window's then).
				if tok != testsupport.LegacyToken(fuzzKey, string(p), c.Subscriber, 0) &&
					tok != testsupport.LegacyToken(fuzzKey, string(p), c.Subscriber, c.Expires.Unix()) {
					t.Fatalf("%q verified as legacy %+v (%s) but is not its one spelling", tok, c, p)
				}
			} else if want := s.Sign(p, c); tok != want {
				t.Fatalf("%q verified as %+v (%s) but the token is %q", tok, c, p, want)
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
	f.Add(int64(1), int64(0), int64(0), uint8(0), byte('A'))
	f.Add(int64(1<<40), int64(5), int64(1_900_000_000), uint8(30), byte('.'))
	f.Add(int64(-7), int64(-1), int64(-1), uint8(5), byte('_'))
	s, _ := subscribers.NewKeyring([]subscribers.Key{{ID: 0, Secret: fuzzKey}, {ID: 3, Secret: []byte("the signing key, 32 bytes long..")}})
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, id, gen, exp int64, pos uint8, b byte) {
		var expires time.Time
		if exp != 0 {
			expires = time.Unix(exp, 0)
		}
		tok := s.Sign(subscribers.PurposeUnsubscribe, subscribers.Claims{Subscriber: id, Generation: gen, Expires: expires})
		got, err := s.Verify(subscribers.PurposeUnsubscribe, tok, now)
		if expires.IsZero() || now.Unix() <= exp {
			if err != nil || got.Subscriber != id || got.Generation != gen || got.KeyID != 3 {
				t.Fatalf("own token %q for %d/%d: got %+v, %v", tok, id, gen, got, err)
			}
		} else if !errors.Is(err, subscribers.ErrExpiredToken) {
			t.Fatalf("expired token %q (exp %d): err %v", tok, exp, err)
		}
		i := int(pos) % len(tok)
		if tok[i] == b {
			return
		}
		forged := tok[:i] + string(b) + tok[i+1:]
		for _, p := range []subscribers.Purpose{subscribers.PurposeUnsubscribe, subscribers.PurposeConfirm, subscribers.PurposePreferences} {
			if c, err := s.Verify(p, forged, now); err == nil {
				t.Fatalf("forged %q (from %q) verified as %+v for %s", forged, tok, c, p)
			}
		}
	})
}
