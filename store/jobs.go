package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/photovault/photovault/store/blob"
)

// Job kinds kept in the jobs table.
const (
	// JobDerive makes a media item's thumbnail, preview and location-free
	// copy; its target is the media id.
	JobDerive = "derive"
)

// MaxJobAttempts is how many times a job is tried before it is marked
// failed for good (and, for derive jobs, its media with it).
const MaxJobAttempts = 5

// ErrNoJob reports that no job of the asked kind is ready to run.
var ErrNoJob = errors.New("store: no job ready")

// ErrLeaseLost reports that a job's lease expired and the job was claimed
// again (or finished) by someone else: the late worker's result is void.
var ErrLeaseLost = errors.New("store: job lease lost")

// Job is a claimed unit of background work. Attempts is this claim's
// attempt number; it also fences the claim, so a worker whose lease expired
// cannot complete or fail a job another worker has claimed since.
type Job struct {
	ID       int64
	Kind     string
	Target   string
	Attempts int
}

// JobBackoff is the wait before retrying a job that failed its attempt-th
// try: 2 s, 8 s, 32 s, 128 s, ... capped at 10 minutes.
func JobBackoff(attempt int) time.Duration {
	const maxBackoff = 10 * time.Minute
	d := 2 * time.Second
	for i := 1; i < attempt; i++ {
		d *= 4
		if d >= maxBackoff {
			return maxBackoff
		}
	}
	return d
}

// ClaimJob takes the oldest job of kind that is ready to run — queued with
// run_after in the past, or running under a lease that expired (its worker
// died: crash recovery) — and leases it for lease. One conditional UPDATE
// on the single writer does it, so no job is ever claimed by two workers at
// once. Jobs whose lease expired after their last allowed attempt are
// marked failed instead of being run again (a file that crashes the process
// every time must not loop forever). It returns ErrNoJob when nothing is
// ready.
func (s *Store) ClaimJob(ctx context.Context, kind string, lease time.Duration) (Job, error) {
	var j Job
	found := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		found = false
		now := s.nowMS()
		if err := failExpired(ctx, tx, kind, now); err != nil {
			return err
		}
		const q = `UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_until_ms = ?
			WHERE id = (
				SELECT id FROM jobs
				WHERE kind = ? AND (
					(state = 'queued' AND run_after_ms <= ?) OR
					(state = 'running' AND locked_until_ms < ?))
				ORDER BY run_after_ms, id LIMIT 1)
			RETURNING id, kind, target, attempts`
		err := tx.QueryRowContext(ctx, q, now+lease.Milliseconds(), kind, now, now).Scan(&j.ID, &j.Kind, &j.Target, &j.Attempts)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // commit what failExpired changed
		}
		if err != nil {
			return fmt.Errorf("store: claim job: %w", err)
		}
		found = true
		return nil
	})
	if err != nil {
		return Job{}, err
	}
	if !found {
		return Job{}, ErrNoJob
	}
	return j, nil
}

// failExpired marks failed the running jobs of kind whose lease expired on
// their last allowed attempt.
func failExpired(ctx context.Context, tx *sql.Tx, kind string, now int64) error {
	const q = `UPDATE jobs SET state = 'failed', locked_until_ms = NULL,
			last_error = 'worker lost on attempt ' || attempts || ' (lease expired)'
		WHERE kind = ? AND state = 'running' AND locked_until_ms < ? AND attempts >= ?
		RETURNING target`
	rows, err := tx.QueryContext(ctx, q, kind, now, MaxJobAttempts)
	if err != nil {
		return fmt.Errorf("store: fail expired jobs: %w", err)
	}
	var targets []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			_ = rows.Close()
			return fmt.Errorf("store: fail expired jobs: %w", err)
		}
		targets = append(targets, t)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("store: fail expired jobs: %w", err)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: fail expired jobs: %w", err)
	}
	if kind != JobDerive {
		return nil
	}
	for _, t := range targets {
		if err := setMediaStatus(ctx, tx, t, MediaStatusFailed); err != nil && !errors.Is(err, ErrNotFound) {
			return err // a media item deleted meanwhile has no status to set
		}
	}
	return nil
}

// ExtendJob renews the lease of a running job, so a long job is not
// reclaimed while its worker is alive. ErrLeaseLost if the claim is stale.
func (s *Store) ExtendJob(ctx context.Context, j Job, lease time.Duration) error {
	return s.fenced(ctx, j, "extend", `UPDATE jobs SET locked_until_ms = ? WHERE id = ? AND state = 'running' AND attempts = ?`,
		s.nowMS()+lease.Milliseconds(), j.ID, j.Attempts)
}

// CompleteJob marks a claimed job done. ErrLeaseLost if the claim is stale.
func (s *Store) CompleteJob(ctx context.Context, j Job) error {
	return s.fenced(ctx, j, "complete", `UPDATE jobs SET state = 'done', locked_until_ms = NULL, last_error = ''
		WHERE id = ? AND state = 'running' AND attempts = ?`, j.ID, j.Attempts)
}

// ReleaseJob hands a claimed job back untried (the worker is shutting
// down): queued again, ready now, and this claim does not count as an
// attempt.
func (s *Store) ReleaseJob(ctx context.Context, j Job) error {
	return s.fenced(ctx, j, "release", `UPDATE jobs SET state = 'queued', attempts = attempts - 1, locked_until_ms = NULL, run_after_ms = ?
		WHERE id = ? AND state = 'running' AND attempts = ?`, s.nowMS(), j.ID, j.Attempts)
}

// FailJob records a failed attempt. Below MaxJobAttempts the job is queued
// again to run after backoff (see JobBackoff); on the last attempt it is
// marked failed, and a derive job's media becomes 'failed'. It reports
// whether the failure was final. ErrLeaseLost if the claim is stale.
func (s *Store) FailJob(ctx context.Context, j Job, cause error, backoff time.Duration) (final bool, err error) {
	final = j.Attempts >= MaxJobAttempts
	return final, s.failJob(ctx, j, cause, backoff, final)
}

// AbandonJob marks a claimed job failed at once, without retries: for
// causes that no retry can cure (a corrupt or unsupported file). A derive
// job's media becomes 'failed'. ErrLeaseLost if the claim is stale.
func (s *Store) AbandonJob(ctx context.Context, j Job, cause error) error {
	return s.failJob(ctx, j, cause, 0, true)
}

func (s *Store) failJob(ctx context.Context, j Job, cause error, backoff time.Duration, final bool) error {
	msg := errorText(cause)
	return s.tx(ctx, func(tx *sql.Tx) error {
		var res sql.Result
		var err error
		if final {
			res, err = tx.ExecContext(ctx, `UPDATE jobs SET state = 'failed', locked_until_ms = NULL, last_error = ?
				WHERE id = ? AND state = 'running' AND attempts = ?`, msg, j.ID, j.Attempts)
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE jobs SET state = 'queued', locked_until_ms = NULL, last_error = ?, run_after_ms = ?
				WHERE id = ? AND state = 'running' AND attempts = ?`, msg, s.nowMS()+backoff.Milliseconds(), j.ID, j.Attempts)
		}
		if err != nil {
			return fmt.Errorf("store: fail job %d: %w", j.ID, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrLeaseLost
		}
		if final && j.Kind == JobDerive {
			if err := setMediaStatus(ctx, tx, j.Target, MediaStatusFailed); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		return nil
	})
}

// fenced runs one UPDATE that must touch exactly the claimed job row.
func (s *Store) fenced(ctx context.Context, j Job, what, q string, args ...any) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("store: %s job %d: %w", what, j.ID, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrLeaseLost
		}
		return nil
	})
}

// errorText is what last_error keeps of a cause: bounded, valid UTF-8.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	const maxLen = 500
	msg := err.Error()
	if len(msg) > maxLen {
		msg = msg[:maxLen]
		for !utf8.ValidString(msg) {
			msg = msg[:len(msg)-1]
		}
	}
	return msg
}

// JobState is a job row as seen by operators and tests.
type JobState struct {
	ID        int64
	Kind      string
	Target    string
	State     string
	Attempts  int
	RunAfter  time.Time
	LastError string
}

// JobFor returns the job of kind for target, or ErrNotFound.
func (s *Store) JobFor(ctx context.Context, kind, target string) (JobState, error) {
	var j JobState
	var runAfter int64
	const q = `SELECT id, kind, target, state, attempts, run_after_ms, last_error FROM jobs WHERE kind = ? AND target = ?`
	err := s.read.QueryRowContext(ctx, q, kind, target).Scan(&j.ID, &j.Kind, &j.Target, &j.State, &j.Attempts, &runAfter, &j.LastError)
	if errors.Is(err, sql.ErrNoRows) {
		return JobState{}, ErrNotFound
	}
	if err != nil {
		return JobState{}, fmt.Errorf("store: job %s %s: %w", kind, target, err)
	}
	j.RunAfter = fromMS(runAfter)
	return j, nil
}

// PendingJobs counts the jobs of kind that are queued or running.
func (s *Store) PendingJobs(ctx context.Context, kind string) (int, error) {
	var n int
	const q = `SELECT count(*) FROM jobs WHERE kind = ? AND state IN ('queued', 'running')`
	if err := s.read.QueryRowContext(ctx, q, kind).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: pending %s jobs: %w", kind, err)
	}
	return n, nil
}

// EnqueueJob queues a job of kind for target to run now. If the job exists
// and is done or failed, it is queued again with a fresh attempt count; a
// queued or running job is left as it is (never two at once).
func (s *Store) EnqueueJob(ctx context.Context, kind, target string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		now := s.nowMS()
		const q = `INSERT INTO jobs (kind, target, run_after_ms, created_ms) VALUES (?, ?, ?, ?)
			ON CONFLICT (kind, target) DO UPDATE SET state = 'queued', attempts = 0, run_after_ms = excluded.run_after_ms,
				locked_until_ms = NULL, last_error = ''
			WHERE state IN ('done', 'failed')`
		if _, err := tx.ExecContext(ctx, q, kind, target, now, now); err != nil {
			return fmt.Errorf("store: enqueue job: %w", err)
		}
		return nil
	})
}

// PruneJobs deletes finished derive jobs whose media no longer exists, so
// the queue does not grow with deleted photos. It returns how many went.
func (s *Store) PruneJobs(ctx context.Context) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		const q = `DELETE FROM jobs WHERE kind = ? AND state IN ('done', 'failed')
			AND NOT EXISTS (SELECT 1 FROM media WHERE media.id = jobs.target)`
		res, err := tx.ExecContext(ctx, q, JobDerive)
		if err != nil {
			return fmt.Errorf("store: prune jobs: %w", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return int(n), err
}

// Rotation describes a master-key rotation for RewrapAll.
type Rotation struct {
	// NewKeyID is the id of the new master key; blob rows already wrapped
	// under it are skipped, so an interrupted rotation re-runs safely.
	NewKeyID string
	// OldCheck and NewCheck are the key check values of the old and the new
	// master key (keys.Key.CheckValue). The stored value must be one of the
	// two; it ends as NewCheck.
	OldCheck, NewCheck string
	// Blob re-wraps one blob's data key (blob.Store.Rewrap).
	Blob func(blob.Ref) (blob.Ref, error)
	// Location re-encrypts one media row's encrypted location (AEAD under a
	// sub-key of the master key, associated data the media id). It must
	// accept a value already under the new key and return it unchanged, for
	// re-runs. Nil when no row has a location.
	Location func(mediaID string, enc []byte) ([]byte, error)
	// Text re-seals one sealed metadata field (camera, lens) of a media row;
	// like Location it must pass values already under the new key through.
	// Nil when no row has sealed text.
	Text func(mediaID, field, stored string) (string, error)
	// Audit is recorded in the same transaction (type, actor, detail).
	Audit AuditEvent
}

// RotationStats says what RewrapAll changed.
type RotationStats struct {
	Blobs     int // wrapped keys re-wrapped
	Skipped   int // already under the new key
	Locations int // encrypted locations re-encrypted
	Texts     int // sealed metadata fields re-sealed
}

// rewrapBatch bounds the rows held in memory at once during a rotation.
const rewrapBatch = 1000

// RewrapAll re-wraps every blob's data key and re-encrypts every media
// location under a new master key, and switches the stored key check value,
// all in ONE transaction: either the vault is entirely under the new key or
// (after an interruption) entirely under the old one. Blob files are never
// touched. A stored check value that is neither OldCheck nor NewCheck fails
// with ErrWrongKey before anything changes.
func (s *Store) RewrapAll(ctx context.Context, r Rotation) (RotationStats, error) {
	var st RotationStats
	if r.Blob == nil || r.NewKeyID == "" || r.OldCheck == "" || r.NewCheck == "" {
		return st, errors.New("store: rewrap: incomplete rotation")
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st = RotationStats{}
		var have string
		err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, settingKeyCheck).Scan(&have)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: rewrap: %w", err)
		}
		if have != r.OldCheck && have != r.NewCheck {
			return ErrWrongKey
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM blobs WHERE key_id = ?`, r.NewKeyID).Scan(&st.Skipped); err != nil {
			return fmt.Errorf("store: rewrap: %w", err)
		}
		if err := rewrapBlobs(ctx, tx, r, &st); err != nil {
			return err
		}
		if err := reencryptLocations(ctx, tx, r, &st); err != nil {
			return err
		}
		if err := resealTexts(ctx, tx, r, &st); err != nil {
			return err
		}
		const setq = `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`
		if _, err := tx.ExecContext(ctx, setq, settingKeyCheck, r.NewCheck); err != nil {
			return fmt.Errorf("store: rewrap: key check: %w", err)
		}
		a := r.Audit
		if a.Type == "" {
			a.Type = "key_rotated"
		}
		if a.Detail == "" {
			a.Detail = fmt.Sprintf("master key rotated to %s: %d wrapped keys, %d locations", r.NewKeyID, st.Blobs, st.Locations)
		}
		return s.auditTx(ctx, tx, a)
	})
	if err != nil {
		return RotationStats{}, err
	}
	return st, nil
}

func rewrapBlobs(ctx context.Context, tx *sql.Tx, r Rotation, st *RotationStats) error {
	after := ""
	for {
		const q = `SELECT id, key_id, wrapped_key, size FROM blobs WHERE key_id != ? AND id > ? ORDER BY id LIMIT ?`
		rows, err := tx.QueryContext(ctx, q, r.NewKeyID, after, rewrapBatch)
		if err != nil {
			return fmt.Errorf("store: rewrap: %w", err)
		}
		var batch []blob.Ref
		for rows.Next() {
			var ref blob.Ref
			if err := rows.Scan(&ref.ID, &ref.KeyID, &ref.WrappedKey, &ref.Size); err != nil {
				_ = rows.Close()
				return fmt.Errorf("store: rewrap: %w", err)
			}
			batch = append(batch, ref)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("store: rewrap: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: rewrap: %w", err)
		}
		for _, ref := range batch {
			nr, err := r.Blob(ref)
			if err != nil {
				return fmt.Errorf("store: rewrap blob %s: %w", ref.ID, err)
			}
			if nr.ID != ref.ID || nr.KeyID != r.NewKeyID {
				return fmt.Errorf("store: rewrap blob %s: result is not under key %s", ref.ID, r.NewKeyID)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE blobs SET key_id = ?, wrapped_key = ? WHERE id = ?`, nr.KeyID, nr.WrappedKey, ref.ID); err != nil {
				return fmt.Errorf("store: rewrap blob %s: %w", ref.ID, err)
			}
			st.Blobs++
		}
		if len(batch) < rewrapBatch {
			return nil
		}
		after = batch[len(batch)-1].ID
	}
}

func reencryptLocations(ctx context.Context, tx *sql.Tx, r Rotation, st *RotationStats) error {
	after := ""
	for {
		const q = `SELECT id, enc_location FROM media WHERE enc_location IS NOT NULL AND id > ? ORDER BY id LIMIT ?`
		rows, err := tx.QueryContext(ctx, q, after, rewrapBatch)
		if err != nil {
			return fmt.Errorf("store: rewrap locations: %w", err)
		}
		type loc struct {
			id  string
			enc []byte
		}
		var batch []loc
		for rows.Next() {
			var l loc
			if err := rows.Scan(&l.id, &l.enc); err != nil {
				_ = rows.Close()
				return fmt.Errorf("store: rewrap locations: %w", err)
			}
			batch = append(batch, l)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("store: rewrap locations: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: rewrap locations: %w", err)
		}
		if len(batch) > 0 && r.Location == nil {
			return errors.New("store: rewrap locations: media rows carry encrypted locations but no re-encryption was given")
		}
		for _, l := range batch {
			enc, err := r.Location(l.id, l.enc)
			if err != nil {
				return fmt.Errorf("store: rewrap location of media %s: %w", l.id, err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE media SET enc_location = ? WHERE id = ?`, enc, l.id); err != nil {
				return fmt.Errorf("store: rewrap location of media %s: %w", l.id, err)
			}
			st.Locations++
		}
		if len(batch) < rewrapBatch {
			return nil
		}
		after = batch[len(batch)-1].id
	}
}

// RotateSigning starts a new signing-key generation: the integer setting
// genKey goes up by one and prevUntilKey is set to prevUntil (Unix ms), so
// tokens of the previous generation verify until then; both settings and
// the audit event commit together. It returns the new generation.
func (s *Store) RotateSigning(ctx context.Context, genKey, prevUntilKey string, prevUntil time.Time, audit AuditEvent) (int, error) {
	var gen int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		gen = 1
		var v string
		err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, genKey).Scan(&v)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("store: rotate signing: %w", err)
		default:
			if n, perr := strconv.Atoi(v); perr == nil && n > 0 {
				gen = n
			}
		}
		gen++
		const setq = `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`
		if _, err := tx.ExecContext(ctx, setq, prevUntilKey, strconv.FormatInt(prevUntil.UnixMilli(), 10)); err != nil {
			return fmt.Errorf("store: rotate signing: %w", err)
		}
		if _, err := tx.ExecContext(ctx, setq, genKey, strconv.Itoa(gen)); err != nil {
			return fmt.Errorf("store: rotate signing: %w", err)
		}
		if audit.Type == "" {
			audit.Type = "key_rotated"
		}
		if audit.Detail == "" {
			audit.Detail = "signing key generation " + strconv.Itoa(gen)
		}
		return s.auditTx(ctx, tx, audit)
	})
	if err != nil {
		return 0, err
	}
	return gen, nil
}

// resealTexts re-seals the sealed camera and lens fields of every media row.
func resealTexts(ctx context.Context, tx *sql.Tx, r Rotation, st *RotationStats) error {
	for _, field := range []string{"camera", "lens"} {
		after := ""
		for {
			q := `SELECT id, ` + field + ` FROM media WHERE ` + field + ` LIKE 'pv1:%' AND id > ? ORDER BY id LIMIT ?` // #nosec G202 -- field is one of two constants
			rows, err := tx.QueryContext(ctx, q, after, rewrapBatch)
			if err != nil {
				return fmt.Errorf("store: reseal %s: %w", field, err)
			}
			type row struct{ id, v string }
			var batch []row
			for rows.Next() {
				var x row
				if err := rows.Scan(&x.id, &x.v); err != nil {
					_ = rows.Close()
					return fmt.Errorf("store: reseal %s: %w", field, err)
				}
				batch = append(batch, x)
			}
			if err := rows.Close(); err != nil {
				return fmt.Errorf("store: reseal %s: %w", field, err)
			}
			if err := rows.Err(); err != nil {
				return fmt.Errorf("store: reseal %s: %w", field, err)
			}
			if len(batch) > 0 && r.Text == nil {
				return errors.New("store: reseal: media rows carry sealed metadata but no re-sealing was given")
			}
			for _, x := range batch {
				v, err := r.Text(x.id, field, x.v)
				if err != nil {
					return fmt.Errorf("store: reseal %s of media %s: %w", field, x.id, err)
				}
				if _, err := tx.ExecContext(ctx, `UPDATE media SET `+field+` = ? WHERE id = ?`, v, x.id); err != nil { // #nosec G202 -- constant field
					return fmt.Errorf("store: reseal %s of media %s: %w", field, x.id, err)
				}
				st.Texts++
			}
			if len(batch) < rewrapBatch {
				break
			}
			after = batch[len(batch)-1].id
		}
	}
	return nil
}
