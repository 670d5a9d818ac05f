// Package kv keeps PhotoVault's ephemeral, rebuildable state — rate-limit
// counters, the token denylist, caches — in an embedded badger database.
//
// Nothing in kv is a source of truth: every key carries a TTL, and the whole
// directory may be deleted while the server is stopped (DESIGN.md invariant 4).
// That is why Open wipes and recreates a directory badger cannot open.
package kv

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/rs/zerolog"
)

// ErrNotFound is returned by Get for a key that does not exist or has expired.
var ErrNotFound = errors.New("kv: not found")

// ErrInvalidTTL is returned when a write is asked for a TTL <= 0: every key in
// kv must expire, so that the store cannot grow without bound.
var ErrInvalidTTL = errors.New("kv: ttl must be positive")

// ErrClosed is returned by operations on a closed Store.
var ErrClosed = errors.New("kv: store closed")

// maxConflictRetries bounds the optimistic-transaction retry loop of Incr.
// Every round lets at least one competing writer commit, so the bound only
// matters under pathological contention (more writers than retries on one key).
const maxConflictRetries = 1000

// Store is a badger database tuned for a small machine. It is safe for
// concurrent use.
type Store struct {
	db   *badger.DB
	log  zerolog.Logger
	stop chan struct{} // closed by Close; stops RunGC goroutines
	gc   sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// badgerOptions returns badger options sized for a 2-core machine where the whole
// idle process should stay well under 40 MB RSS. The data is tiny (counters,
// denylist entries), so the big defaults (64 MiB memtables x5, 256 MiB block
// cache, 1 GiB value-log files) only cost memory and disk.
//
// Memtable size drives memory (measured with TestMeasureRSS, 100k keys,
// peak/idle RSS of the test process): 8 MiB 55/38 MB, 4 MiB 46/31 MB,
// 2 MiB 33/22 MB, same write speed. 2 MiB caps one transaction at ~300 KiB
// (15% of a memtable), far above anything kept here.
func badgerOptions(dir string, log zerolog.Logger) badger.Options {
	return badger.DefaultOptions(dir).
		WithLogger(badgerLogger{log: log}).
		WithLoggingLevel(badger.WARNING).
		WithMemTableSize(2 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithBaseTableSize(2 << 20).
		WithBaseLevelSize(8 << 20).
		WithValueLogFileSize(16 << 20).
		// Values here are a few bytes; keep them in the LSM tree.
		WithValueThreshold(1 << 10).
		WithNumCompactors(2).
		WithNumGoroutines(2).
		// Small values gain nothing from compression, and without it the
		// block cache is optional: blocks are read straight from the mmap.
		WithCompression(options.None).
		WithBlockCacheSize(0).
		// 0 keeps table indexes in memory: a few KiB for this data, cheaper
		// than a ristretto cache.
		WithIndexCacheSize(0).
		WithMetricsEnabled(false).
		WithDetectConflicts(true)
}

// Open opens or creates the badger database in dir. If badger cannot open an
// existing directory (corrupt or unreadable files), Open logs a warning,
// removes the directory and starts empty: the state is rebuildable.
//
// Open never wipes a directory that another process holds open (badger's
// directory lock), nor one that contains anything but badger's own files —
// a misconfigured path must not cost the user their data.
func Open(dir string, log zerolog.Logger) (*Store, error) {
	if dir == "" {
		return nil, errors.New("kv: open: empty directory")
	}
	log = log.With().Str("component", "kv").Logger()
	db, err := openBadger(dir, log)
	if err == nil {
		return newStore(db, log), nil
	}
	if isLocked(err) {
		return nil, fmt.Errorf("kv: open %s: directory in use by another process: %w", dir, err)
	}
	if ok, why := wipeable(dir); !ok {
		return nil, fmt.Errorf("kv: open %s: %w (not wiped: %s)", dir, err, why)
	}
	log.Warn().Err(err).Str("dir", dir).Msg("kv: cannot open store; removing it and starting empty (its state is rebuildable)")
	if rmErr := os.RemoveAll(dir); rmErr != nil {
		return nil, fmt.Errorf("kv: open %s: remove after %v: %w", dir, err, rmErr)
	}
	if mkErr := os.MkdirAll(dir, 0o700); mkErr != nil {
		return nil, fmt.Errorf("kv: open %s: recreate: %w", dir, mkErr)
	}
	db, err = openBadger(dir, log)
	if err != nil {
		return nil, fmt.Errorf("kv: open %s after wipe: %w", dir, err)
	}
	return newStore(db, log), nil
}

func newStore(db *badger.DB, log zerolog.Logger) *Store {
	return &Store{db: db, log: log, stop: make(chan struct{})}
}

// openBadger opens the database, turning a panic inside badger (it panics on
// some corrupt inputs) into an error.
func openBadger(dir string, log zerolog.Logger) (db *badger.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("badger panicked: %v", r)
		}
	}()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return badger.Open(badgerOptions(dir, log))
}

// isLocked reports whether Open failed because the directory lock is held.
// Badger has no sentinel for this; TestOpenLockedDirIsNotWiped pins the text.
func isLocked(err error) bool {
	return strings.Contains(err.Error(), "Another process is using this Badger database")
}

// wipeable reports whether dir holds only files badger itself creates, so that
// removing it cannot destroy anything else.
func wipeable(dir string) (bool, string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return true, ""
		}
		return false, "cannot list directory"
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !isBadgerFile(e.Name()) {
			return false, fmt.Sprintf("contains %q, which badger did not create", e.Name())
		}
	}
	return true, ""
}

func isBadgerFile(name string) bool {
	switch name {
	case "LOCK", "MANIFEST", "MANIFEST-REWRITE", "KEYREGISTRY", "KEYREGISTRY-REWRITE", "DISCARD":
		return true
	}
	for _, ext := range []string{".vlog", ".sst", ".mem"} {
		if base, ok := strings.CutSuffix(name, ext); ok {
			_, err := strconv.ParseUint(base, 10, 64)
			return err == nil
		}
	}
	return false
}

// Get returns a copy of the value stored under key, or ErrNotFound.
func (s *Store) Get(key []byte) ([]byte, error) {
	var val []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		val, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("kv: get: %w", mapErr(err))
	}
	return val, nil
}

// Set stores val under key for ttl, which must be positive. Values up to
// 256 KiB are supported (the small memtables cap a write at ~300 KiB).
func (s *Store) Set(key, val []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return ErrInvalidTTL
	}
	err := s.db.Update(func(txn *badger.Txn) error {
		return txn.SetEntry(&badger.Entry{Key: key, Value: val, ExpiresAt: expiresAt(time.Now(), ttl)})
	})
	if err != nil {
		return fmt.Errorf("kv: set: %w", mapErr(err))
	}
	return nil
}

// Delete removes key. Deleting a missing key is not an error.
func (s *Store) Delete(key []byte) error {
	err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Delete(key)
	})
	if err != nil {
		return fmt.Errorf("kv: delete: %w", mapErr(err))
	}
	return nil
}

// Incr atomically adds one to the counter under key and returns the new value.
// A missing (or expired) key starts at 0 and gets ttl; an existing key keeps
// its expiry, so a counter covers one fixed window. The value is stored as
// decimal ASCII, so Get returns e.g. "3".
func (s *Store) Incr(key []byte, ttl time.Duration) (int64, error) {
	if ttl <= 0 {
		return 0, ErrInvalidTTL
	}
	for range maxConflictRetries {
		var n int64
		err := s.db.Update(func(txn *badger.Txn) error {
			exp := expiresAt(time.Now(), ttl)
			item, err := txn.Get(key)
			switch {
			case errors.Is(err, badger.ErrKeyNotFound):
				n = 1
			case err != nil:
				return err
			default:
				err = item.Value(func(v []byte) error {
					cur, perr := strconv.ParseInt(string(v), 10, 64)
					if perr != nil {
						return fmt.Errorf("value under key is not a counter: %w", perr)
					}
					n = cur + 1
					return nil
				})
				if err != nil {
					return err
				}
				if e := item.ExpiresAt(); e != 0 {
					exp = e
				}
			}
			return txn.SetEntry(&badger.Entry{Key: key, Value: strconv.AppendInt(nil, n, 10), ExpiresAt: exp})
		})
		if errors.Is(err, badger.ErrConflict) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("kv: incr: %w", mapErr(err))
		}
		return n, nil
	}
	return 0, fmt.Errorf("kv: incr: gave up after %d conflicts: %w", maxConflictRetries, badger.ErrConflict)
}

// Ping writes, reads back and deletes a random probe key; /health uses it to
// prove the store is writable.
func (s *Store) Ping() error {
	var rnd [16]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails (Go 1.24+)
	key := append([]byte("kv-ping/"), rnd[:]...)
	if err := s.Set(key, rnd[:], time.Minute); err != nil {
		return fmt.Errorf("kv: ping: %w", err)
	}
	got, err := s.Get(key)
	if err != nil {
		return fmt.Errorf("kv: ping: %w", err)
	}
	if !bytes.Equal(got, rnd[:]) {
		return errors.New("kv: ping: read back a different value")
	}
	if err := s.Delete(key); err != nil {
		return fmt.Errorf("kv: ping: %w", err)
	}
	return nil
}

// RunGC starts a goroutine that runs badger's value-log GC every interval
// until ctx is done or the Store is closed. Close waits for it.
func (s *Store) RunGC(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = 5 * time.Minute
	}
	s.gc.Add(1)
	go func() {
		defer s.gc.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.stop:
				return
			case <-tick.C:
				s.collect()
			}
		}
	}()
}

// collect rewrites value-log files until badger finds nothing worth it.
func (s *Store) collect() {
	for range 16 {
		select {
		case <-s.stop:
			return
		default:
		}
		err := s.db.RunValueLogGC(0.5)
		if err == nil {
			continue
		}
		if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
			s.log.Warn().Err(err).Msg("kv: value-log gc")
		}
		return
	}
}

// Close stops GC goroutines and closes the database. Further calls return
// the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.gc.Wait()
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("kv: close: %w", err)
		}
	})
	return s.closeErr
}

// expiresAt returns now+ttl as badger's Unix-seconds expiry, rounded up so
// that a sub-second TTL does not expire at once.
func expiresAt(now time.Time, ttl time.Duration) uint64 {
	t := now.Add(ttl)
	sec := t.Unix()
	if t.Nanosecond() > 0 {
		sec++
	}
	return uint64(sec)
}

func mapErr(err error) error {
	if errors.Is(err, badger.ErrDBClosed) {
		return ErrClosed
	}
	return err
}

// badgerLogger forwards badger's warnings and errors to zerolog and drops its
// info and debug chatter.
type badgerLogger struct{ log zerolog.Logger }

func (l badgerLogger) Errorf(f string, a ...any) {
	l.log.Error().Msg(strings.TrimSpace(fmt.Sprintf(f, a...)))
}

func (l badgerLogger) Warningf(f string, a ...any) {
	l.log.Warn().Msg(strings.TrimSpace(fmt.Sprintf(f, a...)))
}

func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}
