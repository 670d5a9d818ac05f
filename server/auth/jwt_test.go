package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// clock is an injectable, settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func newTokens(t *testing.T, c *clock, keys ...SigningKey) *Tokens {
	t.Helper()
	if len(keys) == 0 {
		keys = []SigningKey{{ID: "k1", Key: key(1)}}
	}
	tk, err := NewTokens(keys, c.Now)
	if err != nil {
		t.Fatalf("NewTokens: %v", err)
	}
	return tk
}

func TestIssueAndVerify(t *testing.T) {
	c := newClock()
	tk := newTokens(t, c)
	tok, exp, err := tk.Issue("user-1", "family-1")
	if err != nil {
		t.Fatal(err)
	}
	if want := c.Now().Add(15 * time.Minute); !exp.Equal(want) {
		t.Fatalf("expiresAt = %v, want %v", exp, want)
	}
	header, claims := decodeParts(t, tok)
	if header["alg"] != "HS256" || header["typ"] != "at+jwt" || header["kid"] != "k1" {
		t.Fatalf("header = %v", header)
	}
	for _, name := range []string{"sub", "sid", "jti", "iat", "nbf", "exp", "aud", "iss"} {
		if _, ok := claims[name]; !ok {
			t.Errorf("claim %s missing: %v", name, claims)
		}
	}
	got, err := tk.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.UserID != "user-1" || got.SessionID != "family-1" || got.ID == "" ||
		!got.IssuedAt.Equal(c.Now()) || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("claims = %+v", got)
	}
	// Still valid one second before expiry, after nothing else changed.
	c.Advance(15*time.Minute - time.Second)
	if _, err := tk.Verify(tok); err != nil {
		t.Fatalf("Verify 1 s before exp: %v", err)
	}
	// jti is unique per token.
	tok2, _, _ := tk.Issue("user-1", "family-1")
	got2, err := tk.Verify(tok2)
	if err != nil || got2.ID == got.ID {
		t.Fatalf("second token: jti %q vs %q, err %v", got2.ID, got.ID, err)
	}
}

func TestIssueRefusesEmptyIDs(t *testing.T) {
	tk := newTokens(t, newClock())
	for _, ids := range [][2]string{{"", "s"}, {"u", ""}} {
		if _, _, err := tk.Issue(ids[0], ids[1]); err == nil {
			t.Errorf("Issue(%q, %q): want error", ids[0], ids[1])
		}
	}
}

func TestNewTokensValidatesKeys(t *testing.T) {
	for name, keys := range map[string][]SigningKey{
		"no keys":      nil,
		"empty id":     {{ID: "", Key: key(1)}},
		"short key":    {{ID: "k1", Key: make([]byte, 31)}},
		"duplicate id": {{ID: "k1", Key: key(1)}, {ID: "k1", Key: key(2)}},
	} {
		if _, err := NewTokens(keys, nil); err == nil {
			t.Errorf("%s: want error", name)
		} else if strings.Contains(err.Error(), string(key(1))) {
			t.Errorf("%s: error leaks key", name)
		}
	}
	// The caller's slice may be reused: Tokens keeps its own copy.
	k := key(7)
	tk, err := NewTokens([]SigningKey{{ID: "k", Key: k}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, _ := tk.Issue("u", "s")
	k[0] ^= 0xff
	if _, err := tk.Verify(tok); err != nil {
		t.Fatalf("mutating the caller's key broke verification: %v", err)
	}
}

func TestKeyRotation(t *testing.T) {
	c := newClock()
	old := SigningKey{ID: "2026-01", Key: key(1)}
	next := SigningKey{ID: "2026-11", Key: key(2)}

	before := newTokens(t, c, old)
	oldTok, _, _ := before.Issue("u", "s")

	// New key first (it signs), old key still listed (it verifies).
	during := newTokens(t, c, next, old)
	if _, err := during.Verify(oldTok); err != nil {
		t.Fatalf("token signed by old key refused while old key is listed: %v", err)
	}
	newTok, _, _ := during.Issue("u", "s")
	if h, _ := decodeParts(t, newTok); h["kid"] != next.ID {
		t.Fatalf("new tokens signed with kid %v, want %s", h["kid"], next.ID)
	}
	// A server that only knows the old key cannot verify the new one.
	if _, err := before.Verify(newTok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("old-only server accepted new-key token: %v", err)
	}

	// Old key removed: its tokens stop working.
	after := newTokens(t, c, next)
	if _, err := after.Verify(oldTok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("token signed by removed key: err = %v, want ErrInvalidToken", err)
	}
	if _, err := after.Verify(newTok); err != nil {
		t.Fatalf("new token after rotation: %v", err)
	}
}

// decodeParts returns a JWT's header and claims as maps.
func decodeParts(t *testing.T, tok string) (map[string]any, map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	var h, c map[string]any
	for i, dst := range []*map[string]any{&h, &c} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatal(err)
		}
	}
	return h, c
}

// forge signs arbitrary header fields and claims with any method and key.
func forge(t *testing.T, method jwt.SigningMethod, signKey any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(signKey)
	if err != nil {
		t.Fatalf("forge: %v", err)
	}
	return s
}

// b64json encodes v as one JWT segment.
func b64json(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

func TestVerifyRefuses(t *testing.T) {
	c := newClock()
	tk := newTokens(t, c)
	now := c.Now()
	good := func() jwt.MapClaims {
		return jwt.MapClaims{
			"sub": "user-1", "sid": "family-1", "jti": "j1",
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(15 * time.Minute).Unix(),
			"aud": []string{"photovault"}, "iss": "photovault",
		}
	}
	with := func(mut func(jwt.MapClaims)) jwt.MapClaims {
		m := good()
		mut(m)
		return m
	}
	hdr := map[string]any{"kid": "k1", "typ": "at+jwt"}
	hs := func(claims jwt.MapClaims) string { return forge(t, jwt.SigningMethodHS256, key(1), hdr, claims) }

	// Sanity: the forger makes tokens Verify accepts.
	if _, err := tk.Verify(hs(good())); err != nil {
		t.Fatalf("forged good token refused: %v", err)
	}

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	valid, _, _ := tk.Issue("user-1", "family-1")
	parts := strings.Split(valid, ".")
	refresh, _ := NewOpaqueToken()

	// Payload swapped to another user, signature kept.
	_, claims := decodeParts(t, valid)
	claims["sub"] = "admin"
	tamperedPayload := parts[0] + "." + b64json(t, claims) + "." + parts[2]
	// Header swapped to alg none, signature kept.
	noneHeader := b64json(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": "k1"})

	cases := map[string]string{
		"empty":                    "",
		"refresh token (opaque)":   refresh,
		"garbage":                  "not.a.jwt",
		"two segments":             parts[0] + "." + parts[1],
		"four segments":            valid + ".x",
		"tampered payload":         tamperedPayload,
		"tampered signature":       parts[0] + "." + parts[1] + "." + flip(parts[2]),
		"signature stripped":       parts[0] + "." + parts[1] + ".",
		"alg none header, old sig": noneHeader + "." + parts[1] + "." + parts[2],
		"alg none, no sig":         noneHeader + "." + parts[1] + ".",
		"alg none via library": forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType,
			hdr, good()),
		"HS384 same key":      forge(t, jwt.SigningMethodHS384, key(1), hdr, good()),
		"HS512 same key":      forge(t, jwt.SigningMethodHS512, key(1), hdr, good()),
		"RS256":               forge(t, jwt.SigningMethodRS256, rsaKey, hdr, good()),
		"PS256":               forge(t, jwt.SigningMethodPS256, rsaKey, hdr, good()),
		"ES256":               forge(t, jwt.SigningMethodES256, ecKey, hdr, good()),
		"EdDSA":               forge(t, jwt.SigningMethodEdDSA, edKey, hdr, good()),
		"wrong key, same kid": forge(t, jwt.SigningMethodHS256, key(9), hdr, good()),
		"unknown kid":         forge(t, jwt.SigningMethodHS256, key(1), map[string]any{"kid": "k9", "typ": "at+jwt"}, good()),
		"no kid":              forge(t, jwt.SigningMethodHS256, key(1), map[string]any{"kid": nil, "typ": "at+jwt"}, good()),
		"numeric kid":         forge(t, jwt.SigningMethodHS256, key(1), map[string]any{"kid": 1, "typ": "at+jwt"}, good()),
		"typ JWT":             forge(t, jwt.SigningMethodHS256, key(1), map[string]any{"kid": "k1", "typ": "JWT"}, good()),
		"typ refresh":         forge(t, jwt.SigningMethodHS256, key(1), map[string]any{"kid": "k1", "typ": "rt+jwt"}, good()),
		"no typ":              forge(t, jwt.SigningMethodHS256, key(1), map[string]any{"kid": "k1", "typ": nil}, good()),
		"wrong aud":           hs(with(func(m jwt.MapClaims) { m["aud"] = "other-app" })),
		"no aud":              hs(with(func(m jwt.MapClaims) { delete(m, "aud") })),
		"wrong iss":           hs(with(func(m jwt.MapClaims) { m["iss"] = "evil" })),
		"no iss":              hs(with(func(m jwt.MapClaims) { delete(m, "iss") })),
		"expired":             hs(with(func(m jwt.MapClaims) { m["exp"] = now.Add(-time.Second).Unix() })),
		"no exp":              hs(with(func(m jwt.MapClaims) { delete(m, "exp") })),
		"nbf in future":       hs(with(func(m jwt.MapClaims) { m["nbf"] = now.Add(time.Hour).Unix() })),
		"no nbf":              hs(with(func(m jwt.MapClaims) { delete(m, "nbf") })),
		"iat in future":       hs(with(func(m jwt.MapClaims) { m["iat"] = now.Add(time.Hour).Unix() })),
		"no iat":              hs(with(func(m jwt.MapClaims) { delete(m, "iat") })),
		"no sub":              hs(with(func(m jwt.MapClaims) { delete(m, "sub") })),
		"empty sub":           hs(with(func(m jwt.MapClaims) { m["sub"] = "" })),
		"no sid":              hs(with(func(m jwt.MapClaims) { delete(m, "sid") })),
		"numeric sid":         hs(with(func(m jwt.MapClaims) { m["sid"] = 7 })),
		"no jti":              hs(with(func(m jwt.MapClaims) { delete(m, "jti") })),
		"exp as string":       hs(with(func(m jwt.MapClaims) { m["exp"] = "never" })),
		"oversized":           hs(with(func(m jwt.MapClaims) { m["pad"] = strings.Repeat("x", 5000) })),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := tk.Verify(tok)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify = %+v, %v; want ErrInvalidToken", got, err)
			}
			if got != (Claims{}) {
				t.Fatalf("refused token returned claims %+v", got)
			}
			if tok != "" && strings.Contains(err.Error(), tok) {
				t.Fatal("error text contains the token")
			}
		})
	}
}

func TestVerifyExpiryUsesInjectedClock(t *testing.T) {
	c := newClock()
	tk := newTokens(t, c)
	tok, _, _ := tk.Issue("u", "s")
	c.Advance(15*time.Minute + time.Second)
	if _, err := tk.Verify(tok); !errors.Is(err, ErrInvalidToken) || !errors.Is(err, jwt.ErrTokenExpired) {
		t.Fatalf("after 15m01s: err = %v, want expired", err)
	}
	// A token issued "in the future" (clock skew) is not yet valid.
	c.Advance(-time.Hour)
	if _, err := tk.Verify(tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("before iat/nbf: err = %v, want ErrInvalidToken", err)
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}
