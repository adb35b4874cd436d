package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// FileMode is the mode of the database and its WAL and SHM files: the
// owner's only. The file holds every subscriber's address and, in
// settings, the keys of the rate limits and the suppression list.
const FileMode fs.FileMode = 0o600

// ModeFix is a database file that Open found open to group or others.
type ModeFix struct {
	File string
	Was  fs.FileMode
	// Err is why the mode could not be tightened (the file belongs to
	// another user, say); nil when it is FileMode now.
	Err error
}

// secureFiles creates the database file with FileMode when it does not
// exist, so that SQLite, which gives the WAL and SHM files the database
// file's mode, creates those 0600 too. An existing database, WAL or SHM
// file open to group or others is tightened to FileMode (a database with
// secrets should not be readable by others, and its owner may chmod it);
// each such file is reported, with the error when the chmod failed.
func secureFiles(path string) ([]ModeFix, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, FileMode)
	if err != nil {
		return nil, explainOpen(path, err)
	}
	f.Close()
	var fixes []ModeFix
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("open database %q: %w", path, err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		fixes = append(fixes, ModeFix{File: name, Was: fi.Mode().Perm(), Err: os.Chmod(name, FileMode)})
	}
	return fixes, nil
}
