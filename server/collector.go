package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// Collector timing and bounds.
const (
	// collectEvery is the pause between collector passes (one also runs
	// at start).
	collectEvery = 5 * time.Minute
	// orphanAge is how old a blob file without a row must be before the
	// reconciler deletes it. Rows are written right after a blob commits,
	// and a file's mtime is its last write, just before the commit, so a
	// file this old with no row was left by a crash between the two.
	orphanAge = time.Hour
	// tmpStaleAge: temp files of uploads untouched this long are dead
	// (start-up empties tmp/ entirely; this catches stalls while running).
	tmpStaleAge = 24 * time.Hour
	// garbageBatch bounds the rows read per garbage query.
	garbageBatch = 500
	// maxOrphansPerPass bounds the ids held in memory by one reconcile pass.
	maxOrphansPerPass = 10000
	// orphanGuard: more orphans than this, and more than the database has
	// blob rows, and the reconciler refuses to delete (see reconcileOrphans).
	orphanGuard = 10
)

// collectStats is what one collector pass did.
type collectStats struct {
	garbage int // unreferenced blobs past their grace period, deleted
	orphans int // blob files without a row, deleted
	refused int // orphans kept because the database looks wrong
	tmp     int // stale temp files removed
	jobs    int // finished jobs of deleted media pruned
}

// collector runs a pass at start and every collectEvery until ctx ends.
func (s *Server) collector(ctx context.Context) {
	s.collectOnce(ctx)
	t := time.NewTicker(collectEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.collectOnce(ctx)
		}
	}
}

// collectOnce deletes unreferenced blobs whose grace period has ended,
// crash orphans (committed files that never got a row) and stale temp
// files, logging what it did and any error.
func (s *Server) collectOnce(ctx context.Context) collectStats {
	var st collectStats
	var errs []error
	var err error
	if st.garbage, err = s.collectGarbage(ctx); err != nil {
		errs = append(errs, err)
	}
	if st.orphans, st.refused, err = s.reconcileOrphans(ctx); err != nil {
		errs = append(errs, err)
	}
	if st.tmp, err = s.blobs.CleanTmp(tmpStaleAge); err != nil {
		errs = append(errs, err)
	}
	if st.jobs, err = s.store.PruneJobs(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil && ctx.Err() == nil {
		s.log.Error().Err(err).Msg("collector")
	}
	if st != (collectStats{}) {
		s.log.Info().Int("garbage_blobs", st.garbage).Int("orphan_blobs", st.orphans).Int("orphans_refused", st.refused).
			Int("tmp_files", st.tmp).Int("jobs_pruned", st.jobs).Msg("collector")
	}
	return st
}

// collectGarbage deletes the blobs no row references whose grace period
// (cfg.BlobGrace, so a slightly older restored database still finds its
// files) has ended. The row goes first, conditionally on still being
// unreferenced, then the file: a crash in between leaves an orphan file
// for the reconciler, never a row without its file.
func (s *Server) collectGarbage(ctx context.Context) (int, error) {
	cutoff := s.now().Add(-s.cfg.BlobGrace).UnixMilli()
	n := 0
	for ctx.Err() == nil {
		ids, err := s.store.GarbageBlobs(ctx, cutoff, garbageBatch)
		if err != nil {
			return n, err
		}
		progress := false
		for _, id := range ids {
			ok, err := s.store.ForgetBlob(ctx, id)
			if err != nil {
				return n, err
			}
			if !ok {
				continue // referenced again meanwhile
			}
			progress = true
			if err := s.blobs.Delete(id); err != nil {
				return n, err
			}
			n++
		}
		if len(ids) < garbageBatch || !progress {
			break
		}
	}
	return n, nil
}

// reconcileOrphans deletes committed blob files that have no row and are
// older than orphanAge: the files of uploads that crashed between the blob
// commit and the row. Each top-level directory's ids are read with one
// query. As a guard against pointing the server at the wrong (or a fresh)
// database (a deleted photovault.db recreated empty at start, a wrong data
// dir setting), nothing is deleted when there are more than orphanGuard
// orphans and they outnumber the blob rows; that is logged as an error
// instead, every pass, until an operator looks.
func (s *Server) reconcileOrphans(ctx context.Context) (deleted, refused int, err error) {
	now := s.now()
	var (
		prefix  string
		known   map[string]struct{}
		orphans []string
	)
	err = s.blobs.Walk(func(id string, mod time.Time) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if now.Sub(mod) < orphanAge {
			return nil
		}
		if id[:2] != prefix {
			ids, err := s.store.BlobIDsWithPrefix(ctx, id[:2])
			if err != nil {
				return err
			}
			prefix, known = id[:2], ids
		}
		if _, ok := known[id]; ok {
			return nil
		}
		orphans = append(orphans, id)
		if len(orphans) >= maxOrphansPerPass {
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("server: reconcile: %w", err)
	}
	if len(orphans) == 0 {
		return 0, 0, nil
	}
	rows, err := s.store.BlobCount(ctx)
	if err != nil {
		return 0, 0, err
	}
	if len(orphans) > orphanGuard && len(orphans) > rows {
		s.log.Error().Int("orphans", len(orphans)).Int("blob_rows", rows).
			Msg("reconcile: refusing to delete blob files the database does not know: they outnumber the ones it knows; is this the right database for this data directory?")
		return 0, len(orphans), nil
	}
	for _, id := range orphans {
		if err := s.blobs.Delete(id); err != nil {
			return deleted, 0, err
		}
		deleted++
	}
	return deleted, 0, nil
}
