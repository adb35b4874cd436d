package subscribers_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"bothsides/internal/testsupport"
	"bothsides/sqlite"
	"bothsides/subscribers"
)

func mustAdd(t *testing.T, s *subscribers.Store, email, name string) *subscribers.Subscriber {
	t.Helper()
	sub, err := s.Add(context.Background(), email, name)
	if err != nil {
		t.Fatalf("Add(%q): %v", email, err)
	}
	return sub
}

func TestStore_Add(t *testing.T) {
	ctx := context.Background()
	db, _ := testsupport.MustOpenDB(t)
	s := subscribers.NewStore(db)
	t.Run("OK", func(t *testing.T) {
		sub := mustAdd(t, s, " Ana@Example.COM ", "Ana")
		if sub.Email != "Ana@example.com" || sub.Status != subscribers.StatusActive || sub.Source != "cli" || sub.ConfirmedAt.IsZero() {
			t.Fatalf("Add=%+v", sub)
		}
		if sub.PreferredHour != subscribers.NoPreferredHour {
			t.Fatalf("PreferredHour=%d, want none", sub.PreferredHour)
		}
	})
	t.Run("ErrExists", func(t *testing.T) {
		// The same address in another case is the same person.
		if _, err := s.Add(ctx, "ana@EXAMPLE.com", ""); !errors.Is(err, subscribers.ErrExists) {
			t.Fatalf("err=%v, want ErrExists", err)
		}
	})
	t.Run("ErrInvalidAddress", func(t *testing.T) {
		if _, err := s.Add(ctx, "x@y.example\r\nBcc: z@w.example", ""); !errors.Is(err, subscribers.ErrInvalidAddress) {
			t.Fatalf("err=%v", err)
		}
	})
	t.Run("ErrInvalidName", func(t *testing.T) {
		if _, err := s.Add(ctx, "n@example.com", "Eve\r\nBcc: z@w.example"); !errors.Is(err, subscribers.ErrInvalid) {
			t.Fatalf("err=%v", err)
		}
	})
	t.Run("FindByEmail", func(t *testing.T) {
		sub, err := s.FindByEmail(ctx, "ANA@example.com")
		if err != nil || sub.Email != "Ana@example.com" {
			t.Fatalf("FindByEmail=%v, %v", sub, err)
		}
		if _, err := s.FindByEmail(ctx, "nobody@example.com"); !errors.Is(err, subscribers.ErrNotFound) {
			t.Fatalf("err=%v", err)
		}
	})
}

func TestStore_Erase(t *testing.T) {
	ctx := context.Background()
	db, _ := testsupport.MustOpenDB(t)
	s := subscribers.NewStore(db)
	mustAdd(t, s, "first@example.com", "")
	gone := mustAdd(t, s, "Gone@Example.com", "Gone Person")

	res, err := s.Erase(ctx, "gone@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted != 1 || res.WasListed {
		t.Fatalf("Erase=%+v", res)
	}
	if _, err := s.Find(ctx, gone.ID); !errors.Is(err, subscribers.ErrNotFound) {
		t.Fatalf("Find after erase err=%v", err)
	}
	// Nothing of the address is stored in the clear.
	var n int
	if err := db.R.QueryRow(`SELECT COUNT(*) FROM suppressions WHERE hash LIKE '%gone%' OR hash LIKE '%example%'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("suppressions hold the address: %d, %v", n, err)
	}
	t.Run("AddRefused", func(t *testing.T) {
		if _, err := s.Add(ctx, "GONE@example.com", ""); !errors.Is(err, subscribers.ErrSuppressed) {
			t.Fatalf("Add err=%v, want ErrSuppressed", err)
		}
	})
	t.Run("SignUpIgnored", func(t *testing.T) {
		sub, out, err := s.SignUp(ctx, subscribers.SignUp{Email: "gone@example.com"}, subscribers.SignUpConfig{})
		if err != nil || out != subscribers.SignUpNothing || sub != nil {
			t.Fatalf("SignUp=%v, %v, %v", sub, out, err)
		}
	})
	t.Run("ImportSkipped", func(t *testing.T) {
		res, err := s.Import(ctx, []subscribers.ImportRow{{Line: 2, Email: "gone@example.com"}}, subscribers.ImportOptions{Resubscribe: true})
		if err != nil || res.Suppressed != 1 || res.Added != 0 {
			t.Fatalf("Import=%+v, %v", res, err)
		}
	})
	t.Run("IDNotReused", func(t *testing.T) {
		// A signed link of the erased subscriber must never name a new one.
		next := mustAdd(t, s, "next@example.com", "")
		if next.ID <= gone.ID {
			t.Fatalf("new subscriber got id %d, not above the erased %d", next.ID, gone.ID)
		}
	})
	t.Run("Again", func(t *testing.T) {
		res, err := s.Erase(ctx, "gone@example.com")
		if err != nil || res.Deleted != 0 || !res.WasListed {
			t.Fatalf("Erase again=%+v, %v", res, err)
		}
	})
	t.Run("Access", func(t *testing.T) {
		pd, err := s.Access(ctx, "gone@example.com")
		if err != nil || pd.Subscriber != nil || !pd.Suppressed {
			t.Fatalf("Access=%+v, %v", pd, err)
		}
	})
}

func TestStore_Unsubscribe(t *testing.T) {
	ctx := context.Background()
	db, clock := testsupport.MustOpenDB(t)
	s := subscribers.NewStore(db)
	sub := mustAdd(t, s, "u@example.com", "")
	if err := s.Unsubscribe(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
	first, _ := s.Find(ctx, sub.ID)
	clock.Advance(time.Hour)
	if err := s.Unsubscribe(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
	again, _ := s.Find(ctx, sub.ID)
	if again.Status != subscribers.StatusUnsubscribed || !again.UnsubscribedAt.Equal(first.UnsubscribedAt) {
		t.Fatalf("second unsubscribe changed %v to %v", first.UnsubscribedAt, again.UnsubscribedAt)
	}
	if err := s.Unsubscribe(ctx, 9999); !errors.Is(err, subscribers.ErrNotFound) {
		t.Fatalf("err=%v", err)
	}
	re, err := s.Resubscribe(ctx, sub.ID)
	if err != nil || re.Status != subscribers.StatusActive || !re.UnsubscribedAt.IsZero() {
		t.Fatalf("Resubscribe=%+v, %v", re, err)
	}
}

func TestStore_UnsubscribeMany(t *testing.T) {
	ctx := context.Background()
	db, _ := testsupport.MustOpenDB(t)
	s := subscribers.NewStore(db)
	a, b := mustAdd(t, s, "a@example.com", ""), mustAdd(t, s, "b@example.com", "")
	bounced := mustAdd(t, s, "c@example.com", "")
	if err := s.SetStatus(ctx, bounced.ID, subscribers.StatusBounced); err != nil {
		t.Fatal(err)
	}
	// A subscriber gone meanwhile fails only its own entry; a bounced one
	// stays bounced, as with Unsubscribe.
	errs, err := s.UnsubscribeMany(ctx, []int64{a.ID, 9999, b.ID, bounced.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 4 || errs[0] != nil || !errors.Is(errs[1], subscribers.ErrNotFound) || errs[2] != nil || errs[3] != nil {
		t.Fatalf("errs=%v, want nil, ErrNotFound, nil, nil", errs)
	}
	for id, want := range map[int64]subscribers.Status{a.ID: subscribers.StatusUnsubscribed, b.ID: subscribers.StatusUnsubscribed, bounced.ID: subscribers.StatusBounced} {
		if got, _ := s.Find(ctx, id); got.Status != want || (want == subscribers.StatusUnsubscribed && got.UnsubscribedAt.IsZero()) {
			t.Fatalf("subscriber %d: %s (unsubscribed at %v), want %s", id, got.Status, got.UnsubscribedAt, want)
		}
	}
}

func TestStore_Preferences(t *testing.T) {
	ctx := context.Background()
	db, clock := testsupport.MustOpenDB(t)
	s := subscribers.NewStore(db)
	sub := mustAdd(t, s, "p@example.com", "")
	got, err := s.UpdatePreferences(ctx, sub.ID, subscribers.Preferences{Name: " Pat ", Topics: []string{"Economy", "economy", "Climate"},
		Timezone: "Europe/Paris", PreferredHour: 6})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Pat" || len(got.Topics) != 2 || got.Timezone != "Europe/Paris" || got.PreferredHour != 6 {
		t.Fatalf("UpdatePreferences=%+v", got)
	}
	for _, p := range []subscribers.Preferences{
		{Timezone: "Nowhere/Else", PreferredHour: subscribers.NoPreferredHour},
		{PreferredHour: 24},
		{Name: "x\r\nBcc: y@z.example", PreferredHour: subscribers.NoPreferredHour},
	} {
		if _, err := s.UpdatePreferences(ctx, sub.ID, p); !errors.Is(err, subscribers.ErrInvalid) {
			t.Errorf("UpdatePreferences(%+v) err=%v, want ErrInvalid", p, err)
		}
	}
	t.Run("Pause", func(t *testing.T) {
		now := clock.Now()
		p, err := s.Pause(ctx, sub.ID, 2)
		if err != nil {
			t.Fatal(err)
		}
		if want := now.Add(14 * 24 * time.Hour); !p.PausedUntil.Equal(want) || !p.Paused(now) || p.Mailable(now) {
			t.Fatalf("PausedUntil=%v, want %v", p.PausedUntil, want)
		}
		if got := mailableIDs(t, db, now); len(got) != 0 {
			t.Fatalf("paused subscriber is Mailable: %v", got)
		}
		if got := mailableIDs(t, db, now.Add(15*24*time.Hour)); len(got) != 1 {
			t.Fatalf("after the pause Mailable=%v", got)
		}
		if _, err := s.Pause(ctx, sub.ID, 5); !errors.Is(err, subscribers.ErrInvalid) {
			t.Fatalf("5 weeks err=%v", err)
		}
		p, err = s.Pause(ctx, sub.ID, 0)
		if err != nil || !p.PausedUntil.IsZero() || !p.Mailable(now) {
			t.Fatalf("resume=%+v, %v", p, err)
		}
	})
}

func mailableIDs(t *testing.T, db *sqlite.DB, now time.Time) []int64 {
	t.Helper()
	rows, err := db.R.Query(`SELECT id FROM subscribers WHERE `+subscribers.Mailable, sqlite.Time(now))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	return ids
}

func TestStore_EraseReports(t *testing.T) {
	ctx := context.Background()
	db, _ := testsupport.MustOpenDB(t)
	s := subscribers.NewStore(db)
	// A reader left an address on a story report, typed their own way.
	if _, err := db.W.Exec(`INSERT INTO reports (story_id, version, kind, message, email, created_at)
		VALUES ('vote', 1, 'error', 'The vote was 6-3.', ' Reader@Bücher.example ', '2026-11-27T06:00:00Z'),
		       ('vote', 1, 'other', 'Keep it up.', 'someone@example.com', '2026-11-27T06:10:00Z')`); err != nil {
		t.Fatal(err)
	}
	pd, err := s.Access(ctx, "reader@bücher.example")
	if err != nil || len(pd.Reports) != 1 || pd.Reports[0].Message != "The vote was 6-3." {
		t.Fatalf("Access=%+v, %v", pd, err)
	}
	pd, err = s.Access(ctx, " Reader@Bücher.example ")
	if err != nil || len(pd.Reports) != 1 {
		t.Fatalf("Access as typed=%+v, %v", pd, err)
	}
	res, err := s.Erase(ctx, " Reader@Bücher.example ")
	if err != nil || res.Reports != 1 {
		t.Fatalf("Erase=%+v, %v", res, err)
	}
	var left int
	db.R.QueryRow(`SELECT COUNT(*) FROM reports WHERE email != ''`).Scan(&left)
	if left != 1 {
		t.Fatalf("%d reports keep an address, want only the other reader's", left)
	}
}
