package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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

// TestOpen_FileModes: the database, WAL and SHM files are the owner's only
// (0600) whatever the umask allows, and an existing file open to others is
// tightened and reported.
func TestOpen_FileModes(t *testing.T) {
	ctx := context.Background()
	old := syscall.Umask(0o022) // the usual default, which would give 0644
	t.Cleanup(func() { syscall.Umask(old) })
	path := filepath.Join(t.TempDir(), "m.db")
	mode := func(name string) os.FileMode {
		t.Helper()
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	t.Run("Created0600", func(t *testing.T) {
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Secret(ctx, "token_secret"); err != nil { // a write: the WAL has frames
			t.Fatal(err)
		}
		if err := db.R.QueryRow(`SELECT 1`).Scan(new(int)); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{path, path + "-wal", path + "-shm"} {
			if got, want := mode(name), os.FileMode(0o600); got != want {
				t.Errorf("%s: mode %v, want %v", filepath.Base(name), got, want)
			}
		}
		if len(db.ModeFixes) != 0 {
			t.Fatalf("ModeFixes=%v on a new database", db.ModeFixes)
		}
	})
	t.Run("WiderTightened", func(t *testing.T) {
		// Closed, the WAL and SHM are gone; make them again, open to all.
		for _, name := range []string{path, path + "-wal", path + "-shm"} {
			if name != path {
				if err := os.WriteFile(name, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chmod(name, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if got, want := len(db.ModeFixes), 3; got != want {
			t.Fatalf("len(ModeFixes)=%d, want %d: %v", got, want, db.ModeFixes)
		}
		for _, fx := range db.ModeFixes {
			if fx.Was != 0o644 || fx.Err != nil {
				t.Errorf("fix %+v, want was 0644 and no error", fx)
			}
			if got, want := mode(fx.File), os.FileMode(0o600); got != want {
				t.Errorf("%s: mode %v after open, want %v", filepath.Base(fx.File), got, want)
			}
		}
		var n int
		if err := db.R.QueryRow(`SELECT COUNT(*) FROM settings`).Scan(&n); err != nil || n == 0 {
			t.Fatalf("the database lost its rows: %d, %v", n, err)
		}
	})
}
