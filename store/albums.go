package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrInvalidCover reports a cover that is not a media item of the album
// being updated (or belongs to someone else): an album can only show its
// own photos on the cover.
var ErrInvalidCover = errors.New("store: cover is not a media item of this album")

// Album is an owner's collection of media.
type Album struct {
	ID          string
	OwnerID     string
	Title       string
	Description string
	// CoverMediaID is the explicit cover when it is still one of the
	// album's media, else the first media item in album order, else "".
	CoverMediaID string
	MediaCount   int
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// albumSelect reads an album with its effective cover and media count. The
// explicit cover only counts while it is still a media item of the album
// (cover_media_id has no foreign key, so it may point at a deleted row).
const albumSelect = `SELECT a.id, a.owner_id, a.title, a.description,
  COALESCE(
    (SELECT m.id FROM media m WHERE m.id = a.cover_media_id AND m.album_id = a.id),
    (SELECT m.id FROM media m WHERE m.album_id = a.id
       ORDER BY m.taken_ms IS NULL, m.taken_ms, m.filename, m.id LIMIT 1),
    ''),
  (SELECT count(*) FROM media m WHERE m.album_id = a.id),
  a.created_ms, a.updated_ms
FROM albums a`

func scanAlbum(row interface{ Scan(...any) error }) (Album, error) {
	var a Album
	var created, updated int64
	if err := row.Scan(&a.ID, &a.OwnerID, &a.Title, &a.Description, &a.CoverMediaID, &a.MediaCount, &created, &updated); err != nil {
		return Album{}, err
	}
	a.CreatedAt, a.UpdatedAt = fromMS(created), fromMS(updated)
	return a, nil
}

// CreateAlbum adds an empty album for owner. Title and description are
// validated by the caller.
func (s *Store) CreateAlbum(ctx context.Context, owner, title, description string) (Album, error) {
	now := s.nowMS()
	a := Album{ID: NewID(), OwnerID: owner, Title: title, Description: description, CreatedAt: fromMS(now), UpdatedAt: fromMS(now)}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		const q = `INSERT INTO albums (id, owner_id, title, description, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?)`
		if _, err := tx.ExecContext(ctx, q, a.ID, owner, title, description, now, now); err != nil {
			return fmt.Errorf("store: create album: %w", err)
		}
		return nil
	})
	if err != nil {
		return Album{}, err
	}
	return a, nil
}

// Album returns the owner's album id, or ErrNotFound (also when the album
// exists but belongs to another owner, so existence never leaks).
func (s *Store) Album(ctx context.Context, owner, id string) (Album, error) {
	const q = albumSelect + ` WHERE a.id = ? AND a.owner_id = ?`
	a, err := scanAlbum(s.read.QueryRowContext(ctx, q, id, owner))
	if errors.Is(err, sql.ErrNoRows) {
		return Album{}, ErrNotFound
	}
	if err != nil {
		return Album{}, fmt.Errorf("store: album %s: %w", id, err)
	}
	return a, nil
}

// Albums lists the owner's albums, newest first.
func (s *Store) Albums(ctx context.Context, owner string) ([]Album, error) {
	const q = albumSelect + ` WHERE a.owner_id = ? ORDER BY a.created_ms DESC, a.id`
	rows, err := s.read.QueryContext(ctx, q, owner)
	if err != nil {
		return nil, fmt.Errorf("store: albums: %w", err)
	}
	defer rows.Close()
	out := []Album{}
	for rows.Next() {
		a, err := scanAlbum(rows)
		if err != nil {
			return nil, fmt.Errorf("store: albums: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: albums: %w", err)
	}
	return out, nil
}

// AlbumUpdate names the fields UpdateAlbum changes; nil leaves a field as
// it is. A CoverMediaID of "" clears the explicit cover.
type AlbumUpdate struct {
	Title        *string
	Description  *string
	CoverMediaID *string
}

// UpdateAlbum changes the owner's album and returns it as stored. It answers
// ErrNotFound for an album the owner does not have and ErrInvalidCover when
// the cover is not a media item of this very album.
func (s *Store) UpdateAlbum(ctx context.Context, owner, id string, u AlbumUpdate) (Album, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM albums WHERE id = ? AND owner_id = ?`, id, owner).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("store: update album: %w", err)
		}
		var cover any = sql.NullString{}
		if u.CoverMediaID != nil && *u.CoverMediaID != "" {
			// Owner and album both in SQL: another owner's media id is
			// refused even if the attacker knows it.
			const q = `SELECT 1 FROM media WHERE id = ? AND album_id = ? AND owner_id = ?`
			err := tx.QueryRowContext(ctx, q, *u.CoverMediaID, id, owner).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return ErrInvalidCover
			}
			if err != nil {
				return fmt.Errorf("store: update album cover: %w", err)
			}
			cover = *u.CoverMediaID
		}
		const q = `UPDATE albums SET
		  title = COALESCE(?, title),
		  description = COALESCE(?, description),
		  cover_media_id = CASE WHEN ? THEN ? ELSE cover_media_id END,
		  updated_ms = ?
		WHERE id = ? AND owner_id = ?`
		_, err = tx.ExecContext(ctx, q, strOrNil(u.Title), strOrNil(u.Description), u.CoverMediaID != nil, cover, s.nowMS(), id, owner)
		if err != nil {
			return fmt.Errorf("store: update album: %w", err)
		}
		return nil
	})
	if err != nil {
		return Album{}, err
	}
	return s.Album(ctx, owner, id)
}

func strOrNil(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

// DeleteAlbum removes the owner's album at once. Its media, derivatives,
// shares and share items go with it by cascade; the blob triggers mark the
// files for the collector, which removes them after the grace period.
// Pending derivative jobs of its media are dropped in the same transaction.
func (s *Store) DeleteAlbum(ctx context.Context, owner, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		const jobsQ = `DELETE FROM jobs WHERE kind = ? AND target IN
		  (SELECT id FROM media WHERE album_id = ? AND owner_id = ?)`
		if _, err := tx.ExecContext(ctx, jobsQ, jobKindDerive, id, owner); err != nil {
			return fmt.Errorf("store: delete album jobs: %w", err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM albums WHERE id = ? AND owner_id = ?`, id, owner)
		if err != nil {
			return fmt.Errorf("store: delete album: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("store: delete album: %w", err)
		} else if n == 0 {
			return ErrNotFound
		}
		return nil
	})
}
