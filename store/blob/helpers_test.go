package blob

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// testKEK returns a deterministic KEK whose id is KeyID(key).
func testKEK(seed byte) KEK {
	var k [32]byte
	for i := range k {
		k[i] = seed + byte(i)*7 + 1
	}
	return KEK{ID: KeyID(k), Key: k}
}

// newTestStore returns a store in a fresh temp dir with 2^exp-byte chunks.
func newTestStore(t testing.TB, exp uint8) *Store {
	t.Helper()
	root := t.TempDir()
	s, err := newStore(root, filepath.Join(root, "tmp"), exp)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// deterministic makes s draw ids, data keys and nonces from a seeded
// stream, so fuzz targets behave identically in every fuzzing process.
func deterministic(s *Store, seed byte) *Store {
	var k [32]byte
	k[0] = seed
	s.random = rand.NewChaCha8(k)
	return s
}

// randBytes returns n deterministic pseudo-random bytes.
func randBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// put writes data as a new blob in pieces of step bytes (all at once when
// step <= 0) and commits it.
func put(t testing.TB, s *Store, kek KEK, data []byte, step int) Ref {
	t.Helper()
	w, err := s.Create(kek)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Abort() }()
	if step <= 0 {
		step = len(data) + 1
	}
	for p := data; len(p) > 0; {
		n := min(step, len(p))
		m, err := w.Write(p[:n])
		if err != nil || m != n {
			t.Fatalf("write: %d, %v", m, err)
		}
		p = p[n:]
	}
	if w.Written() != int64(len(data)) {
		t.Fatalf("Written = %d, want %d", w.Written(), len(data))
	}
	ref, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// readAllErr opens ref and reads it to the end, returning what was read.
func readAllErr(s *Store, ref Ref, kek KEK) ([]byte, error) {
	r, err := s.Open(ref, kek)
	if err != nil {
		return nil, err
	}
	defer func() { _ = r.Close() }()
	return io.ReadAll(r)
}

// mustRead reads ref and fails the test on error.
func mustRead(t testing.TB, s *Store, ref Ref, kek KEK) []byte {
	t.Helper()
	b, err := readAllErr(s, ref, kek)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantCorrupt asserts that reading ref fails with ErrCorrupt and that any
// bytes handed out before the failure are genuine plaintext.
func wantCorrupt(t *testing.T, s *Store, ref Ref, kek KEK, plain []byte) {
	t.Helper()
	got, err := readAllErr(s, ref, kek)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
	if len(got) > len(plain) || !bytes.Equal(got, plain[:len(got)]) {
		t.Fatalf("returned %d bytes that are not the plaintext prefix", len(got))
	}
}
