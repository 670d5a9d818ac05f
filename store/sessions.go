package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrRefreshReused reports that a spent refresh token was presented again. Its whole
// family (session) has been revoked by the time this is returned.
var ErrRefreshReused = errors.New("store: refresh token reused")

// Session is one login: a refresh-token family and the access tokens issued
// from it.
type Session struct {
	ID        string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	Revoked   bool
}

// CreateSession starts a session for userID with its first refresh token
// (only the hash is kept). expires is the family's absolute lifetime.
func (s *Store) CreateSession(ctx context.Context, userID string, refreshHash []byte, userAgent string, expires time.Time) (Session, error) {
	now := s.nowMS()
	sess := Session{ID: NewID(), UserID: userID, CreatedAt: fromMS(now), ExpiresAt: expires.UTC()}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		const q1 = `INSERT INTO sessions (id, user_id, created_ms, expires_ms, user_agent) VALUES (?, ?, ?, ?, ?)`
		if _, err := tx.ExecContext(ctx, q1, sess.ID, userID, now, expires.UnixMilli(), truncate(userAgent, 256)); err != nil {
			return fmt.Errorf("store: create session: %w", err)
		}
		const q2 = `INSERT INTO refresh_tokens (token_hash, family_id, created_ms, expires_ms) VALUES (?, ?, ?, ?)`
		if _, err := tx.ExecContext(ctx, q2, refreshHash, sess.ID, now, expires.UnixMilli()); err != nil {
			return fmt.Errorf("store: create refresh token: %w", err)
		}
		return nil
	})
	return sess, err
}

// RotateRefresh spends the presented refresh token and records its successor
// in the same transaction, so of two parallel refreshes exactly one wins.
// A token already spent revokes the whole family and answers
// ErrRefreshReused (with the session, for the audit trail). Unknown, expired
// or revoked tokens answer ErrNotFound.
func (s *Store) RotateRefresh(ctx context.Context, presented, next []byte) (Session, error) {
	var sess Session
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := s.nowMS()
		const q = `SELECT r.family_id, r.spent_ms, r.expires_ms, s.user_id, s.revoked_ms, s.created_ms, s.expires_ms, u.disabled_ms
			FROM refresh_tokens r JOIN sessions s ON s.id = r.family_id JOIN users u ON u.id = s.user_id
			WHERE r.token_hash = ?`
		var spent, revoked, disabled sql.NullInt64
		var tokExp, created, sessExp int64
		err := tx.QueryRowContext(ctx, q, presented).Scan(&sess.ID, &spent, &tokExp, &sess.UserID, &revoked, &created, &sessExp, &disabled)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("store: refresh: %w", err)
		}
		sess.CreatedAt, sess.ExpiresAt = fromMS(created), fromMS(sessExp)
		if spent.Valid {
			sess.Revoked = true
			return ErrRefreshReused // the family is revoked below, after this rollback
		}
		if revoked.Valid || disabled.Valid || tokExp <= now || sessExp <= now {
			return ErrNotFound
		}
		res, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET spent_ms = ? WHERE token_hash = ? AND spent_ms IS NULL`, now, presented)
		if err != nil {
			return fmt.Errorf("store: spend refresh: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNotFound
		}
		const ins = `INSERT INTO refresh_tokens (token_hash, family_id, created_ms, expires_ms) VALUES (?, ?, ?, ?)`
		if _, err := tx.ExecContext(ctx, ins, next, sess.ID, now, sessExp); err != nil {
			return fmt.Errorf("store: next refresh: %w", err)
		}
		return nil
	})
	// A reuse rolls back the transaction above, so the family is revoked in
	// a transaction of its own.
	if errors.Is(err, ErrRefreshReused) {
		if rerr := s.RevokeSession(ctx, sess.UserID, sess.ID); rerr != nil && !errors.Is(rerr, ErrNotFound) {
			return sess, rerr
		}
	}
	return sess, err
}

// RevokeSession ends a session of userID at once.
func (s *Store) RevokeSession(ctx context.Context, userID, sessionID string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_ms = COALESCE(revoked_ms, ?) WHERE id = ? AND user_id = ?`, s.nowMS(), sessionID, userID)
		if err != nil {
			return fmt.Errorf("store: revoke session: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// SessionActive reports whether an access token of (userID, sessionID)
// issued at iat may still be used: session not revoked or expired, owner not
// disabled, and the token not older than the owner's tokens-valid-after mark.
// One point read per authenticated request keeps logout immediate.
func (s *Store) SessionActive(ctx context.Context, userID, sessionID string, iat time.Time) (bool, error) {
	const q = `SELECT s.revoked_ms, s.expires_ms, u.disabled_ms, u.tokens_valid_after_ms
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ? AND s.user_id = ?`
	var revoked, disabled sql.NullInt64
	var exp, tva int64
	st, err := s.readStmt(ctx, q)
	if err != nil {
		return false, err
	}
	err = st.QueryRowContext(ctx, sessionID, userID).Scan(&revoked, &exp, &disabled, &tva)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: session: %w", err)
	}
	ok := !revoked.Valid && !disabled.Valid && exp > s.nowMS() && iat.UnixMilli() >= tva-999
	return ok, nil
}

// ReplaceSetupToken stores the hash of a fresh one-time setup token,
// voiding any earlier unused one.
func (s *Store) ReplaceSetupToken(ctx context.Context, hash []byte) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM setup_tokens WHERE used_ms IS NULL`); err != nil {
			return fmt.Errorf("store: setup token: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO setup_tokens (token_hash, created_ms) VALUES (?, ?)`, hash, s.nowMS()); err != nil {
			return fmt.Errorf("store: setup token: %w", err)
		}
		return nil
	})
}

// ErrSetupDone reports that an owner already exists, so setup is closed.
var ErrSetupDone = errors.New("store: setup already done")

// CompleteSetup creates the first owner if the setup token matches and no
// owner exists yet, spending the token in the same transaction.
func (s *Store) CompleteSetup(ctx context.Context, tokenHash []byte, username, passwordHash string) (User, error) {
	var u User
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
			return fmt.Errorf("store: setup: %w", err)
		}
		if n > 0 {
			return ErrSetupDone
		}
		now := s.nowMS()
		res, err := tx.ExecContext(ctx, `UPDATE setup_tokens SET used_ms = ? WHERE token_hash = ? AND used_ms IS NULL`, now, tokenHash)
		if err != nil {
			return fmt.Errorf("store: setup: %w", err)
		}
		if k, _ := res.RowsAffected(); k != 1 {
			return ErrNotFound
		}
		u = User{ID: NewID(), Username: username, PasswordHash: passwordHash, CreatedAt: fromMS(now), UpdatedAt: fromMS(now)}
		const q = `INSERT INTO users (id, username, password_hash, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?)`
		if _, err := tx.ExecContext(ctx, q, u.ID, username, passwordHash, now, now); err != nil {
			return fmt.Errorf("store: setup: %w", err)
		}
		return nil
	})
	return u, err
}

// UpdatePasswordHash replaces the hash without touching sessions (a rehash
// with stronger parameters at login).
func (s *Store) UpdatePasswordHash(ctx context.Context, userID, hash string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, userID)
		if err != nil {
			return fmt.Errorf("store: rehash: %w", err)
		}
		return nil
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
