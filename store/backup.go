package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/photovault/photovault/store/blob"
)

// ErrIntegrity reports a database file that fails PRAGMA integrity_check or
// foreign_key_check (truncated, bit-flipped, or edited inconsistently), or
// is not a database at all.
var ErrIntegrity = errors.New("store: database integrity check failed")

// SnapshotTo writes a consistent copy of the live database to path, safe
// while other connections and processes write (SECURITY.md #19).
//
// It uses VACUUM INTO rather than the online backup API: VACUUM INTO reads
// the whole database inside one read transaction, so under WAL it sees one
// consistent snapshot and never blocks or is restarted by writers, while
// the backup API, stepped in pieces, starts over whenever another process
// commits (and a single step holds the same read transaction anyway). It
// is plain SQL through database/sql instead of driver internals through
// sql.Conn.Raw, and its output is compact and self-contained: no -wal file,
// rollback-journal mode, free pages dropped.
//
// Steps: VACUUM INTO a fresh 0600 temp file next to path, through a
// read-only connection (it can never write the live file); fsync it;
// PRAGMA integrity_check and foreign_key_check on the copy; atomic rename
// to path; fsync the directory. On any error path is left untouched and the
// temp file removed.
func (s *Store) SnapshotTo(ctx context.Context, path string) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".snapshot-*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("store: snapshot: %w", err)
	}
	tmp := f.Name()
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("store: snapshot: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
			_ = os.Remove(tmp + "-journal")
		}
	}()

	src, err := sql.Open("sqlite", liveReadOnlyDSN(s.path))
	if err != nil {
		return fmt.Errorf("store: snapshot: %w", err)
	}
	src.SetMaxOpenConns(1)
	// VACUUM INTO accepts an empty existing file, so the copy is born 0600.
	_, verr := src.ExecContext(ctx, `VACUUM INTO ?`, tmp)
	cerr := src.Close()
	if verr != nil {
		return fmt.Errorf("store: snapshot: vacuum into: %w", verr)
	}
	if cerr != nil {
		return fmt.Errorf("store: snapshot: %w", cerr)
	}
	if err := syncFile(tmp); err != nil {
		return fmt.Errorf("store: snapshot: %w", err)
	}
	snap, err := OpenReadOnly(ctx, tmp)
	if err != nil {
		return err
	}
	ierr := snap.IntegrityCheck(ctx)
	if cerr := snap.Close(); ierr == nil && cerr != nil {
		ierr = cerr
	}
	if ierr != nil {
		return fmt.Errorf("store: snapshot copy: %w", ierr)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("store: snapshot: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("store: snapshot: %w", err)
	}
	return nil
}

// liveReadOnlyDSN opens a database that other processes may be writing:
// read-only at the file level, waiting on locks instead of failing.
func liveReadOnlyDSN(path string) string {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")
	return "file:" + path + "?" + q.Encode()
}

// LatestSchemaVersion is the schema version this binary migrates a
// database to.
func LatestSchemaVersion() (int, error) {
	ms, err := loadMigrations()
	if err != nil {
		return 0, err
	}
	return len(ms), nil
}

// SchemaVersionAt reads the schema version of the database at path without
// creating, migrating or writing it, so a command can refuse to touch a
// database that an older or newer `serve` is running on. A missing file
// gives an error wrapping fs.ErrNotExist; a database without a migrations
// table reports version 0.
func SchemaVersionAt(ctx context.Context, path string) (int, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	db, err := sql.Open("sqlite", liveReadOnlyDSN(path))
	if err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	defer func() { _ = db.Close() }()
	return schemaVersion(ctx, db)
}

func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var n int
	const has = `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'`
	if err := db.QueryRowContext(ctx, has).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return int(v.Int64), nil
}

// Snapshot is a database file that no process writes, such as a backup's
// photovault.db, opened strictly read-only: SQLite is told the file is
// immutable, so it takes no locks and creates no -journal, -wal or -shm
// file next to it (verifying a backup writes nothing). Never use it on a
// live database: it would ignore the live WAL.
type Snapshot struct {
	db   *sql.DB
	path string
}

// OpenReadOnly opens the snapshot database at path. It fails if the file
// does not exist or is not a SQLite database.
func OpenReadOnly(ctx context.Context, path string) (*Snapshot, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("store: open snapshot: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("store: open snapshot %s: not a regular file", path)
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("immutable", "1")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open snapshot: %w", err)
	}
	db.SetMaxOpenConns(1)
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema`).Scan(&n); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: open snapshot %s: %w: %w", filepath.Base(path), ErrIntegrity, err)
	}
	return &Snapshot{db: db, path: path}, nil
}

// Close closes the snapshot.
func (sn *Snapshot) Close() error { return sn.db.Close() }

// IntegrityCheck runs PRAGMA integrity_check (which must answer "ok") and
// PRAGMA foreign_key_check (which must find nothing). Failures wrap
// ErrIntegrity and quote the first findings.
func (sn *Snapshot) IntegrityCheck(ctx context.Context) error {
	rows, err := sn.db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return fmt.Errorf("store: %w: %w", ErrIntegrity, err)
	}
	var findings []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			_ = rows.Close()
			return fmt.Errorf("store: %w: %w", ErrIntegrity, err)
		}
		if line != "ok" && len(findings) < 5 {
			findings = append(findings, line)
		}
	}
	err = rows.Err()
	_ = rows.Close()
	if err != nil {
		return fmt.Errorf("store: %w: %w", ErrIntegrity, err)
	}
	if len(findings) > 0 {
		return fmt.Errorf("store: %w: %s", ErrIntegrity, strings.Join(findings, "; "))
	}
	rows, err = sn.db.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return fmt.Errorf("store: %w: %w", ErrIntegrity, err)
	}
	defer func() { _ = rows.Close() }()
	n := 0
	var first string
	for rows.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var fkid int
		if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			return fmt.Errorf("store: %w: %w", ErrIntegrity, err)
		}
		if n == 0 {
			first = fmt.Sprintf("a %s row points at a missing %s row", table, parent)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: %w: %w", ErrIntegrity, err)
	}
	if n > 0 {
		return fmt.Errorf("store: %w: %d foreign key violations (%s)", ErrIntegrity, n, first)
	}
	return nil
}

// SchemaVersion is the snapshot's highest applied migration.
func (sn *Snapshot) SchemaVersion(ctx context.Context) (int, error) {
	return schemaVersion(ctx, sn.db)
}

// MasterKeyCheck returns the check value of the master key the snapshot's
// vault was bound to (see BindMasterKey), or ErrNotFound.
func (sn *Snapshot) MasterKeyCheck(ctx context.Context) (string, error) {
	var v string
	err := sn.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, settingKeyCheck).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: snapshot key check: %w", err)
	}
	return v, nil
}

// BlobUse is one row that points at a blob, and what that row says the
// blob's plaintext must be.
type BlobUse struct {
	// Kind is "original" (a media row) or "derivative".
	Kind string
	// MediaID is the media item the blob belongs to.
	MediaID string
	// Variant names a derivative ("thumb", "preview", ...); empty for originals.
	Variant string
	// SHA256 is the hex SHA-256 of the plaintext (originals only).
	SHA256 string
	// CRC32 is the CRC-32 (IEEE) of the plaintext.
	CRC32 uint32
	// Size is the plaintext size in bytes.
	Size int64
}

// SnapshotBlob is one blob a snapshot knows of: its row (what opens it) and
// every row that uses it.
type SnapshotBlob struct {
	// Ref opens the blob; Ref.Size is the plaintext size of the blobs row.
	Ref blob.Ref
	// Uses lists the media and derivative rows pointing at the blob; empty
	// for a blob waiting for the collector after its last use was deleted.
	Uses []BlobUse
	// NoRow is set when rows point at this id but no blobs row exists
	// (impossible while foreign keys hold; reported, never trusted).
	NoRow bool
}

// Referenced reports whether any row uses the blob.
func (b SnapshotBlob) Referenced() bool { return len(b.Uses) > 0 }

// Blobs lists every blob the snapshot knows: all blobs rows plus any id a
// media or derivative row points at, sorted by id, each with its uses.
func (sn *Snapshot) Blobs(ctx context.Context) ([]SnapshotBlob, error) {
	byID := map[string]*SnapshotBlob{}
	rows, err := sn.db.QueryContext(ctx, `SELECT id, key_id, wrapped_key, size FROM blobs`)
	if err != nil {
		return nil, fmt.Errorf("store: snapshot blobs: %w", err)
	}
	for rows.Next() {
		var b SnapshotBlob
		if err := rows.Scan(&b.Ref.ID, &b.Ref.KeyID, &b.Ref.WrappedKey, &b.Ref.Size); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("store: snapshot blobs: %w", err)
		}
		byID[b.Ref.ID] = &b
	}
	err = rows.Err()
	_ = rows.Close()
	if err != nil {
		return nil, fmt.Errorf("store: snapshot blobs: %w", err)
	}
	use := func(blobID string, u BlobUse) {
		b, ok := byID[blobID]
		if !ok {
			b = &SnapshotBlob{Ref: blob.Ref{ID: blobID}, NoRow: true}
			byID[blobID] = b
		}
		b.Uses = append(b.Uses, u)
	}
	const mq = `SELECT id, blob_id, sha256, crc32, size FROM media`
	rows, err = sn.db.QueryContext(ctx, mq)
	if err != nil {
		return nil, fmt.Errorf("store: snapshot media: %w", err)
	}
	for rows.Next() {
		var blobID string
		var crc int64
		u := BlobUse{Kind: "original"}
		if err := rows.Scan(&u.MediaID, &blobID, &u.SHA256, &crc, &u.Size); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("store: snapshot media: %w", err)
		}
		u.CRC32 = uint32(crc) // #nosec G115 -- stored from a uint32
		use(blobID, u)
	}
	err = rows.Err()
	_ = rows.Close()
	if err != nil {
		return nil, fmt.Errorf("store: snapshot media: %w", err)
	}
	const dq = `SELECT media_id, variant, blob_id, crc32, size FROM derivatives`
	rows, err = sn.db.QueryContext(ctx, dq)
	if err != nil {
		return nil, fmt.Errorf("store: snapshot derivatives: %w", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var blobID string
		var crc int64
		u := BlobUse{Kind: "derivative"}
		if err := rows.Scan(&u.MediaID, &u.Variant, &blobID, &crc, &u.Size); err != nil {
			return nil, fmt.Errorf("store: snapshot derivatives: %w", err)
		}
		u.CRC32 = uint32(crc) // #nosec G115 -- stored from a uint32
		use(blobID, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: snapshot derivatives: %w", err)
	}
	out := make([]SnapshotBlob, 0, len(byID))
	for _, b := range byID {
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref.ID < out[j].Ref.ID })
	return out, nil
}

// syncFile fsyncs the file at path.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0) // #nosec G304 -- a file this package just created
	if err != nil {
		return err
	}
	serr := f.Sync()
	cerr := f.Close()
	return errors.Join(serr, cerr)
}

// syncDir fsyncs a directory so that entries created, renamed or removed in
// it survive a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir) // #nosec G304 -- a directory the caller chose
	if err != nil {
		return fmt.Errorf("store: sync dir: %w", err)
	}
	serr := d.Sync()
	cerr := d.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("store: sync dir %s: %w", dir, err)
	}
	return nil
}
