package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/photovault/photovault/store/blob"
)

// Media statuses: processing until the derivative worker has made the
// thumbnail and preview, then ready, or failed when it gave up.
const (
	MediaStatusProcessing = "processing"
	MediaStatusReady      = "ready"
	MediaStatusFailed     = "failed"
)

// jobKindDerive is the job kind InsertMedia queues for every new media
// item; its target is the media id (the worker in jobs.go consumes it).
const jobKindDerive = "derive"

// Media is one uploaded file (photo or video) in an album. Filename, Camera
// and Lens are untrusted display text. The GPS position is never kept in
// plaintext: HasLocation only says that an encrypted one exists.
type Media struct {
	ID          string
	OwnerID     string
	AlbumID     string
	BlobID      string
	SHA256      string // lowercase hex of the original bytes
	CRC32       uint32 // IEEE, of the original bytes (deterministic ZIPs)
	Size        int64
	ContentType string // detected from the bytes, never from the client
	Kind        string // imaging.Kind
	Filename    string
	Width       int // display size, after orientation
	Height      int
	Orientation int
	TakenAt     *time.Time
	Camera      string
	Lens        string
	Status      string
	HasLocation bool
	CreatedAt   time.Time
}

const mediaColumns = `id, owner_id, album_id, blob_id, sha256, crc32, size, content_type, kind, filename,
  width, height, orientation, taken_ms, camera, lens, status, enc_location IS NOT NULL, created_ms`

// mediaOrder is album order: capture time (unknown last), then name, then id
// so the order is total and stable.
const mediaOrder = ` ORDER BY taken_ms IS NULL, taken_ms, filename, id`

func scanMedia(row interface{ Scan(...any) error }) (Media, error) {
	var m Media
	var crc, created int64
	var taken sql.NullInt64
	err := row.Scan(&m.ID, &m.OwnerID, &m.AlbumID, &m.BlobID, &m.SHA256, &crc, &m.Size, &m.ContentType, &m.Kind, &m.Filename,
		&m.Width, &m.Height, &m.Orientation, &taken, &m.Camera, &m.Lens, &m.Status, &m.HasLocation, &created)
	if err != nil {
		return Media{}, err
	}
	m.CRC32 = uint32(crc)
	m.TakenAt = timePtr(taken)
	m.CreatedAt = fromMS(created)
	return m, nil
}

func (s *Store) queryMedia(ctx context.Context, q string, args ...any) ([]Media, error) {
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: media: %w", err)
	}
	defer rows.Close()
	out := []Media{}
	for rows.Next() {
		m, err := scanMedia(rows)
		if err != nil {
			return nil, fmt.Errorf("store: media: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: media: %w", err)
	}
	return out, nil
}

// AlbumMedia lists the media of the owner's album in album order (capture
// time, unknown times last, then filename). An album the owner does not
// have yields an empty list; callers that must tell the difference check
// Album first.
func (s *Store) AlbumMedia(ctx context.Context, owner, albumID string) ([]Media, error) {
	const q = `SELECT ` + mediaColumns + ` FROM media WHERE album_id = ? AND owner_id = ?` + mediaOrder
	return s.queryMedia(ctx, q, albumID, owner)
}

// Media returns the owner's media item id, or ErrNotFound.
func (s *Store) Media(ctx context.Context, owner, id string) (Media, error) {
	const q = `SELECT ` + mediaColumns + ` FROM media WHERE id = ? AND owner_id = ?`
	m, err := scanMedia(s.read.QueryRowContext(ctx, q, id, owner))
	if errors.Is(err, sql.ErrNoRows) {
		return Media{}, ErrNotFound
	}
	if err != nil {
		return Media{}, fmt.Errorf("store: media %s: %w", id, err)
	}
	return m, nil
}

// MediaBySHA returns the media item of the owner's album with this content
// (lowercase hex SHA-256), or ErrNotFound.
func (s *Store) MediaBySHA(ctx context.Context, owner, albumID, sha string) (Media, error) {
	const q = `SELECT ` + mediaColumns + ` FROM media WHERE album_id = ? AND sha256 = ? AND owner_id = ?`
	m, err := scanMedia(s.read.QueryRowContext(ctx, q, albumID, sha, owner))
	if errors.Is(err, sql.ErrNoRows) {
		return Media{}, ErrNotFound
	}
	if err != nil {
		return Media{}, fmt.Errorf("store: media by sha: %w", err)
	}
	return m, nil
}

// KnownSHA256 returns which of the given hashes the owner already has in
// any album, each once, in the order given. The list travels as one JSON
// parameter, so any length runs as a single indexed query.
func (s *Store) KnownSHA256(ctx context.Context, owner string, shas []string) ([]string, error) {
	known := []string{}
	if len(shas) == 0 {
		return known, nil
	}
	list, err := json.Marshal(shas)
	if err != nil {
		return nil, fmt.Errorf("store: known sha256: %w", err)
	}
	const q = `SELECT DISTINCT sha256 FROM media
	  WHERE owner_id = ? AND sha256 IN (SELECT value FROM json_each(?))`
	rows, err := s.read.QueryContext(ctx, q, owner, string(list))
	if err != nil {
		return nil, fmt.Errorf("store: known sha256: %w", err)
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, fmt.Errorf("store: known sha256: %w", err)
		}
		have[h] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: known sha256: %w", err)
	}
	for _, h := range shas {
		if have[h] {
			known = append(known, h)
			delete(have, h)
		}
	}
	return known, nil
}

// InsertMedia records a new media item whose original is the committed
// (durable) blob ref, all in one transaction: the blob row, the media row
// (status processing) and a derivative job. m.ID may be preset (the caller
// binds encrypted fields to it); otherwise a new id is made. encLocation is
// the already encrypted GPS record, or nil.
//
// When the album already holds this content (same SHA-256), nothing is
// written: the existing media item is returned with dup = true and the
// caller deletes the blob file it wrote. An album the owner does not have
// answers ErrNotFound.
func (s *Store) InsertMedia(ctx context.Context, m Media, ref blob.Ref, encLocation []byte) (Media, bool, error) {
	if m.ID == "" {
		m.ID = NewID()
	}
	if m.Orientation == 0 {
		m.Orientation = 1
	}
	now := s.nowMS()
	m.BlobID, m.Status, m.HasLocation, m.CreatedAt = ref.ID, MediaStatusProcessing, encLocation != nil, fromMS(now)
	var existing Media
	dup := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM albums WHERE id = ? AND owner_id = ?`, m.AlbumID, m.OwnerID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("store: insert media: %w", err)
		}
		// The write transaction is IMMEDIATE on the single writer, so no
		// other insert can slip in between this check and the insert.
		const dupQ = `SELECT ` + mediaColumns + ` FROM media WHERE album_id = ? AND sha256 = ? AND owner_id = ?`
		existing, err = scanMedia(tx.QueryRowContext(ctx, dupQ, m.AlbumID, m.SHA256, m.OwnerID))
		if err == nil {
			dup = true
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: insert media: %w", err)
		}
		if err := s.insertBlob(ctx, tx, ref); err != nil {
			return err
		}
		const q = `INSERT INTO media (id, owner_id, album_id, blob_id, sha256, crc32, size, content_type, kind, filename,
		  width, height, orientation, taken_ms, camera, lens, enc_location, status, created_ms)
		  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		_, err = tx.ExecContext(ctx, q, m.ID, m.OwnerID, m.AlbumID, ref.ID, m.SHA256, int64(m.CRC32), m.Size, m.ContentType, m.Kind,
			m.Filename, m.Width, m.Height, m.Orientation, msOrNil(m.TakenAt), m.Camera, m.Lens, encLocation, m.Status, now)
		if isUnique(err) {
			return ErrConflict
		}
		if err != nil {
			return fmt.Errorf("store: insert media: %w", err)
		}
		const jobQ = `INSERT INTO jobs (kind, target, run_after_ms, created_ms) VALUES (?, ?, ?, ?)`
		if _, err := tx.ExecContext(ctx, jobQ, jobKindDerive, m.ID, now, now); err != nil {
			return fmt.Errorf("store: queue derive job: %w", err)
		}
		return nil
	})
	if err != nil {
		return Media{}, false, err
	}
	if dup {
		return existing, true, nil
	}
	if m.TakenAt != nil {
		t := m.TakenAt.UTC().Truncate(time.Millisecond)
		m.TakenAt = &t
	}
	return m, false, nil
}

// MediaLocation returns the encrypted GPS record of the owner's media item
// (nil when it has none), or ErrNotFound.
func (s *Store) MediaLocation(ctx context.Context, owner, id string) ([]byte, error) {
	var rec []byte
	err := s.read.QueryRowContext(ctx, `SELECT enc_location FROM media WHERE id = ? AND owner_id = ?`, id, owner).Scan(&rec)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: media location: %w", err)
	}
	return rec, nil
}

// DeleteMedia removes the owner's media item at once, with its derivatives
// and share items (cascade), its pending job, and the album cover pointing
// at it. The blob triggers hand the files to the collector.
func (s *Store) DeleteMedia(ctx context.Context, owner, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM media WHERE id = ? AND owner_id = ?`, id, owner)
		if err != nil {
			return fmt.Errorf("store: delete media: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("store: delete media: %w", err)
		} else if n == 0 {
			return ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE kind = ? AND target = ?`, jobKindDerive, id); err != nil {
			return fmt.Errorf("store: delete media job: %w", err)
		}
		const coverQ = `UPDATE albums SET cover_media_id = NULL WHERE cover_media_id = ? AND owner_id = ?`
		if _, err := tx.ExecContext(ctx, coverQ, id, owner); err != nil {
			return fmt.Errorf("store: delete media cover: %w", err)
		}
		return nil
	})
}

// ResourceOwner returns the owner id of an album (kind "album") or media
// item (kind "media") whoever asks, or ErrNotFound. It exists
// only to audit denied attempts on another owner's ids (SECURITY.md #20);
// it must never decide what is served.
func (s *Store) ResourceOwner(ctx context.Context, kind, id string) (string, error) {
	var q string
	switch kind {
	case "album":
		q = `SELECT owner_id FROM albums WHERE id = ?`
	case "media":
		q = `SELECT owner_id FROM media WHERE id = ?`
	default:
		return "", fmt.Errorf("store: resource owner: unknown kind %q", kind)
	}
	var owner string
	err := s.read.QueryRowContext(ctx, q, id).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: resource owner: %w", err)
	}
	return owner, nil
}
