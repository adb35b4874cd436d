package subscribers_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"bothsides/internal/testsupport"
	"bothsides/subscribers"
)

func TestStore_FindByToken(t *testing.T) {
	ctx := context.Background()
	db, clock := testsupport.MustOpenDB(t)
	s := subscribers.NewStore(db)
	signer, err := subscribers.NewSignerFrom(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	sub := mustAdd(t, s, "links@example.com", "")
	tok := signer.Link(subscribers.PurposePreferences, sub.ID, sub.LinkGeneration, clock.Now())

	t.Run("OK", func(t *testing.T) {
		got, err := s.FindByToken(ctx, signer, subscribers.PurposePreferences, tok, clock.Now())
		if err != nil || got.ID != sub.ID {
			t.Fatalf("FindByToken=%+v, %v", got, err)
		}
	})
	t.Run("ErrRevoked", func(t *testing.T) {
		bumped, err := s.RevokeLinks(ctx, sub.ID)
		if err != nil || bumped.LinkGeneration != 1 {
			t.Fatalf("RevokeLinks=%+v, %v", bumped, err)
		}
		if _, err := s.FindByToken(ctx, signer, subscribers.PurposePreferences, tok, clock.Now()); !errors.Is(err, subscribers.ErrInvalidToken) {
			t.Fatalf("revoked link: err=%v, want ErrInvalidToken", err)
		}
		fresh := signer.Link(subscribers.PurposePreferences, sub.ID, bumped.LinkGeneration, clock.Now())
		if _, err := s.FindByToken(ctx, signer, subscribers.PurposePreferences, fresh, clock.Now()); err != nil {
			t.Fatalf("link of the new generation: %v", err)
		}
		if _, err := s.RevokeLinks(ctx, 99999); !errors.Is(err, subscribers.ErrNotFound) {
			t.Fatalf("RevokeLinks(unknown) err=%v", err)
		}
	})
	t.Run("ErrExpired", func(t *testing.T) {
		cur, _ := s.Find(ctx, sub.ID)
		fresh := signer.Link(subscribers.PurposePreferences, sub.ID, cur.LinkGeneration, clock.Now())
		if _, err := s.FindByToken(ctx, signer, subscribers.PurposePreferences, fresh, clock.Now().Add(31*24*time.Hour)); !errors.Is(err, subscribers.ErrExpiredToken) {
			t.Fatalf("31-day-old preferences link: err=%v, want ErrExpiredToken", err)
		}
	})
}

// TestStore_Resubscribe: only an unsubscribed reader comes back with a
// click; bounced, complained and pending ones need a fresh double opt-in.
func TestStore_Resubscribe(t *testing.T) {
	ctx := context.Background()
	db, _ := testsupport.MustOpenDB(t)
	s := subscribers.NewStore(db)
	for _, st := range []subscribers.Status{subscribers.StatusBounced, subscribers.StatusComplained, subscribers.StatusPending} {
		sub := mustAdd(t, s, string(st)+"@example.com", "")
		if err := s.SetStatus(ctx, sub.ID, st); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Resubscribe(ctx, sub.ID); !errors.Is(err, subscribers.ErrOptInRequired) {
			t.Errorf("Resubscribe(%s) err=%v, want ErrOptInRequired", st, err)
		}
		if got, _ := s.Find(ctx, sub.ID); got.Status != st {
			t.Errorf("%s reader is now %s", st, got.Status)
		}
	}
	if _, err := s.Resubscribe(ctx, 99999); !errors.Is(err, subscribers.ErrNotFound) {
		t.Fatalf("Resubscribe(unknown) err=%v", err)
	}
}

// TestStore_SignUpPendingKeepsDetails: a second submission for a pending
// address resends the confirmation but keeps the first name, zone and
// topics.
func TestStore_SignUpPendingKeepsDetails(t *testing.T) {
	ctx := context.Background()
	db, clock := testsupport.MustOpenDB(t)
	s := subscribers.NewStore(db)
	cfg := subscribers.SignUpConfig{}
	first, out, err := s.SignUp(ctx, subscribers.SignUp{Email: "victim@example.com", Name: "Vic", Timezone: "Europe/Paris", Topics: []string{"Economy"}}, cfg)
	if err != nil || out != subscribers.SignUpConfirm {
		t.Fatalf("SignUp=%v, %v", out, err)
	}
	clock.Advance(time.Minute)
	second, out, err := s.SignUp(ctx, subscribers.SignUp{Email: "Victim@example.com", Name: "Buy pills at evil.example", Timezone: "Asia/Tokyo", Topics: []string{"Climate"}}, cfg)
	if err != nil || out != subscribers.SignUpConfirm {
		t.Fatalf("second SignUp=%v, %v", out, err)
	}
	if second.Name != "Vic" || second.Timezone != "Europe/Paris" || len(second.Topics) != 1 || second.Topics[0] != "Economy" {
		t.Fatalf("details after a second sign-up: %+v", second)
	}
	if !second.ConfirmSentAt.After(first.ConfirmSentAt) {
		t.Fatalf("confirmation not resent: %v then %v", first.ConfirmSentAt, second.ConfirmSentAt)
	}
}
