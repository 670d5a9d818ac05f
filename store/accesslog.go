package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// AccessEvent is one public request against a share. The IP is stored only
// as a hash with a daily-rotating salt; the token never.
type AccessEvent struct {
	ID        int64
	ShareID   string
	At        time.Time
	Event     string // view, meta, unlock, unlock_failed, media, download, zip, selection, denied, ...
	IPHash    string
	UserAgent string
	MediaID   string
}

// InsertAccessEvents writes a batch in one transaction (the flusher's unit).
// Events of shares deleted meanwhile are dropped by the foreign key guard.
func (s *Store) InsertAccessEvents(ctx context.Context, evs []AccessEvent) error {
	if len(evs) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		const q = `INSERT INTO share_access_logs (share_id, accessed_ms, event, ip_hash, user_agent, media_id)
			SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM public_shares WHERE id = ?)`
		st, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("store: access log: %w", err)
		}
		defer st.Close()
		for _, e := range evs {
			var media any
			if e.MediaID != "" {
				media = e.MediaID
			}
			if _, err := st.ExecContext(ctx, e.ShareID, e.At.UnixMilli(), e.Event, e.IPHash, truncate(e.UserAgent, 300), media, e.ShareID); err != nil {
				return fmt.Errorf("store: access log: %w", err)
			}
		}
		return nil
	})
}

// AccessLog pages through a share's events newest first; before is the
// cursor (an event id; 0 for the newest). Only the owner's shares.
func (s *Store) AccessLog(ctx context.Context, owner, shareID string, before int64, limit int) ([]AccessEvent, error) {
	if before <= 0 {
		before = 1<<62 - 1
	}
	const q = `SELECT l.id, l.accessed_ms, l.event, l.ip_hash, l.user_agent, COALESCE(l.media_id, '')
		FROM share_access_logs l JOIN public_shares s ON s.id = l.share_id
		WHERE l.share_id = ? AND s.owner_id = ? AND l.id < ? ORDER BY l.id DESC LIMIT ?`
	rows, err := s.read.QueryContext(ctx, q, shareID, owner, before, limit)
	if err != nil {
		return nil, fmt.Errorf("store: access log: %w", err)
	}
	defer rows.Close()
	var out []AccessEvent
	for rows.Next() {
		e := AccessEvent{ShareID: shareID}
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Event, &e.IPHash, &e.UserAgent, &e.MediaID); err != nil {
			return nil, fmt.Errorf("store: access log: %w", err)
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Analytics summarises a share's access log.
type Analytics struct {
	Views          int
	UniqueVisitors int
	Downloads      int
	ZipDownloads   int
	UnlockFailures int
	Selections     int
	LastAccessAt   *time.Time
	Daily          []DailyStat
}

// DailyStat is one UTC day.
type DailyStat struct {
	Date      string
	Views     int
	Downloads int
}

// ShareAnalytics computes the owner's share analytics (ErrNotFound for
// others' shares). Views are the share's atomic counter; the rest comes
// from the access log. Unique visitors count distinct (day, hashed IP)
// pairs, because the IP hash salt rotates daily by design.
func (s *Store) ShareAnalytics(ctx context.Context, owner, shareID string, days int) (Analytics, error) {
	var a Analytics
	sh, err := s.ShareByID(ctx, owner, shareID)
	if err != nil {
		return a, err
	}
	a.Views = sh.Views
	const q = `SELECT
		COUNT(DISTINCT CASE WHEN event = 'view' THEN ip_hash END),
		COALESCE(SUM(event = 'download'), 0), COALESCE(SUM(event = 'zip'), 0),
		COALESCE(SUM(event = 'unlock_failed'), 0), COALESCE(SUM(event = 'selection'), 0), MAX(accessed_ms)
		FROM share_access_logs WHERE share_id = ?`
	var last sql.NullInt64
	if err := s.read.QueryRowContext(ctx, q, shareID).Scan(&a.UniqueVisitors, &a.Downloads, &a.ZipDownloads, &a.UnlockFailures, &a.Selections, &last); err != nil {
		return a, fmt.Errorf("store: analytics: %w", err)
	}
	a.LastAccessAt = timePtr(last)
	since := s.now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -days+1).UnixMilli()
	const dq = `SELECT strftime('%Y-%m-%d', accessed_ms / 1000, 'unixepoch') AS day,
		SUM(event = 'view'), SUM(event IN ('download', 'zip'))
		FROM share_access_logs WHERE share_id = ? AND accessed_ms >= ? GROUP BY day ORDER BY day`
	rows, err := s.read.QueryContext(ctx, dq, shareID, since)
	if err != nil {
		return a, fmt.Errorf("store: analytics daily: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d DailyStat
		if err := rows.Scan(&d.Date, &d.Views, &d.Downloads); err != nil {
			return a, fmt.Errorf("store: analytics daily: %w", err)
		}
		a.Daily = append(a.Daily, d)
	}
	return a, rows.Err()
}
