package auth

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/photovault/photovault/store/kv"
	"github.com/rs/zerolog"
)

func newKV(t *testing.T) (*kv.Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "kv")
	s, err := kv.Open(dir, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, dir
}

// newThrottle uses the real kv store and a clock parked at the start of a
// 15-minute window, so "rapid" attempts stay inside one window.
func newThrottle(t *testing.T, p Policy) (*Throttle, *clock, *kv.Store) {
	t.Helper()
	s, _ := newKV(t)
	c := newClock() // 10:00:00 UTC, a window boundary
	return NewThrottle(s, p, c.Now), c, s
}

func mustAllow(t *testing.T, th *Throttle, scope, ip, target string) time.Duration {
	t.Helper()
	ok, retry, delay := th.Check(scope, ip, target)
	if !ok {
		t.Fatalf("Check(%s, %s, %s) blocked (retry %v), want allowed", scope, ip, target, retry)
	}
	if retry != 0 {
		t.Fatalf("allowed with retryAfter %v", retry)
	}
	return delay
}

func mustBlock(t *testing.T, th *Throttle, scope, ip, target string) time.Duration {
	t.Helper()
	ok, retry, delay := th.Check(scope, ip, target)
	if ok {
		t.Fatalf("Check(%s, %s, %s) allowed, want blocked", scope, ip, target)
	}
	if retry < time.Second || retry%time.Second != 0 {
		t.Fatalf("retryAfter = %v, want whole seconds >= 1s", retry)
	}
	if delay != 0 {
		t.Fatalf("blocked with delay %v", delay)
	}
	return retry
}

func TestEleventhFailureFromOneIPIsBlocked(t *testing.T) {
	th, c, _ := newThrottle(t, DefaultPolicy())
	for range 10 {
		mustAllow(t, th, "login", "203.0.113.7", "owner")
		th.Failure("login", "203.0.113.7", "owner")
		c.Advance(time.Second)
	}
	retry := mustBlock(t, th, "login", "203.0.113.7", "owner")
	if retry > 15*time.Minute-10*time.Second || retry < 15*time.Minute-11*time.Second {
		t.Fatalf("retryAfter = %v, want the rest of the window (~14m50s)", retry)
	}
	// Blocked for every target from that IP, in that scope.
	mustBlock(t, th, "login", "203.0.113.7", "someone-else")
	// Another IP still passes for the same target (target-wide limit not hit).
	if d := mustAllow(t, th, "login", "198.51.100.2", "owner"); d != 0 {
		t.Fatalf("fresh IP got delay %v", d)
	}
	// Other scopes are independent.
	mustAllow(t, th, "unlock", "203.0.113.7", "owner")
	// Success cannot be reached while blocked — but even a recorded success
	// (e.g. for another target) does not lift the per-IP block.
	th.Success("login", "203.0.113.7", "owner")
	mustBlock(t, th, "login", "203.0.113.7", "owner")
}

func TestWindowExpiryUnblocks(t *testing.T) {
	th, c, _ := newThrottle(t, DefaultPolicy())
	for range 10 {
		th.Failure("login", "203.0.113.7", "owner")
	}
	retry := mustBlock(t, th, "login", "203.0.113.7", "owner")
	c.Advance(retry - time.Second)
	mustBlock(t, th, "login", "203.0.113.7", "owner")
	c.Advance(time.Second)
	if d := mustAllow(t, th, "login", "203.0.113.7", "owner"); d != 0 {
		t.Fatalf("new window still carries delay %v", d)
	}
}

func TestDelayGrowsAndSuccessResetsIt(t *testing.T) {
	th, _, _ := newThrottle(t, Policy{PerIP: 100})
	want := []time.Duration{0, 200, 400, 800, 1600, 3200, 5000, 5000, 5000}
	for i, w := range want {
		if d := mustAllow(t, th, "login", "203.0.113.7", "owner"); d != w*time.Millisecond {
			t.Fatalf("after %d failures delay = %v, want %v", i, d, w*time.Millisecond)
		}
		th.Failure("login", "203.0.113.7", "owner")
	}
	// Delay is per ip+target: another target from the same IP starts at 0.
	if d := mustAllow(t, th, "login", "203.0.113.7", "other"); d != 0 {
		t.Fatalf("other target delay = %v", d)
	}
	th.Success("login", "203.0.113.7", "owner")
	if d := mustAllow(t, th, "login", "203.0.113.7", "owner"); d != 0 {
		t.Fatalf("delay after success = %v, want 0", d)
	}
}

// Knowing one secret must not reset the throttle while guessing another:
// a client with share A's password brute-forcing share B.
func TestSuccessOnOtherTargetDoesNotResetIPCount(t *testing.T) {
	th, _, _ := newThrottle(t, DefaultPolicy())
	for range 9 {
		th.Failure("unlock", "203.0.113.7", "share-B")
	}
	mustAllow(t, th, "unlock", "203.0.113.7", "share-A")
	th.Success("unlock", "203.0.113.7", "share-A")
	th.Failure("unlock", "203.0.113.7", "share-B")
	mustBlock(t, th, "unlock", "203.0.113.7", "share-B")
	mustBlock(t, th, "unlock", "203.0.113.7", "share-A")
}

func TestTargetWideLockIsShort(t *testing.T) {
	th, c, _ := newThrottle(t, DefaultPolicy())
	// 50 IPs, one failure each: no IP near its own limit.
	for i := range 50 {
		ip := fmt.Sprintf("198.51.100.%d", i+1)
		mustAllow(t, th, "login", ip, "owner")
		th.Failure("login", ip, "owner")
	}
	retry := mustBlock(t, th, "login", "192.0.2.99", "owner")
	if retry > 60*time.Second {
		t.Fatalf("target lock retryAfter = %v, want <= 60s", retry)
	}
	// Other targets are not affected.
	mustAllow(t, th, "login", "192.0.2.99", "another-user")
	// The lock is short: at most TargetLock later the owner can try again.
	c.Advance(60 * time.Second)
	mustAllow(t, th, "login", "192.0.2.99", "owner")
	// The target is still over its threshold, so the next failure locks again.
	th.Failure("login", "192.0.2.99", "owner")
	mustBlock(t, th, "login", "192.0.2.100", "owner")
	// A new window clears the target-wide count.
	c.Advance(15 * time.Minute)
	mustAllow(t, th, "login", "192.0.2.100", "owner")
}

func TestTargetLockDuration(t *testing.T) {
	// Whatever the phase within a lock slice, the lock lasts more than 3/4
	// of TargetLock and at most all of it, and Retry-After says when.
	for _, phase := range []time.Duration{0, 7 * time.Second, 14*time.Second + 900*time.Millisecond} {
		th, c, _ := newThrottle(t, Policy{PerTarget: 1})
		c.Advance(phase)
		th.Failure("login", "198.51.100.1", "owner")
		retry := mustBlock(t, th, "login", "192.0.2.1", "owner")
		if retry > 60*time.Second || retry < 45*time.Second {
			t.Fatalf("phase %v: retryAfter %v, want 45..60s", phase, retry)
		}
		c.Advance(retry - time.Second)
		mustBlock(t, th, "login", "192.0.2.1", "owner")
		c.Advance(time.Second)
		mustAllow(t, th, "login", "192.0.2.1", "owner")
	}
}

// A stranger hammering the owner's username from many IPs cannot keep the
// owner out: an IP that logged in before is exempt from the target lock.
func TestKnownIPBypassesTargetLock(t *testing.T) {
	th, c, _ := newThrottle(t, DefaultPolicy())
	mustAllow(t, th, "login", "203.0.113.50", "owner")
	th.Success("login", "203.0.113.50", "owner")
	c.Advance(time.Hour)
	for i := range 60 {
		th.Failure("login", fmt.Sprintf("198.51.100.%d", i+1), "owner")
	}
	mustBlock(t, th, "login", "192.0.2.1", "owner")
	mustAllow(t, th, "login", "203.0.113.50", "owner")
	// Known only for that target: another locked target still refuses it.
	for i := range 50 {
		th.Failure("login", fmt.Sprintf("198.51.100.%d", i+100), "other-user")
	}
	mustBlock(t, th, "login", "203.0.113.50", "other-user")
	// And known only in that scope.
	for i := range 50 {
		th.Failure("unlock", fmt.Sprintf("198.51.100.%d", i+100), "owner")
	}
	mustBlock(t, th, "unlock", "203.0.113.50", "owner")
}

func TestKnownIPCanBeDisabled(t *testing.T) {
	th, _, _ := newThrottle(t, Policy{KnownIPFor: -1, PerTarget: 5})
	th.Success("login", "203.0.113.50", "owner")
	for i := range 5 {
		th.Failure("login", fmt.Sprintf("198.51.100.%d", i+1), "owner")
	}
	mustBlock(t, th, "login", "203.0.113.50", "owner")
}

func TestIPv6SubnetCountsAsOneIP(t *testing.T) {
	th, _, _ := newThrottle(t, DefaultPolicy())
	for i := range 10 {
		th.Failure("login", fmt.Sprintf("2001:db8:1:2::%x", i+1), "owner")
	}
	mustBlock(t, th, "login", "2001:db8:1:2:ffff:ffff:ffff:ffff", "owner")
	mustAllow(t, th, "login", "2001:db8:1:3::1", "owner")
	// IPv4-mapped IPv6 is the same client as plain IPv4.
	for range 10 {
		th.Failure("login", "::ffff:203.0.113.9", "owner")
	}
	mustBlock(t, th, "login", "203.0.113.9", "owner")
}

func TestRetryAfterAtLeastOneSecond(t *testing.T) {
	th, c, _ := newThrottle(t, DefaultPolicy())
	c.Advance(15*time.Minute - 100*time.Millisecond) // 100 ms before the window ends
	for range 10 {
		th.Failure("login", "203.0.113.7", "owner")
	}
	if retry := mustBlock(t, th, "login", "203.0.113.7", "owner"); retry != time.Second {
		t.Fatalf("retryAfter = %v, want 1s", retry)
	}
	c.Advance(100 * time.Millisecond)
	mustAllow(t, th, "login", "203.0.113.7", "owner")
}

// Keys must not carry usernames or IPs in clear: read every file badger
// wrote and look for them.
func TestStoredKeysHoldNoIdentifiers(t *testing.T) {
	s, dir := newKV(t)
	c := newClock()
	th := NewThrottle(s, DefaultPolicy(), c.Now)
	const user, ip, scope = "canary-username-7f3a", "203.0.113.77", "canary-scope"
	for range 3 {
		th.Failure(scope, ip, user)
	}
	th.Success(scope, ip, user)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	found := 0
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte("throttle/")) {
			found++
		}
		for _, canary := range []string{user, ip, scope} {
			if bytes.Contains(data, []byte(canary)) {
				t.Errorf("%s contains %q in clear", filepath.Base(path), canary)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Fatal("no throttle keys found on disk: the test looked in the wrong place")
	}
}

func TestNewThrottleDefaults(t *testing.T) {
	s, _ := newKV(t)
	th := NewThrottle(s, Policy{}, nil)
	if th.p != DefaultPolicy() {
		t.Fatalf("zero Policy became %+v, want defaults", th.p)
	}
	th = NewThrottle(s, Policy{Base: time.Second, MaxDelay: time.Millisecond}, nil)
	if th.p.MaxDelay != time.Second {
		t.Fatalf("MaxDelay below Base not raised: %v", th.p.MaxDelay)
	}
	if ok, _, _ := th.Check("login", "203.0.113.1", "owner"); !ok {
		t.Fatal("real clock: fresh check blocked")
	}
}

func TestCorruptCounterReadsAsZero(t *testing.T) {
	th, _, s := newThrottle(t, DefaultPolicy())
	k := th.key("ip", slot(th.now(), th.p.Window), "login", "203.0.113.7")
	if err := s.Set(k, []byte("not a number"), time.Hour); err != nil {
		t.Fatal(err)
	}
	mustAllow(t, th, "login", "203.0.113.7", "owner")
}

func TestConcurrentFailuresAreAllCounted(t *testing.T) {
	th, _, _ := newThrottle(t, Policy{PerTarget: 40})
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			th.Failure("login", fmt.Sprintf("198.51.100.%d", i+1), "owner")
		}()
	}
	wg.Wait()
	mustBlock(t, th, "login", "192.0.2.1", "owner")
}

func TestSlotAndNormalize(t *testing.T) {
	if got := slot(time.Unix(0, -1), time.Second); got != -1 {
		t.Errorf("slot before epoch = %d, want -1", got)
	}
	if got := slot(time.Unix(1, 0), time.Second); got != 1 {
		t.Errorf("slot = %d, want 1", got)
	}
	for in, want := range map[string]string{
		"203.0.113.7":        "203.0.113.7",
		"::ffff:203.0.113.7": "203.0.113.7",
		"2001:db8::1":        "2001:db8::/64",
		"fe80::1%eth0":       "fe80::/64",
		"not an ip":          "not an ip",
		"2001:db8:0:0:1::":   "2001:db8::/64",
	} {
		if got := normalizeIP(in); got != want {
			t.Errorf("normalizeIP(%q) = %q, want %q", in, got, want)
		}
	}
}
