package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/storetest"
)

func TestRefreshRotationAndReuse(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock()
	s := storetest.NewWithClock(t, clock.Now)
	u, _ := s.CreateUser(ctx, "ada", "h")
	sess, err := s.CreateSession(ctx, u.ID, []byte("r1"), "ua", clock.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.SessionActive(ctx, u.ID, sess.ID, clock.Now()); !ok {
		t.Fatal("new session inactive")
	}
	got, err := s.RotateRefresh(ctx, []byte("r1"), []byte("r2"))
	if err != nil || got.ID != sess.ID || got.UserID != u.ID {
		t.Fatalf("rotate: %v %+v", err, got)
	}
	// Replaying the spent r1 revokes the family: r2 dies too.
	if _, err := s.RotateRefresh(ctx, []byte("r1"), []byte("r3")); !errors.Is(err, store.ErrRefreshReused) {
		t.Fatalf("reuse: %v", err)
	}
	if _, err := s.RotateRefresh(ctx, []byte("r2"), []byte("r4")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("successor of reused token still works: %v", err)
	}
	if ok, _ := s.SessionActive(ctx, u.ID, sess.ID, clock.Now()); ok {
		t.Fatal("family not revoked")
	}
}

func TestRefreshParallelOneWinner(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	u, _ := s.CreateUser(ctx, "ada", "h")
	if _, err := s.CreateSession(ctx, u.ID, []byte("p"), "", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if _, err := s.RotateRefresh(ctx, []byte("p"), []byte{byte(i), 'n'}); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d parallel refreshes won, want exactly 1", wins)
	}
}

func TestRefreshExpiry(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock()
	s := storetest.NewWithClock(t, clock.Now)
	u, _ := s.CreateUser(ctx, "ada", "h")
	sess, _ := s.CreateSession(ctx, u.ID, []byte("x"), "", clock.Now().Add(time.Hour))
	clock.Advance(2 * time.Hour)
	if _, err := s.RotateRefresh(ctx, []byte("x"), []byte("y")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired family refreshed: %v", err)
	}
	if ok, _ := s.SessionActive(ctx, u.ID, sess.ID, clock.Now()); ok {
		t.Fatal("expired session active")
	}
}

func TestPasswordChangeRevokesOtherSessions(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	u, _ := s.CreateUser(ctx, "ada", "h")
	a, _ := s.CreateSession(ctx, u.ID, []byte("a"), "", time.Now().Add(time.Hour))
	b, _ := s.CreateSession(ctx, u.ID, []byte("b"), "", time.Now().Add(time.Hour))
	if err := s.SetPassword(ctx, u.ID, "h2", a.ID); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.SessionActive(ctx, u.ID, a.ID, time.Now()); !ok {
		t.Fatal("current session revoked")
	}
	if ok, _ := s.SessionActive(ctx, u.ID, b.ID, time.Now()); ok {
		t.Fatal("other session survived a password change")
	}
	// Another owner cannot revoke ada's session.
	v, _ := s.CreateUser(ctx, "bob", "h")
	if err := s.RevokeSession(ctx, v.ID, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cross-owner revoke: %v", err)
	}
}

func TestSetup(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	if err := s.ReplaceSetupToken(ctx, []byte("t1")); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceSetupToken(ctx, []byte("t2")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteSetup(ctx, []byte("t1"), "ada", "h"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("replaced token worked: %v", err)
	}
	if _, err := s.CompleteSetup(ctx, []byte("t2"), "ada", "h"); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceSetupToken(ctx, []byte("t3")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteSetup(ctx, []byte("t3"), "eve", "h"); !errors.Is(err, store.ErrSetupDone) {
		t.Fatalf("second setup: %v", err)
	}
}

func TestAuditChain(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	for i, typ := range []string{"login", "login_failed", "share_created", "logout"} {
		if err := s.Audit(ctx, store.AuditEvent{Type: typ, Actor: "u", OwnerID: "o", Target: string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	n, brk, err := s.VerifyAudit(ctx)
	if err != nil || brk != nil || n != 4 {
		t.Fatalf("clean chain: %d %+v %v", n, brk, err)
	}
	if err := s.ExecForTest(ctx, `UPDATE audit_logs SET target = 'x' WHERE id = 3`); err != nil {
		t.Fatal(err)
	}
	_, brk, _ = s.VerifyAudit(ctx)
	if brk == nil || brk.ID != 3 {
		t.Fatalf("edit not detected: %+v", brk)
	}
	if err := s.ExecForTest(ctx, `UPDATE audit_logs SET target = 'c' WHERE id = 3`); err != nil {
		t.Fatal(err)
	}
	if err := s.ExecForTest(ctx, `DELETE FROM audit_logs WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	_, brk, _ = s.VerifyAudit(ctx)
	if brk == nil || brk.ID != 3 {
		t.Fatalf("deletion not detected: %+v", brk)
	}
	evs, err := s.AuditFor(ctx, "o", 0, 10)
	if err != nil || len(evs) != 3 || evs[0].Type != "logout" {
		t.Fatalf("list: %v %+v", err, evs)
	}
}
