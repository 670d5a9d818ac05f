// Package store keeps every fact of the vault in SQLite. It is the only
// package that speaks SQL. Writes go through a one-connection pool so they
// queue in Go instead of failing with "database is locked"; reads use a
// separate pool of read-only connections that run concurrently under WAL.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver (CGO_ENABLED=0)
)

// FileName is the database file inside the data directory.
const FileName = "photovault.db"

// Options tune Open. The zero value is valid.
type Options struct {
	// Now is the clock; tests inject one to move through expiry.
	Now func() time.Time
	// ReadConns bounds the read pool (default 4).
	ReadConns int
	// Driver is the database/sql driver name (default "sqlite"); tests
	// register a wrapper that counts statements.
	Driver string
}

// Store is the vault's metadata database.
type Store struct {
	path  string
	write *sql.DB // exactly one connection: the single writer
	read  *sql.DB // query_only connections for concurrent reads
	now   func() time.Time
	stmts stmtCache
}

// dsn builds a modernc.org/sqlite DSN. busy_timeout comes first so every
// later pragma already waits instead of failing on a busy file.
// synchronous=NORMAL under WAL: a process crash (kill -9) never loses a
// committed transaction; only an OS crash or power loss can drop the last few,
// and blob files are fsynced before their rows commit, so even then no row
// points at a missing file. FULL measured 4x slower per write transaction here.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Add("_pragma", "cache_size(-8000)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) the database at path and applies pending
// migrations.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Driver == "" {
		opts.Driver = "sqlite"
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = 4
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	w, err := sql.Open(opts.Driver, dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	s := &Store{path: path, write: w, now: opts.Now}
	if err := s.migrate(ctx); err != nil {
		_ = w.Close()
		return nil, err
	}
	_ = os.Chmod(path, 0o600)
	r, err := sql.Open(opts.Driver, dsn(path, true))
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("store: open read pool: %w", err)
	}
	r.SetMaxOpenConns(opts.ReadConns)
	r.SetMaxIdleConns(opts.ReadConns)
	s.read = r
	return s, nil
}

// Close closes both pools. The WAL is checkpointed by SQLite on last close.
func (s *Store) Close() error {
	s.closeStmts()
	var errs []error
	if s.read != nil {
		errs = append(errs, s.read.Close())
	}
	errs = append(errs, s.write.Close())
	return errors.Join(errs...)
}

// Path is the database file path.
func (s *Store) Path() string { return s.path }

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now() }

func (s *Store) nowMS() int64 { return s.now().UnixMilli() }

// Ping checks that the database answers a read and accepts a write lock.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.read.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("store: ping read: %w", err)
	}
	if err := s.write.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping write: %w", err)
	}
	return nil
}

// tx runs fn in one write transaction (BEGIN IMMEDIATE) on the single writer.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	t, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(t); err != nil {
		_ = t.Rollback()
		return err
	}
	if err := t.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns a fresh opaque identifier: 128 random bits, 26 characters of
// lowercase base32. IDs reveal neither order nor count.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return idEncoding.EncodeToString(b[:])
}

// ValidID reports whether s has the shape of an ID made by NewID, so handlers
// reject garbage before it reaches SQL.
func ValidID(s string) bool {
	if len(s) != 26 {
		return false
	}
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyz234567") == ""
}

func msOrNil(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func timePtr(ms sql.NullInt64) *time.Time {
	if !ms.Valid {
		return nil
	}
	t := time.UnixMilli(ms.Int64).UTC()
	return &t
}

func fromMS(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
