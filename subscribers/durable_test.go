package subscribers_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"

	"bothsides/internal/testsupport"
	"bothsides/sqlite"
	"bothsides/subscribers"
)

// commits records PRAGMA synchronous at each commit of db's writer
// (2 is FULL, 1 NORMAL).
type commits struct {
	mu   sync.Mutex
	sync []int
}

func watchCommits(tb testing.TB, db *sqlite.DB) *commits {
	c := &commits{}
	db.BeforeCommit = func(tx *sql.Tx) {
		var n int
		if err := tx.QueryRow(`PRAGMA synchronous`).Scan(&n); err != nil {
			tb.Errorf("read synchronous: %v", err)
		}
		c.mu.Lock()
		c.sync = append(c.sync, n)
		c.mu.Unlock()
	}
	return c
}

// take returns the commits seen since the last take.
func (c *commits) take() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sync
	c.sync = nil
	return s
}

// TestStore_DurableAcknowledgements: every change a reader is told is done
// (confirmation, unsubscribe, preferences, pause, resubscribe, erasure)
// commits with synchronous=FULL; a sign-up (answered the same whatever
// happened, and repeatable) stays NORMAL.
func TestStore_DurableAcknowledgements(t *testing.T) {
	ctx := context.Background()
	db, _ := testsupport.MustOpenDB(t)
	s := subscribers.NewStore(db)
	c := watchCommits(t, db)
	sub, _, err := s.SignUp(ctx, subscribers.SignUp{Email: "ana@example.com"}, subscribers.SignUpConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range c.take() {
		if n != 1 {
			t.Fatalf("sign-up committed with synchronous=%d, want 1 (NORMAL)", n)
		}
	}
	for _, step := range []struct {
		name string
		do   func() error
	}{
		{"Confirm", func() error { _, err := s.Confirm(ctx, sub.ID, subscribers.SignUpConfig{}); return err }},
		{"UpdatePreferences", func() error {
			_, err := s.UpdatePreferences(ctx, sub.ID, subscribers.Preferences{Name: "Ana", PreferredHour: subscribers.NoPreferredHour})
			return err
		}},
		{"Pause", func() error { _, err := s.Pause(ctx, sub.ID, 2); return err }},
		{"Unsubscribe", func() error { return s.Unsubscribe(ctx, sub.ID) }},
		{"Resubscribe", func() error { _, err := s.Resubscribe(ctx, sub.ID); return err }},
		{"Erase", func() error { _, err := s.Erase(ctx, "ana@example.com"); return err }},
	} {
		t.Run(step.name, func(t *testing.T) {
			if err := step.do(); err != nil {
				t.Fatal(err)
			}
			got := c.take()
			if len(got) == 0 {
				t.Fatal("no commit seen")
			}
			if last := got[len(got)-1]; last != 2 {
				t.Fatalf("%s committed with synchronous=%d (commits %v), want 2 (FULL)", step.name, last, got)
			}
		})
	}
	t.Run("AfterwardsNormal", func(t *testing.T) {
		if _, err := s.Add(ctx, "ben@example.com", "Ben"); err != nil {
			t.Fatal(err)
		}
		if got := c.take(); len(got) != 1 || got[0] != 1 {
			t.Fatalf("a plain write after the durable ones committed with %v, want [1]", got)
		}
	})
}
