package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Setting returns a stored setting, or ErrNotFound.
func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := s.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: setting %s: %w", key, err)
	}
	return v, nil
}

// SetSetting stores a setting, replacing any previous value.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		const q = `INSERT INTO settings (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`
		if _, err := tx.ExecContext(ctx, q, key, value); err != nil {
			return fmt.Errorf("store: set setting %s: %w", key, err)
		}
		return nil
	})
}

const settingKeyCheck = "master_key_check"

// BindMasterKey records the master key's check value on first start and, on
// every later start, refuses a different key with ErrWrongKey. Only an HMAC
// derived from the key is stored, never the key.
func (s *Store) BindMasterKey(ctx context.Context, checkValue string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var have string
		err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, settingKeyCheck).Scan(&have)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)`, settingKeyCheck, checkValue)
			if err != nil {
				return fmt.Errorf("store: bind master key: %w", err)
			}
			return nil
		case err != nil:
			return fmt.Errorf("store: bind master key: %w", err)
		case have != checkValue:
			return ErrWrongKey
		}
		return nil
	})
}

// ReplaceMasterKeyCheck switches the recorded check value, used by key
// rotation once every wrapped key has been re-wrapped under the new key.
func (s *Store) ReplaceMasterKeyCheck(ctx context.Context, oldCheck, newCheck string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE settings SET value = ? WHERE key = ? AND value IN (?, ?)`, newCheck, settingKeyCheck, oldCheck, newCheck)
		if err != nil {
			return fmt.Errorf("store: replace key check: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrWrongKey
		}
		return nil
	})
}
