package delivery

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrLeased is returned when another process (or another send in this one)
// is already sending the edition.
var ErrLeased = errors.New("edition is being sent by another process")

// Lease is the exclusive right to send one edition. It is an flock(2) on a
// file beside the database: the kernel releases it when its holder exits,
// however it exits (kill -9 included), so a dead sender never delays the
// next one and no expiry has to be waited out. The unique ledger rows stay
// the last guard should the lock be defeated (say, a database copied to a
// file system without working locks).
type Lease struct {
	f    *os.File
	path string
}

// LeasePath is the lock file for an edition of the database at dbPath.
func LeasePath(dbPath string, editionID int64) string {
	return fmt.Sprintf("%s-send-%d.lock", dbPath, editionID)
}

// AcquireLease takes the edition's lease without waiting, or returns
// ErrLeased.
func AcquireLease(dbPath string, editionID int64) (*Lease, error) {
	path := LeasePath(dbPath, editionID)
	for range 10 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lease %s: %w", path, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("%w (lock %s held)", ErrLeased, path)
			}
			return nil, fmt.Errorf("lease %s: %w", path, err)
		}
		// A holder that finished removes the file while holding the lock;
		// if that happened between our open and our lock we hold a lock on
		// a file nobody else will look at: try again with the new one.
		held, err1 := f.Stat()
		named, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, named) {
			f.Truncate(0)
			fmt.Fprintf(f, "%d\n", os.Getpid())
			return &Lease{f: f, path: path}, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("lease %s: lock file keeps changing", path)
}

// Release gives the lease back. With remove (the edition is finished) the
// lock file is deleted first, while still held.
func (l *Lease) Release(remove bool) {
	if l == nil || l.f == nil {
		return
	}
	if remove {
		os.Remove(l.path)
	}
	l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
}
