package subscribers_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"bothsides/internal/testsupport"
	"bothsides/subscribers"
)

func TestStore_SignUp(t *testing.T) {
	ctx := context.Background()
	cfg := subscribers.SignUpConfig{PendingExpiry: 48 * time.Hour,
		PerAddress: subscribers.Limit{N: 2, Window: 24 * time.Hour},
		PerNetwork: subscribers.Limit{N: 5, Window: time.Hour}}

	t.Run("NewThenConfirm", func(t *testing.T) {
		db, _ := testsupport.MustOpenDB(t)
		s := subscribers.NewStore(db)
		sub, out, err := s.SignUp(ctx, subscribers.SignUp{Email: "New@Example.com", Name: "Nia", Timezone: "Europe/Berlin",
			Topics: []string{"Economy"}, Network: "192.0.2.1"}, cfg)
		if err != nil || out != subscribers.SignUpConfirm {
			t.Fatalf("SignUp=%v, %v", out, err)
		}
		if sub.Status != subscribers.StatusPending || sub.Source != "signup" || sub.ConfirmSentAt.IsZero() || sub.Timezone != "Europe/Berlin" {
			t.Fatalf("pending=%+v", sub)
		}
		got, err := s.Confirm(ctx, sub.ID, cfg)
		if err != nil || got.Status != subscribers.StatusActive || got.ConfirmedAt.IsZero() || !got.ConfirmSentAt.IsZero() {
			t.Fatalf("Confirm=%+v, %v", got, err)
		}
		// Confirming twice is fine.
		if got, err := s.Confirm(ctx, sub.ID, cfg); err != nil || got.Status != subscribers.StatusActive {
			t.Fatalf("Confirm again=%+v, %v", got, err)
		}
		// Signing up again while active mails a note, changes nothing.
		again, out, err := s.SignUp(ctx, subscribers.SignUp{Email: "new@example.com", Name: "Mallory"}, cfg)
		if err != nil || out != subscribers.SignUpAlreadyActive || again.Name != "Nia" {
			t.Fatalf("SignUp active=%+v, %v, %v", again, out, err)
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		db, _ := testsupport.MustOpenDB(t)
		s := subscribers.NewStore(db)
		for _, in := range []subscribers.SignUp{
			{Email: "not an address"},
			{Email: "a@example.com\r\nBcc: b@example.com"},
			{Email: "a@example.com", Name: "A\r\nBcc: b@example.com"},
			{Email: "a@example.com", Timezone: "Mars/Base"},
		} {
			if _, _, err := s.SignUp(ctx, in, cfg); !errors.Is(err, subscribers.ErrInvalid) && !errors.Is(err, subscribers.ErrInvalidAddress) {
				t.Errorf("SignUp(%+v) err=%v", in, err)
			}
		}
	})
	t.Run("PerAddressLimit", func(t *testing.T) {
		db, clock := testsupport.MustOpenDB(t)
		s := subscribers.NewStore(db)
		outs := []subscribers.SignUpOutcome{}
		for i := 0; i < 3; i++ {
			_, out, err := s.SignUp(ctx, subscribers.SignUp{Email: "x@example.com", Network: "192.0.2.1"}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, out)
		}
		if outs[0] != subscribers.SignUpConfirm || outs[1] != subscribers.SignUpConfirm || outs[2] != subscribers.SignUpNothing {
			t.Fatalf("outcomes=%v, want confirm confirm nothing", outs)
		}
		clock.Advance(24*time.Hour + time.Second)
		if _, out, err := s.SignUp(ctx, subscribers.SignUp{Email: "x@example.com"}, cfg); err != nil || out != subscribers.SignUpConfirm {
			t.Fatalf("after the window: %v, %v", out, err)
		}
	})
	t.Run("PerNetworkLimit", func(t *testing.T) {
		db, clock := testsupport.MustOpenDB(t)
		s := subscribers.NewStore(db)
		for i := 0; i < 5; i++ {
			if _, _, err := s.SignUp(ctx, subscribers.SignUp{Email: string(rune('a'+i)) + "@example.com", Network: "2001:db8::/64"}, cfg); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := s.SignUp(ctx, subscribers.SignUp{Email: "z@example.com", Network: "2001:db8::/64"}, cfg); !errors.Is(err, subscribers.ErrRateLimited) {
			t.Fatalf("6th err=%v, want ErrRateLimited", err)
		}
		if _, err := s.FindByEmail(ctx, "z@example.com"); !errors.Is(err, subscribers.ErrNotFound) {
			t.Fatalf("a limited sign-up was stored: %v", err)
		}
		if _, _, err := s.SignUp(ctx, subscribers.SignUp{Email: "z@example.com", Network: "198.51.100.7"}, cfg); err != nil {
			t.Fatalf("other network: %v", err)
		}
		clock.Advance(time.Hour + time.Second)
		if _, _, err := s.SignUp(ctx, subscribers.SignUp{Email: "y@example.com", Network: "2001:db8::/64"}, cfg); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
	t.Run("ConfirmExpired", func(t *testing.T) {
		db, clock := testsupport.MustOpenDB(t)
		s := subscribers.NewStore(db)
		sub, _, err := s.SignUp(ctx, subscribers.SignUp{Email: "late@example.com"}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := subscribers.ConfirmExpires(sub, cfg); !got.Equal(clock.Now().Add(48 * time.Hour)) {
			t.Fatalf("ConfirmExpires=%v", got)
		}
		clock.Advance(48*time.Hour + time.Second)
		if _, err := s.Confirm(ctx, sub.ID, cfg); !errors.Is(err, subscribers.ErrInvalidToken) {
			t.Fatalf("Confirm expired err=%v", err)
		}
		n, err := s.ExpirePending(ctx, cfg.PendingExpiry)
		if err != nil || n != 1 {
			t.Fatalf("ExpirePending=%d, %v", n, err)
		}
		if _, err := s.Find(ctx, sub.ID); !errors.Is(err, subscribers.ErrNotFound) {
			t.Fatalf("expired sign-up kept: %v", err)
		}
		if _, err := s.Confirm(ctx, sub.ID, cfg); !errors.Is(err, subscribers.ErrInvalidToken) {
			t.Fatalf("Confirm deleted err=%v", err)
		}
	})
	t.Run("Unsubscribed", func(t *testing.T) {
		db, _ := testsupport.MustOpenDB(t)
		s := subscribers.NewStore(db)
		old := mustAdd(t, s, "back@example.com", "Bea")
		if err := s.Unsubscribe(ctx, old.ID); err != nil {
			t.Fatal(err)
		}
		sub, out, err := s.SignUp(ctx, subscribers.SignUp{Email: "back@example.com", Name: "Mallory"}, cfg)
		if err != nil || out != subscribers.SignUpConfirm {
			t.Fatalf("SignUp=%v, %v", out, err)
		}
		if sub.Status != subscribers.StatusUnsubscribed || sub.Name != "Bea" {
			t.Fatalf("before confirming: %+v", sub)
		}
		got, err := s.Confirm(ctx, sub.ID, cfg)
		if err != nil || got.Status != subscribers.StatusActive || !got.UnsubscribedAt.IsZero() {
			t.Fatalf("Confirm=%+v, %v", got, err)
		}
		// An old confirmation link cannot undo a later unsubscribe.
		if err := s.Unsubscribe(ctx, sub.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Confirm(ctx, sub.ID, cfg); !errors.Is(err, subscribers.ErrInvalidToken) {
			t.Fatalf("Confirm after unsubscribe err=%v", err)
		}
	})
	t.Run("Complained", func(t *testing.T) {
		db, _ := testsupport.MustOpenDB(t)
		s := subscribers.NewStore(db)
		c := mustAdd(t, s, "spam@example.com", "")
		if err := s.SetStatus(ctx, c.ID, subscribers.StatusComplained); err != nil {
			t.Fatal(err)
		}
		if _, out, err := s.SignUp(ctx, subscribers.SignUp{Email: "spam@example.com"}, cfg); err != nil || out != subscribers.SignUpNothing {
			t.Fatalf("SignUp complained=%v, %v", out, err)
		}
	})
}
