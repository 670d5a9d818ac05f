// Package storetest opens real, migrated stores for tests.
package storetest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/photovault/photovault/store"
)

// Clock is an injectable, settable clock for expiry tests.
type Clock struct{ t time.Time }

// NewClock starts a clock at a fixed instant.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return c.t }

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

// New returns a migrated store on a real SQLite file in t.TempDir(), closed
// when the test ends.
func New(t testing.TB) *store.Store {
	return NewWithClock(t, time.Now)
}

// NewWithClock is New with an injected clock.
func NewWithClock(t testing.TB, now func() time.Time) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), store.FileName), store.Options{Now: now})
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
