package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/photovault/photovault/server/auth"
	"github.com/photovault/photovault/store"
)

// Throttle scopes for secret-checking endpoints (SECURITY.md #2).
const (
	scopeLogin    = "login"
	scopeSetup    = "setup"
	scopePassword = "password"
	scopeUnlock   = "unlock"
)

type tokenPair struct {
	AccessToken  string `json:"access_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	CSRFToken    string `json:"csrf_token,omitempty"`
}

type userView struct {
	ID        string `json:"id"`
	Username  string `json:"username"`
	Studio    string `json:"studio"`
	CreatedAt string `json:"created_at"`
}

func viewUser(u store.User) userView {
	return userView{ID: u.ID, Username: u.Username, Studio: u.Studio, CreatedAt: u.CreatedAt.UTC().Format(time.RFC3339)}
}

// throttled answers 429 while the (scope, ip, target) is blocked. Callers
// check it before verifying the secret, so while blocked even the right
// secret gets 429.
func (s *Server) throttled(r *http.Request, scope, target string) error {
	ok, retry, delay := s.throttle.Check(scope, clientIP(r), target)
	if !ok {
		s.auditReq(r, "throttled", "", scope, "")
		return tooManyRequests(retry)
	}
	if delay > 0 {
		// Growing delay per failure (Nextcloud-style), bounded and cancellable.
		return s.sleep(r.Context(), delay)
	}
	return nil
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func weakPassword(err error) error {
	var wp *auth.WeakPasswordError
	msg := "password too weak"
	if errors.As(err, &wp) {
		msg = "password too weak: " + wp.Reason
	}
	return newError(http.StatusBadRequest, "weak_password", msg, nil)
}

// handleSetupStatus serves GET /api/auth/setup.
func (s *Server) handleSetupStatus() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		n, err := s.store.CountUsers(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]bool{"setup_required": n == 0})
		return nil
	}
}

// handleSetup serves POST /api/auth/setup: the first owner, once, with the
// one-time token printed by serve.
func (s *Server) handleSetup() handlerFunc {
	type request struct {
		SetupToken string `json:"setup_token"`
		Username   string `json:"username"`
		Password   string `json:"password"`
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.throttled(r, scopeSetup, "setup"); err != nil {
			return err
		}
		var req request
		if err := decodeJSON(w, r, &req); err != nil {
			return err
		}
		req.Username = strings.TrimSpace(req.Username)
		if req.SetupToken == "" || req.Username == "" || req.Password == "" {
			return badRequest("setup_token, username and password are required", nil)
		}
		if err := validUsername(req.Username); err != nil {
			return err
		}
		if n, err := s.store.CountUsers(r.Context()); err != nil {
			return err
		} else if n > 0 {
			return newError(http.StatusConflict, "setup_done", "an owner already exists", nil)
		}
		if err := auth.CheckPassword(req.Password, req.Username); err != nil {
			return weakPassword(err)
		}
		hash, err := s.hashPassword(r.Context(), req.Password)
		if err != nil {
			return err
		}
		u, err := s.store.CompleteSetup(r.Context(), auth.HashToken(req.SetupToken), req.Username, hash)
		switch {
		case errors.Is(err, store.ErrSetupDone):
			return newError(http.StatusConflict, "setup_done", "an owner already exists", nil)
		case errors.Is(err, store.ErrNotFound):
			s.throttle.Failure(scopeSetup, clientIP(r), "setup")
			s.auditReq(r, "setup_failed", "", "", "")
			return newError(http.StatusUnauthorized, "invalid_setup_token", "invalid setup token", nil)
		case err != nil:
			return err
		}
		s.auditReq(r, "setup", u.ID, u.ID, "")
		writeJSON(w, http.StatusCreated, viewUser(u))
		return nil
	}
}

func validUsername(u string) error {
	if len(u) > 64 {
		return badRequest("username is too long (64 characters at most)", nil)
	}
	for _, c := range u {
		if c < 0x20 || c == 0x7f {
			return badRequest("username contains control characters", nil)
		}
	}
	return nil
}

// cookieMode: the web UI asks for HttpOnly cookies instead of tokens in JSON.
func cookieMode(r *http.Request) bool { return r.Header.Get("X-PhotoVault-Cookie") == "1" }

// issue starts the response of a successful login/refresh: a new access
// token for the session, and either JSON tokens or HttpOnly cookies.
func (s *Server) issue(w http.ResponseWriter, r *http.Request, userID, sessionID, refresh string) error {
	t, err := s.jwt(r.Context())
	if err != nil {
		return err
	}
	access, _, err := t.Issue(userID, sessionID)
	if err != nil {
		return err
	}
	body := tokenPair{TokenType: "Bearer", ExpiresIn: int(accessTTL / time.Second)}
	if cookieMode(r) {
		s.setAuthCookies(w, access, refresh, s.csrfToken(sessionID))
		body.TokenType, body.CSRFToken = "cookie", s.csrfToken(sessionID)
	} else {
		body.AccessToken, body.RefreshToken = access, refresh
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (s *Server) setAuthCookies(w http.ResponseWriter, access, refresh, csrf string) {
	mk := func(name, val string, httpOnly bool, maxAge int) *http.Cookie {
		// #nosec G124 -- Secure is set whenever TLS is on; over plain HTTP (local use) a Secure cookie would never
		// come back. pv_csrf is deliberately readable by the page's script (double-submit CSRF token).
		return &http.Cookie{Name: s.cookieName(name), Value: val, Path: "/", HttpOnly: httpOnly, Secure: s.tls,
			SameSite: http.SameSiteStrictMode, MaxAge: maxAge}
	}
	if access == "" {
		for _, n := range []string{"pv_at", "pv_rt", "pv_csrf"} {
			http.SetCookie(w, mk(n, "", true, -1))
		}
		return
	}
	http.SetCookie(w, mk("pv_at", access, true, int(accessTTL/time.Second)))
	http.SetCookie(w, mk("pv_rt", refresh, true, int(refreshTTL/time.Second)))
	http.SetCookie(w, mk("pv_csrf", csrf, false, int(refreshTTL/time.Second)))
}

// handleLogin serves POST /api/auth/login. Unknown users and wrong passwords
// get the same answer after the same argon2id work.
func (s *Server) handleLogin() handlerFunc {
	type request struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		var req request
		if err := decodeJSON(w, r, &req); err != nil {
			return err
		}
		target := strings.ToLower(strings.TrimSpace(req.Username))
		if err := s.throttled(r, scopeLogin, target); err != nil {
			return err
		}
		if req.Username == "" || req.Password == "" {
			return badRequest("username and password are required", nil)
		}
		u, err := s.store.UserByUsername(r.Context(), strings.TrimSpace(req.Username))
		ok := false
		switch {
		case errors.Is(err, store.ErrNotFound):
			s.dummyVerify(r.Context(), req.Password)
		case err != nil:
			return err
		default:
			var rehash bool
			ok, rehash, err = s.verifyPassword(r.Context(), u.PasswordHash, req.Password)
			if err != nil {
				return err
			}
			ok = ok && !u.Disabled
			if ok && rehash {
				if h, err := s.hashPassword(r.Context(), req.Password); err == nil {
					_ = s.store.UpdatePasswordHash(r.Context(), u.ID, h)
				}
			}
		}
		if !ok {
			s.throttle.Failure(scopeLogin, clientIP(r), target)
			s.auditReq(r, "login_failed", u.ID, target, "")
			return newError(http.StatusUnauthorized, "invalid_credentials", "invalid username or password", nil)
		}
		s.throttle.Success(scopeLogin, clientIP(r), target)
		refresh, refreshHash := auth.NewOpaqueToken()
		sess, err := s.store.CreateSession(r.Context(), u.ID, refreshHash, r.UserAgent(), s.now().Add(refreshTTL))
		if err != nil {
			return err
		}
		s.auditReq(r, "login", u.ID, u.ID, "")
		return s.issue(w, r, u.ID, sess.ID, refresh)
	}
}

// handleRefresh serves POST /api/auth/refresh: single-use rotation; a
// replayed token revokes its whole family.
func (s *Server) handleRefresh() handlerFunc {
	type request struct {
		RefreshToken string `json:"refresh_token"`
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		var req request
		if err := decodeJSON(w, r, &req); err != nil {
			return err
		}
		if req.RefreshToken == "" && cookieMode(r) {
			if c, err := r.Cookie(s.cookieName("pv_rt")); err == nil {
				req.RefreshToken = c.Value
			}
		}
		if req.RefreshToken == "" {
			return badRequest("refresh_token is required", nil)
		}
		next, nextHash := auth.NewOpaqueToken()
		sess, err := s.store.RotateRefresh(r.Context(), auth.HashToken(req.RefreshToken), nextHash)
		switch {
		case errors.Is(err, store.ErrRefreshReused):
			s.auditReq(r, "refresh_reuse", sess.UserID, sess.ID, "family revoked")
			return newError(http.StatusUnauthorized, "invalid_token", "refresh token already used; session ended", nil)
		case errors.Is(err, store.ErrNotFound):
			return newError(http.StatusUnauthorized, "invalid_token", "invalid or expired refresh token", nil)
		case err != nil:
			return err
		}
		return s.issue(w, r, sess.UserID, sess.ID, next)
	}
}

// handleLogout serves POST /api/auth/logout: the session ends at once.
func (s *Server) handleLogout() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.store.RevokeSession(r.Context(), ownerFrom(r), sessionFrom(r)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		s.auditReq(r, "logout", ownerFrom(r), sessionFrom(r), "")
		s.setAuthCookies(w, "", "", "")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// handleMe serves GET /api/auth/me.
func (s *Server) handleMe() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		u, err := s.store.UserByID(r.Context(), ownerFrom(r))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, viewUser(u))
		return nil
	}
}

// handleMeUpdate serves PATCH /api/auth/me {"studio"}: the studio name
// clients see on share pages (the only owner identity they ever see).
func (s *Server) handleMeUpdate() handlerFunc {
	type request struct {
		Studio *string `json:"studio"`
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		var req request
		if err := decodeJSON(w, r, &req); err != nil {
			return err
		}
		if req.Studio != nil {
			studio := strings.TrimSpace(*req.Studio)
			if err := validText(studio, 100, "studio"); err != nil {
				return err
			}
			if err := s.store.SetStudio(r.Context(), ownerFrom(r), studio); err != nil {
				return err
			}
		}
		u, err := s.store.UserByID(r.Context(), ownerFrom(r))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, viewUser(u))
		return nil
	}
}

// handlePassword serves POST /api/auth/password. The other sessions of the
// owner end; this one continues.
func (s *Server) handlePassword() handlerFunc {
	type request struct {
		OldPassword string `json:"old_password"`
		NewPassword string `json:"new_password"`
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		owner := ownerFrom(r)
		if err := s.throttled(r, scopePassword, owner); err != nil {
			return err
		}
		var req request
		if err := decodeJSON(w, r, &req); err != nil {
			return err
		}
		u, err := s.store.UserByID(r.Context(), owner)
		if err != nil {
			return err
		}
		ok, _, err := s.verifyPassword(r.Context(), u.PasswordHash, req.OldPassword)
		if err != nil {
			return err
		}
		if !ok {
			s.throttle.Failure(scopePassword, clientIP(r), owner)
			s.auditReq(r, "password_change_failed", owner, owner, "")
			return newError(http.StatusForbidden, "invalid_credentials", "current password is wrong", nil)
		}
		if err := auth.CheckPassword(req.NewPassword, u.Username); err != nil {
			return weakPassword(err)
		}
		hash, err := s.hashPassword(r.Context(), req.NewPassword)
		if err != nil {
			return err
		}
		if err := s.store.SetPassword(r.Context(), owner, hash, sessionFrom(r)); err != nil {
			return err
		}
		s.throttle.Success(scopePassword, clientIP(r), owner)
		s.auditReq(r, "password_changed", owner, owner, "other sessions revoked")
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// Announce logs what an operator needs on start. While no owner exists it
// mints a fresh one-time setup token (only its hash is stored) and prints it:
// in the log line and as a plain banner on stderr.
func (s *Server) Announce(ctx context.Context) {
	n, err := s.store.CountUsers(ctx)
	if err != nil || n > 0 {
		return
	}
	tok, hash := auth.NewOpaqueToken()
	if err := s.store.ReplaceSetupToken(ctx, hash); err != nil {
		s.log.Error().Err(err).Msg("could not create a setup token")
		return
	}
	s.log.Warn().Str("setup_token", tok).Str("setup_url", s.cfg.BaseURL()+"/").
		Msg("no owner yet: open the web UI (or POST /api/auth/setup) with this one-time setup token, or run `photovault user create --username NAME --password-stdin`")
	if s.banner != nil {
		_, _ = s.banner.Write([]byte("\n  PhotoVault first start — one-time setup token: " + tok + "\n  Open " + s.cfg.BaseURL() + "/ to create the owner account.\n\n"))
	}
}
