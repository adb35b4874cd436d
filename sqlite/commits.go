package sqlite

import (
	"bytes"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The WAL-index header (https://www.sqlite.org/walformat.html, "The
// WAL-Index Header"): the -shm file begins with two copies of a 48-byte
// WalIndexHdr. Every commit of a write transaction rewrites it (its change
// counter, the last valid frame, the checksums), the second copy first and
// then the first, and only then is the commit visible to any reader. A
// reader that finds the two copies different knows a commit is being
// published, as SQLite's own readers do.
const walHdrBytes = 48

// CommitMark is the state of the database's WAL-index header at one
// moment: two marks are equal only if no connection, in this process or
// another, committed a write between them (see Commits).
type CommitMark [walHdrBytes]byte

// Commits tells, for the price of one small read of the -shm file, whether
// the database may have changed since a mark: it is what lets a cache of
// pages skip its query while nothing is written, and still see another
// process's commit at once. When it cannot tell (no -shm file, a commit
// being published, an error) it says so, and the caller reads the
// database as it would without it.
//
// The -shm file is read with pread(2), not mapped: a file that another
// process truncates (SQLite does when it is the first to open the
// database) gives a short read rather than a fault. While this process
// keeps a connection open, which the writer pool does, nobody truncates or
// replaces it; should it be replaced all the same (every connection closed
// and opened again), the file is reopened within a second.
type Commits struct {
	path string

	mu      sync.Mutex
	f       *os.File
	ino     uint64
	checked atomic.Int64 // when the path's inode was last compared, unix ns
	file    atomic.Pointer[os.File]
	closed  atomic.Bool
}

// Commits returns the database's commit watch.
func (db *DB) Commits() *Commits {
	db.commitsOnce.Do(func() { db.commits = &Commits{path: db.Path + "-shm"} })
	return db.commits
}

// recheck is how often the -shm file's inode is compared with the open one.
const recheck = time.Second

// Mark returns the header's state now; ok is false when it cannot tell.
func (c *Commits) Mark() (m CommitMark, ok bool) {
	if c == nil || c.closed.Load() {
		return m, false
	}
	now := time.Now().UnixNano()
	if last := c.checked.Load(); last == 0 || now-last > int64(recheck) {
		if c.checked.CompareAndSwap(last, now) {
			c.reopen()
		}
	}
	f := c.file.Load()
	if f == nil {
		return m, false
	}
	var b [2 * walHdrBytes]byte
	if n, err := f.ReadAt(b[:], 0); n != len(b) || err != nil {
		return m, false
	}
	// Different copies: a commit is being published. isInit (byte 12) is
	// 0 until a connection has built the index: nothing to go by yet.
	if !bytes.Equal(b[:walHdrBytes], b[walHdrBytes:]) || b[12] == 0 {
		return m, false
	}
	copy(m[:], b[:walHdrBytes])
	return m, true
}

// reopen opens the -shm file when it is not open or was replaced.
func (c *Commits) reopen() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return
	}
	var st syscall.Stat_t
	if err := syscall.Stat(c.path, &st); err != nil {
		c.drop()
		return
	}
	if c.f != nil && st.Ino == c.ino {
		return
	}
	f, err := os.Open(c.path)
	if err != nil {
		c.drop()
		return
	}
	var fst syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &fst); err != nil {
		f.Close()
		c.drop()
		return
	}
	// Closing the file replaced is safe while a Mark reads it: os.File
	// closes the descriptor once the read is done, and the read fails.
	if c.f != nil {
		c.f.Close()
	}
	c.f, c.ino = f, fst.Ino
	c.file.Store(f)
}

// drop closes the open -shm file, if any; c.mu is held.
func (c *Commits) drop() {
	c.file.Store(nil)
	if c.f != nil {
		c.f.Close()
		c.f = nil
	}
}

// close closes the open -shm file, if any, for good.
func (c *Commits) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed.Store(true)
	c.drop()
}
