package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/photovault/photovault/store/blob"
)

// Download levels of a share.
const (
	DownloadNone     = "none"
	DownloadPreview  = "preview"
	DownloadOriginal = "original"
)

// Share is a client delivery link. The token itself is never kept: only its
// SHA-256, so a database dump opens no gallery.
type Share struct {
	ID              string
	OwnerID         string
	AlbumID         string
	AlbumTitle      string
	Studio          string
	Label           string
	PasswordHash    string // argon2id PHC, "" when open
	PasswordVersion int
	ExpiresAt       *time.Time
	MaxViews        *int
	Views           int
	MaxDownloads    *int
	Downloads       int
	Download        string
	StripLocation   bool
	Watermark       string
	SelectionLimit  *int
	NotifyFirstView bool
	FirstViewedAt   *time.Time
	RevokedAt       *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
	ItemCount       int
	// ContentVersion changes whenever the album's media or derivatives do
	// (triggers in 0002_content_version.sql).
	ContentVersion int64
}

// Status is "active", "revoked", "expired" or "exhausted" at now.
func (sh Share) Status(now time.Time) string {
	switch {
	case sh.RevokedAt != nil:
		return "revoked"
	case sh.ExpiresAt != nil && !now.Before(*sh.ExpiresAt):
		return "expired"
	case sh.MaxViews != nil && sh.Views >= *sh.MaxViews:
		return "exhausted"
	}
	return "active"
}

// Live reports whether media of the share may still be served: not revoked
// and not expired. (A link whose views are used up still serves the media of
// the views already granted.)
func (sh Share) Live(now time.Time) bool {
	return sh.RevokedAt == nil && (sh.ExpiresAt == nil || now.Before(*sh.ExpiresAt))
}

// NewShare is what an owner asks for.
type NewShare struct {
	AlbumID        string
	MediaIDs       []string
	TokenHash      []byte
	Label          string
	PasswordHash   string
	ExpiresAt      *time.Time
	MaxViews       *int
	MaxDownloads   *int
	Download       string
	StripLocation  bool
	Watermark      string
	SelectionLimit *int
	NotifyFirst    bool
}

const shareColumns = `s.id, s.owner_id, s.album_id, a.title, u.studio, s.label, COALESCE(s.password_hash, ''), s.password_version,
	s.expires_ms, s.max_views, s.views, s.max_downloads, s.downloads, s.download, s.strip_location, s.watermark,
	s.selection_limit, s.notify_first_view, s.first_viewed_ms, s.revoked_ms, s.created_ms, s.updated_ms, a.content_version,
	(CASE WHEN EXISTS (SELECT 1 FROM share_items i WHERE i.share_id = s.id)
	      THEN (SELECT COUNT(*) FROM share_items i WHERE i.share_id = s.id)
	      ELSE (SELECT COUNT(*) FROM media m WHERE m.album_id = s.album_id) END)`

const shareFrom = ` FROM public_shares s JOIN albums a ON a.id = s.album_id JOIN users u ON u.id = s.owner_id `

func scanShare(row interface{ Scan(...any) error }) (Share, error) {
	var sh Share
	var exp, maxV, maxD, selLim, first, revoked sql.NullInt64
	var strip, notify int
	var created, updated int64
	err := row.Scan(&sh.ID, &sh.OwnerID, &sh.AlbumID, &sh.AlbumTitle, &sh.Studio, &sh.Label, &sh.PasswordHash, &sh.PasswordVersion,
		&exp, &maxV, &sh.Views, &maxD, &sh.Downloads, &sh.Download, &strip, &sh.Watermark,
		&selLim, &notify, &first, &revoked, &created, &updated, &sh.ContentVersion, &sh.ItemCount)
	if err != nil {
		return Share{}, err
	}
	sh.ExpiresAt, sh.FirstViewedAt, sh.RevokedAt = timePtr(exp), timePtr(first), timePtr(revoked)
	sh.MaxViews, sh.MaxDownloads, sh.SelectionLimit = intPtr(maxV), intPtr(maxD), intPtr(selLim)
	sh.StripLocation, sh.NotifyFirstView = strip != 0, notify != 0
	sh.CreatedAt, sh.UpdatedAt = fromMS(created), fromMS(updated)
	return sh, nil
}

func intPtr(v sql.NullInt64) *int {
	if !v.Valid {
		return nil
	}
	n := int(v.Int64)
	return &n
}

func intOrNil(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ErrInvalidMedia reports that a media id given for a share is not in the owner's album.
var ErrInvalidMedia = errors.New("store: media not in album")

// CreateShare creates a share of the owner's album (or of a subset of its
// media). An album or media id the owner does not own answers ErrNotFound /
// ErrInvalidMedia: nobody can share what they do not own.
func (s *Store) CreateShare(ctx context.Context, owner string, n NewShare) (Share, error) {
	id := NewID()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM albums WHERE id = ? AND owner_id = ?`, n.AlbumID, owner).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("store: create share: %w", err)
		}
		now := s.nowMS()
		var pw any
		if n.PasswordHash != "" {
			pw = n.PasswordHash
		}
		const q = `INSERT INTO public_shares (id, owner_id, album_id, token_hash, label, password_hash, expires_ms, max_views,
			max_downloads, download, strip_location, watermark, selection_limit, notify_first_view, created_ms, updated_ms)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		_, err = tx.ExecContext(ctx, q, id, owner, n.AlbumID, n.TokenHash, n.Label, pw, msOrNil(n.ExpiresAt), intOrNil(n.MaxViews),
			intOrNil(n.MaxDownloads), n.Download, b2i(n.StripLocation), n.Watermark, intOrNil(n.SelectionLimit), b2i(n.NotifyFirst), now, now)
		if err != nil {
			return fmt.Errorf("store: create share: %w", err)
		}
		for _, m := range n.MediaIDs {
			const ins = `INSERT OR IGNORE INTO share_items (share_id, media_id)
				SELECT ?, id FROM media WHERE id = ? AND album_id = ? AND owner_id = ?`
			res, err := tx.ExecContext(ctx, ins, id, m, n.AlbumID, owner)
			if err != nil {
				return fmt.Errorf("store: share items: %w", err)
			}
			if k, _ := res.RowsAffected(); k == 0 {
				var dup int
				_ = tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM share_items WHERE share_id = ? AND media_id = ?`, id, m).Scan(&dup)
				if dup == 0 {
					return ErrInvalidMedia
				}
			}
		}
		return nil
	})
	if err != nil {
		return Share{}, err
	}
	return s.ShareByID(ctx, owner, id)
}

// ShareByID returns the owner's share, or ErrNotFound (also for others' shares).
func (s *Store) ShareByID(ctx context.Context, owner, id string) (Share, error) {
	q := `SELECT ` + shareColumns + shareFrom + `WHERE s.id = ? AND s.owner_id = ?`
	sh, err := scanShare(s.read.QueryRowContext(ctx, q, id, owner))
	if errors.Is(err, sql.ErrNoRows) {
		return Share{}, ErrNotFound
	}
	if err != nil {
		return Share{}, fmt.Errorf("store: share: %w", err)
	}
	return sh, nil
}

// Shares lists the owner's shares, newest first, optionally of one album.
func (s *Store) Shares(ctx context.Context, owner, albumID string) ([]Share, error) {
	q := `SELECT ` + shareColumns + shareFrom + `WHERE s.owner_id = ? AND (? = '' OR s.album_id = ?) ORDER BY s.created_ms DESC, s.id`
	rows, err := s.read.QueryContext(ctx, q, owner, albumID, albumID)
	if err != nil {
		return nil, fmt.Errorf("store: shares: %w", err)
	}
	defer rows.Close()
	var out []Share
	for rows.Next() {
		sh, err := scanShare(rows)
		if err != nil {
			return nil, fmt.Errorf("store: shares: %w", err)
		}
		out = append(out, sh)
	}
	return out, rows.Err()
}

// ShareByTokenHash finds a share by the hash of its token (a point read on
// a UNIQUE index), or ErrNotFound. Public callers only.
func (s *Store) ShareByTokenHash(ctx context.Context, hash []byte) (Share, error) {
	st, err := s.readStmt(ctx, `SELECT `+shareColumns+shareFrom+`WHERE s.token_hash = ?`)
	if err != nil {
		return Share{}, err
	}
	sh, err := scanShare(st.QueryRowContext(ctx, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return Share{}, ErrNotFound
	}
	if err != nil {
		return Share{}, fmt.Errorf("store: share by token: %w", err)
	}
	return sh, nil
}

// PublicShare finds a share by id for signed media fetches (the signature
// already proved the caller was handed a URL for it).
func (s *Store) PublicShare(ctx context.Context, id string) (Share, error) {
	q := `SELECT ` + shareColumns + shareFrom + `WHERE s.id = ?`
	sh, err := scanShare(s.read.QueryRowContext(ctx, q, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Share{}, ErrNotFound
	}
	if err != nil {
		return Share{}, fmt.Errorf("store: share: %w", err)
	}
	return sh, nil
}

// SharePatch holds the changes of PATCH /api/shares/{id}; nil fields stay.
type SharePatch struct {
	Label          *string
	ExpiresAt      **time.Time // set to a nil *time.Time for "never"
	MaxViews       **int
	MaxDownloads   **int
	PasswordHash   *string // "" removes the password
	Download       *string
	Watermark      *string
	SelectionLimit **int
}

// UpdateShare applies a patch. A password change bumps password_version,
// which ends every unlock session and signed URL issued before it.
func (s *Store) UpdateShare(ctx context.Context, owner, id string, p SharePatch) (Share, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var sets []string
		var args []any
		add := func(col string, v any) { sets = append(sets, col+" = ?"); args = append(args, v) }
		if p.Label != nil {
			add("label", *p.Label)
		}
		if p.ExpiresAt != nil {
			add("expires_ms", msOrNil(*p.ExpiresAt))
		}
		if p.MaxViews != nil {
			add("max_views", intOrNil(*p.MaxViews))
		}
		if p.MaxDownloads != nil {
			add("max_downloads", intOrNil(*p.MaxDownloads))
		}
		if p.SelectionLimit != nil {
			add("selection_limit", intOrNil(*p.SelectionLimit))
		}
		if p.Download != nil {
			add("download", *p.Download)
		}
		if p.Watermark != nil {
			add("watermark", *p.Watermark)
		}
		if p.PasswordHash != nil {
			var v any
			if *p.PasswordHash != "" {
				v = *p.PasswordHash
			}
			add("password_hash", v)
			sets = append(sets, "password_version = password_version + 1")
		}
		add("updated_ms", s.nowMS())
		args = append(args, id, owner)
		q := `UPDATE public_shares SET ` + strings.Join(sets, ", ") + ` WHERE id = ? AND owner_id = ?` // #nosec G202 -- column names are constants above
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("store: update share: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return Share{}, err
	}
	return s.ShareByID(ctx, owner, id)
}

// RevokeShare revokes the owner's share at once (idempotent).
func (s *Store) RevokeShare(ctx context.Context, owner, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		now := s.nowMS()
		res, err := tx.ExecContext(ctx, `UPDATE public_shares SET revoked_ms = COALESCE(revoked_ms, ?), updated_ms = ? WHERE id = ? AND owner_id = ?`, now, now, id, owner)
		if err != nil {
			return fmt.Errorf("store: revoke share: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// CountView atomically counts one view if and only if the share is live and
// under its view limit — one conditional UPDATE, so 100 concurrent opens of a
// max_views=5 link give exactly five successes (SECURITY.md #9). It returns
// whether the view was counted and whether it was the first view ever.
func (s *Store) CountView(ctx context.Context, id string) (counted, first bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		now := s.nowMS()
		const q = `UPDATE public_shares SET views = views + 1, first_viewed_ms = COALESCE(first_viewed_ms, ?)
			WHERE id = ? AND revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > ?)
			  AND (max_views IS NULL OR views < max_views)
			RETURNING views`
		var views int
		err := tx.QueryRowContext(ctx, q, now, id, now).Scan(&views)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("store: count view: %w", err)
		}
		counted, first = true, views == 1
		return nil
	})
	return counted, first, err
}

// CountDownload counts a download against max_downloads atomically.
func (s *Store) CountDownload(ctx context.Context, id string) (bool, error) {
	var ok bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := s.nowMS()
		const q = `UPDATE public_shares SET downloads = downloads + 1
			WHERE id = ? AND revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > ?)
			  AND (max_downloads IS NULL OR downloads < max_downloads)`
		res, err := tx.ExecContext(ctx, q, id, now)
		if err != nil {
			return fmt.Errorf("store: count download: %w", err)
		}
		n, _ := res.RowsAffected()
		ok = n == 1
		return nil
	})
	return ok, err
}

// ShareItem is one deliverable photo of a share with its derivatives.
type ShareItem struct {
	MediaID     string
	Filename    string
	ContentType string
	Kind        string
	Width       int
	Height      int
	Size        int64
	CRC32       uint32
	BlobID      string
	TakenAt     *time.Time
	CreatedAt   time.Time
	Thumb       *Derivative
	Preview     *Derivative
	Stripped    *Derivative
}

// ShareItems lists the share's media in album order with their thumb,
// preview and stripped derivatives — one query whatever the number of photos.
func (s *Store) ShareItems(ctx context.Context, shareID, albumID string) ([]ShareItem, error) {
	const q = `SELECT m.id, m.filename, m.content_type, m.kind, m.width, m.height, m.size, m.crc32, m.blob_id, m.taken_ms, m.created_ms,
		t.blob_id, t.size, t.crc32, t.width, t.height,
		p.blob_id, p.size, p.crc32, p.width, p.height,
		x.blob_id, x.size, x.crc32, x.content_type, x.src_offset, x.src_length, x.out_crc32
		FROM media m
		LEFT JOIN derivatives t ON t.media_id = m.id AND t.variant = 'thumb'
		LEFT JOIN derivatives p ON p.media_id = m.id AND p.variant = 'preview'
		LEFT JOIN derivatives x ON x.media_id = m.id AND x.variant = 'stripped'
		WHERE m.album_id = ?
		  AND (NOT EXISTS (SELECT 1 FROM share_items WHERE share_id = ?)
		       OR m.id IN (SELECT media_id FROM share_items WHERE share_id = ?))
		ORDER BY m.taken_ms IS NULL, m.taken_ms, m.filename, m.id`
	st, err := s.readStmt(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, albumID, shareID, shareID)
	if err != nil {
		return nil, fmt.Errorf("store: share items: %w", err)
	}
	defer rows.Close()
	var out []ShareItem
	for rows.Next() {
		var it ShareItem
		var crc int64
		var taken sql.NullInt64
		var created int64
		var tb, pb, xb, xct sql.NullString
		var ts, tc, tw, th, ps, pc, pw, ph, xs, xc, xo, xl, xo32 sql.NullInt64
		if err := rows.Scan(&it.MediaID, &it.Filename, &it.ContentType, &it.Kind, &it.Width, &it.Height, &it.Size, &crc, &it.BlobID, &taken, &created,
			&tb, &ts, &tc, &tw, &th, &pb, &ps, &pc, &pw, &ph, &xb, &xs, &xc, &xct, &xo, &xl, &xo32); err != nil {
			return nil, fmt.Errorf("store: share items: %w", err)
		}
		it.CRC32, it.TakenAt, it.CreatedAt = uint32(crc), timePtr(taken), fromMS(created)
		if tb.Valid {
			it.Thumb = &Derivative{MediaID: it.MediaID, Variant: "thumb", BlobID: tb.String, Size: ts.Int64, CRC32: uint32(tc.Int64), ContentType: "image/jpeg", Width: int(tw.Int64), Height: int(th.Int64)}
		}
		if pb.Valid {
			it.Preview = &Derivative{MediaID: it.MediaID, Variant: "preview", BlobID: pb.String, Size: ps.Int64, CRC32: uint32(pc.Int64), ContentType: "image/jpeg", Width: int(pw.Int64), Height: int(ph.Int64)}
		}
		if xb.Valid {
			it.Stripped = &Derivative{MediaID: it.MediaID, Variant: "stripped", BlobID: xb.String, Size: xs.Int64, CRC32: uint32(xc.Int64), ContentType: xct.String}
			if xl.Int64 > 0 {
				it.Stripped.Splice = &Splice{Offset: xo.Int64, Length: xl.Int64, CRC32: uint32(xo32.Int64)} // #nosec G115 -- stored from a uint32
			}
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// ShareItem returns one media item of the share, or ErrNotFound when the
// media is not part of it.
func (s *Store) ShareItem(ctx context.Context, shareID, albumID, mediaID string) (ShareItem, error) {
	const q = `SELECT m.id, m.filename, m.content_type, m.kind, m.width, m.height, m.size, m.crc32, m.blob_id
		FROM media m WHERE m.id = ? AND m.album_id = ?
		  AND (NOT EXISTS (SELECT 1 FROM share_items WHERE share_id = ?)
		       OR EXISTS (SELECT 1 FROM share_items WHERE share_id = ? AND media_id = m.id))`
	var it ShareItem
	var crc int64
	err := s.read.QueryRowContext(ctx, q, mediaID, albumID, shareID, shareID).Scan(&it.MediaID, &it.Filename, &it.ContentType, &it.Kind,
		&it.Width, &it.Height, &it.Size, &crc, &it.BlobID)
	if errors.Is(err, sql.ErrNoRows) {
		return ShareItem{}, ErrNotFound
	}
	if err != nil {
		return ShareItem{}, fmt.Errorf("store: share item: %w", err)
	}
	it.CRC32 = uint32(crc)
	return it, nil
}

// PublicShareLite reads only the share's own row (no album title, studio or
// item count): the point read behind every signed media fetch.
func (s *Store) PublicShareLite(ctx context.Context, id string) (Share, error) {
	const q = `SELECT id, owner_id, album_id, COALESCE(password_hash, ''), password_version, expires_ms, max_downloads, downloads,
		download, strip_location, watermark, revoked_ms FROM public_shares WHERE id = ?`
	var sh Share
	var exp, maxD, revoked sql.NullInt64
	var strip int
	st, err := s.readStmt(ctx, q)
	if err != nil {
		return Share{}, err
	}
	err = st.QueryRowContext(ctx, id).Scan(&sh.ID, &sh.OwnerID, &sh.AlbumID, &sh.PasswordHash, &sh.PasswordVersion,
		&exp, &maxD, &sh.Downloads, &sh.Download, &strip, &sh.Watermark, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return Share{}, ErrNotFound
	}
	if err != nil {
		return Share{}, fmt.Errorf("store: share: %w", err)
	}
	sh.ExpiresAt, sh.RevokedAt, sh.MaxDownloads = timePtr(exp), timePtr(revoked), intPtr(maxD)
	sh.StripLocation = strip != 0
	return sh, nil
}

// SharedFile is the blob to serve for one variant of a shared media item.
type SharedFile struct {
	Filename    string
	ContentType string
	Ref         blob.Ref
	// Splice, for a spliced derivative, is the range of the original that
	// follows Ref's bytes (see Derivative.Splice).
	Splice *SharedSplice
}

// SharedSplice is the original's blob and the range of it a spliced
// derivative continues with.
type SharedSplice struct {
	Source         blob.Ref
	Offset, Length int64
}

// MediaFetch resolves a signed media fetch in one query: the share's own
// row and the blob to serve for one variant of one of its media items
// ("thumb"/"preview" derivatives, or "original": the stripped derivative
// when the share strips location and one exists, else the original). When
// nothing matches it answers ErrNotFound and the caller reads the share
// alone to tell a dead share from a missing item.
func (s *Store) MediaFetch(ctx context.Context, shareID, mediaID, variant string) (Share, SharedFile, error) {
	const q = `SELECT s.owner_id, s.album_id, COALESCE(s.password_hash, ''), s.password_version, s.expires_ms, s.max_downloads,
		s.downloads, s.download, s.strip_location, s.watermark, s.revoked_ms,
		m.filename, m.content_type, b.id, b.key_id, b.wrapped_key, b.size,
		COALESCE(d.src_offset, 0), COALESCE(d.src_length, 0), ob.id, ob.key_id, ob.wrapped_key, ob.size
		FROM public_shares s
		JOIN media m ON m.id = ?2 AND m.album_id = s.album_id
		LEFT JOIN derivatives d ON d.media_id = m.id AND d.variant =
			(CASE WHEN ?3 = 'original' THEN (CASE WHEN s.strip_location THEN 'stripped' ELSE '-' END) ELSE ?3 END)
		JOIN blobs b ON b.id = (CASE WHEN ?3 = 'original' AND d.blob_id IS NULL THEN m.blob_id ELSE d.blob_id END)
		LEFT JOIN blobs ob ON d.src_length > 0 AND ob.id = m.blob_id
		WHERE s.id = ?1
		  AND (NOT EXISTS (SELECT 1 FROM share_items WHERE share_id = s.id)
		       OR EXISTS (SELECT 1 FROM share_items WHERE share_id = s.id AND media_id = m.id))`
	st, err := s.readStmt(ctx, q)
	if err != nil {
		return Share{}, SharedFile{}, err
	}
	sh := Share{ID: shareID}
	var f SharedFile
	var exp, maxD, revoked sql.NullInt64
	var strip int
	var spOff, spLen int64
	var src struct {
		id, keyID sql.NullString
		wrapped   []byte
		size      sql.NullInt64
	}
	err = st.QueryRowContext(ctx, shareID, mediaID, variant).Scan(&sh.OwnerID, &sh.AlbumID, &sh.PasswordHash, &sh.PasswordVersion,
		&exp, &maxD, &sh.Downloads, &sh.Download, &strip, &sh.Watermark, &revoked,
		&f.Filename, &f.ContentType, &f.Ref.ID, &f.Ref.KeyID, &f.Ref.WrappedKey, &f.Ref.Size,
		&spOff, &spLen, &src.id, &src.keyID, &src.wrapped, &src.size)
	if errors.Is(err, sql.ErrNoRows) {
		return Share{}, SharedFile{}, ErrNotFound
	}
	if err != nil {
		return Share{}, SharedFile{}, fmt.Errorf("store: media fetch: %w", err)
	}
	sh.ExpiresAt, sh.RevokedAt, sh.MaxDownloads = timePtr(exp), timePtr(revoked), intPtr(maxD)
	sh.StripLocation = strip != 0
	if variant != "original" {
		f.ContentType = "image/jpeg"
	}
	if spLen > 0 {
		if !src.id.Valid {
			return Share{}, SharedFile{}, fmt.Errorf("store: media fetch: spliced derivative of %s without its original", mediaID)
		}
		f.Splice = &SharedSplice{Offset: spOff, Length: spLen,
			Source: blob.Ref{ID: src.id.String, KeyID: src.keyID.String, WrappedKey: src.wrapped, Size: src.size.Int64}}
	}
	return sh, f, nil
}

// AddViews adds batched view counts of shares without a view limit (their
// views are counted in memory and written with the access log; shares with
// max_views are counted by CountView's conditional UPDATE, one by one).
func (s *Store) AddViews(ctx context.Context, views map[string]int) error {
	if len(views) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		for id, n := range views {
			if _, err := tx.ExecContext(ctx, `UPDATE public_shares SET views = views + ? WHERE id = ?`, n, id); err != nil {
				return fmt.Errorf("store: add views: %w", err)
			}
		}
		return nil
	})
}
