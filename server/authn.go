package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/photovault/photovault/server/auth"
	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/keys"
)

// Access tokens live 15 minutes (API.md); refresh families 30 days.
const (
	accessTTL      = 15 * time.Minute
	refreshTTL     = 30 * 24 * time.Hour
	signingRefresh = 5 * time.Second
)

// Settings rows that drive signing-key rotation: keys are HKDF sub-keys of
// the secret key, one per generation, so rotation needs no new key material
// (`photovault keys rotate --signing`). The previous generation keeps
// verifying until jwt_prev_until, i.e. until its last tokens have expired.
const (
	SettingJWTGeneration = "jwt_generation"
	SettingJWTPrevUntil  = "jwt_prev_until_ms"
)

// signingKeyFor derives the JWT key of one generation.
func signingKeyFor(secret keys.Key, gen int) auth.SigningKey {
	return auth.SigningKey{ID: "g" + strconv.Itoa(gen), Key: secret.Derive(keys.LabelJWT+"/"+strconv.Itoa(gen), 32)}
}

// tokenCache holds the current auth.Tokens, reloaded from settings every few
// seconds so a rotation by the CLI reaches a running server.
type tokenCache struct {
	mu     sync.Mutex
	tokens *auth.Tokens
	loaded time.Time
}

func (s *Server) jwt(ctx context.Context) (*auth.Tokens, error) {
	s.tokens.mu.Lock()
	defer s.tokens.mu.Unlock()
	if s.tokens.tokens != nil && time.Since(s.tokens.loaded) < signingRefresh {
		return s.tokens.tokens, nil
	}
	gen := 1
	if v, err := s.store.Setting(ctx, SettingJWTGeneration); err == nil {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			gen = n
		}
	}
	ks := []auth.SigningKey{signingKeyFor(s.secret, gen)}
	if v, err := s.store.Setting(ctx, SettingJWTPrevUntil); err == nil && gen > 1 {
		if until, err := strconv.ParseInt(v, 10, 64); err == nil && s.now().UnixMilli() < until {
			ks = append(ks, signingKeyFor(s.secret, gen-1))
		}
	}
	t, err := auth.NewTokens(ks, s.now)
	if err != nil {
		return nil, err
	}
	s.tokens.tokens, s.tokens.loaded = t, time.Now()
	return t, nil
}

type ownerKey struct{}

// ownerFrom is the authenticated owner's id; only valid behind requireOwner.
func ownerFrom(r *http.Request) string {
	o, _ := r.Context().Value(ownerKey{}).(authed)
	return o.userID
}

func sessionFrom(r *http.Request) string {
	o, _ := r.Context().Value(ownerKey{}).(authed)
	return o.sessionID
}

type authed struct{ userID, sessionID string }

// Cookie names. Under TLS the __Host- prefix pins cookies to this exact
// origin (no Domain, Path=/, Secure), so a sibling subdomain cannot plant them.
func (s *Server) cookieName(base string) string {
	if s.tls {
		return "__Host-" + base
	}
	return base
}

// bearer returns the access token and whether it came from a cookie.
func (s *Server) bearer(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return "", false
		}
		return strings.TrimSpace(tok), false
	}
	if c, err := r.Cookie(s.cookieName("pv_at")); err == nil {
		return c.Value, true
	}
	return "", false
}

// csrfToken is bound to the session: HMAC(csrf key, session id). A cross-site
// page can make the browser send our cookies but cannot read or compute this.
func (s *Server) csrfToken(sessionID string) string {
	m := hmac.New(sha256.New, s.subkeys.csrf)
	m.Write([]byte(sessionID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// requireOwner authenticates the owner: a JWT (fixed algorithm, audience,
// type, expiry) whose session is still active in the database — so logout,
// password change and disabling take effect on the very next request.
// Cookie-authenticated unsafe requests must also carry X-CSRF-Token.
func (s *Server) requireOwner(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, viaCookie, err := s.authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="photovault"`)
			s.writeError(w, r, err)
			return
		}
		if viaCookie && unsafeMethod(r.Method) {
			got := r.Header.Get("X-CSRF-Token")
			if got == "" || !hmac.Equal([]byte(got), []byte(s.csrfToken(a.sessionID))) {
				s.auditReq(r, "csrf_denied", a.userID, routePattern(r), "")
				s.writeError(w, r, newError(http.StatusForbidden, "csrf", "missing or invalid CSRF token", nil))
				return
			}
		}
		info(r).owner = a.userID
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ownerKey{}, a)))
	})
}

func (s *Server) authenticate(r *http.Request) (authed, bool, error) {
	tok, viaCookie := s.bearer(r)
	if tok == "" {
		return authed{}, false, unauthorized("authentication required")
	}
	t, err := s.jwt(r.Context())
	if err != nil {
		return authed{}, false, err
	}
	c, err := t.Verify(tok)
	if err != nil {
		return authed{}, false, newError(http.StatusUnauthorized, "invalid_token", "invalid or expired access token", err)
	}
	ok, err := s.store.SessionActive(r.Context(), c.UserID, c.SessionID, c.IssuedAt)
	if err != nil {
		return authed{}, false, err
	}
	if !ok {
		return authed{}, false, newError(http.StatusUnauthorized, "invalid_token", "session ended", nil)
	}
	return authed{userID: c.UserID, sessionID: c.SessionID}, viaCookie, nil
}

// ipHash pseudonymises an IP for audit rows (stable) — raw client IPs are
// personal data and are not kept in the database.
func (s *Server) ipHash(r *http.Request) string {
	m := hmac.New(sha256.New, s.subkeys.ipHash)
	m.Write([]byte(clientIP(r)))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// auditReq writes an audit event for this request. Failures are logged:
// an audit hiccup must not turn a successful action into an error.
func (s *Server) auditReq(r *http.Request, typ, ownerID, target, detail string) {
	actor := ownerFrom(r)
	if actor == "" {
		actor = "anonymous"
	}
	err := s.store.Audit(context.WithoutCancel(r.Context()), store.AuditEvent{
		Type: typ, Actor: actor, OwnerID: ownerID, Target: target, IPHash: s.ipHash(r), RequestID: requestID(r), Detail: detail,
	})
	if err != nil {
		s.log.Error().Err(err).Str("event", typ).Msg("audit write failed")
	}
}
