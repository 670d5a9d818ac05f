package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/photovault/photovault/server/auth"
)

func TestSetupFlow(t *testing.T) {
	e := newTestEnv(t, nil)
	resp, body := e.do("GET", "/api/auth/setup", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"setup_required":true`) {
		t.Fatalf("status: %d %s", resp.StatusCode, body)
	}
	e.srv.Announce(context.Background())
	m := regexp.MustCompile(`"setup_token":"([A-Za-z0-9_-]+)"`).FindStringSubmatch(e.logs.String())
	if m == nil {
		t.Fatalf("setup token not announced:\n%s", e.logs.String())
	}
	tok := m[1]
	pw := "a long and unusual passphrase 9"
	// Wrong token, weak password, missing fields.
	for _, c := range []struct {
		body map[string]string
		want int
	}{
		{map[string]string{"setup_token": "nope", "username": "ada", "password": pw}, 401},
		{map[string]string{"setup_token": tok, "username": "ada", "password": "password123"}, 400},
		{map[string]string{"setup_token": tok, "username": "ada"}, 400},
	} {
		if resp, body := e.do("POST", "/api/auth/setup", c.body, nil); resp.StatusCode != c.want {
			t.Fatalf("%v: %d %s", c.body, resp.StatusCode, body)
		}
	}
	resp, body = e.do("POST", "/api/auth/setup/", map[string]string{"setup_token": tok, "username": "ada", "password": pw}, nil)
	if resp.StatusCode != 201 || decode[userView](t, body).Username != "ada" {
		t.Fatalf("setup: %d %s", resp.StatusCode, body)
	}
	// Once only.
	resp, _ = e.do("POST", "/api/auth/setup", map[string]string{"setup_token": tok, "username": "eve", "password": pw}, nil)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("second setup: %d", resp.StatusCode)
	}
	e.login("ada", pw)
}

func TestLoginAndMe(t *testing.T) {
	e := newTestEnv(t, nil)
	o := e.createOwner("ada")
	resp, body := e.do("GET", "/api/auth/me", nil, o.bearer())
	me := decode[userView](t, body)
	if resp.StatusCode != 200 || me.ID != o.id || me.Username != "ada" || me.CreatedAt == "" {
		t.Fatalf("me: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("POST", "/api/auth/login/", map[string]string{"username": "ada", "password": o.password}, nil)
	tp := decode[tokenPair](t, body)
	if resp.StatusCode != 200 || tp.TokenType != "Bearer" || tp.ExpiresIn != 900 || tp.AccessToken == "" || len(tp.RefreshToken) < 43 {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	// Unknown user and wrong password: the same answer.
	r1, b1 := e.do("POST", "/api/auth/login", map[string]string{"username": "nobody", "password": "x"}, nil)
	r2, b2 := e.do("POST", "/api/auth/login", map[string]string{"username": "ada", "password": "wrong"}, nil)
	if r1.StatusCode != 401 || r2.StatusCode != 401 {
		t.Fatalf("bad credentials: %d %d", r1.StatusCode, r2.StatusCode)
	}
	strip := func(b []byte) string {
		return regexp.MustCompile(`"request_id":"[^"]*"`).ReplaceAllString(string(b), "")
	}
	if strip(b1) != strip(b2) {
		t.Fatalf("unknown user and wrong password differ:\n%s\n%s", b1, b2)
	}
}

func TestRefreshRotationReuseAndParallel(t *testing.T) {
	e := newTestEnv(t, nil)
	o := e.createOwner("ada")
	resp, body := e.do("POST", "/api/auth/refresh", map[string]string{"refresh_token": o.refresh}, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("refresh: %d %s", resp.StatusCode, body)
	}
	p2 := decode[tokenPair](t, body)
	if p2.RefreshToken == o.refresh {
		t.Fatal("refresh token not rotated")
	}
	// Replay of the spent token: 401 and the pair issued from it dies.
	resp, _ = e.do("POST", "/api/auth/refresh", map[string]string{"refresh_token": o.refresh}, nil)
	if resp.StatusCode != 401 {
		t.Fatalf("replay: %d", resp.StatusCode)
	}
	if resp, _ := e.do("GET", "/api/auth/me", nil, map[string]string{"Authorization": "Bearer " + p2.AccessToken}); resp.StatusCode != 401 {
		t.Fatalf("access token of revoked family: %d", resp.StatusCode)
	}
	if resp, _ := e.do("POST", "/api/auth/refresh", map[string]string{"refresh_token": p2.RefreshToken}, nil); resp.StatusCode != 401 {
		t.Fatalf("refresh token of revoked family: %d", resp.StatusCode)
	}
	types, _ := e.store.AuditTypes(context.Background())
	if types["refresh_reuse"] != 1 {
		t.Fatalf("audit: %v", types)
	}

	// Parallel refreshes with one token: exactly one success.
	_, refresh := e.login("ada", o.password)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := e.do("POST", "/api/auth/refresh", map[string]string{"refresh_token": refresh}, nil)
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[200] != 1 || codes[401] != 9 {
		t.Fatalf("parallel refresh: %v", codes)
	}
}

func TestLogoutKillsAccessTokenAtOnce(t *testing.T) {
	e := newTestEnv(t, nil)
	o := e.createOwner("ada")
	if resp, _ := e.do("POST", "/api/auth/logout", nil, o.bearer()); resp.StatusCode != 204 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if resp, _ := e.do("GET", "/api/auth/me", nil, o.bearer()); resp.StatusCode != 401 {
		t.Fatalf("access token after logout: %d", resp.StatusCode)
	}
	if resp, _ := e.do("POST", "/api/auth/refresh", map[string]string{"refresh_token": o.refresh}, nil); resp.StatusCode != 401 {
		t.Fatalf("refresh after logout: %d", resp.StatusCode)
	}
}

func TestPasswordChange(t *testing.T) {
	e := newTestEnv(t, nil)
	o := e.createOwner("ada")
	otherAccess, _ := e.login("ada", o.password)
	resp, body := e.do("POST", "/api/auth/password", map[string]string{"old_password": o.password, "new_password": "short"}, o.bearer())
	if resp.StatusCode != 400 || !strings.Contains(string(body), "weak_password") {
		t.Fatalf("weak: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("POST", "/api/auth/password", map[string]string{"old_password": o.password, "new_password": "ada-ada-ada-ada-ada"}, o.bearer())
	if resp.StatusCode != 400 || !strings.Contains(string(body), "weak_password") {
		t.Fatalf("close to username: %d %s", resp.StatusCode, body)
	}
	resp, _ = e.do("POST", "/api/auth/password", map[string]string{"old_password": "wrong", "new_password": "a much better passphrase 77"}, o.bearer())
	if resp.StatusCode != 403 {
		t.Fatalf("wrong old password: %d", resp.StatusCode)
	}
	newPW := "a much better passphrase 77 " + strings.Repeat("é", 60) // long passwords are taken whole
	resp, body = e.do("POST", "/api/auth/password", map[string]string{"old_password": o.password, "new_password": newPW}, o.bearer())
	if resp.StatusCode != 204 {
		t.Fatalf("change: %d %s", resp.StatusCode, body)
	}
	if resp, _ := e.do("GET", "/api/auth/me", nil, map[string]string{"Authorization": "Bearer " + otherAccess}); resp.StatusCode != 401 {
		t.Fatalf("other session survived: %d", resp.StatusCode)
	}
	if resp, _ := e.do("GET", "/api/auth/me", nil, o.bearer()); resp.StatusCode != 200 {
		t.Fatalf("current session ended: %d", resp.StatusCode)
	}
	if resp, _ := e.do("POST", "/api/auth/login", map[string]string{"username": "ada", "password": newPW[:len(newPW)-2]}, nil); resp.StatusCode != 401 {
		t.Fatalf("truncated password accepted: %d", resp.StatusCode)
	}
	e.login("ada", newPW)
}

func TestLoginThrottle(t *testing.T) {
	// The socket peer (127.0.0.1) is a trusted proxy here, so X-Forwarded-For
	// stands for distinct clients.
	e := newTestEnv(t, map[string]string{"PHOTOVAULT_TRUSTED_PROXIES": "127.0.0.1"})
	o := e.createOwner("ada")
	attacker := map[string]string{"X-Forwarded-For": "198.51.100.7"}
	var last *http.Response
	for i := 1; i <= 11; i++ {
		last, _ = e.do("POST", "/api/auth/login", map[string]string{"username": "ada", "password": "guess" + strconv.Itoa(i)}, attacker)
		if i <= 10 && last.StatusCode != 401 {
			t.Fatalf("failure %d: %d", i, last.StatusCode)
		}
	}
	if last.StatusCode != 429 || last.Header.Get("Retry-After") == "" {
		t.Fatalf("11th failure: %d retry-after %q", last.StatusCode, last.Header.Get("Retry-After"))
	}
	// While throttled even the right password gets 429.
	resp, _ := e.do("POST", "/api/auth/login", map[string]string{"username": "ada", "password": o.password}, attacker)
	if resp.StatusCode != 429 {
		t.Fatalf("right password while throttled: %d", resp.StatusCode)
	}
	// The real owner from another IP still logs in.
	resp, _ = e.do("POST", "/api/auth/login", map[string]string{"username": "ada", "password": o.password}, map[string]string{"X-Forwarded-For": "203.0.113.50"})
	if resp.StatusCode != 200 {
		t.Fatalf("owner from another IP: %d", resp.StatusCode)
	}
	// Delays grew before the block.
	e.sleepMu.Lock()
	sleeps := append([]time.Duration(nil), e.sleeps...)
	e.sleepMu.Unlock()
	if len(sleeps) < 2 || sleeps[len(sleeps)-1] <= sleeps[0] {
		t.Fatalf("delays did not grow: %v", sleeps)
	}
	types, _ := e.store.AuditTypes(context.Background())
	if types["login_failed"] != 10 || types["throttled"] < 2 {
		t.Fatalf("audit: %v", types)
	}
}

func TestSpoofedForwardedForDoesNotEscapeThrottle(t *testing.T) {
	e := newTestEnv(t, nil) // no trusted proxies: X-Forwarded-For is ignored
	e.createOwner("ada")
	var last *http.Response
	for i := 1; i <= 12; i++ {
		last, _ = e.do("POST", "/api/auth/login", map[string]string{"username": "ada", "password": "guess"},
			map[string]string{"X-Forwarded-For": "10.9.8." + strconv.Itoa(i)})
	}
	if last.StatusCode != 429 {
		t.Fatalf("rotating spoofed X-Forwarded-For escaped the throttle: %d", last.StatusCode)
	}
}

func TestCookieModeNeedsCSRF(t *testing.T) {
	e := newTestEnv(t, nil)
	o := e.createOwner("ada")
	resp, body := e.do("POST", "/api/auth/login", map[string]string{"username": "ada", "password": o.password}, map[string]string{"X-PhotoVault-Cookie": "1"})
	if resp.StatusCode != 200 {
		t.Fatalf("cookie login: %d", resp.StatusCode)
	}
	tp := decode[tokenPair](t, body)
	if tp.AccessToken != "" || tp.RefreshToken != "" || tp.CSRFToken == "" {
		t.Fatalf("cookie mode leaked tokens into JSON: %s", body)
	}
	var at, csrf string
	for _, c := range resp.Cookies() {
		switch c.Name {
		case "pv_at":
			at = c.Value
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
				t.Fatalf("access cookie flags: %+v", c)
			}
		case "pv_csrf":
			csrf = c.Value
		}
	}
	if at == "" || csrf != tp.CSRFToken {
		t.Fatalf("cookies: %v", resp.Cookies())
	}
	cookie := map[string]string{"Cookie": "pv_at=" + at}
	if resp, _ := e.do("GET", "/api/auth/me", nil, cookie); resp.StatusCode != 200 {
		t.Fatalf("cookie GET: %d", resp.StatusCode)
	}
	// Unsafe request by cookie without/with a wrong CSRF proof: 403, nothing changes.
	for _, h := range []map[string]string{cookie, {"Cookie": "pv_at=" + at, "X-CSRF-Token": "forged"}} {
		if resp, _ := e.do("POST", "/api/auth/logout", nil, h); resp.StatusCode != 403 {
			t.Fatalf("CSRF-less logout: %d", resp.StatusCode)
		}
	}
	if resp, _ := e.do("GET", "/api/auth/me", nil, cookie); resp.StatusCode != 200 {
		t.Fatal("session changed by a CSRF-less request")
	}
	if resp, _ := e.do("POST", "/api/auth/logout", nil, map[string]string{"Cookie": "pv_at=" + at, "X-CSRF-Token": csrf}); resp.StatusCode != 204 {
		t.Fatalf("logout with CSRF: %d", resp.StatusCode)
	}
}

// forge builds a JWT by hand for the negative cases.
func forge(header, claims map[string]any, sig string) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(header) + "." + enc(claims) + "." + sig
}

func TestAccessTokenNegatives(t *testing.T) {
	e := newTestEnv(t, nil)
	o := e.createOwner("ada")
	parts := strings.Split(o.access, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	other, _ := auth.NewTokens([]auth.SigningKey{{ID: "g1", Key: []byte("another-key-another-key-another-key!")}}, e.clock.Now)
	foreign, _, _ := other.Issue(o.id, claims["sid"].(string))
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), o.id, "x"+o.id[1:], 1))) + "." + parts[2]
	cases := map[string]string{
		"garbage":             "not-a-token",
		"alg none":            forge(map[string]any{"alg": "none", "typ": "at+jwt", "kid": "g1"}, claims, ""),
		"refresh as access":   o.refresh,
		"other signing key":   foreign,
		"tampered claims":     tampered,
		"empty bearer":        "",
		"alg HS512 relabeled": forge(map[string]any{"alg": "HS512", "typ": "at+jwt", "kid": "g1"}, claims, parts[2]),
	}
	for name, tok := range cases {
		resp, body := e.do("GET", "/api/auth/me", nil, map[string]string{"Authorization": "Bearer " + tok})
		if resp.StatusCode != 401 {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	e.clock.Advance(16 * time.Minute)
	if resp, _ := e.do("GET", "/api/auth/me", nil, o.bearer()); resp.StatusCode != 401 {
		t.Fatalf("expired token: %d", resp.StatusCode)
	}
}

func TestSigningKeyRotation(t *testing.T) {
	e := newTestEnv(t, nil)
	o := e.createOwner("ada")
	ctx := context.Background()
	until := e.clock.Now().Add(accessTTL + time.Minute).UnixMilli()
	if err := e.store.SetSetting(ctx, SettingJWTGeneration, "2"); err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetSetting(ctx, SettingJWTPrevUntil, strconv.FormatInt(until, 10)); err != nil {
		t.Fatal(err)
	}
	e.srv.tokens.mu.Lock()
	e.srv.tokens.tokens = nil // as after the reload interval
	e.srv.tokens.mu.Unlock()
	if resp, _ := e.do("GET", "/api/auth/me", nil, o.bearer()); resp.StatusCode != 200 {
		t.Fatalf("old-key token during overlap: %d", resp.StatusCode)
	}
	newAccess, _ := e.login("ada", o.password)
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(newAccess, ".")[0])
	if !strings.Contains(string(hdr), `"kid":"g2"`) {
		t.Fatalf("new tokens not signed by the new key: %s", hdr)
	}
	e.clock.Advance(accessTTL + 2*time.Minute)
	e.srv.tokens.mu.Lock()
	e.srv.tokens.tokens = nil
	e.srv.tokens.mu.Unlock()
	if resp, _ := e.do("GET", "/api/auth/me", nil, o.bearer()); resp.StatusCode != 401 {
		t.Fatalf("retired key still verifies: %d", resp.StatusCode)
	}
}

func TestNoSecretsInLogs(t *testing.T) {
	e := newTestEnv(t, map[string]string{"PHOTOVAULT_LOG_LEVEL": "debug"})
	o := e.createOwner("canaryuser")
	e.do("POST", "/api/auth/login", map[string]string{"username": "canaryuser", "password": "CANARY-wrong-password"}, nil)
	e.do("POST", "/api/auth/refresh", map[string]string{"refresh_token": o.refresh}, nil)
	e.do("POST", "/api/auth/refresh", map[string]string{"refresh_token": o.refresh}, nil)
	e.do("GET", "/api/auth/me?token="+o.access, nil, o.bearer())
	logs := e.logs.String()
	for name, secret := range map[string]string{"password": o.password, "wrong password": "CANARY-wrong-password",
		"access token": o.access, "refresh token": o.refresh, "jwt signature": strings.Split(o.access, ".")[2]} {
		if strings.Contains(logs, secret) {
			t.Errorf("%s reached the log", name)
		}
	}
}
