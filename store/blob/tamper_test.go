package blob

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
)

const tExp = 10 // 1 KiB chunks: many chunk boundaries in small files

func ctChunk() int { return 1<<tExp + tagLen }

func chunkAt(b []byte, i int) []byte {
	off := headerLen + i*ctChunk()
	return b[off:min(off+ctChunk(), len(b))]
}

// refFor returns ref with Size recomputed from the file as it now is, so
// the chunk-level checks are exercised rather than the Ref.Size check.
func refFor(t *testing.T, s *Store, ref Ref) Ref {
	t.Helper()
	fi, err := os.Stat(s.Path(ref.ID))
	if err != nil {
		t.Fatal(err)
	}
	size, err := plainSize(fi.Size(), tExp)
	if err != nil {
		return ref // no size fits this length: Open rejects it outright
	}
	ref.Size = size
	return ref
}

func TestTamperSingleFile(t *testing.T) {
	kek := testKEK(20)
	for _, plainLen := range []int{5*1024 + 512, 6 * 1024} { // partial and full last chunk
		plain := randBytes(plainLen, uint64(plainLen))
		cases := []struct {
			name       string
			mutate     func(b []byte) []byte
			adjustSize bool // present a Ref whose Size matches the tampered file
		}{
			{"flip magic", func(b []byte) []byte { b[0] ^= 1; return b }, false},
			{"flip version", func(b []byte) []byte { b[4] ^= 3; return b }, false},
			{"chunk exponent 11", func(b []byte) []byte { b[5] = 11; return b }, true},
			{"flip nonce prefix", func(b []byte) []byte { b[7] ^= 0x80; return b }, false},
			{"flip header id", func(b []byte) []byte { b[headerLen-1] ^= 1; return b }, false},
			{"flip first body byte", func(b []byte) []byte { b[headerLen] ^= 1; return b }, false},
			{"flip middle chunk", func(b []byte) []byte { chunkAt(b, 2)[100] ^= 0x10; return b }, false},
			{"flip tag of last chunk", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, false},
			{"truncate last chunk, ref size kept", func(b []byte) []byte { return b[:headerLen+5*ctChunk()] }, false},
			{"truncate last chunk (flag check)", func(b []byte) []byte { return b[:headerLen+5*ctChunk()] }, true},
			{"truncate to first chunk (flag check)", func(b []byte) []byte { return b[:headerLen+ctChunk()] }, true},
			{"truncate mid chunk", func(b []byte) []byte { return b[:len(b)-5] }, true},
			{"truncate to header", func(b []byte) []byte { return b[:headerLen] }, false},
			{"empty file", func(b []byte) []byte { return b[:0] }, false},
			{"append copy of last chunk", func(b []byte) []byte {
				return append(b, bytes.Clone(chunkAt(b, 5))...)
			}, true},
			{"append copy of first chunk", func(b []byte) []byte {
				return append(b, bytes.Clone(chunkAt(b, 0))...)
			}, true},
			{"append one byte", func(b []byte) []byte { return append(b, 0) }, true},
			{"swap chunks 0 and 1", func(b []byte) []byte {
				c0, c1 := bytes.Clone(chunkAt(b, 0)), bytes.Clone(chunkAt(b, 1))
				copy(chunkAt(b, 0), c1)
				copy(chunkAt(b, 1), c0)
				return b
			}, false},
			{"duplicate chunk 1 over chunk 2", func(b []byte) []byte {
				copy(chunkAt(b, 2), bytes.Clone(chunkAt(b, 1)))
				return b
			}, false},
			{"drop middle chunk", func(b []byte) []byte {
				return append(b[:headerLen+2*ctChunk()], bytes.Clone(b[headerLen+3*ctChunk():])...)
			}, true},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				s := newTestStore(t, tExp)
				ref := put(t, s, kek, plain, 0)
				b, err := os.ReadFile(s.Path(ref.ID))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(s.Path(ref.ID), tc.mutate(b), 0o600); err != nil {
					t.Fatal(err)
				}
				r := ref
				if tc.adjustSize {
					r = refFor(t, s, ref)
				}
				wantCorrupt(t, s, r, kek, plain)
			})
		}
	}
}

// TestTamperFlagFlip re-seals chunks with the real data key but the wrong
// last-chunk flag: only the flag differs, and it must still be rejected.
func TestTamperFlagFlip(t *testing.T) {
	kek := testKEK(21)
	plain := randBytes(3*1024+100, 9)
	reseal := func(t *testing.T, s *Store, ref Ref, idx int, last bool) {
		t.Helper()
		var dk [32]byte
		if err := unwrapKey(kek, ref, &dk); err != nil {
			t.Fatal(err)
		}
		aead, err := newGCM(dk[:])
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(s.Path(ref.ID))
		hdr, err := parseHeader(b[:headerLen], ref.ID)
		if err != nil {
			t.Fatal(err)
		}
		var nonce [nonceLen]byte
		chunkNonce(&nonce, &hdr.prefix, uint32(idx), last)
		lo := idx * 1024
		hi := min(lo+1024, len(plain))
		ct := aead.Seal(nil, nonce[:], plain[lo:hi], hdr.raw[:])
		copy(chunkAt(b, idx), ct)
		if err := os.WriteFile(s.Path(ref.ID), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("control: same flag re-sealed reads", func(t *testing.T) {
		s := newTestStore(t, tExp)
		ref := put(t, s, kek, plain, 0)
		reseal(t, s, ref, 3, true)
		if got := mustRead(t, s, ref, kek); !bytes.Equal(got, plain) {
			t.Fatal("control re-seal broke the blob")
		}
	})
	t.Run("last chunk sealed as middle", func(t *testing.T) {
		s := newTestStore(t, tExp)
		ref := put(t, s, kek, plain, 0)
		reseal(t, s, ref, 3, false)
		wantCorrupt(t, s, ref, kek, plain)
	})
	t.Run("middle chunk sealed as last", func(t *testing.T) {
		s := newTestStore(t, tExp)
		ref := put(t, s, kek, plain, 0)
		reseal(t, s, ref, 1, true)
		wantCorrupt(t, s, ref, kek, plain)
	})
}

// TestTamperAcrossBlobs presents ciphertext of blob A as blob B.
func TestTamperAcrossBlobs(t *testing.T) {
	kek := testKEK(22)
	pa, pb := randBytes(4000, 1), randBytes(4000, 2)
	setup := func(t *testing.T) (*Store, Ref, Ref, []byte, []byte) {
		s := newTestStore(t, tExp)
		a, b := put(t, s, kek, pa, 0), put(t, s, kek, pb, 0)
		fa, _ := os.ReadFile(s.Path(a.ID))
		fb, _ := os.ReadFile(s.Path(b.ID))
		return s, a, b, fa, fb
	}
	t.Run("whole file of A at B's path", func(t *testing.T) {
		s, _, b, fa, _ := setup(t)
		_ = os.WriteFile(s.Path(b.ID), fa, 0o600)
		wantCorrupt(t, s, b, kek, pb)
	})
	t.Run("file of A with header rewritten to B", func(t *testing.T) {
		s, _, b, fa, fb := setup(t)
		copy(fa[:headerLen], fb[:headerLen])
		_ = os.WriteFile(s.Path(b.ID), fa, 0o600)
		wantCorrupt(t, s, b, kek, pb)
	})
	t.Run("file of A with only the id rewritten to B", func(t *testing.T) {
		s, _, b, fa, fb := setup(t)
		copy(fa[headerLen-idBytes:headerLen], fb[headerLen-idBytes:headerLen])
		_ = os.WriteFile(s.Path(b.ID), fa, 0o600)
		wantCorrupt(t, s, b, kek, pb)
	})
	t.Run("chunk 1 of A spliced into B", func(t *testing.T) {
		s, _, b, fa, fb := setup(t)
		copy(chunkAt(fb, 1), chunkAt(fa, 1))
		_ = os.WriteFile(s.Path(b.ID), fb, 0o600)
		wantCorrupt(t, s, b, kek, pb)
	})
	t.Run("A's ref and key pointed at B's file", func(t *testing.T) {
		s, a, b, _, fb := setup(t)
		_ = os.WriteFile(s.Path(a.ID), fb, 0o600)
		_ = b
		wantCorrupt(t, s, a, kek, pa)
	})
}

// TestRangeReadsAuthenticateOnlyWhatTheyReturn checks that range reads
// decrypt only the chunks they cover and never hand out bytes of a chunk
// that failed authentication.
func TestRangeReadsAuthenticateOnlyWhatTheyReturn(t *testing.T) {
	kek := testKEK(23)
	plain := randBytes(8*1024, 5) // 8 chunks of 1 KiB
	s := newTestStore(t, tExp)
	ref := put(t, s, kek, plain, 0)
	b, _ := os.ReadFile(s.Path(ref.ID))
	chunkAt(b, 3)[500] ^= 1
	_ = os.WriteFile(s.Path(ref.ID), b, 0o600)

	r, err := s.Open(ref, kek)
	if err != nil {
		t.Fatalf("Open must not decrypt eagerly: %v", err)
	}
	defer func() { _ = r.Close() }()

	// A range inside chunks 5..6 decrypts exactly those two chunks.
	p := make([]byte, 1500)
	if n, err := r.ReadAt(p, 5*1024+100); n != len(p) || err != nil || !bytes.Equal(p, plain[5*1024+100:5*1024+1600]) {
		t.Fatalf("ReadAt clean range: n=%d err=%v", n, err)
	}
	if r.decrypted != 2 {
		t.Fatalf("decrypted %d chunks for a 2-chunk range", r.decrypted)
	}
	// A range over chunks 2..4 stops before the bad chunk 3.
	p = make([]byte, 2500)
	n, err := r.ReadAt(p, 2*1024+10)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadAt over bad chunk: %v", err)
	}
	if n != 1024-10 || !bytes.Equal(p[:n], plain[2*1024+10:3*1024]) {
		t.Fatalf("ReadAt returned %d bytes, want the %d authentic ones", n, 1024-10)
	}
	if !bytes.Equal(p[n:], make([]byte, len(p)-n)) {
		t.Fatal("bytes of the unauthenticated chunk reached the caller's buffer")
	}
	// Sequential reads stop at the bad chunk too.
	if _, err := r.Seek(3*1024-1, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	one := make([]byte, 10)
	// The authentic byte comes back together with the error (io.Reader
	// allows n > 0 with an error; callers use the n bytes first).
	if n, err := r.Read(one); n != 1 || !errors.Is(err, ErrCorrupt) || one[0] != plain[3*1024-1] {
		t.Fatalf("Read up to the bad chunk: n=%d err=%v", n, err)
	}
	if n, err := r.Read(one); n != 0 || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Read of the bad chunk: n=%d err=%v", n, err)
	}
	var sink bytes.Buffer
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if n, err := r.WriteTo(&sink); !errors.Is(err, ErrCorrupt) || n != 3*1024 || !bytes.Equal(sink.Bytes(), plain[:3*1024]) {
		t.Fatalf("WriteTo over bad chunk: n=%d err=%v", n, err)
	}
}

// TestTamperEmptyBlob: an empty blob still has one authenticated chunk, so
// end of stream is reported only for the genuine file.
func TestTamperEmptyBlob(t *testing.T) {
	kek := testKEK(24)
	s := newTestStore(t, tExp)
	ref := put(t, s, kek, nil, 0)
	if got := mustRead(t, s, ref, kek); len(got) != 0 {
		t.Fatal("empty blob read back non-empty")
	}
	b, _ := os.ReadFile(s.Path(ref.ID))
	b[len(b)-1] ^= 1
	_ = os.WriteFile(s.Path(ref.ID), b, 0o600)
	wantCorrupt(t, s, ref, kek, nil)
	r, err := s.Open(ref, kek)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	if _, err := r.ReadAt(make([]byte, 1), 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadAt on tampered empty blob: %v", err)
	}
	var sink bytes.Buffer
	if _, err := r.WriteTo(&sink); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("WriteTo on tampered empty blob: %v", err)
	}
}
