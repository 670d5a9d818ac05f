package auth

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strconv"
	"time"
)

// Counters is the storage the throttle needs; *kv.Store satisfies it. Incr
// sets ttl when it creates a key and keeps the expiry otherwise. Any Get
// error is taken as "no record".
type Counters interface {
	Get(key []byte) ([]byte, error)
	Incr(key []byte, ttl time.Duration) (int64, error)
	Delete(key []byte) error
}

// Policy tunes a Throttle. Zero fields take DefaultPolicy's value.
type Policy struct {
	// Window is the fixed counting window for failures.
	Window time.Duration
	// PerIP failures from one IP in one scope within a Window block that IP
	// (for every target) until the window rolls over.
	PerIP int
	// PerTarget failures against one target (username, share id) from all IPs
	// within a Window lock the target for TargetLock.
	PerTarget int
	// Base is the delay hint after the first failure of an IP against a
	// target; it doubles per failure up to MaxDelay.
	Base, MaxDelay time.Duration
	// TargetLock is the longest a target stays locked after a failure past
	// PerTarget (the lock lasts between 3/4 of it and all of it). Short, so a
	// stranger cannot lock the real user out for long.
	TargetLock time.Duration
	// KnownIPFor is how long an IP that once got the secret right for a
	// target is exempt from that target's lock (not from its own per-IP
	// limit). A distributed attacker hammering the owner's username then
	// cannot keep the owner out at all. Negative disables.
	KnownIPFor time.Duration
}

// DefaultPolicy is a 15-minute window; 10 failures per IP, then 429 until the
// window rolls; 50 failures per target from all IPs, then a lock of at most
// 60 s; delay hints from 200 ms doubling to 5 s; IPs that succeeded for a
// target are exempt from its lock for 30 days.
func DefaultPolicy() Policy {
	return Policy{
		Window:     15 * time.Minute,
		PerIP:      10,
		PerTarget:  50,
		Base:       200 * time.Millisecond,
		MaxDelay:   5 * time.Second,
		TargetLock: 60 * time.Second,
		KnownIPFor: 30 * 24 * time.Hour,
	}
}

// lockSlices is how many time slices a TargetLock spans; a lock set in one
// slice holds until the end of the last, hence between (n-1)/n and all of
// TargetLock.
const lockSlices = 4

// Throttle is a brute-force throttle for endpoints that check a secret
// (login, setup, password change, share unlock), after Nextcloud's
// bruteforce throttler: failures grow a delay hint, and past a limit the
// answer is 429 with Retry-After instead of an ever longer sleep.
//
// Callers call Check before verifying the secret — while blocked, even the
// right secret gets 429 — sleep the returned delay, verify, then report
// Failure or Success. Counters are keyed by hashes: no username, IP or other
// identifier is stored in clear. Safe for concurrent use; concurrent
// attempts that all pass Check before any Failure is recorded can overshoot
// the limits by the number in flight.
type Throttle struct {
	c   Counters
	p   Policy
	now func() time.Time
}

// NewThrottle returns a Throttle over c. now is the clock; nil means time.Now.
func NewThrottle(c Counters, p Policy, now func() time.Time) *Throttle {
	d := DefaultPolicy()
	if p.Window <= 0 {
		p.Window = d.Window
	}
	if p.PerIP <= 0 {
		p.PerIP = d.PerIP
	}
	if p.PerTarget <= 0 {
		p.PerTarget = d.PerTarget
	}
	if p.Base <= 0 {
		p.Base = d.Base
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = d.MaxDelay
	}
	p.MaxDelay = max(p.MaxDelay, p.Base)
	if p.TargetLock < lockSlices {
		p.TargetLock = d.TargetLock
	}
	if p.KnownIPFor == 0 {
		p.KnownIPFor = d.KnownIPFor
	}
	if now == nil {
		now = time.Now
	}
	return &Throttle{c: c, p: p, now: now}
}

// Check reports whether an attempt from ip on target in scope may go ahead.
// If not, retryAfter (at least one second, whole seconds) is for the
// Retry-After header. If so, delay is how long to wait before answering:
// it grows with this IP's recent failures on this target.
func (t *Throttle) Check(scope, ip, target string) (allowed bool, retryAfter time.Duration, delay time.Duration) {
	now := t.now()
	ip = normalizeIP(ip)
	w := slot(now, t.p.Window)
	if t.get(t.key("ip", w, scope, ip)) >= int64(t.p.PerIP) {
		return false, retryAfterFrom(now, slotEnd(w, t.p.Window)), 0
	}
	if target != "" {
		if until, locked := t.targetLockedUntil(now, scope, target); locked && !t.known(scope, ip, target) {
			return false, retryAfterFrom(now, until), 0
		}
	}
	return true, 0, t.delayFor(t.get(t.key("pair", w, scope, ip, target)))
}

// Failure records a wrong secret from ip on target: it counts against the IP
// in this scope, the ip+target pair, and the target from all IPs.
func (t *Throttle) Failure(scope, ip, target string) {
	now := t.now()
	ip = normalizeIP(ip)
	w := slot(now, t.p.Window)
	// Errors are dropped: the store is rebuildable and its failure must not
	// turn a login into a 500. Get errors read as zero (fail open).
	_, _ = t.c.Incr(t.key("ip", w, scope, ip), t.p.Window)
	_, _ = t.c.Incr(t.key("pair", w, scope, ip, target), t.p.Window)
	if target == "" {
		return
	}
	n, err := t.c.Incr(t.key("target", w, scope, target), t.p.Window)
	if err == nil && n >= int64(t.p.PerTarget) {
		_, _ = t.c.Incr(t.key("lock", slot(now, t.lockSlice()), scope, target), t.p.TargetLock)
	}
}

// Success records a right secret: it clears the ip+target pair's failures
// (so the delay starts again from zero) and remembers the IP as known for
// the target. It does not clear the per-IP or target-wide counters, so
// knowing one secret (say, the password of one share) cannot be used to
// reset the throttle while guessing another.
func (t *Throttle) Success(scope, ip, target string) {
	now := t.now()
	ip = normalizeIP(ip)
	_ = t.c.Delete(t.key("pair", slot(now, t.p.Window), scope, ip, target))
	if target != "" && t.p.KnownIPFor > 0 {
		k := t.key("known", 0, scope, ip, target)
		_ = t.c.Delete(k) // restart its TTL
		_, _ = t.c.Incr(k, t.p.KnownIPFor)
	}
}

func (t *Throttle) lockSlice() time.Duration { return t.p.TargetLock / lockSlices }

// targetLockedUntil looks for a lock set in any of the last lockSlices
// slices and returns when the newest one ends.
func (t *Throttle) targetLockedUntil(now time.Time, scope, target string) (time.Time, bool) {
	g := t.lockSlice()
	cur := slot(now, g)
	for back := range int64(lockSlices) {
		if t.get(t.key("lock", cur-back, scope, target)) > 0 {
			return slotEnd(cur-back+lockSlices-1, g), true
		}
	}
	return time.Time{}, false
}

func (t *Throttle) known(scope, ip, target string) bool {
	return t.p.KnownIPFor > 0 && t.get(t.key("known", 0, scope, ip, target)) > 0
}

func (t *Throttle) delayFor(failures int64) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := t.p.Base
	for i := int64(1); i < failures && d < t.p.MaxDelay; i++ {
		d *= 2
	}
	return min(d, t.p.MaxDelay)
}

func (t *Throttle) get(key []byte) int64 {
	v, err := t.c.Get(key)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// key builds "throttle/<kind>/<hash of the parts>/<slot>". Parts are
// length-prefixed before hashing so that ("a:b","c") and ("a","b:c") differ,
// and hashed so that usernames and IPs never sit in the store in clear.
func (t *Throttle) key(kind string, slotN int64, parts ...string) []byte {
	h := sha256.New()
	var n [8]byte
	for _, p := range append([]string{kind}, parts...) {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	sum := h.Sum(nil)
	k := make([]byte, 0, 64)
	k = append(k, "throttle/"...)
	k = append(k, kind...)
	k = append(k, '/')
	k = hex.AppendEncode(k, sum[:16])
	k = append(k, '/')
	return strconv.AppendInt(k, slotN, 10)
}

// normalizeIP canonicalises an address and widens IPv6 to its /64: one
// subscriber usually holds a whole /64 and could rotate through it.
func normalizeIP(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.String()
		}
	}
	return a.String()
}

// slot is the index of the fixed-length slot holding now.
func slot(now time.Time, d time.Duration) int64 {
	n := now.UnixNano()
	s := n / int64(d)
	if n < 0 && n%int64(d) != 0 {
		s--
	}
	return s
}

func slotEnd(s int64, d time.Duration) time.Time {
	return time.Unix(0, (s+1)*int64(d))
}

// retryAfterFrom rounds up to whole seconds, at least one.
func retryAfterFrom(now, until time.Time) time.Duration {
	d := until.Sub(now)
	if r := d % time.Second; r != 0 {
		d += time.Second - r
	}
	return max(d, time.Second)
}
