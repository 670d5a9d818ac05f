package auth

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

// floor is the cheapest allowed parameter set; most tests use it to stay fast
// under -race, where argon2 runs several times slower.
func floor() Params {
	return Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

func mustHash(t *testing.T, pw string, p Params) string {
	t.Helper()
	phc, err := HashPasswordWith(pw, p)
	if err != nil {
		t.Fatalf("HashPasswordWith: %v", err)
	}
	return phc
}

func TestHashPasswordFormatAndVerify(t *testing.T) {
	const pw = "orchid lantern 42 velvet"
	phc, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=47104,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(phc) {
		t.Fatalf("PHC string %q does not match %s", phc, re)
	}
	if strings.Contains(phc, pw) {
		t.Fatal("hash contains the password")
	}
	ok, rehash, err := VerifyPassword(phc, pw)
	if err != nil || !ok || rehash {
		t.Fatalf("VerifyPassword(right) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	ok, rehash, err = VerifyPassword(phc, pw+"x")
	if err != nil || ok || rehash {
		t.Fatalf("VerifyPassword(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}
}

func TestHashesAreSalted(t *testing.T) {
	a := mustHash(t, "same password here", floor())
	b := mustHash(t, "same password here", floor())
	if a == b {
		t.Fatal("two hashes of the same password are equal: salt not random")
	}
}

func TestNeedsRehash(t *testing.T) {
	const pw = "quiet harbour at dawn"
	// A hash made at the floor verifies under the (higher) defaults, and asks
	// to be redone.
	old := mustHash(t, pw, floor())
	ok, rehash, err := VerifyPassword(old, pw)
	if err != nil || !ok || !rehash {
		t.Fatalf("floor hash under defaults: ok=%v rehash=%v err=%v; want ok and rehash", ok, rehash, err)
	}
	// A wrong password never asks for a rehash.
	if ok, rehash, _ := VerifyPassword(old, "nope nope nope"); ok || rehash {
		t.Fatalf("wrong password: ok=%v rehash=%v", ok, rehash)
	}
	// Raising the parameters later: yesterday's hash needs a rehash, and the
	// rehash with the raised parameters does not.
	raised := floor()
	raised.Time = 3
	ok, rehash, err = VerifyPasswordWith(old, pw, raised)
	if err != nil || !ok || !rehash {
		t.Fatalf("raised params: ok=%v rehash=%v err=%v", ok, rehash, err)
	}
	fresh := mustHash(t, pw, raised)
	if !strings.Contains(fresh, "m=19456,t=3,p=1") {
		t.Fatalf("raised params not recorded in %q", fresh)
	}
	ok, rehash, err = VerifyPasswordWith(fresh, pw, raised)
	if err != nil || !ok || rehash {
		t.Fatalf("rehashed: ok=%v rehash=%v err=%v; want ok, no rehash", ok, rehash, err)
	}
	// A longer key length also counts as different parameters.
	longer := floor()
	longer.KeyLen = 64
	if _, rehash, _ := VerifyPasswordWith(old, pw, longer); !rehash {
		t.Fatal("key length change should ask for rehash")
	}
}

func TestHashRefusesWeakParamsAndEmptyPassword(t *testing.T) {
	for name, mutate := range map[string]func(*Params){
		"memory below 19 MiB": func(p *Params) { p.Memory = 19*1024 - 1 },
		"one pass":            func(p *Params) { p.Time = 1 },
		"two lanes":           func(p *Params) { p.Threads = 2 },
		"zero lanes":          func(p *Params) { p.Threads = 0 },
		"short salt":          func(p *Params) { p.SaltLen = 4 },
		"short key":           func(p *Params) { p.KeyLen = 8 },
		"absurd memory":       func(p *Params) { p.Memory = 1<<20 + 1 },
	} {
		p := floor()
		mutate(&p)
		if _, err := HashPasswordWith("long enough password", p); !errors.Is(err, ErrWeakParams) {
			t.Errorf("%s: err = %v, want ErrWeakParams", name, err)
		}
	}
	if _, err := HashPassword(""); !errors.Is(err, ErrEmptyPassword) {
		t.Fatalf("empty password: err = %v, want ErrEmptyPassword", err)
	}
}

// Long passwords are used whole: no 72-byte (bcrypt-style) truncation, no
// case folding, no trimming (SECURITY.md #1, ASVS 6.2.8/6.2.9).
func TestLongPasswordsAreNotTruncatedOrFolded(t *testing.T) {
	long64 := strings.Repeat("Ab3$", 16)                         // 64 chars
	long1000 := strings.Repeat("the quick brown fox jumps ", 40) // 1040 chars
	long1000 = long1000[:1000]
	for name, tc := range map[string]struct{ stored, tried string }{
		"64 chars, last char differs":     {long64, long64[:63] + "x"},
		"1000 chars, last char differs":   {long1000, long1000[:999] + "Z"},
		"1000 chars vs 72-byte prefix":    {long1000, long1000[:72]},
		"1000 chars vs 999-char prefix":   {long1000, long1000[:999]},
		"case folded":                     {"Orchid Lantern Velvet", "orchid lantern velvet"},
		"trailing space trimmed":          {"orchid lantern velvet ", "orchid lantern velvet"},
		"unicode, composed vs decomposed": {"caf\u00e9 terrace at night", "cafe\u0301 terrace at night"},
	} {
		t.Run(name, func(t *testing.T) {
			phc := mustHash(t, tc.stored, floor())
			if ok, _, err := VerifyPasswordWith(phc, tc.stored, floor()); err != nil || !ok {
				t.Fatalf("the stored password itself fails: %v %v", ok, err)
			}
			if ok, _, _ := VerifyPasswordWith(phc, tc.tried, floor()); ok {
				t.Fatalf("a different password (%d vs %d bytes) verified", len(tc.tried), len(tc.stored))
			}
		})
	}
}

func TestVerifyRejectsBadHashes(t *testing.T) {
	good := mustHash(t, "orchid lantern velvet", floor())
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	for name, phc := range map[string]string{
		"empty":               "",
		"garbage":             "not a hash",
		"bcrypt":              "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":             "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key,
		"argon2d":             "$argon2d$v=19$m=19456,t=2,p=1$" + salt + "$" + key,
		"old version":         "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key,
		"missing version":     "$argon2id$m=19456,t=2,p=1$" + salt + "$" + key,
		"params out of order": "$argon2id$v=19$t=2,m=19456,p=1$" + salt + "$" + key,
		"zero passes":         "$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key,
		"zero lanes":          "$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + key,
		"4 GiB memory (DoS)":  "$argon2id$v=19$m=4194304,t=2,p=1$" + salt + "$" + key,
		"10000 passes (DoS)":  "$argon2id$v=19$m=19456,t=10000,p=1$" + salt + "$" + key,
		"memory < 8*lanes":    "$argon2id$v=19$m=8,t=2,p=2$" + salt + "$" + key,
		"negative memory":     "$argon2id$v=19$m=-1,t=2,p=1$" + salt + "$" + key,
		"padded salt":         "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + key,
		"url-safe base64":     "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + strings.NewReplacer("+", "-", "/", "_").Replace(key) + "-_",
		"short salt":          "$argon2id$v=19$m=19456,t=2,p=1$AAAA$" + key,
		"short hash":          "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$AAAA",
		"extra field":         good + "$extra",
		"no leading dollar":   strings.TrimPrefix(good, "$"),
		"two params":          "$argon2id$v=19$m=19456,t=2$" + salt + "$" + key,
	} {
		t.Run(name, func(t *testing.T) {
			ok, rehash, err := VerifyPassword(phc, "orchid lantern velvet")
			if !errors.Is(err, ErrInvalidHash) || ok || rehash {
				t.Fatalf("got ok=%v rehash=%v err=%v; want ErrInvalidHash", ok, rehash, err)
			}
			if strings.Contains(err.Error(), salt) || strings.Contains(err.Error(), key) {
				t.Fatalf("error leaks hash material: %v", err)
			}
		})
	}
}

// DummyVerify must cost about what a real verification costs, or response
// time tells which usernames exist.
func TestDummyVerifyCostsLikeVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	phc, err := HashPassword("orchid lantern velvet")
	if err != nil {
		t.Fatal(err)
	}
	// Interleaved, best of 5: the machine is shared, so only a gross gap
	// (a dummy that skips the work, or does it twice) should fail.
	realBest, dummyBest := time.Duration(1<<62), time.Duration(1<<62)
	for range 5 {
		start := time.Now()
		_, _, _ = VerifyPassword(phc, "wrong password guess")
		realBest = min(realBest, time.Since(start))
		start = time.Now()
		DummyVerify("wrong password guess")
		dummyBest = min(dummyBest, time.Since(start))
	}
	real, dummy := realBest, dummyBest
	ratio := float64(dummy) / float64(real)
	t.Logf("verify %v, dummy %v (ratio %.2f)", real, dummy, ratio)
	if ratio < 0.4 || ratio > 2.5 {
		t.Fatalf("DummyVerify takes %v, VerifyPassword %v: too different", dummy, real)
	}
}

// BenchmarkHashPassword measures the cost of DefaultParams (ms per hash).
func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := HashPassword("orchid lantern velvet"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHashPasswordFloor measures the 19 MiB, t=2 floor for comparison.
func BenchmarkHashPasswordFloor(b *testing.B) {
	for b.Loop() {
		if _, err := HashPasswordWith("orchid lantern velvet", floor()); err != nil {
			b.Fatal(err)
		}
	}
}
