package blob

import (
	"crypto/cipher"
	"io"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

const benchSize = 64 << 20

// BenchmarkWrite streams 64 MiB through a Writer in 32 KiB writes (what
// io.Copy does) and commits it, fsyncs included; with early writeback
// (the default) and without it, for comparison.
func BenchmarkWrite(b *testing.B) {
	for _, wb := range []struct {
		name  string
		every int64
	}{{"Writeback4M", defaultWriteback}, {"Writeback1M", 1 << 20}, {"NoWriteback", 0}} {
		b.Run(wb.name, func(b *testing.B) {
			s := newTestStore(b, defaultChunkExp)
			s.writeback = wb.every
			benchWrite(b, s, true)
		})
	}
	// StreamOnly leaves out Commit (fsync, rename): encryption plus write(2)
	// into the page cache, the part that is CPU-bound.
	b.Run("StreamOnly", func(b *testing.B) {
		benchWrite(b, newTestStore(b, defaultChunkExp), false)
	})
}

func benchWrite(b *testing.B, s *Store, commit bool) {
	kek := testKEK(60)
	src := randBytes(32<<10, 60)
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		w, err := s.Create(kek)
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; n < benchSize; n += len(src) {
			if _, err := w.Write(src); err != nil {
				b.Fatal(err)
			}
		}
		if !commit {
			b.StopTimer()
			_ = w.Abort()
			b.StartTimer()
			continue
		}
		ref, err := w.Commit()
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = s.Delete(ref.ID)
		b.StartTimer()
	}
}

// BenchmarkRead decrypts a 64 MiB blob: WriteTo is the io.Copy path,
// Read32K the path of http.ServeContent (io.CopyN through a LimitReader).
func BenchmarkRead(b *testing.B) {
	s := newTestStore(b, defaultChunkExp)
	kek := testKEK(61)
	w, err := s.Create(kek)
	if err != nil {
		b.Fatal(err)
	}
	src := randBytes(1<<20, 61)
	for n := 0; n < benchSize; n += len(src) {
		if _, err := w.Write(src); err != nil {
			b.Fatal(err)
		}
	}
	ref, err := w.Commit()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("WriteTo", func(b *testing.B) {
		b.SetBytes(benchSize)
		b.ReportAllocs()
		for b.Loop() {
			r, err := s.Open(ref, kek)
			if err != nil {
				b.Fatal(err)
			}
			if n, err := io.Copy(io.Discard, r); err != nil || n != benchSize {
				b.Fatal(n, err)
			}
			_ = r.Close()
		}
	})
	b.Run("Read32K", func(b *testing.B) {
		b.SetBytes(benchSize)
		b.ReportAllocs()
		buf := make([]byte, 32<<10)
		for b.Loop() {
			r, err := s.Open(ref, kek)
			if err != nil {
				b.Fatal(err)
			}
			if n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, io.LimitReader(r, benchSize), buf); err != nil || n != benchSize {
				b.Fatal(n, err)
			}
			_ = r.Close()
		}
	})
}

// BenchmarkSeal compares the two candidate AEADs on one 64 KiB chunk; it
// is the measurement behind choosing AES-256-GCM (see doc.go).
func BenchmarkSeal(b *testing.B) {
	var key [32]byte
	key[0] = 1
	gcm, err := newGCM(key[:])
	if err != nil {
		b.Fatal(err)
	}
	xc, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		b.Fatal(err)
	}
	pt := randBytes(64<<10, 62)
	ad := make([]byte, headerLen)
	for _, c := range []struct {
		name string
		aead cipher.AEAD
	}{{"AES-256-GCM", gcm}, {"XChaCha20-Poly1305", xc}} {
		b.Run(c.name, func(b *testing.B) {
			nonce := make([]byte, c.aead.NonceSize())
			dst := make([]byte, 0, len(pt)+c.aead.Overhead())
			b.SetBytes(int64(len(pt)))
			b.ReportAllocs()
			for b.Loop() {
				nonce[len(nonce)-2]++
				dst = c.aead.Seal(dst[:0], nonce, pt, ad)
			}
		})
	}
}
