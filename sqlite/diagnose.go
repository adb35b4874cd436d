package sqlite

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/mattn/go-sqlite3"
)

// explainOpen turns SQLite's answer to a database it cannot open into one
// that names the cause. SQLite says "unable to open database file: no such
// file or directory" for a file that exists on a read-only file system (it
// cannot create the -wal and -shm files beside it), which sends an
// operator looking for a missing file.
func explainOpen(path string, err error) error {
	const w = 2 // W_OK
	dir := filepath.Dir(path)
	var fs syscall.Statfs_t
	if syscall.Statfs(dir, &fs) == nil && fs.Bavail == 0 {
		return fmt.Errorf("open database %q: the disk holding it is full; free some space: %w", path, err)
	}
	if _, statErr := os.Stat(path); statErr == nil {
		if aerr := syscall.Access(path, w); aerr != nil {
			return fmt.Errorf("open database %q: the file is not writable (%v); bothsides writes to it and to its -wal and -shm files: %w", path, aerr, err)
		}
	}
	if aerr := syscall.Access(dir, w); aerr != nil {
		if errors.Is(aerr, syscall.ENOENT) {
			return fmt.Errorf("open database %q: folder %s does not exist: %w", path, dir, err)
		}
		return fmt.Errorf("open database %q: folder %s is not writable (%v); bothsides keeps the -wal and -shm files beside the database: %w", path, dir, aerr, err)
	}
	return fmt.Errorf("open database %q: %w", path, err)
}

// explain adds the cause and the way out to the errors an operator meets
// when another process holds the write lock or the disk is full.
func (db *DB) explain(err error) error {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code {
	case sqlite3.ErrBusy:
		return fmt.Errorf("%w: another process has held the write lock of %s for longer than the busy timeout (5s), e.g. a long import, a backup or an open sqlite3 shell; retry when it is done", err, db.Path)
	case sqlite3.ErrFull:
		return fmt.Errorf("%w: free space on the disk holding %s, then retry", err, db.Path)
	case sqlite3.ErrReadonly:
		return fmt.Errorf("%w: %s or its folder became read-only", err, db.Path)
	}
	return err
}
