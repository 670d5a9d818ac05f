package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// AuditEvent is one entry of the tamper-evident audit trail. It never holds
// a secret: no password, token, session value or key.
type AuditEvent struct {
	ID        int64
	At        time.Time
	Type      string
	Actor     string // user id, "client", "cli", "system"
	OwnerID   string // owner whose data it concerns
	Target    string // album/share/media id or username
	IPHash    string
	RequestID string
	Detail    string
	PrevHash  string
	Hash      string
}

// genesis is the prev_hash of the first row.
const genesis = "0000000000000000000000000000000000000000000000000000000000000000"

func auditHash(prev string, e AuditEvent, atMS int64) string {
	h := sha256.New()
	for _, f := range []string{prev, strconv.FormatInt(atMS, 10), e.Type, e.Actor, e.OwnerID, e.Target, e.IPHash, e.RequestID, e.Detail} {
		h.Write([]byte(strconv.Itoa(len(f)))) // length-prefixed: no field can bleed into the next
		h.Write([]byte{':'})
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Audit appends an event, chaining its hash over the previous row's.
func (s *Store) Audit(ctx context.Context, e AuditEvent) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		return s.auditTx(ctx, tx, e)
	})
}

func (s *Store) auditTx(ctx context.Context, tx *sql.Tx, e AuditEvent) error {
	prev := genesis
	err := tx.QueryRowContext(ctx, `SELECT hash FROM audit_logs ORDER BY id DESC LIMIT 1`).Scan(&prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: audit: %w", err)
	}
	at := s.nowMS()
	hash := auditHash(prev, e, at)
	const q = `INSERT INTO audit_logs (created_ms, event_type, actor, owner_id, target, ip_hash, request_id, detail, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	if _, err := tx.ExecContext(ctx, q, at, e.Type, e.Actor, e.OwnerID, e.Target, e.IPHash, e.RequestID, e.Detail, prev, hash); err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	return nil
}

// AuditBreak describes the first row whose chain does not verify.
type AuditBreak struct {
	ID     int64
	Reason string
}

// VerifyAudit recomputes the whole chain. It returns the number of rows
// checked and the first broken link, if any.
func (s *Store) VerifyAudit(ctx context.Context) (int, *AuditBreak, error) {
	const q = `SELECT id, created_ms, event_type, actor, owner_id, target, ip_hash, request_id, detail, prev_hash, hash FROM audit_logs ORDER BY id`
	rows, err := s.read.QueryContext(ctx, q)
	if err != nil {
		return 0, nil, fmt.Errorf("store: verify audit: %w", err)
	}
	defer rows.Close()
	prev, n := genesis, 0
	for rows.Next() {
		var e AuditEvent
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Type, &e.Actor, &e.OwnerID, &e.Target, &e.IPHash, &e.RequestID, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
			return n, nil, fmt.Errorf("store: verify audit: %w", err)
		}
		n++
		if e.PrevHash != prev {
			return n, &AuditBreak{ID: e.ID, Reason: "prev_hash does not match the previous row (row deleted or reordered)"}, nil
		}
		if auditHash(prev, e, at) != e.Hash {
			return n, &AuditBreak{ID: e.ID, Reason: "row content does not match its hash (row edited)"}, nil
		}
		prev = e.Hash
	}
	return n, nil, rows.Err()
}

// AuditFor lists an owner's events, newest first, before the cursor id
// (0: from the newest).
func (s *Store) AuditFor(ctx context.Context, ownerID string, before int64, limit int) ([]AuditEvent, error) {
	if before <= 0 {
		before = 1<<62 - 1
	}
	const q = `SELECT id, created_ms, event_type, actor, owner_id, target, ip_hash, request_id, detail
		FROM audit_logs WHERE owner_id = ? AND id < ? ORDER BY id DESC LIMIT ?`
	rows, err := s.read.QueryContext(ctx, q, ownerID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("store: audit list: %w", err)
	}
	defer rows.Close()
	var out []AuditEvent
	for rows.Next() {
		var e AuditEvent
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Type, &e.Actor, &e.OwnerID, &e.Target, &e.IPHash, &e.RequestID, &e.Detail); err != nil {
			return nil, fmt.Errorf("store: audit list: %w", err)
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// AuditTypes counts events by type (tests and `photovault audit`).
func (s *Store) AuditTypes(ctx context.Context) (map[string]int, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT event_type, COUNT(*) FROM audit_logs GROUP BY event_type`)
	if err != nil {
		return nil, fmt.Errorf("store: audit types: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var t string
		var n int
		if err := rows.Scan(&t, &n); err != nil {
			return nil, err
		}
		out[t] = n
	}
	return out, rows.Err()
}
