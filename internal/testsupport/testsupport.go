// Package testsupport holds the helpers every bothsides test shares: a real
// SQLite file in a temp dir with an injected clock, an in-process SMTP
// server on 127.0.0.1 with switches to fail chosen recipients, and a MIME
// reader for what it received.
package testsupport

import (
	"context"
	"sync"
	"testing"
	"time"

	"bothsides/sqlite"
)

// Clock is a settable clock for tests.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t.UTC()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t.UTC()
	c.mu.Unlock()
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Epoch is the default test clock: 2026-11-27 07:00 UTC, a Friday.
var Epoch = time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC)

// MustOpenDB opens a fresh database file in a temp dir with a test clock set
// to Epoch, and closes it when the test ends.
func MustOpenDB(tb testing.TB) (*sqlite.DB, *Clock) {
	tb.Helper()
	return MustOpenDBAt(tb, tb.TempDir()+"/bothsides.db")
}

// MustOpenDBAt opens the database file at path with a test clock.
func MustOpenDBAt(tb testing.TB, path string) (*sqlite.DB, *Clock) {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("open db: %v", err)
	}
	clock := NewClock(Epoch)
	db.Now = clock.Now
	tb.Cleanup(func() { db.Close() })
	return db, clock
}
