package subscribers_test

import (
	"errors"
	"testing"
	"time"

	"bothsides/subscribers"
)

func TestSigner_Verify(t *testing.T) {
	now := time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC)
	s := subscribers.NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	tok := s.Token(subscribers.PurposeUnsubscribe, 42, time.Time{})

	t.Run("OK", func(t *testing.T) {
		id, err := s.Verify(subscribers.PurposeUnsubscribe, tok, now)
		if err != nil || id != 42 {
			t.Fatalf("Verify=%d, %v", id, err)
		}
	})
	t.Run("OtherPurpose", func(t *testing.T) {
		for _, p := range []subscribers.Purpose{subscribers.PurposeConfirm, subscribers.PurposePreferences} {
			if _, err := s.Verify(p, tok, now); !errors.Is(err, subscribers.ErrInvalidToken) {
				t.Fatalf("Verify(%s) err=%v, want ErrInvalidToken", p, err)
			}
		}
	})
	t.Run("Tampered", func(t *testing.T) {
		other := s.Token(subscribers.PurposeUnsubscribe, 43, time.Time{})
		dot := func(x string) int {
			for i := range x {
				if x[i] == '.' {
					return i
				}
			}
			return -1
		}
		swapped := other[:dot(other)] + tok[dot(tok):] // id 43 with 42's signature
		for _, bad := range []string{"", ".", "abc", tok + "x", tok[:len(tok)-1], "x" + tok, swapped,
			subscribers.NewSigner([]byte("another secret")).Token(subscribers.PurposeUnsubscribe, 42, time.Time{})} {
			if _, err := s.Verify(subscribers.PurposeUnsubscribe, bad, now); !errors.Is(err, subscribers.ErrInvalidToken) {
				t.Errorf("Verify(%q) err=%v, want ErrInvalidToken", bad, err)
			}
		}
		// Flip every character once.
		for i := range tok {
			b := []byte(tok)
			if b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			if id, err := s.Verify(subscribers.PurposeUnsubscribe, string(b), now); err == nil {
				t.Errorf("flipped byte %d: Verify accepted it (id %d)", i, id)
			}
		}
	})
	t.Run("Expired", func(t *testing.T) {
		c := s.Token(subscribers.PurposeConfirm, 7, now.Add(48*time.Hour))
		if _, err := s.Verify(subscribers.PurposeConfirm, c, now.Add(47*time.Hour)); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
		if _, err := s.Verify(subscribers.PurposeConfirm, c, now.Add(48*time.Hour+time.Second)); !errors.Is(err, subscribers.ErrInvalidToken) {
			t.Fatalf("after expiry err=%v, want ErrInvalidToken", err)
		}
	})
}
