package subscribers_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"bothsides/subscribers"
)

// FuzzVerifyDelivery checks delivery tokens against forgery: a string that
// verifies must be, up to letter case, exactly the token the signer makes
// for that edition and subscriber, and must not verify under another key;
// no link token verifies as one.
func FuzzVerifyDelivery(f *testing.F) {
	s := subscribers.NewSigner(fuzzKey)
	f.Add(s.DeliveryToken(1, 1))
	f.Add(s.DeliveryToken(1<<40, 123456789))
	f.Add(strings.ToUpper(s.DeliveryToken(7, 3)))
	f.Add(s.Token(subscribers.PurposeUnsubscribe, 1, time.Time{}))
	f.Add("")
	f.Add("aaaaaaaa")
	f.Add(strings.Repeat("a", 65))
	now := time.Unix(1_800_000_000, 0)
	other := subscribers.NewSigner([]byte("another key, same length.........."))
	f.Fuzz(func(t *testing.T, tok string) {
		e, sub, err := s.VerifyDelivery(tok, now)
		if err != nil {
			if !errors.Is(err, subscribers.ErrInvalidToken) {
				t.Fatalf("error %v is not ErrInvalidToken", err)
			}
			return
		}
		if want := s.DeliveryToken(e, sub); strings.ToLower(tok) != want {
			t.Fatalf("%q verified as edition %d subscriber %d, whose token is %q", tok, e, sub, want)
		}
		if _, _, err := other.VerifyDelivery(tok, now); err == nil {
			t.Fatalf("%q verified under another key", tok)
		}
		for _, p := range []subscribers.Purpose{subscribers.PurposeUnsubscribe, subscribers.PurposeConfirm, subscribers.PurposePreferences} {
			if _, err := s.Verify(p, tok, now); err == nil {
				t.Fatalf("delivery token %q verified as a %s link", tok, p)
			}
		}
	})
}

// FuzzVerifyDelivery_Tamper signs a delivery token and changes one
// character of it: the result must name nothing, unless the change was
// only of letter case.
func FuzzVerifyDelivery_Tamper(f *testing.F) {
	f.Add(int64(1), int64(1), uint8(0), byte('b'))
	f.Add(int64(1<<40), int64(99), uint8(20), byte('7'))
	f.Add(int64(3), int64(1<<50), uint8(5), byte('A'))
	s, _ := subscribers.NewKeyring([]subscribers.Key{{ID: 0, Secret: fuzzKey}, {ID: 3, Secret: []byte("the signing key, 32 bytes long..")}})
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, edition, sub int64, pos uint8, b byte) {
		edition, sub = edition&(1<<62-1), sub&(1<<62-1)
		tok := s.DeliveryToken(edition, sub)
		e, id, err := s.VerifyDelivery(tok, now)
		if err != nil || e != edition || id != sub {
			t.Fatalf("own token %q for %d/%d: got %d/%d, %v", tok, edition, sub, e, id, err)
		}
		i := int(pos) % len(tok)
		if strings.EqualFold(tok[i:i+1], string(b)) {
			return
		}
		bad := tok[:i] + string(b) + tok[i+1:]
		if e, id, err := s.VerifyDelivery(bad, now); err == nil {
			t.Fatalf("tampered %q (from %q) verified as %d/%d", bad, tok, e, id)
		}
	})
}

// BenchmarkDeliveryToken is the cost a bounce address adds to each message
// sent: one token made (and, when the report comes back, one verified).
func BenchmarkDeliveryToken(b *testing.B) {
	s := subscribers.NewSigner(fuzzKey)
	now := time.Unix(1_800_000_000, 0)
	b.Run("Make", func(b *testing.B) {
		for b.Loop() {
			s.DeliveryToken(1234, 567890)
		}
	})
	tok := s.DeliveryToken(1234, 567890)
	b.Run("Verify", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.VerifyDelivery(tok, now); err != nil {
				b.Fatal(err)
			}
		}
	})
}
