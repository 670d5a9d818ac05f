package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/photovault/photovault/store/blob"
)

// BlobRef returns what is needed to open a blob: its wrapped data key and
// the id of the master key that wrapped it.
func (s *Store) BlobRef(ctx context.Context, id string) (blob.Ref, error) {
	var r blob.Ref
	const q = `SELECT id, key_id, wrapped_key, size FROM blobs WHERE id = ?`
	st, err := s.readStmt(ctx, q)
	if err != nil {
		return blob.Ref{}, err
	}
	err = st.QueryRowContext(ctx, id).Scan(&r.ID, &r.KeyID, &r.WrappedKey, &r.Size)
	if errors.Is(err, sql.ErrNoRows) {
		return blob.Ref{}, ErrNotFound
	}
	if err != nil {
		return blob.Ref{}, fmt.Errorf("store: blob %s: %w", id, err)
	}
	return r, nil
}

// insertBlob records a committed (durable) blob file. refs starts at 0; the
// triggers count the rows that point at it.
func (s *Store) insertBlob(ctx context.Context, tx *sql.Tx, ref blob.Ref) error {
	const q = `INSERT INTO blobs (id, key_id, wrapped_key, size, created_ms) VALUES (?, ?, ?, ?, ?)`
	if _, err := tx.ExecContext(ctx, q, ref.ID, ref.KeyID, ref.WrappedKey, ref.Size, s.nowMS()); err != nil {
		return fmt.Errorf("store: insert blob: %w", err)
	}
	return nil
}

// Derivative is a file derived from a media item: "thumb", "preview",
// "stripped" (the original without location), or a share's watermarked
// variant ("wm/<share id>/thumb").
type Derivative struct {
	MediaID     string
	Variant     string
	BlobID      string
	Size        int64
	CRC32       uint32
	ContentType string
	Width       int
	Height      int
	// Splice, when set, makes the derivative the blob's bytes followed by
	// Splice.Length bytes of the media's original from Splice.Offset on;
	// Size and CRC32 then describe the blob alone.
	Splice *Splice
}

// Splice is the part of a media's original that a derivative reuses
// verbatim after its own blob (see migration 0003).
type Splice struct {
	Offset, Length int64
	// CRC32 is the checksum of the whole derivative: blob then original range.
	CRC32 uint32
}

// FullSize is the derivative's length as served: the blob plus any spliced
// range of the original.
func (d Derivative) FullSize() int64 {
	if d.Splice != nil {
		return d.Size + d.Splice.Length
	}
	return d.Size
}

// FullCRC32 is the CRC-32 of the derivative as served.
func (d Derivative) FullCRC32() uint32 {
	if d.Splice != nil {
		return d.Splice.CRC32
	}
	return d.CRC32
}

// PutDerivative records a derivative and its (already durable) blob in one
// transaction, replacing an earlier derivative of the same variant (whose
// blob then becomes garbage for the collector).
func (s *Store) PutDerivative(ctx context.Context, d Derivative, ref blob.Ref) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.insertBlob(ctx, tx, ref); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM derivatives WHERE media_id = ? AND variant = ?`, d.MediaID, d.Variant); err != nil {
			return fmt.Errorf("store: replace derivative: %w", err)
		}
		var off, length, outCRC int64
		if sp := d.Splice; sp != nil {
			if sp.Offset < 0 || sp.Length <= 0 {
				return fmt.Errorf("store: invalid derivative splice %d+%d", sp.Offset, sp.Length)
			}
			off, length, outCRC = sp.Offset, sp.Length, int64(sp.CRC32)
		}
		const q = `INSERT INTO derivatives (media_id, variant, blob_id, size, crc32, content_type, width, height, src_offset, src_length, out_crc32)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		_, err := tx.ExecContext(ctx, q, d.MediaID, d.Variant, ref.ID, d.Size, int64(d.CRC32), d.ContentType, d.Width, d.Height, off, length, outCRC)
		if err != nil {
			return fmt.Errorf("store: insert derivative: %w", err)
		}
		return nil
	})
}

// Derivative returns one derivative of a media item, or ErrNotFound. The
// caller must already have authorised access to mediaID.
func (s *Store) Derivative(ctx context.Context, mediaID, variant string) (Derivative, error) {
	var d Derivative
	var crc, off, length, outCRC int64
	const q = `SELECT media_id, variant, blob_id, size, crc32, content_type, width, height, src_offset, src_length, out_crc32
		FROM derivatives WHERE media_id = ? AND variant = ?`
	err := s.read.QueryRowContext(ctx, q, mediaID, variant).Scan(&d.MediaID, &d.Variant, &d.BlobID, &d.Size, &crc, &d.ContentType, &d.Width, &d.Height,
		&off, &length, &outCRC)
	if errors.Is(err, sql.ErrNoRows) {
		return Derivative{}, ErrNotFound
	}
	if err != nil {
		return Derivative{}, fmt.Errorf("store: derivative: %w", err)
	}
	d.CRC32 = uint32(crc) // #nosec G115 -- stored from a uint32
	if length > 0 {
		d.Splice = &Splice{Offset: off, Length: length, CRC32: uint32(outCRC)} // #nosec G115 -- stored from a uint32
	}
	return d, nil
}

// GarbageBlobs lists blobs no row references whose grace period ended
// before cutoffMS, for the collector.
func (s *Store) GarbageBlobs(ctx context.Context, cutoffMS int64, limit int) ([]string, error) {
	const q = `SELECT id FROM blobs WHERE refs <= 0 AND delete_after_ms IS NOT NULL AND delete_after_ms < ? LIMIT ?`
	rows, err := s.read.QueryContext(ctx, q, cutoffMS, limit)
	if err != nil {
		return nil, fmt.Errorf("store: garbage blobs: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// ForgetBlob deletes the row of a collected blob, only if still unreferenced.
func (s *Store) ForgetBlob(ctx context.Context, id string) (bool, error) {
	var ok bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE id = ? AND refs <= 0`, id)
		if err != nil {
			return fmt.Errorf("store: forget blob: %w", err)
		}
		n, _ := res.RowsAffected()
		ok = n == 1
		return nil
	})
	return ok, err
}

// KnownBlob reports whether a blob id has a row (the orphan reconciler keeps
// files that do).
func (s *Store) KnownBlob(ctx context.Context, id string) (bool, error) {
	var one int
	err := s.read.QueryRowContext(ctx, `SELECT 1 FROM blobs WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: known blob: %w", err)
	}
	return true, nil
}
