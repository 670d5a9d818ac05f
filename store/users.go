package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// User is an owner account (a photographer).
type User struct {
	ID           string
	Username     string
	PasswordHash string
	Studio       string
	Disabled     bool
	// TokensValidAfter voids every access token issued before it.
	TokensValidAfter time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

const userColumns = `id, username, password_hash, studio, disabled_ms, tokens_valid_after_ms, created_ms, updated_ms`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var disabled sql.NullInt64
	var tva, created, updated int64
	if err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Studio, &disabled, &tva, &created, &updated); err != nil {
		return User{}, err
	}
	u.Disabled = disabled.Valid
	u.TokensValidAfter = fromMS(tva)
	u.CreatedAt, u.UpdatedAt = fromMS(created), fromMS(updated)
	return u, nil
}

// CreateUser adds an owner with an already hashed password. A taken username
// (case-insensitive) answers ErrConflict.
func (s *Store) CreateUser(ctx context.Context, username, passwordHash string) (User, error) {
	now := s.nowMS()
	u := User{ID: NewID(), Username: username, PasswordHash: passwordHash, CreatedAt: fromMS(now), UpdatedAt: fromMS(now), TokensValidAfter: fromMS(0)}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		const q = `INSERT INTO users (id, username, password_hash, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?)`
		_, err := tx.ExecContext(ctx, q, u.ID, username, passwordHash, now, now)
		if isUnique(err) {
			return ErrConflict
		}
		if err != nil {
			return fmt.Errorf("store: create user: %w", err)
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// UserByUsername finds an owner by name (case-insensitive), or ErrNotFound.
func (s *Store) UserByUsername(ctx context.Context, username string) (User, error) {
	const q = `SELECT ` + userColumns + ` FROM users WHERE username = ?`
	u, err := scanUser(s.read.QueryRowContext(ctx, q, username))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("store: user by name: %w", err)
	}
	return u, nil
}

// UserByID finds an owner by id, or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (User, error) {
	const q = `SELECT ` + userColumns + ` FROM users WHERE id = ?`
	u, err := scanUser(s.read.QueryRowContext(ctx, q, id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("store: user: %w", err)
	}
	return u, nil
}

// CountUsers returns how many owners exist.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count users: %w", err)
	}
	return n, nil
}

// ListUsers returns every owner, oldest first.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	const q = `SELECT ` + userColumns + ` FROM users ORDER BY created_ms, id`
	rows, err := s.read.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// SetUserDisabled disables or re-enables an owner; disabling also voids
// every token the owner holds.
func (s *Store) SetUserDisabled(ctx context.Context, id string, disabled bool) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		now := s.nowMS()
		var res sql.Result
		var err error
		if disabled {
			res, err = tx.ExecContext(ctx, `UPDATE users SET disabled_ms = ?, tokens_valid_after_ms = ?, updated_ms = ? WHERE id = ?`, now, now, now, id)
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE users SET disabled_ms = NULL, updated_ms = ? WHERE id = ?`, now, id)
		}
		if err != nil {
			return fmt.Errorf("store: disable user: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if disabled {
			if _, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_ms = ? WHERE user_id = ? AND revoked_ms IS NULL`, now, id); err != nil {
				return fmt.Errorf("store: disable user sessions: %w", err)
			}
		}
		return nil
	})
}

// SetPassword replaces an owner's password hash and ends every session except
// keepSession (the one that changed it, if any): their refresh families are
// revoked and access tokens issued before now stop working.
func (s *Store) SetPassword(ctx context.Context, userID, hash, keepSession string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		now := s.nowMS()
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_ms = ? WHERE id = ?`, hash, now, userID)
		if err != nil {
			return fmt.Errorf("store: set password: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		const q = `UPDATE sessions SET revoked_ms = ? WHERE user_id = ? AND revoked_ms IS NULL AND id != ?`
		if _, err := tx.ExecContext(ctx, q, now, userID, keepSession); err != nil {
			return fmt.Errorf("store: set password: revoke sessions: %w", err)
		}
		return nil
	})
}

// SetStudio sets the studio name shown to clients on share pages.
func (s *Store) SetStudio(ctx context.Context, userID, studio string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET studio = ?, updated_ms = ? WHERE id = ?`, studio, s.nowMS(), userID)
		if err != nil {
			return fmt.Errorf("store: set studio: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}
