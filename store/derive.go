package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// JobMedia is what the derivative worker needs to know about a media item.
// It is read without an owner filter: jobs act for the system, and the
// target id comes from the jobs table, never from a request.
type JobMedia struct {
	ID          string
	BlobID      string
	ContentType string
	Kind        string // imaging.Kind as stored
	Orientation int
	Width       int // after orientation, as probed at upload
	Height      int
	Status      string
}

// MediaForJob returns the media item a job targets, or ErrNotFound when it
// was deleted meanwhile.
func (s *Store) MediaForJob(ctx context.Context, id string) (JobMedia, error) {
	var m JobMedia
	const q = `SELECT id, blob_id, content_type, kind, orientation, width, height, status FROM media WHERE id = ?`
	err := s.read.QueryRowContext(ctx, q, id).Scan(&m.ID, &m.BlobID, &m.ContentType, &m.Kind, &m.Orientation, &m.Width, &m.Height, &m.Status)
	if errors.Is(err, sql.ErrNoRows) {
		return JobMedia{}, ErrNotFound
	}
	if err != nil {
		return JobMedia{}, fmt.Errorf("store: media for job %s: %w", id, err)
	}
	return m, nil
}

// SetMediaStatus sets a media item's status (MediaStatusProcessing,
// MediaStatusReady or MediaStatusFailed; a media item is processing until
// its derivatives exist, then ready — also when none can be made, as for
// video — or failed). ErrNotFound when the item no longer exists.
func (s *Store) SetMediaStatus(ctx context.Context, id, status string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		return setMediaStatus(ctx, tx, id, status)
	})
}

func setMediaStatus(ctx context.Context, tx *sql.Tx, id, status string) error {
	switch status {
	case MediaStatusProcessing, MediaStatusReady, MediaStatusFailed:
	default:
		return fmt.Errorf("store: invalid media status %q", status)
	}
	res, err := tx.ExecContext(ctx, `UPDATE media SET status = ? WHERE id = ?`, status, id)
	if err != nil {
		return fmt.Errorf("store: set media status: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrNotFound
	}
	return nil
}

// BlobIDsWithPrefix returns the ids of all blob rows starting with prefix
// (two hex characters: one top-level directory of the blob store), so the
// orphan reconciler checks a directory's files against one query instead
// of one query per file, and never holds every id in memory at once.
func (s *Store) BlobIDsWithPrefix(ctx context.Context, prefix string) (map[string]struct{}, error) {
	if len(prefix) != 2 {
		return nil, fmt.Errorf("store: blob id prefix %q must be 2 characters", prefix)
	}
	// Ids are lowercase hex, so [prefix, prefix+"g") is exactly the range.
	const q = `SELECT id FROM blobs WHERE id >= ? AND id < ?`
	rows, err := s.read.QueryContext(ctx, q, prefix, prefix+"g")
	if err != nil {
		return nil, fmt.Errorf("store: blob ids: %w", err)
	}
	defer rows.Close()
	ids := make(map[string]struct{})
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: blob ids: %w", err)
		}
		ids[id] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: blob ids: %w", err)
	}
	return ids, nil
}

// BlobCount returns how many blob rows exist; the reconciler compares it
// with what it would delete, to refuse a mass deletion against the wrong
// (or a freshly created) database.
func (s *Store) BlobCount(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM blobs`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: blob count: %w", err)
	}
	return n, nil
}
