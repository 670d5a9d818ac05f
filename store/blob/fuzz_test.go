package blob

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
)

// FuzzReader feeds arbitrary bytes to the reader as the ciphertext file of
// a blob. It must never panic, and it must never hand out bytes that are
// not the blob's genuine plaintext: any input other than the original file
// fails with ErrCorrupt, after at most a prefix of real plaintext.
func FuzzReader(f *testing.F) {
	s := deterministic(newTestStore(f, tExp), 40)
	kek := testKEK(40)
	plain := randBytes(2*1024+300, 40) // three chunks, the last partial
	ref := put(f, s, kek, plain, 0)
	path := s.Path(ref.ID)
	valid, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	other := put(f, s, kek, plain, 0)
	otherFile, _ := os.ReadFile(s.Path(other.ID))

	f.Add(valid)
	f.Add(otherFile)
	f.Add([]byte{})
	f.Add(valid[:headerLen])
	f.Add(valid[:headerLen+tagLen])
	f.Add(valid[:headerLen+ctChunk()])
	f.Add(valid[:len(valid)-1])
	f.Add(append(bytes.Clone(valid), 0))
	f.Add(append(bytes.Clone(valid[:headerLen+ctChunk()]), valid[headerLen:headerLen+ctChunk()]...))
	flipped := bytes.Clone(valid)
	flipped[headerLen+ctChunk()+5] ^= 1
	f.Add(flipped)
	f.Add(randBytes(5000, 1))

	f.Fuzz(func(t *testing.T, file []byte) {
		if err := os.WriteFile(path, file, 0o600); err != nil {
			t.Fatal(err)
		}
		refs := []Ref{ref}
		if size, err := plainSize(int64(len(file)), tExp); err == nil && size != ref.Size {
			r := ref
			r.Size = size // as if the database agreed with the tampered length
			refs = append(refs, r)
		}
		for _, rf := range refs {
			got, err := readAllErr(s, rf, kek)
			if bytes.Equal(file, valid) {
				if err != nil || !bytes.Equal(got, plain) {
					t.Fatalf("valid file: err=%v, %d bytes", err, len(got))
				}
				continue
			}
			if err == nil {
				t.Fatalf("tampered file read without error (%d bytes)", len(got))
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("tampered file: error %v does not wrap ErrCorrupt", err)
			}
			if len(got) > len(plain) || !bytes.Equal(got, plain[:len(got)]) {
				t.Fatalf("tampered file yielded %d bytes that are not plaintext", len(got))
			}
			// Random access must not do better: read the last chunk alone.
			r, err := s.Open(rf, kek)
			if err != nil {
				continue
			}
			p := make([]byte, 1024)
			off := max(rf.Size-1, 0)
			n, err := r.ReadAt(p, off)
			if err == nil || (err == io.EOF && n > 0 && !bytes.Equal(p[:n], plain[off:min(off+int64(n), int64(len(plain)))])) {
				_ = r.Close()
				t.Fatalf("ReadAt of last chunk of tampered file: n=%d err=%v", n, err)
			}
			_ = r.Close()
		}
	})
}

// FuzzRange checks arbitrary (offset, length) reads against the plaintext
// through ReadAt and through Seek+Read.
func FuzzRange(f *testing.F) {
	kek := testKEK(41)
	type blobCase struct {
		s     *Store
		ref   Ref
		plain []byte
	}
	var cases []blobCase
	for _, exp := range []uint8{tExp, defaultChunkExp} {
		s := deterministic(newTestStore(f, exp), exp)
		plain := randBytes(3<<exp+123, uint64(exp))
		cases = append(cases, blobCase{s, put(f, s, kek, plain, 0), plain})
	}
	for _, seed := range []struct {
		off int64
		n   uint32
	}{{0, 0}, {0, 1}, {0, 1 << 20}, {1023, 2}, {1024, 1024}, {65535, 2}, {65536, 65536}, {-1, 5}, {3*65536 + 122, 10}, {1 << 40, 1}, {-1 << 62, 1}} {
		f.Add(seed.off, seed.n)
	}
	f.Fuzz(func(t *testing.T, off int64, n uint32) {
		for _, c := range cases {
			r, err := c.s.Open(c.ref, kek)
			if err != nil {
				t.Fatal(err)
			}
			ln := int(n % uint32(4*r.chunk+10))
			if err := checkReadAt(r, c.plain, off, ln); err != nil {
				_ = r.Close()
				t.Fatal(err)
			}
			if off >= 0 {
				if _, err := r.Seek(off, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, ln)
				got, _ := io.ReadFull(r, buf)
				size := int64(len(c.plain))
				want := c.plain[min(off, size):min(off+int64(ln), size)]
				if got != len(want) || !bytes.Equal(buf[:got], want) {
					t.Fatalf("Seek(%d)+Read(%d): %d bytes, want %d", off, ln, got, len(want))
				}
			}
			_ = r.Close()
		}
	})
}
