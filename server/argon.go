package server

import (
	"context"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/photovault/photovault/server/auth"
)

// Password hashing is deliberately expensive (argon2id, 46 MiB per hash).
// hashSlots bounds how many run at once so a burst of logins or unlocks
// cannot exhaust memory, and memory is handed back to the OS after hashing
// (at most every few seconds): a login otherwise left ≈ 48 MB resident for
// minutes (docs/PERFORMANCE.md, finding 3).
const hashConcurrency = 2

func (s *Server) acquireHash(ctx context.Context) (func(), error) {
	select {
	case s.hashSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return func() {
		<-s.hashSlots
		s.releaseMemory()
	}, nil
}

var lastFree atomic.Int64 // unix nanos of the last FreeOSMemory; one process, one heap

func (s *Server) releaseMemory() {
	now := time.Now().UnixNano()
	last := lastFree.Load()
	if now-last < int64(5*time.Second) || !lastFree.CompareAndSwap(last, now) {
		return
	}
	go func() {
		time.Sleep(100 * time.Millisecond) // let the hashes in flight finish first
		debug.FreeOSMemory()
	}()
}

// verifyPassword is auth.VerifyPassword under the hash limiter.
func (s *Server) verifyPassword(ctx context.Context, phc, pw string) (ok, rehash bool, err error) {
	release, err := s.acquireHash(ctx)
	if err != nil {
		return false, false, err
	}
	defer release()
	return auth.VerifyPassword(phc, pw)
}

// hashPassword is auth.HashPassword under the hash limiter.
func (s *Server) hashPassword(ctx context.Context, pw string) (string, error) {
	release, err := s.acquireHash(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return auth.HashPassword(pw)
}

// dummyVerify burns the time of a verify for unknown users, under the limiter.
func (s *Server) dummyVerify(ctx context.Context, pw string) {
	release, err := s.acquireHash(ctx)
	if err != nil {
		return
	}
	defer release()
	auth.DummyVerify(pw)
}
