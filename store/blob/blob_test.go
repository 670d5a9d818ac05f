package blob

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	s := newTestStore(t, defaultChunkExp)
	kek := testKEK(1)
	const c = 64 << 10
	for _, size := range []int{0, 1, c - 1, c, c + 1, 3*c + 5, 5<<20 + 12345} {
		data := randBytes(size, uint64(size))
		for _, step := range []int{0, 1000, c, 3 * c} {
			if size > 1<<20 && step == 1000 {
				continue // slow path covered by smaller sizes
			}
			ref := put(t, s, kek, data, step)
			if ref.Size != int64(size) || !ValidID(ref.ID) || ref.KeyID != kek.ID || len(ref.WrappedKey) != wrappedKeyLen {
				t.Fatalf("size %d: bad ref %+v", size, ref)
			}
			fi, err := os.Stat(s.Path(ref.ID))
			if err != nil {
				t.Fatal(err)
			}
			chunks := (size + c - 1) / c
			if size == 0 {
				chunks = 1
			}
			if want := int64(headerLen + size + chunks*tagLen); fi.Size() != want {
				t.Fatalf("size %d: file is %d bytes, want %d", size, fi.Size(), want)
			}
			if got, _ := plainSize(fi.Size(), defaultChunkExp); got != int64(size) {
				t.Fatalf("plainSize = %d, want %d", got, size)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Fatalf("file mode %v, want 0600", fi.Mode().Perm())
			}
			for d := filepath.Dir(s.Path(ref.ID)); d != s.root; d = filepath.Dir(d) {
				di, err := os.Stat(d)
				if err != nil {
					t.Fatal(err)
				}
				if di.Mode().Perm() != 0o700 {
					t.Fatalf("dir %s mode %v, want 0700", d, di.Mode().Perm())
				}
			}
			if got := mustRead(t, s, ref, kek); !bytes.Equal(got, data) {
				t.Fatalf("size %d step %d: Read round trip differs", size, step)
			}
			r, err := s.Open(ref, kek)
			if err != nil {
				t.Fatal(err)
			}
			if r.Size() != int64(size) {
				t.Fatalf("Size() = %d, want %d", r.Size(), size)
			}
			var out bytes.Buffer
			if n, err := io.Copy(&out, r); err != nil || n != int64(size) || !bytes.Equal(out.Bytes(), data) {
				t.Fatalf("size %d: WriteTo round trip: n=%d err=%v", size, n, err)
			}
			all := make([]byte, size)
			if n, err := r.ReadAt(all, 0); n != size || (err != nil && err != io.EOF) || !bytes.Equal(all, data) {
				t.Fatalf("size %d: ReadAt round trip: n=%d err=%v", size, n, err)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if err := r.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if _, err := r.Read(make([]byte, 1)); !errors.Is(err, ErrClosed) {
				t.Fatalf("Read after Close: %v", err)
			}
		}
	}
}

// TestSmallChunkWritePatterns covers every alignment of writes against
// chunk boundaries with 1 KiB chunks.
func TestSmallChunkWritePatterns(t *testing.T) {
	s := newTestStore(t, 10)
	kek := testKEK(2)
	for _, size := range []int{0, 1, 1023, 1024, 1025, 2048, 2049, 5*1024 + 17} {
		data := randBytes(size, uint64(size)+7)
		for _, step := range []int{0, 1, 7, 1023, 1024, 1025, 2048, 3000} {
			ref := put(t, s, kek, data, step)
			if got := mustRead(t, s, ref, kek); !bytes.Equal(got, data) {
				t.Fatalf("size %d step %d: round trip differs", size, step)
			}
		}
	}
}

// TestNoPlaintextOnDisk scans every file under the data directory, during
// and after writes, for a marker and for JPEG magic at the file start.
func TestNoPlaintextOnDisk(t *testing.T) {
	s := newTestStore(t, defaultChunkExp)
	kek := testKEK(3)
	marker := []byte("PHOTOVAULT-PLAINTEXT-MARKER-7f3a9c")
	var data []byte
	data = append(data, 0xFF, 0xD8, 0xFF, 0xE0)
	for len(data) < 300<<10 {
		data = append(data, marker...)
		data = append(data, bytes.Repeat([]byte{'x'}, 100)...)
	}
	scan := func(stage string) {
		t.Helper()
		files := 0
		err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files++
			if bytes.Contains(b, marker) {
				t.Errorf("%s: marker found in %s", stage, p)
			}
			if bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}) {
				t.Errorf("%s: JPEG magic at start of %s", stage, p)
			}
			if bytes.Contains(b, marker[:16]) || bytes.Contains(b, bytes.Repeat([]byte{'x'}, 32)) {
				t.Errorf("%s: plaintext fragment in %s", stage, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if files == 0 {
			t.Fatalf("%s: scanned no files", stage)
		}
	}
	// Mid-write: the temp file already holds several sealed chunks and a
	// partial chunk in memory.
	w, err := s.Create(kek)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data[:200<<10]); err != nil {
		t.Fatal(err)
	}
	scan("mid-write")
	if _, err := w.Write(data[200<<10:]); err != nil {
		t.Fatal(err)
	}
	ref, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, kek, data, 4096) // a second copy: equal plaintexts, different ciphertexts
	scan("after commit")
	if got := mustRead(t, s, ref, kek); !bytes.Equal(got, data) {
		t.Fatal("round trip differs")
	}
}

func TestSameContentDifferentCiphertext(t *testing.T) {
	s := newTestStore(t, 10)
	kek := testKEK(4)
	data := randBytes(3000, 1)
	a, b := put(t, s, kek, data, 0), put(t, s, kek, data, 0)
	fa, _ := os.ReadFile(s.Path(a.ID))
	fb, _ := os.ReadFile(s.Path(b.ID))
	if a.ID == b.ID || bytes.Equal(fa[headerLen:], fb[headerLen:]) || bytes.Equal(a.WrappedKey, b.WrappedKey) {
		t.Fatal("two blobs of the same content share an id, ciphertext or wrapped key")
	}
}

func TestWrongKEK(t *testing.T) {
	s := newTestStore(t, 10)
	kek, other := testKEK(5), testKEK(6)
	data := randBytes(5000, 2)
	ref := put(t, s, kek, data, 0)
	ref2 := put(t, s, kek, data, 0)

	sameIDWrongKey := other
	sameIDWrongKey.ID = kek.ID
	swapped := ref
	swapped.WrappedKey = ref2.WrappedKey // another blob's wrapped key
	flipped := ref
	flipped.WrappedKey = bytes.Clone(ref.WrappedKey)
	flipped.WrappedKey[20] ^= 1
	relabelled := ref
	relabelled.KeyID = other.ID // claims another key, opened with that id
	relabelledKEK := kek
	relabelledKEK.ID = other.ID
	short := ref
	short.WrappedKey = ref.WrappedKey[:40]

	cases := []struct {
		name string
		ref  Ref
		kek  KEK
	}{
		{"other kek", ref, other},
		{"right id wrong key", ref, sameIDWrongKey},
		{"wrapped key of another blob", swapped, kek},
		{"bit flip in wrapped key", flipped, kek},
		{"relabelled key id", relabelled, relabelledKEK},
		{"short wrapped key", short, kek},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := s.Open(tc.ref, tc.kek)
			if !errors.Is(err, ErrWrongKey) || r != nil {
				t.Fatalf("Open = %v, %v; want ErrWrongKey", r, err)
			}
			if strings.Contains(err.Error(), string(tc.kek.Key[:])) {
				t.Fatal("error leaks key bytes")
			}
		})
	}
	if _, err := s.Open(ref, KEK{ID: kek.ID}); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("zero key: %v", err)
	}
	if _, err := s.Create(KEK{Key: kek.Key}); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("Create with empty key id: %v", err)
	}
	if got := mustRead(t, s, ref, kek); !bytes.Equal(got, data) {
		t.Fatal("right key no longer reads")
	}
}

func TestRewrap(t *testing.T) {
	s := newTestStore(t, 10)
	oldK, newK := testKEK(7), testKEK(8)
	data := randBytes(4321, 3)
	ref := put(t, s, oldK, data, 0)
	before, _ := os.ReadFile(s.Path(ref.ID))
	fi0, _ := os.Stat(s.Path(ref.ID))

	nref, err := s.Rewrap(ref, oldK, newK)
	if err != nil {
		t.Fatal(err)
	}
	if nref.ID != ref.ID || nref.Size != ref.Size || nref.KeyID != newK.ID || bytes.Equal(nref.WrappedKey, ref.WrappedKey) {
		t.Fatalf("bad rewrapped ref %+v", nref)
	}
	if got := mustRead(t, s, nref, newK); !bytes.Equal(got, data) {
		t.Fatal("new key does not read")
	}
	if _, err := s.Open(nref, oldK); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("old key on new ref: %v", err)
	}
	forged := nref
	forged.KeyID = oldK.ID
	if _, err := s.Open(forged, oldK); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("old key on relabelled new ref: %v", err)
	}
	if _, err := s.Rewrap(ref, newK, oldK); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Rewrap with wrong from key: %v", err)
	}
	after, _ := os.ReadFile(s.Path(ref.ID))
	fi1, _ := os.Stat(s.Path(ref.ID))
	if !bytes.Equal(before, after) || !fi0.ModTime().Equal(fi1.ModTime()) {
		t.Fatal("Rewrap touched the blob file")
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	s := newTestStore(t, 10)
	kek := testKEK(9)
	w, err := s.Create(kek)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(randBytes(10000, 4)); err != nil {
		t.Fatal(err)
	}
	if n := countFiles(t, s.tmpDir); n != 1 {
		t.Fatalf("temp files while writing = %d, want 1", n)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("second Abort: %v", err)
	}
	if n := countFiles(t, s.root); n != 0 {
		t.Fatalf("%d files left after Abort", n)
	}
	if s.Exists(w.ID()) {
		t.Fatal("aborted blob exists")
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Abort: %v", err)
	}
	if _, err := w.Commit(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Commit after Abort: %v", err)
	}
}

func TestCommitThenAbortKeepsBlob(t *testing.T) {
	s := newTestStore(t, 10)
	kek := testKEK(10)
	w, err := s.Create(kek)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	ref, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Commit: %v", err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Commit: %v", err)
	}
	if got := mustRead(t, s, ref, kek); string(got) != "hello" {
		t.Fatalf("got %q", got)
	}
	if n := countFiles(t, s.tmpDir); n != 0 {
		t.Fatalf("%d temp files left after Commit", n)
	}
}

func TestCleanTmp(t *testing.T) {
	s := newTestStore(t, 10)
	kek := testKEK(11)
	// Two crash orphans (writers never finished), one old, one fresh.
	var orphans []*Writer
	for i := 0; i < 2; i++ {
		w, err := s.Create(kek)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(randBytes(3000, uint64(i))); err != nil {
			t.Fatal(err)
		}
		orphans = append(orphans, w)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(orphans[0].tmpPath, old, old); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(s.tmpDir, "upload-123.part")
	if err := os.WriteFile(foreign, []byte("not ours"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(foreign, old, old); err != nil {
		t.Fatal(err)
	}
	committed := put(t, s, kek, []byte("keep me"), 0)

	n, err := s.CleanTmp(time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("CleanTmp(1h) = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(orphans[0].tmpPath); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("old orphan survived")
	}
	if _, err := os.Stat(orphans[1].tmpPath); err != nil {
		t.Fatal("fresh temp file removed")
	}
	n, err = s.CleanTmp(0)
	if err != nil || n != 1 {
		t.Fatalf("CleanTmp(0) = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Fatal("CleanTmp removed a file it does not own")
	}
	if got := mustRead(t, s, committed, kek); string(got) != "keep me" {
		t.Fatal("committed blob damaged")
	}
	// The writer whose file vanished fails cleanly rather than committing.
	if _, err := orphans[1].Commit(); err == nil {
		t.Fatal("Commit succeeded after its temp file was removed")
	}
	if s.Exists(orphans[1].ID()) {
		t.Fatal("blob committed from a removed temp file")
	}
	_ = orphans[0].Abort()
}

func TestDeleteExistsWalk(t *testing.T) {
	s := newTestStore(t, 10)
	kek := testKEK(12)
	want := map[string]bool{}
	var refs []Ref
	for i := 0; i < 5; i++ {
		ref := put(t, s, kek, randBytes(i*700, uint64(i)), 0)
		refs = append(refs, ref)
		want[ref.ID] = true
		if !s.Exists(ref.ID) {
			t.Fatal("committed blob does not exist")
		}
	}
	// Stray files that Walk must ignore.
	_ = os.WriteFile(filepath.Join(s.blobsDir, "README"), []byte("x"), 0o600)
	_ = os.MkdirAll(filepath.Join(s.blobsDir, "zz", "00"), 0o700)
	_ = os.WriteFile(filepath.Join(s.blobsDir, "zz", "00", strings.Repeat("0", 32)), nil, 0o600)
	misplaced := strings.Repeat("ab", 16)
	_ = os.MkdirAll(filepath.Join(s.blobsDir, "00", "00"), 0o700)
	_ = os.WriteFile(filepath.Join(s.blobsDir, "00", "00", misplaced), nil, 0o600)

	got := map[string]bool{}
	err := s.Walk(func(id string, mt time.Time) error {
		if mt.IsZero() || time.Since(mt) > time.Hour {
			t.Errorf("odd modTime %v", mt)
		}
		got[id] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Walk found %d ids, want %d", len(got), len(want))
	}
	for id := range want {
		if !got[id] {
			t.Fatalf("Walk missed %s", id)
		}
	}
	stop := errors.New("stop")
	calls := 0
	if err := s.Walk(func(string, time.Time) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Walk error propagation: %v after %d calls", err, calls)
	}
	calls = 0
	if err := s.Walk(func(string, time.Time) error { calls++; return fs.SkipAll }); err != nil || calls != 1 {
		t.Fatalf("Walk SkipAll: %v after %d calls", err, calls)
	}

	if err := s.Delete(refs[0].ID); err != nil {
		t.Fatal(err)
	}
	if s.Exists(refs[0].ID) {
		t.Fatal("deleted blob exists")
	}
	if err := s.Delete(refs[0].ID); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if _, err := s.Open(refs[0], kek); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open deleted: %v", err)
	}
	if err := s.Delete("../../etc/passwd"); !errors.Is(err, ErrInvalidID) {
		t.Fatalf("Delete traversal id: %v", err)
	}
}

func TestIDsAndPaths(t *testing.T) {
	s := newTestStore(t, 10)
	for _, bad := range []string{"", "../" + strings.Repeat("a", 29), strings.Repeat("A", 32), strings.Repeat("a", 31),
		strings.Repeat("a", 33), strings.Repeat("g", 32), "aa/bb/" + strings.Repeat("a", 26), strings.Repeat("a", 31) + "\x00"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
		if s.Path(bad) != "" {
			t.Errorf("Path(%q) = %q", bad, s.Path(bad))
		}
		if s.Exists(bad) {
			t.Errorf("Exists(%q)", bad)
		}
		if _, err := s.Open(Ref{ID: bad}, testKEK(1)); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Open(%q): %v", bad, err)
		}
	}
	id := "0123456789abcdef0123456789abcdef"
	if !ValidID(id) {
		t.Fatal("valid id rejected")
	}
	if want := filepath.Join(s.root, "blobs", "01", "23", id); s.Path(id) != want {
		t.Fatalf("Path = %q, want %q", s.Path(id), want)
	}
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		id, err := newID(rand.Reader)
		if err != nil || !ValidID(id) || seen[id] {
			t.Fatalf("newID = %q, %v", id, err)
		}
		seen[id] = true
	}
}

func TestKeyID(t *testing.T) {
	var k [32]byte
	for i := range k {
		k[i] = byte(i)
	}
	// Independent vector: python3 hmac.new(bytes(range(32)), b"photovault key id v1", sha256).hexdigest()[:16]
	if got := KeyID(k); got != "834100ece6efcd55" {
		t.Fatalf("KeyID = %s", got)
	}
	k2 := k
	k2[31] ^= 1
	if KeyID(k2) == KeyID(k) {
		t.Fatal("different keys share an id")
	}
}

func TestOpenNotFound(t *testing.T) {
	s := newTestStore(t, 10)
	kek := testKEK(13)
	ref := put(t, s, kek, []byte("x"), 0)
	if err := os.Remove(s.Path(ref.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ref, kek); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open missing: %v", err)
	}
}

func TestNewCreatesDirs(t *testing.T) {
	root := filepath.Join(t.TempDir(), "data")
	tmp := filepath.Join(root, "tmp")
	if _, err := New(root, tmp); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{root, filepath.Join(root, "blobs"), tmp} {
		fi, err := os.Stat(d)
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Fatalf("%s: %v %v", d, fi, err)
		}
	}
	if _, err := New("", tmp); err == nil {
		t.Fatal("New with empty root succeeded")
	}
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
