package schedule

import (
	"context"
	"errors"
	"strings"
	"testing"

	"bothsides/internal/testsupport"
)

func TestStore_Add(t *testing.T) {
	db, _ := testsupport.MustOpenDB(t)
	st := NewStore(db)
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		s, err := st.Add(ctx, Schedule{Name: "weekday", Spec: "CRON_TZ=Europe/London 0 7 * * 1-5", Enabled: true, Subject: "Weekday digest"})
		if err != nil {
			t.Fatal(err)
		}
		if s.Stories != 5 || s.WindowHours != 24 || !s.Enabled || s.Subject != "Weekday digest" {
			t.Fatalf("schedule=%+v, want defaults 5 stories, 24 hours", s)
		}
	})
	t.Run("ErrExists", func(t *testing.T) {
		_, err := st.Add(ctx, Schedule{Name: "weekday", Spec: "0 8 * * *"})
		if !errors.Is(err, ErrExists) {
			t.Fatalf("err=%v, want ErrExists", err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := st.Add(ctx, Schedule{Name: "Bad Name", Spec: "CRON_TZ=Nowhere/Town 0 7 * * *", Stories: 99, WindowHours: -1})
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("err=%v, want ErrInvalid", err)
		}
		for _, want := range []string{`name "Bad Name"`, `unknown time zone "Nowhere/Town"`, "stories 99", "window -1 hours"} {
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("err=%v, want it to mention %q", err, want)
			}
		}
	})
}

func TestStore_Change(t *testing.T) {
	db, clock := testsupport.MustOpenDB(t)
	st := NewStore(db)
	ctx := context.Background()
	if _, err := st.Add(ctx, Schedule{Name: "weekend", Spec: "0 9 * * 0,6", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(60)
	t.Run("Update", func(t *testing.T) {
		s, err := st.Update(ctx, "weekend", Schedule{Spec: "CRON_TZ=America/New_York 0 8 * * 6", Enabled: true, Stories: 7, WindowHours: 48, Title: "Weekend"})
		if err != nil {
			t.Fatal(err)
		}
		if s.Spec != "CRON_TZ=America/New_York 0 8 * * 6" || s.Stories != 7 || s.WindowHours != 48 || s.Title != "Weekend" {
			t.Fatalf("schedule=%+v", s)
		}
		if _, err := st.Update(ctx, "nope", Schedule{Spec: "0 8 * * *"}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("err=%v, want ErrNotFound", err)
		}
		if _, err := st.Update(ctx, "weekend", Schedule{Spec: "0 8 * *"}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "expected exactly 5 fields") {
			t.Fatalf("err=%v, want the parser's reason", err)
		}
	})
	t.Run("Pause", func(t *testing.T) {
		s, err := st.SetEnabled(ctx, "weekend", false)
		if err != nil || s.Enabled {
			t.Fatalf("SetEnabled=%+v, %v", s, err)
		}
		if _, err := st.SetEnabled(ctx, "nope", false); !errors.Is(err, ErrNotFound) {
			t.Fatalf("err=%v, want ErrNotFound", err)
		}
	})
	t.Run("Remove", func(t *testing.T) {
		if err := st.Remove(ctx, "weekend"); err != nil {
			t.Fatal(err)
		}
		if err := st.Remove(ctx, "weekend"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("err=%v, want ErrNotFound", err)
		}
	})
}

func TestStore_Seed(t *testing.T) {
	db, _ := testsupport.MustOpenDB(t)
	st := NewStore(db)
	ctx := context.Background()
	if _, err := st.Seed(ctx, "0 7 * * *  x"); err == nil {
		t.Fatal("Seed accepted a bad spec")
	}
	added, err := st.Seed(ctx, "CRON_TZ=UTC 0 6 * * *")
	if err != nil || !added {
		t.Fatalf("Seed=%v, %v; want added", added, err)
	}
	added, err = st.Seed(ctx, "CRON_TZ=UTC 0 9 * * *")
	if err != nil || added {
		t.Fatalf("second Seed=%v, %v; want nothing added", added, err)
	}
	s, err := st.Get(ctx, DefaultName)
	if err != nil || s.Spec != "CRON_TZ=UTC 0 6 * * *" {
		t.Fatalf("default=%+v, %v", s, err)
	}
}
