package subscribers_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"bothsides/internal/testsupport"
	"bothsides/subscribers"
)

func TestSigner_Verify(t *testing.T) {
	now := time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC)
	s := subscribers.NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	tok := s.Token(subscribers.PurposeUnsubscribe, 42, time.Time{})

	t.Run("OK", func(t *testing.T) {
		c, err := s.Verify(subscribers.PurposeUnsubscribe, tok, now)
		if err != nil || c.Subscriber != 42 || c.Generation != 0 || c.KeyID != 0 || c.Legacy {
			t.Fatalf("Verify=%+v, %v", c, err)
		}
	})
	t.Run("Generation", func(t *testing.T) {
		c, err := s.Verify(subscribers.PurposePreferences, s.Link(subscribers.PurposePreferences, 42, 7, now), now)
		if err != nil || c.Subscriber != 42 || c.Generation != 7 {
			t.Fatalf("Verify=%+v, %v", c, err)
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
			if c, err := s.Verify(subscribers.PurposeUnsubscribe, string(b), now); err == nil {
				t.Errorf("flipped byte %d: Verify accepted it (%+v)", i, c)
			}
		}
	})
	t.Run("Expired", func(t *testing.T) {
		c := s.Token(subscribers.PurposeConfirm, 7, now.Add(48*time.Hour))
		if _, err := s.Verify(subscribers.PurposeConfirm, c, now.Add(47*time.Hour)); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
		if _, err := s.Verify(subscribers.PurposeConfirm, c, now.Add(48*time.Hour+time.Second)); !errors.Is(err, subscribers.ErrExpiredToken) {
			t.Fatalf("after expiry err=%v, want ErrExpiredToken", err)
		}
	})
	t.Run("Lifetimes", func(t *testing.T) {
		day := 24 * time.Hour
		for _, c := range []struct {
			p          subscribers.Purpose
			ok, refuse time.Duration
		}{
			{subscribers.PurposeUnsubscribe, 90 * day, 90*day + time.Second},
			{subscribers.PurposePreferences, 30 * day, 30*day + time.Second},
		} {
			tok := s.Link(c.p, 42, 0, now)
			if _, err := s.Verify(c.p, tok, now.Add(c.ok)); err != nil {
				t.Errorf("%s link at %v: %v", c.p, c.ok, err)
			}
			if _, err := s.Verify(c.p, tok, now.Add(c.refuse)); !errors.Is(err, subscribers.ErrExpiredToken) {
				t.Errorf("%s link at %v: err=%v, want ErrExpiredToken", c.p, c.refuse, err)
			}
		}
	})
}

// TestSigner_Rotation: after a rotation the new key signs, with its id in
// the token, and links signed by the old key still verify until it is
// retired.
func TestSigner_Rotation(t *testing.T) {
	now := testsupport.Epoch
	k0 := subscribers.Key{ID: 0, Secret: []byte("the first key, thirty-two bytes.")}
	k1 := subscribers.Key{ID: 1, Secret: []byte("the second key, thirty-two bytes")}
	old := subscribers.NewSigner(k0.Secret)
	oldTok := old.Link(subscribers.PurposeUnsubscribe, 5, 0, now)
	ring, err := subscribers.NewKeyring([]subscribers.Key{k1, k0})
	if err != nil {
		t.Fatal(err)
	}
	if got := ring.SigningKey(); got != 1 {
		t.Fatalf("SigningKey=%d, want 1", got)
	}
	c, err := ring.Verify(subscribers.PurposeUnsubscribe, oldTok, now)
	if err != nil || c.KeyID != 0 || c.Subscriber != 5 {
		t.Fatalf("old link: %+v, %v", c, err)
	}
	newTok := ring.Link(subscribers.PurposeUnsubscribe, 5, 0, now)
	if c, err = ring.Verify(subscribers.PurposeUnsubscribe, newTok, now); err != nil || c.KeyID != 1 {
		t.Fatalf("new link: %+v, %v", c, err)
	}
	if _, err := old.Verify(subscribers.PurposeUnsubscribe, newTok, now); !errors.Is(err, subscribers.ErrInvalidToken) {
		t.Fatalf("new link under the old key alone: err=%v", err)
	}
	retired, _ := subscribers.NewKeyring([]subscribers.Key{k1})
	if _, err := retired.Verify(subscribers.PurposeUnsubscribe, oldTok, now); !errors.Is(err, subscribers.ErrInvalidToken) {
		t.Fatalf("old link after its key was retired: err=%v", err)
	}
	// A key id in the token is signed: relabelling a key-1 token as key 0
	// does not verify under key 0.
	forged := subscribers.NewSigner(k1.Secret).Link(subscribers.PurposeUnsubscribe, 5, 0, now)
	if _, err := ring.Verify(subscribers.PurposeUnsubscribe, forged, now); !errors.Is(err, subscribers.ErrInvalidToken) {
		t.Fatalf("key 1's secret under id 0: err=%v", err)
	}
}

// TestSigner_Legacy: links of the first format (mailed before key ids)
// verify as key 0, generation 0, for the lifetimes counted from the
// upgrade, and not at all without a legacy window.
func TestSigner_Legacy(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	upgraded := testsupport.Epoch
	s := subscribers.NewSigner(key)
	unsub := testsupport.LegacyToken(key, "unsubscribe", 9, 0)
	if _, err := s.Verify(subscribers.PurposeUnsubscribe, unsub, upgraded); !errors.Is(err, subscribers.ErrInvalidToken) {
		t.Fatalf("legacy link without a window: err=%v", err)
	}
	s.SetLegacyIssued(upgraded)
	c, err := s.Verify(subscribers.PurposeUnsubscribe, unsub, upgraded.Add(90*24*time.Hour))
	if err != nil || !c.Legacy || c.Subscriber != 9 || c.Generation != 0 || c.KeyID != 0 {
		t.Fatalf("legacy unsubscribe at day 90: %+v, %v", c, err)
	}
	if _, err := s.Verify(subscribers.PurposeUnsubscribe, unsub, upgraded.Add(91*24*time.Hour)); !errors.Is(err, subscribers.ErrExpiredToken) {
		t.Fatalf("legacy unsubscribe at day 91: err=%v", err)
	}
	prefs := testsupport.LegacyToken(key, "preferences", 9, 0)
	if _, err := s.Verify(subscribers.PurposePreferences, prefs, upgraded.Add(31*24*time.Hour)); !errors.Is(err, subscribers.ErrExpiredToken) {
		t.Fatalf("legacy preferences at day 31: err=%v", err)
	}
	confirm := testsupport.LegacyToken(key, "confirm", 9, upgraded.Add(time.Hour).Unix())
	if _, err := s.Verify(subscribers.PurposeConfirm, confirm, upgraded); err != nil {
		t.Fatalf("legacy confirm within its own expiry: %v", err)
	}
}

// TestKeys_Rotate: the stored ring through RotateKey and RetireKey, and a
// signer that reloads the ring when it meets a key made by another
// process.
func TestKeys_Rotate(t *testing.T) {
	ctx := context.Background()
	db, _ := testsupport.MustOpenDB(t)
	serving, err := subscribers.NewSignerFrom(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	before := serving.Link(subscribers.PurposeUnsubscribe, 3, 0, db.Now())
	id, err := subscribers.RotateKey(ctx, db)
	if err != nil || id != 1 {
		t.Fatalf("RotateKey=%d, %v", id, err)
	}
	sending, err := subscribers.NewSignerFrom(ctx, db) // as a later `send` would
	if err != nil {
		t.Fatal(err)
	}
	after := sending.Link(subscribers.PurposeUnsubscribe, 3, 0, db.Now())
	for name, tok := range map[string]string{"before": before, "after": after} {
		if _, err := serving.Verify(subscribers.PurposeUnsubscribe, tok, db.Now()); err != nil {
			t.Errorf("running signer, link made %s the rotation: %v", name, err)
		}
		if _, err := sending.Verify(subscribers.PurposeUnsubscribe, tok, db.Now()); err != nil {
			t.Errorf("new signer, link made %s the rotation: %v", name, err)
		}
	}
	if err := subscribers.RetireKey(ctx, db, 1); !errors.Is(err, subscribers.ErrKeyInUse) {
		t.Fatalf("retire the signing key: err=%v", err)
	}
	if err := subscribers.RetireKey(ctx, db, 0); err != nil {
		t.Fatal(err)
	}
	if id, err := subscribers.RotateKey(ctx, db); err != nil || id != 2 {
		t.Fatalf("second RotateKey=%d, %v", id, err)
	}
	keys, err := subscribers.ListKeys(ctx, db)
	if err != nil || len(keys) != 2 || keys[0].ID != 1 || keys[0].Signing || keys[1].ID != 2 || !keys[1].Signing || keys[1].Created.IsZero() {
		t.Fatalf("ListKeys=%+v, %v", keys, err)
	}
	fresh, _ := subscribers.NewSignerFrom(ctx, db)
	if _, err := fresh.Verify(subscribers.PurposeUnsubscribe, before, db.Now()); !errors.Is(err, subscribers.ErrInvalidToken) {
		t.Fatalf("link of a retired key: err=%v", err)
	}
	if _, err := fresh.Verify(subscribers.PurposeUnsubscribe, after, db.Now()); err != nil {
		t.Fatalf("link of key 1 after key 2 came: %v", err)
	}
}

// TestKeys_Key0FromFile: with key 0 given (the operator's secret file), the
// database holds no key 0, links signed with it verify, a signer over the
// database alone refuses them, and keys added by rotation join the ring.
func TestKeys_Key0FromFile(t *testing.T) {
	ctx := context.Background()
	db, _ := testsupport.MustOpenDB(t)
	key0 := bytes.Repeat([]byte{7}, 32)
	s, err := subscribers.NewSignerWithKey0(ctx, db, key0)
	if err != nil {
		t.Fatal(err)
	}
	link := s.Link(subscribers.PurposeUnsubscribe, 5, 0, db.Now())
	var n int
	if err := db.R.QueryRow(`SELECT COUNT(*) FROM settings WHERE key = 'token_secret'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("token_secret rows=%d, %v; want none with key 0 from a file", n, err)
	}
	if c, err := s.Verify(subscribers.PurposeUnsubscribe, link, db.Now()); err != nil || c.Subscriber != 5 {
		t.Fatalf("Verify=%+v, %v", c, err)
	}
	dbOnly, err := subscribers.NewSignerFrom(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dbOnly.Verify(subscribers.PurposeUnsubscribe, link, db.Now()); !errors.Is(err, subscribers.ErrInvalidToken) {
		t.Fatalf("database-only signer on a file-key link: err=%v, want ErrInvalidToken", err)
	}
	if _, err := subscribers.RotateKey(ctx, db); err != nil {
		t.Fatal(err)
	}
	rotated, err := subscribers.NewSignerWithKey0(ctx, db, key0)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.SigningKey() != 1 {
		t.Fatalf("signing key %d after a rotation, want 1", rotated.SigningKey())
	}
	if _, err := rotated.Verify(subscribers.PurposeUnsubscribe, link, db.Now()); err != nil {
		t.Fatalf("file-key link after a rotation: %v", err)
	}
}
