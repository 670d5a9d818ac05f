package store

import (
	"errors"
	"strings"
)

// Errors returned by the store. The HTTP layer maps them to status codes in
// one place (server/errors.go).
var (
	// ErrNotFound: no such row for this owner (also for rows owned by others,
	// so existence never leaks).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a unique constraint (username taken, ...).
	ErrConflict = errors.New("store: conflict")
	// ErrWrongKey: the master key differs from the one the vault was made with.
	ErrWrongKey = errors.New("store: wrong master key")
	// ErrGone: a share is expired, revoked or exhausted.
	ErrGone = errors.New("store: gone")
)

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}
