package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"bothsides/sqlite"
)

// TestCommits_Mark: the mark stays while nothing is committed (reads, a
// write transaction not yet committed or rolled back) and changes with
// every commit, this process's writer's and another connection's alike;
// it answers "unknown" without a -shm file and once the database is closed.
func TestCommits_Mark(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := db.Commits()
	mark := func() sqlite.CommitMark {
		t.Helper()
		m, ok := c.Mark()
		if !ok {
			t.Fatal("no mark on an open database")
		}
		return m
	}
	m0 := mark()
	var n int
	if err := db.R.QueryRow(`SELECT COUNT(*) FROM stories`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if mark() != m0 {
		t.Fatal("a read changed the mark")
	}
	bump := func(conn *sql.DB) {
		t.Helper()
		if _, err := conn.Exec(`UPDATE page_generation SET n = n + 1 WHERE id = 1`); err != nil {
			t.Fatal(err)
		}
	}
	bump(db.W)
	m1 := mark()
	if m1 == m0 {
		t.Fatal("a commit of the writer left the mark as it was")
	}

	// Another connection to the file, as another process would have.
	other, err := sql.Open("sqlite3", sqlite.DSN(path, "immediate"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`UPDATE page_generation SET n = n + 1 WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	if mark() != m1 {
		t.Fatal("a transaction not committed changed the mark")
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if mark() != m1 {
		t.Fatal("a rolled-back transaction changed the mark")
	}
	bump(other)
	m2 := mark()
	if m2 == m1 {
		t.Fatal("another connection's commit left the mark as it was")
	}
	for range 3 {
		bump(other)
		bump(db.W)
		if m := mark(); m == m2 {
			t.Fatal("commits left the mark as it was")
		} else {
			m2 = m
		}
	}

	db.Close()
	if _, ok := c.Mark(); ok {
		t.Fatal("a mark from a closed database")
	}
}

// TestCommits_NoShm: without a -shm file there is no mark.
func TestCommits_NoShm(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := os.Rename(path+"-shm", path+"-shm.away"); err != nil {
		t.Fatal(err)
	}
	if _, ok := db.Commits().Mark(); ok {
		t.Fatal("a mark without a -shm file")
	}
	if err := os.Rename(path+"-shm.away", path+"-shm"); err != nil {
		t.Fatal(err)
	}
}
