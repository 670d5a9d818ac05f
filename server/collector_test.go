package server

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/photovault/photovault/store"
)

// orphanBlob commits a blob file without a row (a crash between the blob
// commit and the media row) and dates its file.
func (w *workerEnv) orphanBlob(mtime time.Time) string {
	w.t.Helper()
	bw, err := w.srv.blobs.Create(w.srv.kek())
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := bw.Write([]byte("half an upload")); err != nil {
		w.t.Fatal(err)
	}
	ref, err := bw.Commit()
	if err != nil {
		w.t.Fatal(err)
	}
	w.touch(w.srv.blobs.Path(ref.ID), mtime)
	return ref.ID
}

func (w *workerEnv) touch(path string, mtime time.Time) {
	w.t.Helper()
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		w.t.Fatal(err)
	}
}

// mediaBlobs lists the blob ids of a media item: original and derivatives.
func (w *workerEnv) mediaBlobs(id, original string) []string {
	ids := []string{original}
	for _, v := range []string{derivPreview, derivThumb, derivStripped} {
		if d, err := w.store.Derivative(w.ctx, id, v); err == nil {
			ids = append(ids, d.BlobID)
		}
	}
	return ids
}

func TestCollectorGarbageAfterGrace(t *testing.T) {
	w := newWorkerEnv(t, map[string]string{"PHOTOVAULT_BLOB_GRACE": "48h"})
	// The blob triggers stamp delete_after with SQLite's own clock, so the
	// injected clock starts at the real time.
	w.clock.Advance(time.Since(w.clock.Now()))
	gone := w.addOriginal(wkJPEG(t, 80, 60), 1)
	kept := w.addOriginal(wkJPEG(t, 60, 80), 1)
	w.runJobs()
	goneIDs := w.mediaBlobs(gone.ID, gone.BlobID)
	keptIDs := w.mediaBlobs(kept.ID, kept.BlobID)
	if len(goneIDs) != 3 || len(keptIDs) != 3 {
		t.Fatalf("blobs %v %v", goneIDs, keptIDs)
	}
	if err := w.store.DeleteMedia(w.ctx, w.owner, gone.ID); err != nil {
		t.Fatal(err)
	}
	// Within the grace period a restored older database still finds them.
	w.clock.Advance(47 * time.Hour)
	if st := w.srv.collectOnce(w.ctx); st.garbage != 0 {
		t.Fatalf("collected %d blobs inside the grace period", st.garbage)
	}
	for _, id := range goneIDs {
		if !w.srv.blobs.Exists(id) {
			t.Fatalf("blob %s deleted inside the grace period", id)
		}
	}
	w.clock.Advance(2 * time.Hour)
	st := w.srv.collectOnce(w.ctx)
	if st.garbage != 3 || st.orphans != 0 {
		t.Fatalf("after grace: %+v", st)
	}
	for _, id := range goneIDs {
		if w.srv.blobs.Exists(id) {
			t.Fatalf("blob file %s kept after grace", id)
		}
		if _, err := w.store.BlobRef(w.ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("blob row %s kept after grace: %v", id, err)
		}
	}
	for _, id := range keptIDs {
		if !w.srv.blobs.Exists(id) {
			t.Fatalf("referenced blob %s deleted", id)
		}
		if _, err := w.store.BlobRef(w.ctx, id); err != nil {
			t.Fatalf("referenced blob row %s: %v", id, err)
		}
	}
	// The survivor still decrypts.
	if _, b := w.derivative(kept.ID, derivThumb); len(b) == 0 {
		t.Fatal("empty thumb")
	}
	if st := w.srv.collectOnce(w.ctx); st != (collectStats{}) {
		t.Fatalf("second pass did work: %+v", st)
	}
}

func TestCollectorOrphansAndTemp(t *testing.T) {
	w := newWorkerEnv(t, nil)
	now := w.clock.Now()
	m := w.addOriginal(wkJPEG(t, 80, 60), 1)
	w.runJobs()
	// Referenced blobs are never orphans, however old.
	for _, id := range w.mediaBlobs(m.ID, m.BlobID) {
		w.touch(w.srv.blobs.Path(id), now.Add(-30*24*time.Hour))
	}
	old := w.orphanBlob(now.Add(-2 * time.Hour))
	young := w.orphanBlob(now.Add(-10 * time.Minute)) // may be an upload about to record its row

	// Temp files: CleanTmp dates them by the real clock.
	tmp := w.cfg.TmpDir()
	stale := filepath.Join(tmp, "blob-stale.tmp")
	fresh := filepath.Join(tmp, "blob-fresh.tmp")
	other := filepath.Join(tmp, "not-ours")
	for _, p := range []string{stale, fresh, other} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	w.touch(stale, time.Now().Add(-25*time.Hour))
	w.touch(other, time.Now().Add(-25*time.Hour))

	st := w.srv.collectOnce(w.ctx)
	if st.orphans != 1 || st.tmp != 1 || st.garbage != 0 || st.refused != 0 {
		t.Fatalf("pass: %+v\n%s", st, w.logs)
	}
	if w.srv.blobs.Exists(old) {
		t.Fatal("old orphan kept")
	}
	if !w.srv.blobs.Exists(young) {
		t.Fatal("young blob without a row deleted: it may be an upload in flight")
	}
	for _, id := range w.mediaBlobs(m.ID, m.BlobID) {
		if !w.srv.blobs.Exists(id) {
			t.Fatalf("referenced blob %s deleted", id)
		}
	}
	for p, want := range map[string]bool{stale: false, fresh: true, other: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Fatalf("%s exists=%v, want %v", filepath.Base(p), err == nil, want)
		}
	}
	// An hour later the young one is an orphan too.
	w.clock.Advance(time.Hour)
	if st := w.srv.collectOnce(w.ctx); st.orphans != 1 || w.srv.blobs.Exists(young) {
		t.Fatalf("second pass: %+v", st)
	}
}

// TestCollectorRefusesMassOrphans: a data directory whose blobs the
// database does not know (photovault.db deleted and recreated, the wrong
// database) must not be wiped.
func TestCollectorRefusesMassOrphans(t *testing.T) {
	w := newWorkerEnv(t, nil)
	old := w.clock.Now().Add(-48 * time.Hour)
	var ids []string
	for i := 0; i <= orphanGuard; i++ {
		ids = append(ids, w.orphanBlob(old))
	}
	st := w.srv.collectOnce(w.ctx)
	if st.orphans != 0 || st.refused != len(ids) {
		t.Fatalf("pass: %+v", st)
	}
	for _, id := range ids {
		if !w.srv.blobs.Exists(id) {
			t.Fatalf("blob %s deleted against an empty database", id)
		}
	}
	if !strings.Contains(w.logs.String(), "refusing to delete") {
		t.Fatalf("refusal not logged:\n%s", w.logs)
	}
	// Files that are not blobs are never touched by the reconciler.
	junk := filepath.Join(w.cfg.BlobRoot(), "README")
	if err := os.WriteFile(junk, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	w.touch(junk, old)
	w.srv.collectOnce(w.ctx)
	if _, err := os.Stat(junk); err != nil {
		t.Fatal("non-blob file removed")
	}
}
