package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Selection is a client's proofing pick: favourites with a name, an email
// and a note, no account needed.
type Selection struct {
	ID          string
	ShareID     string
	Name        string
	Email       string
	Note        string
	MediaIDs    []string
	Filenames   []string
	SubmittedAt time.Time
}

// ErrSelectionMedia reports that a selected media id is not part of the share.
var ErrSelectionMedia = errors.New("store: selection holds media outside the share")

// CreateSelection stores a selection after checking every media id belongs
// to the share.
func (s *Store) CreateSelection(ctx context.Context, sh Share, name, email, note string, mediaIDs []string) (Selection, error) {
	sel := Selection{ID: NewID(), ShareID: sh.ID, Name: name, Email: email, Note: note, MediaIDs: mediaIDs, SubmittedAt: fromMS(s.nowMS())}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		const q = `INSERT INTO selections (id, share_id, name, email, note, submitted_ms) VALUES (?, ?, ?, ?, ?, ?)`
		if _, err := tx.ExecContext(ctx, q, sel.ID, sh.ID, name, email, note, sel.SubmittedAt.UnixMilli()); err != nil {
			return fmt.Errorf("store: selection: %w", err)
		}
		const ins = `INSERT OR IGNORE INTO selection_items (selection_id, media_id)
			SELECT ?, m.id FROM media m WHERE m.id = ? AND m.album_id = ?
			  AND (NOT EXISTS (SELECT 1 FROM share_items WHERE share_id = ?)
			       OR EXISTS (SELECT 1 FROM share_items WHERE share_id = ? AND media_id = m.id))`
		for _, m := range mediaIDs {
			res, err := tx.ExecContext(ctx, ins, sel.ID, m, sh.AlbumID, sh.ID, sh.ID)
			if err != nil {
				return fmt.Errorf("store: selection items: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return ErrSelectionMedia
			}
		}
		return nil
	})
	if err != nil {
		return Selection{}, err
	}
	return sel, nil
}

// Selections lists the selections of the owner's share, oldest first, with
// media ids and filenames.
func (s *Store) Selections(ctx context.Context, owner, shareID string) ([]Selection, error) {
	if _, err := s.ShareByID(ctx, owner, shareID); err != nil {
		return nil, err
	}
	const q = `SELECT s.id, s.name, s.email, s.note, s.submitted_ms,
		COALESCE((SELECT group_concat(media_id, char(31)) FROM (SELECT i.media_id FROM selection_items i JOIN media m ON m.id = i.media_id
			WHERE i.selection_id = s.id ORDER BY m.filename, m.id)), ''),
		COALESCE((SELECT group_concat(filename, char(31)) FROM (SELECT m.filename FROM selection_items i JOIN media m ON m.id = i.media_id
			WHERE i.selection_id = s.id ORDER BY m.filename, m.id)), '')
		FROM selections s WHERE s.share_id = ? ORDER BY s.submitted_ms, s.rowid`
	rows, err := s.read.QueryContext(ctx, q, shareID)
	if err != nil {
		return nil, fmt.Errorf("store: selections: %w", err)
	}
	defer rows.Close()
	var out []Selection
	for rows.Next() {
		sel := Selection{ShareID: shareID}
		var at int64
		var ids, names string
		if err := rows.Scan(&sel.ID, &sel.Name, &sel.Email, &sel.Note, &at, &ids, &names); err != nil {
			return nil, fmt.Errorf("store: selections: %w", err)
		}
		sel.SubmittedAt = fromMS(at)
		sel.MediaIDs, sel.Filenames = splitUnit(ids), splitUnit(names)
		out = append(out, sel)
	}
	return out, rows.Err()
}

func splitUnit(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, "\x1f")
}
