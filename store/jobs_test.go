package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/blob"
	"github.com/photovault/photovault/store/keys"
	"github.com/photovault/photovault/store/storetest"
)

// jobFixture is a store on an injectable clock with one owner and album.
type jobFixture struct {
	t     *testing.T
	ctx   context.Context
	s     *store.Store
	clock *storetest.Clock
	owner string
	album string
}

func newJobFixture(t *testing.T) *jobFixture {
	t.Helper()
	clock := storetest.NewClock()
	s := storetest.NewWithClock(t, clock.Now)
	ctx := context.Background()
	u, err := s.CreateUser(ctx, "jobs-"+store.NewID()[:6], "x")
	if err != nil {
		t.Fatal(err)
	}
	f := &jobFixture{t: t, ctx: ctx, s: s, clock: clock, owner: u.ID, album: store.NewID()}
	f.exec(`INSERT INTO albums (id, owner_id, title, created_ms, updated_ms) VALUES (?, ?, 'a', 0, 0)`, f.album, f.owner)
	return f
}

func (f *jobFixture) exec(q string, args ...any) {
	f.t.Helper()
	if err := f.s.ExecForTest(f.ctx, q, args...); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
}

// addBlobRow records a blob row; the file need not exist for queue tests.
func (f *jobFixture) addBlobRow(ref blob.Ref) {
	f.t.Helper()
	f.exec(`INSERT INTO blobs (id, key_id, wrapped_key, size, created_ms) VALUES (?, ?, ?, ?, 0)`, ref.ID, ref.KeyID, ref.WrappedKey, ref.Size)
}

// addMedia inserts a media row over a fresh blob row and queues its derive
// job, as the upload path does.
func (f *jobFixture) addMedia(encLocation []byte) string {
	f.t.Helper()
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	ref := blob.Ref{ID: fmt.Sprintf("%x", raw), KeyID: "k", WrappedKey: []byte("w"), Size: 1}
	f.addBlobRow(ref)
	return f.addMediaOn(ref, encLocation)
}

// addMediaOn is addMedia over an existing blob row.
func (f *jobFixture) addMediaOn(ref blob.Ref, encLocation []byte) string {
	f.t.Helper()
	id := store.NewID()
	f.exec(`INSERT INTO media (id, owner_id, album_id, blob_id, sha256, crc32, size, content_type, kind, filename, orientation, enc_location, created_ms)
		VALUES (?, ?, ?, ?, ?, 0, 1, 'image/jpeg', 'jpeg', 'a.jpg', 6, ?, 0)`, id, f.owner, f.album, ref.ID, id, encLocation)
	if err := f.s.EnqueueJob(f.ctx, store.JobDerive, id); err != nil {
		f.t.Fatal(err)
	}
	return id
}

func (f *jobFixture) status(mediaID string) string {
	f.t.Helper()
	m, err := f.s.MediaForJob(f.ctx, mediaID)
	if err != nil {
		f.t.Fatal(err)
	}
	return m.Status
}

func TestJobBackoff(t *testing.T) {
	want := []time.Duration{2 * time.Second, 8 * time.Second, 32 * time.Second, 128 * time.Second, 512 * time.Second, 10 * time.Minute, 10 * time.Minute}
	for i, w := range want {
		if got := store.JobBackoff(i + 1); got != w {
			t.Errorf("JobBackoff(%d) = %v, want %v", i+1, got, w)
		}
	}
}

func TestClaimRetryThenFail(t *testing.T) {
	f := newJobFixture(t)
	mid := f.addMedia(nil)
	if _, err := f.s.ClaimJob(f.ctx, "other-kind", time.Minute); !errors.Is(err, store.ErrNoJob) {
		t.Fatalf("other kind: %v", err)
	}
	for attempt := 1; attempt <= store.MaxJobAttempts; attempt++ {
		j, err := f.s.ClaimJob(f.ctx, store.JobDerive, time.Minute)
		if err != nil {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
		if j.Target != mid || j.Attempts != attempt || j.Kind != store.JobDerive {
			t.Fatalf("claimed %+v", j)
		}
		// Claimed: nobody else gets it, even after its backoff would be over.
		if _, err := f.s.ClaimJob(f.ctx, store.JobDerive, time.Minute); !errors.Is(err, store.ErrNoJob) {
			t.Fatalf("second claim while running: %v", err)
		}
		backoff := store.JobBackoff(attempt)
		final, err := f.s.FailJob(f.ctx, j, errors.New("decoder hiccup"), backoff)
		if err != nil {
			t.Fatal(err)
		}
		if final != (attempt == store.MaxJobAttempts) {
			t.Fatalf("attempt %d final=%v", attempt, final)
		}
		if final {
			break
		}
		if got := f.status(mid); got != store.MediaStatusProcessing {
			t.Fatalf("status after attempt %d: %s", attempt, got)
		}
		// Not before the backoff has passed.
		f.clock.Advance(backoff - time.Millisecond)
		if _, err := f.s.ClaimJob(f.ctx, store.JobDerive, time.Minute); !errors.Is(err, store.ErrNoJob) {
			t.Fatalf("claimed before backoff: %v", err)
		}
		f.clock.Advance(time.Millisecond)
	}
	js, err := f.s.JobFor(f.ctx, store.JobDerive, mid)
	if err != nil {
		t.Fatal(err)
	}
	if js.State != "failed" || js.Attempts != store.MaxJobAttempts || js.LastError != "decoder hiccup" {
		t.Fatalf("job after last attempt: %+v", js)
	}
	if got := f.status(mid); got != store.MediaStatusFailed {
		t.Fatalf("media status %s, want failed", got)
	}
	f.clock.Advance(time.Hour)
	if _, err := f.s.ClaimJob(f.ctx, store.JobDerive, time.Minute); !errors.Is(err, store.ErrNoJob) {
		t.Fatalf("failed job claimed again: %v", err)
	}
	// An operator (or a later feature) can queue it again.
	if err := f.s.EnqueueJob(f.ctx, store.JobDerive, mid); err != nil {
		t.Fatal(err)
	}
	if j, err := f.s.ClaimJob(f.ctx, store.JobDerive, time.Minute); err != nil || j.Attempts != 1 {
		t.Fatalf("requeued: %+v %v", j, err)
	}
}

func TestClaimOldestFirstAndComplete(t *testing.T) {
	f := newJobFixture(t)
	a := f.addMedia(nil)
	f.clock.Advance(time.Second)
	b := f.addMedia(nil)
	j1, err := f.s.ClaimJob(f.ctx, store.JobDerive, time.Minute)
	if err != nil || j1.Target != a {
		t.Fatalf("first claim %+v %v, want %s", j1, err, a)
	}
	j2, err := f.s.ClaimJob(f.ctx, store.JobDerive, time.Minute)
	if err != nil || j2.Target != b {
		t.Fatalf("second claim %+v %v, want %s", j2, err, b)
	}
	if err := f.s.CompleteJob(f.ctx, j1); err != nil {
		t.Fatal(err)
	}
	// Completing twice is a stale claim.
	if err := f.s.CompleteJob(f.ctx, j1); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("double complete: %v", err)
	}
	// Enqueue while running leaves the running job alone.
	if err := f.s.EnqueueJob(f.ctx, store.JobDerive, b); err != nil {
		t.Fatal(err)
	}
	if js, _ := f.s.JobFor(f.ctx, store.JobDerive, b); js.State != "running" || js.Attempts != 1 {
		t.Fatalf("enqueue touched a running job: %+v", js)
	}
	if err := f.s.ReleaseJob(f.ctx, j2); err != nil {
		t.Fatal(err)
	}
	j3, err := f.s.ClaimJob(f.ctx, store.JobDerive, time.Minute)
	if err != nil || j3.Target != b || j3.Attempts != 1 {
		t.Fatalf("released job: %+v %v (a release must not count as an attempt)", j3, err)
	}
	if err := f.s.AbandonJob(f.ctx, j3, errors.New("corrupt")); err != nil {
		t.Fatal(err)
	}
	if f.status(b) != store.MediaStatusFailed {
		t.Fatal("abandoned job did not fail its media")
	}
	if _, err := f.s.ClaimJob(f.ctx, store.JobDerive, time.Minute); !errors.Is(err, store.ErrNoJob) {
		t.Fatalf("queue not empty: %v", err)
	}
}

// TestLeaseExpiryRecovers plays a worker that died (crash, SIGKILL) with a
// job leased: after the lease the job runs again, and the dead worker's
// late answer is refused.
func TestLeaseExpiryRecovers(t *testing.T) {
	f := newJobFixture(t)
	mid := f.addMedia(nil)
	dead, err := f.s.ClaimJob(f.ctx, store.JobDerive, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(30 * time.Second)
	if err := f.s.ExtendJob(f.ctx, dead, time.Minute); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(59 * time.Second) // the extension still holds
	if _, err := f.s.ClaimJob(f.ctx, store.JobDerive, time.Minute); !errors.Is(err, store.ErrNoJob) {
		t.Fatalf("claimed under a live lease: %v", err)
	}
	f.clock.Advance(2 * time.Second)
	again, err := f.s.ClaimJob(f.ctx, store.JobDerive, time.Minute)
	if err != nil || again.Target != mid || again.Attempts != 2 {
		t.Fatalf("reclaim after lease: %+v %v", again, err)
	}
	for name, fn := range map[string]func() error{
		"complete": func() error { return f.s.CompleteJob(f.ctx, dead) },
		"extend":   func() error { return f.s.ExtendJob(f.ctx, dead, time.Minute) },
		"release":  func() error { return f.s.ReleaseJob(f.ctx, dead) },
		"fail":     func() error { _, err := f.s.FailJob(f.ctx, dead, errors.New("x"), time.Second); return err },
	} {
		if err := fn(); !errors.Is(err, store.ErrLeaseLost) {
			t.Errorf("stale %s: %v, want ErrLeaseLost", name, err)
		}
	}
	if err := f.s.CompleteJob(f.ctx, again); err != nil {
		t.Fatal(err)
	}
}

// TestLeaseExpiryOnLastAttemptFails: a file that kills the process every
// time must not be retried forever.
func TestLeaseExpiryOnLastAttemptFails(t *testing.T) {
	f := newJobFixture(t)
	mid := f.addMedia(nil)
	for i := 0; i < store.MaxJobAttempts; i++ {
		if _, err := f.s.ClaimJob(f.ctx, store.JobDerive, time.Minute); err != nil {
			t.Fatalf("claim %d: %v", i+1, err)
		}
		f.clock.Advance(2 * time.Minute) // the worker died each time
	}
	if _, err := f.s.ClaimJob(f.ctx, store.JobDerive, time.Minute); !errors.Is(err, store.ErrNoJob) {
		t.Fatalf("claimed after %d lost attempts: %v", store.MaxJobAttempts, err)
	}
	js, err := f.s.JobFor(f.ctx, store.JobDerive, mid)
	if err != nil {
		t.Fatal(err)
	}
	if js.State != "failed" || f.status(mid) != store.MediaStatusFailed {
		t.Fatalf("job %+v, media %s", js, f.status(mid))
	}
}

// TestClaimParallel: many workers, many jobs — every job is claimed
// exactly once (the conditional UPDATE on the single writer).
func TestClaimParallel(t *testing.T) {
	f := newJobFixture(t)
	const jobs, workers = 60, 8
	want := map[string]bool{}
	for i := 0; i < jobs; i++ {
		want[f.addMedia(nil)] = true
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j, err := f.s.ClaimJob(f.ctx, store.JobDerive, time.Minute)
				if errors.Is(err, store.ErrNoJob) {
					return
				}
				if err != nil {
					errc <- err
					return
				}
				mu.Lock()
				seen[j.Target]++
				mu.Unlock()
				if err := f.s.CompleteJob(f.ctx, j); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if len(seen) != jobs {
		t.Fatalf("claimed %d distinct jobs, want %d", len(seen), jobs)
	}
	for id, n := range seen {
		if n != 1 || !want[id] {
			t.Fatalf("job %s claimed %d times", id, n)
		}
	}
}

func TestPruneJobsAndStatus(t *testing.T) {
	f := newJobFixture(t)
	gone := f.addMedia(nil)
	kept := f.addMedia(nil)
	for i := 0; i < 2; i++ {
		j, err := f.s.ClaimJob(f.ctx, store.JobDerive, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.s.CompleteJob(f.ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	f.exec(`DELETE FROM media WHERE id = ?`, gone)
	n, err := f.s.PruneJobs(f.ctx)
	if err != nil || n != 1 {
		t.Fatalf("prune: %d %v", n, err)
	}
	if _, err := f.s.JobFor(f.ctx, store.JobDerive, gone); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("job of deleted media kept: %v", err)
	}
	if _, err := f.s.JobFor(f.ctx, store.JobDerive, kept); err != nil {
		t.Fatalf("job of live media pruned: %v", err)
	}
	if _, err := f.s.MediaForJob(f.ctx, gone); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted media: %v", err)
	}
	if err := f.s.SetMediaStatus(f.ctx, gone, store.MediaStatusReady); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("status of deleted media: %v", err)
	}
	if err := f.s.SetMediaStatus(f.ctx, kept, "done"); err == nil {
		t.Fatal("invalid status accepted")
	}
	if err := f.s.SetMediaStatus(f.ctx, kept, store.MediaStatusReady); err != nil || f.status(kept) != store.MediaStatusReady {
		t.Fatalf("set ready: %v", err)
	}
	m, _ := f.s.MediaForJob(f.ctx, kept)
	if m.Orientation != 6 || m.Kind != "jpeg" || m.ContentType != "image/jpeg" || m.BlobID == "" {
		t.Fatalf("media for job: %+v", m)
	}
}

func TestBlobIDsWithPrefix(t *testing.T) {
	f := newJobFixture(t)
	ids := []string{"ab" + strconv.Itoa(0) + "0000000000000000000000000000f", "abffffffffffffffffffffffffffffff", "ac000000000000000000000000000000", "aa000000000000000000000000000000"}
	for _, id := range ids {
		f.addBlobRow(blob.Ref{ID: id, KeyID: "k", WrappedKey: []byte("w")})
	}
	got, err := f.s.BlobIDsWithPrefix(f.ctx, "ab")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("prefix ab: %v", got)
	}
	for _, id := range ids[:2] {
		if _, ok := got[id]; !ok {
			t.Fatalf("%s missing", id)
		}
	}
	if _, err := f.s.BlobIDsWithPrefix(f.ctx, "a"); err == nil {
		t.Fatal("short prefix accepted")
	}
	if n, err := f.s.BlobCount(f.ctx); err != nil || n != 4 {
		t.Fatalf("count %d %v", n, err)
	}
}

// writeBlob makes a real encrypted blob under kek and records its row.
func writeBlob(t *testing.T, f *jobFixture, bs *blob.Store, kek blob.KEK, data []byte) blob.Ref {
	t.Helper()
	w, err := bs.Create(kek)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	ref, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	f.addBlobRow(ref)
	return ref
}

func readBlob(bs *blob.Store, ref blob.Ref, kek blob.KEK) ([]byte, error) {
	r, err := bs.Open(ref, kek)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func TestRewrapAll(t *testing.T) {
	f := newJobFixture(t)
	dir := t.TempDir()
	bs, err := blob.New(dir, dir+"/tmp")
	if err != nil {
		t.Fatal(err)
	}
	oldKey, _ := keys.Generate()
	newKey, _ := keys.Generate()
	oldKEK := blob.KEK{ID: oldKey.ID(), Key: oldKey}
	newKEK := blob.KEK{ID: newKey.ID(), Key: newKey}
	if err := f.s.BindMasterKey(f.ctx, oldKey.CheckValue()); err != nil {
		t.Fatal(err)
	}
	contents := map[string][]byte{}
	var first blob.Ref
	for i := 0; i < 5; i++ {
		data := bytes.Repeat([]byte{byte(i)}, 1000+i)
		ref := writeBlob(t, f, bs, oldKEK, data)
		contents[ref.ID] = data
		first = ref
	}
	// One media row with an encrypted location (a stand-in cipher: the
	// store only moves the bytes; cmd/keys does the real AEAD).
	loc := f.addMediaOn(first, []byte("old:51.5,-0.1"))
	f.exec(`UPDATE media SET camera = 'pv1:old:Canary Cam' WHERE id = ?`, loc)
	var locIDs []string
	rot := store.Rotation{
		NewKeyID: newKEK.ID, OldCheck: oldKey.CheckValue(), NewCheck: newKey.CheckValue(),
		Blob: func(r blob.Ref) (blob.Ref, error) { return bs.Rewrap(r, oldKEK, newKEK) },
		Location: func(id string, enc []byte) ([]byte, error) {
			locIDs = append(locIDs, id)
			if s, ok := bytes.CutPrefix(enc, []byte("old:")); ok {
				return append([]byte("new:"), s...), nil
			}
			if bytes.HasPrefix(enc, []byte("new:")) {
				return enc, nil
			}
			return nil, errors.New("unknown key")
		},
		Text: func(id, field, v string) (string, error) {
			if id != loc || field != "camera" {
				return "", fmt.Errorf("unexpected field %s of %s", field, id)
			}
			return strings.Replace(v, "pv1:old:", "pv1:new:", 1), nil
		},
		Audit: store.AuditEvent{Actor: "cli"},
	}

	// A failure half way changes nothing (one transaction).
	broken := rot
	calls := 0
	broken.Blob = func(r blob.Ref) (blob.Ref, error) {
		calls++
		if calls == 3 {
			return blob.Ref{}, errors.New("interrupted")
		}
		return bs.Rewrap(r, oldKEK, newKEK)
	}
	if _, err := f.s.RewrapAll(f.ctx, broken); err == nil {
		t.Fatal("interrupted rotation reported success")
	}
	for id, data := range contents {
		ref, err := f.s.BlobRef(f.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if ref.KeyID != oldKEK.ID {
			t.Fatalf("blob %s moved to the new key by a rolled-back rotation", id)
		}
		if got, err := readBlob(bs, ref, oldKEK); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("old key after rollback: %v", err)
		}
	}
	if err := f.s.BindMasterKey(f.ctx, oldKey.CheckValue()); err != nil {
		t.Fatalf("check value changed by a rolled-back rotation: %v", err)
	}

	// A wrong current key is refused before anything changes.
	other, _ := keys.Generate()
	wrong := rot
	wrong.OldCheck = other.CheckValue()
	wrong.NewCheck = other.CheckValue()
	if _, err := f.s.RewrapAll(f.ctx, wrong); !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}

	st, err := f.s.RewrapAll(f.ctx, rot)
	if err != nil {
		t.Fatal(err)
	}
	if st.Blobs != len(contents) || st.Skipped != 0 || st.Locations != 1 || st.Texts != 1 {
		t.Fatalf("stats %+v", st)
	}
	for id, data := range contents {
		ref, err := f.s.BlobRef(f.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if ref.KeyID != newKEK.ID {
			t.Fatalf("blob %s still under %s", id, ref.KeyID)
		}
		if got, err := readBlob(bs, ref, newKEK); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("new key: %v", err)
		}
		if _, err := readBlob(bs, ref, oldKEK); !errors.Is(err, blob.ErrWrongKey) {
			t.Fatalf("old key still opens a re-wrapped blob: %v", err)
		}
	}
	if err := f.s.BindMasterKey(f.ctx, newKey.CheckValue()); err != nil {
		t.Fatalf("check value not switched: %v", err)
	}
	if err := f.s.BindMasterKey(f.ctx, oldKey.CheckValue()); !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("old key still accepted: %v", err)
	}
	types, err := f.s.AuditTypes(f.ctx)
	if err != nil || types["key_rotated"] != 1 {
		t.Fatalf("audit: %v %v", types, err)
	}
	// A re-run finds everything under the new key and changes nothing.
	st2, err := f.s.RewrapAll(f.ctx, rot)
	if err != nil {
		t.Fatal(err)
	}
	if st2.Blobs != 0 || st2.Skipped != len(contents) {
		t.Fatalf("re-run: %+v", st2)
	}
	if st2.Locations != 1 || len(locIDs) != 2 || locIDs[0] != loc || locIDs[1] != loc {
		t.Fatalf("location re-encryption saw %v (stats %+v), want %s twice", locIDs, st2, loc)
	}
}

func TestRotateSigning(t *testing.T) {
	f := newJobFixture(t)
	until := f.clock.Now().Add(16 * time.Minute)
	for want := 2; want <= 3; want++ {
		gen, err := f.s.RotateSigning(f.ctx, "jwt_generation", "jwt_prev_until_ms", until, store.AuditEvent{Actor: "cli"})
		if err != nil || gen != want {
			t.Fatalf("rotate: %d %v, want %d", gen, err, want)
		}
		if v, _ := f.s.Setting(f.ctx, "jwt_generation"); v != strconv.Itoa(want) {
			t.Fatalf("generation setting %q", v)
		}
	}
	if v, _ := f.s.Setting(f.ctx, "jwt_prev_until_ms"); v != strconv.FormatInt(until.UnixMilli(), 10) {
		t.Fatalf("prev until %q", v)
	}
	if types, _ := f.s.AuditTypes(f.ctx); types["key_rotated"] != 2 {
		t.Fatalf("audit %v", types)
	}
	if n, brk, err := f.s.VerifyAudit(f.ctx); err != nil || brk != nil || n != 2 {
		t.Fatalf("audit chain: %d %v %v", n, brk, err)
	}
}

// TestJobOfDeletedMedia: media deleted under a running job (album delete
// cascades) must not wedge the queue.
func TestJobOfDeletedMedia(t *testing.T) {
	f := newJobFixture(t)
	a := f.addMedia(nil)
	b := f.addMedia(nil)
	ja, err := f.s.ClaimJob(f.ctx, store.JobDerive, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	f.exec(`DELETE FROM media WHERE id IN (?, ?)`, a, b)
	if err := f.s.AbandonJob(f.ctx, ja, errors.New("gone")); err != nil {
		t.Fatalf("abandon job of deleted media: %v", err)
	}
	for i := 0; i < store.MaxJobAttempts; i++ {
		if _, err := f.s.ClaimJob(f.ctx, store.JobDerive, time.Minute); err != nil {
			t.Fatalf("claim %d: %v", i+1, err)
		}
		f.clock.Advance(2 * time.Minute)
	}
	if _, err := f.s.ClaimJob(f.ctx, store.JobDerive, time.Minute); !errors.Is(err, store.ErrNoJob) {
		t.Fatalf("queue wedged: %v", err)
	}
	if js, _ := f.s.JobFor(f.ctx, store.JobDerive, b); js.State != "failed" {
		t.Fatalf("job %+v", js)
	}
}
