// Package sqlite opens the bothsides database: one SQLite file in WAL mode,
// a single-connection writer pool, a separate reader pool, and the embedded
// schema migrations applied in order on open.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrSchemaTooNew is returned by Open when the database was migrated by a
// newer bothsides than this binary.
var ErrSchemaTooNew = errors.New("database schema is newer than this binary")

// DB is an open bothsides database. Writes go through W, a pool of exactly
// one connection whose transactions begin IMMEDIATE, so writers queue on the
// busy timeout instead of failing; reads go through R.
type DB struct {
	W    *sql.DB
	R    *sql.DB
	Path string
	// Now is the clock every store built on this DB uses. Tests replace it.
	Now func() time.Time
	// BeforeCommit, when set (by tests), is called inside every write
	// transaction of Tx and DurableTx just before it commits, on the
	// transaction's connection: tests read PRAGMA synchronous there.
	BeforeCommit func(tx *sql.Tx)
	// ModeFixes lists the files Open found open to group or others and
	// tightened to FileMode (or failed to): the caller warns about each.
	ModeFixes []ModeFix

	commitsOnce sync.Once
	commits     *Commits
}

// DSN returns the connection string for path with the pragmas bothsides
// relies on. Pragmas live in the DSN so that every pooled connection gets them.
func DSN(path string, txlock string) string {
	v := url.Values{}
	v.Set("_foreign_keys", "on")
	v.Set("_busy_timeout", "5000")
	v.Set("_journal_mode", "WAL")
	v.Set("_synchronous", "NORMAL")
	v.Set("_txlock", txlock)
	return "file:" + path + "?" + v.Encode()
}

// Open opens (creating if needed) the database at path and migrates it.
// The database and its WAL and SHM files are created 0600 (see
// secureFiles).
func Open(ctx context.Context, path string) (*DB, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open database %q: path must not contain '?' or '#'", path)
	}
	fixes, err := secureFiles(path)
	if err != nil {
		return nil, err
	}
	w, err := sql.Open("sqlite3", DSN(path, "immediate"))
	if err != nil {
		return nil, fmt.Errorf("open database %q: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, explainOpen(path, err)
	}
	db := &DB{W: w, Path: path, Now: func() time.Time { return time.Now().UTC() }, ModeFixes: fixes}
	if err := db.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite3", DSN(path, "deferred"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %q: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	db.R = r
	return db, nil
}

// Close closes both pools.
func (db *DB) Close() error {
	db.commits.close()
	var errs []error
	if db.R != nil {
		errs = append(errs, db.R.Close())
	}
	errs = append(errs, db.W.Close())
	return errors.Join(errs...)
}

// Tx runs fn in a write transaction, committing when fn returns nil, with
// the connection's synchronous=NORMAL (see DurableTx for the commits that
// must survive a power cut). Keep fn short: it holds the only write lock of
// the file.
func (db *DB) Tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", db.explain(err))
	}
	return db.finish(tx, fn)
}

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %q: name must start with NNNN_", e.Name())
		}
		b, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %q and %q share version %d", ms[i-1].name, ms[i].name, ms[i].version)
		}
	}
	return ms, nil
}

// SchemaVersion is the newest migration this binary carries.
func SchemaVersion() int {
	ms, _ := migrations()
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

func (db *DB) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if _, err := db.W.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	applied := map[int]bool{}
	newest := 0
	rows, err := db.W.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("read schema version: %w", err)
		}
		applied[v] = true
		newest = max(newest, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	known := SchemaVersion()
	if newest > known {
		return fmt.Errorf("%w: %s is at version %d, this binary knows up to %d; upgrade bothsides or restore a backup",
			ErrSchemaTooNew, db.Path, newest, known)
	}
	// Migrations are applied in version order, each in its own transaction;
	// a version already applied is skipped.
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, db.Now().Format(time.RFC3339))
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
	}
	return nil
}
