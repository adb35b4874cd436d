package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"bothsides/sqlite"
)

func TestOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "b.db")
	t.Run("MigratesAndPragmas", func(t *testing.T) {
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.R.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatal("no migration recorded")
		}
		var mode string
		if err := db.R.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if got, want := mode, "wal"; got != want {
			t.Fatalf("journal_mode=%q, want %q", got, want)
		}
		// Foreign keys hold on every pooled connection, not just one.
		for i := 0; i < 3; i++ {
			var fk int
			if err := db.R.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
				t.Fatalf("foreign_keys=%d (%v), want 1", fk, err)
			}
		}
		for _, table := range []string{"stories", "articles", "faqs", "subscribers", "schedules", "editions", "deliveries", "settings"} {
			if _, err := db.R.Exec(`SELECT * FROM ` + table + ` LIMIT 0`); err != nil {
				t.Errorf("table %s: %v", table, err)
			}
		}
	})
	t.Run("ReopenIsIdempotent", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			db, err := sqlite.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
		}
	})
	t.Run("ErrSchemaTooNew", func(t *testing.T) {
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.W.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 'x')`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		_, err = sqlite.Open(ctx, path)
		if !errors.Is(err, sqlite.ErrSchemaTooNew) {
			t.Fatalf("err=%v, want ErrSchemaTooNew", err)
		}
		if !strings.Contains(err.Error(), "version 9999") {
			t.Fatalf("err=%q does not name the version", err)
		}
	})
}

func TestDB_Secret(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := db.Secret(ctx, "token_secret")
	if err != nil {
		t.Fatal(err)
	}
	b, err := db.Secret(ctx, "token_secret")
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 32 || string(a) != string(b) {
		t.Fatalf("secret not stable: %x vs %x", a, b)
	}
}
