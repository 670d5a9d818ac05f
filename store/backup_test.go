package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/blob"
	"github.com/photovault/photovault/store/keys"
)

// backupVault is a real store and blob store in t.TempDir().
type backupVault struct {
	t     *testing.T
	ctx   context.Context
	dir   string
	st    *store.Store
	blobs *blob.Store
	kek   blob.KEK
	owner string
}

func newBackupVault(t *testing.T) *backupVault {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	bs, err := blob.New(filepath.Join(dir, "blobs"), filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	k, _ := keys.Generate()
	u, err := st.CreateUser(ctx, "ada", "hash")
	if err != nil {
		t.Fatal(err)
	}
	return &backupVault{t: t, ctx: ctx, dir: dir, st: st, blobs: bs, kek: blob.KEK{ID: blob.KeyID(k), Key: k}, owner: u.ID}
}

func (v *backupVault) put(content string) blob.Ref {
	v.t.Helper()
	w, err := v.blobs.Create(v.kek)
	if err != nil {
		v.t.Fatal(err)
	}
	if _, err := w.Write([]byte(content)); err != nil {
		v.t.Fatal(err)
	}
	ref, err := w.Commit()
	if err != nil {
		v.t.Fatal(err)
	}
	return ref
}

func (v *backupVault) media(albumID, content string) store.Media {
	v.t.Helper()
	sum := sha256.Sum256([]byte(content))
	m, _, err := v.st.InsertMedia(v.ctx, store.Media{OwnerID: v.owner, AlbumID: albumID, SHA256: hex.EncodeToString(sum[:]),
		CRC32: crc32.ChecksumIEEE([]byte(content)), Size: int64(len(content)), ContentType: "image/jpeg", Kind: "jpeg",
		Filename: content + ".jpg"}, v.put(content), nil)
	if err != nil {
		v.t.Fatal(err)
	}
	return m
}

// dirState lists every file under dir with size and modification time.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out[p] = fmt.Sprintf("%v %d %d", info.Mode(), info.Size(), info.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSnapshotToWhileWriting(t *testing.T) {
	v := newBackupVault(t)
	first, err := v.st.CreateAlbum(v.ctx, v.owner, "first", "")
	if err != nil {
		t.Fatal(err)
	}
	v.media(first.ID, "before the snapshot")

	// A second connection pool on the same file plays the running serve:
	// it keeps committing while the snapshot is taken.
	writer, err := store.Open(v.ctx, v.st.Path(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	var wrote atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := writer.CreateAlbum(v.ctx, v.owner, fmt.Sprintf("album %d", i), ""); err != nil {
				t.Error(err)
				return
			}
			wrote.Add(1)
		}
	}()
	for wrote.Load() < 20 {
		time.Sleep(time.Millisecond)
	}
	out := filepath.Join(t.TempDir(), "backup")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(out, store.FileName)
	if err := v.st.SnapshotTo(v.ctx, path); err != nil {
		t.Fatal(err)
	}
	at := wrote.Load()
	for wrote.Load() < at+20 { // writes go on after the snapshot, unblocked
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()

	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot file: %v %v", info, err)
	}
	ents, _ := os.ReadDir(out)
	if len(ents) != 1 {
		t.Fatalf("left next to the snapshot: %v", ents)
	}
	snap, err := store.OpenReadOnly(v.ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if err := snap.IntegrityCheck(v.ctx); err != nil {
		t.Fatal(err)
	}
	latest, err := store.LatestSchemaVersion()
	if err != nil {
		t.Fatal(err)
	}
	if sv, err := snap.SchemaVersion(v.ctx); err != nil || sv != latest {
		t.Fatalf("schema %d %v, want %d", sv, err, latest)
	}
	// The copy is a point in time: some but not all of the later albums.
	restored := filepath.Join(t.TempDir(), store.FileName)
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(restored, b, 0o600); err != nil {
		t.Fatal(err)
	}
	rs, err := store.Open(v.ctx, restored, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	albums, err := rs.Albums(v.ctx, v.owner)
	if err != nil {
		t.Fatal(err)
	}
	live, err := v.st.Albums(v.ctx, v.owner)
	if err != nil {
		t.Fatal(err)
	}
	if len(albums) < 21 || len(albums) >= len(live) {
		t.Fatalf("snapshot holds %d albums, live %d (wanted a point in between)", len(albums), len(live))
	}
	t.Logf("snapshot: %d of %d albums", len(albums), len(live))
}

func TestSnapshotBlobs(t *testing.T) {
	v := newBackupVault(t)
	a, err := v.st.CreateAlbum(v.ctx, v.owner, "A", "")
	if err != nil {
		t.Fatal(err)
	}
	kept := v.media(a.ID, "kept original")
	thumb := "thumb bytes"
	tref := v.put(thumb)
	if err := v.st.PutDerivative(v.ctx, store.Derivative{MediaID: kept.ID, Variant: "thumb", Size: int64(len(thumb)),
		CRC32: crc32.ChecksumIEEE([]byte(thumb)), ContentType: "image/jpeg"}, tref); err != nil {
		t.Fatal(err)
	}
	gone := v.media(a.ID, "deleted original") // its blob row stays for the collector
	if err := v.st.DeleteMedia(v.ctx, v.owner, gone.ID); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), store.FileName)
	if err := v.st.SnapshotTo(v.ctx, path); err != nil {
		t.Fatal(err)
	}
	snap, err := store.OpenReadOnly(v.ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	list, err := snap.Blobs(v.ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.SnapshotBlob{}
	for _, b := range list {
		got[b.Ref.ID] = b
	}
	if len(list) != 3 || !sort.SliceIsSorted(list, func(i, j int) bool { return list[i].Ref.ID < list[j].Ref.ID }) {
		t.Fatalf("blobs %+v", list)
	}
	o := got[kept.BlobID]
	if len(o.Uses) != 1 || o.Uses[0].Kind != "original" || o.Uses[0].SHA256 != kept.SHA256 || o.Uses[0].MediaID != kept.ID ||
		o.Uses[0].Size != kept.Size || o.Uses[0].CRC32 != kept.CRC32 || o.Ref.KeyID != v.kek.ID || o.Ref.Size != kept.Size || o.NoRow {
		t.Fatalf("original %+v", o)
	}
	// The listed Ref really opens the blob.
	r, err := v.blobs.Open(o.Ref, v.kek)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	d := got[tref.ID]
	if len(d.Uses) != 1 || d.Uses[0].Kind != "derivative" || d.Uses[0].Variant != "thumb" || d.Uses[0].SHA256 != "" ||
		d.Uses[0].Size != int64(len(thumb)) || d.Uses[0].CRC32 != crc32.ChecksumIEEE([]byte(thumb)) {
		t.Fatalf("derivative %+v", d)
	}
	if g := got[gone.BlobID]; g.Referenced() || g.NoRow || g.Ref.ID != gone.BlobID {
		t.Fatalf("unreferenced %+v", g)
	}
	key, err := snap.MasterKeyCheck(v.ctx)
	if !errors.Is(err, store.ErrNotFound) || key != "" {
		t.Fatalf("key check on an unbound vault: %q %v", key, err)
	}
}

func TestSnapshotReadOnlyWritesNothing(t *testing.T) {
	v := newBackupVault(t)
	k, _ := keys.Generate()
	if err := v.st.BindMasterKey(v.ctx, k.CheckValue()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, store.FileName)
	if err := v.st.SnapshotTo(v.ctx, path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o500); err != nil { // and it needs no write access
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	before := dirState(t, dir)
	snap, err := store.OpenReadOnly(v.ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.IntegrityCheck(v.ctx); err != nil {
		t.Fatal(err)
	}
	if c, err := snap.MasterKeyCheck(v.ctx); err != nil || c != k.CheckValue() {
		t.Fatalf("key check %q %v", c, err)
	}
	if _, err := snap.Blobs(v.ctx); err != nil {
		t.Fatal(err)
	}
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	after := dirState(t, dir)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("reading a snapshot changed its directory:\n%v\n%v", before, after)
	}
	if _, err := store.OpenReadOnly(v.ctx, filepath.Join(dir, "missing.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("OpenReadOnly created a file")
	}
}

func TestSnapshotIntegrityFailures(t *testing.T) {
	v := newBackupVault(t)
	for i := range 300 { // enough pages that truncation cuts a b-tree
		if _, err := v.st.CreateAlbum(v.ctx, v.owner, strings.Repeat("x", 200)+fmt.Sprint(i), ""); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, store.FileName)
	if err := v.st.SnapshotTo(v.ctx, path); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, data []byte) error {
		p := filepath.Join(dir, name+".db")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		snap, err := store.OpenReadOnly(v.ctx, p)
		if err != nil {
			return err
		}
		defer snap.Close()
		return snap.IntegrityCheck(v.ctx)
	}
	if err := check("good", good); err != nil {
		t.Fatal(err)
	}
	if err := check("truncated", good[:len(good)/2]); !errors.Is(err, store.ErrIntegrity) {
		t.Fatalf("truncated: %v", err)
	}
	if err := check("notadb", []byte(strings.Repeat("not a database ", 500))); !errors.Is(err, store.ErrIntegrity) {
		t.Fatalf("garbage: %v", err)
	}
	// A page of the albums table overwritten with zeros.
	zeroed := append([]byte(nil), good...)
	pageSize := int(good[16])<<8 | int(good[17])
	clear(zeroed[3*pageSize : 4*pageSize])
	if err := check("zeroed", zeroed); !errors.Is(err, store.ErrIntegrity) {
		t.Fatalf("zeroed page: %v", err)
	}

	// SnapshotTo refuses to produce a copy that breaks foreign keys, and
	// leaves both the target and the directory as they were.
	if err := v.st.ExecForTest(v.ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		t.Fatal(err)
	}
	if err := v.st.ExecForTest(v.ctx, `INSERT INTO derivatives (media_id, variant, blob_id, size, crc32, content_type) VALUES ('nomedia', 'thumb', 'noblob', 1, 1, 'image/jpeg')`); err != nil {
		t.Fatal(err)
	}
	if err := v.st.ExecForTest(v.ctx, `PRAGMA foreign_keys = ON`); err != nil {
		t.Fatal(err)
	}
	before := dirState(t, dir)
	err = v.st.SnapshotTo(v.ctx, path)
	if !errors.Is(err, store.ErrIntegrity) || !strings.Contains(err.Error(), "foreign key") {
		t.Fatalf("snapshot of a database with dangling rows: %v", err)
	}
	after := dirState(t, dir)
	delete(before, dir) // its mtime moves: the temp file came and went
	delete(after, dir)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("failed snapshot changed the directory:\n%v\n%v", before, after)
	}
}

func TestSnapshotBlobsDanglingReference(t *testing.T) {
	v := newBackupVault(t)
	if err := v.st.ExecForTest(v.ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		t.Fatal(err)
	}
	const ghost = "0123456789abcdef0123456789abcdef"
	a, _ := v.st.CreateAlbum(v.ctx, v.owner, "A", "")
	m := v.media(a.ID, "real")
	if err := v.st.ExecForTest(v.ctx, `INSERT INTO derivatives (media_id, variant, blob_id, size, crc32, content_type) VALUES (?, 'thumb', ?, 1, 1, 'image/jpeg')`, m.ID, ghost); err != nil {
		t.Fatal(err)
	}
	_ = v.st.ExecForTest(v.ctx, `PRAGMA foreign_keys = ON`)
	// Copy the file directly (SnapshotTo would refuse it) after a checkpoint.
	if err := v.st.ExecForTest(v.ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(v.st.Path())
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	snap, err := store.OpenReadOnly(v.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if err := snap.IntegrityCheck(v.ctx); !errors.Is(err, store.ErrIntegrity) {
		t.Fatalf("dangling blob id passed the check: %v", err)
	}
	list, err := snap.Blobs(v.ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, sb := range list {
		if sb.Ref.ID == ghost {
			found = sb.NoRow && sb.Referenced()
		}
	}
	if !found {
		t.Fatalf("dangling id not reported: %+v", list)
	}
}

func TestSchemaVersionAt(t *testing.T) {
	v := newBackupVault(t)
	latest, err := store.LatestSchemaVersion()
	if err != nil || latest < 1 {
		t.Fatal(latest, err)
	}
	got, err := store.SchemaVersionAt(v.ctx, v.st.Path())
	if err != nil || got != latest {
		t.Fatalf("%d %v, want %d", got, err, latest)
	}
	missing := filepath.Join(t.TempDir(), "none.db")
	if _, err := store.SchemaVersionAt(v.ctx, missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("SchemaVersionAt created the file")
	}
}
