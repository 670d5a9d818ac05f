package blob

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// checkReadAt compares r.ReadAt(len n at off) with the plaintext, following
// the io.ReaderAt contract. It returns a description of the first mismatch.
func checkReadAt(r *Reader, plain []byte, off int64, n int) error {
	p := make([]byte, n)
	got, err := r.ReadAt(p, off)
	size := int64(len(plain))
	switch {
	case off < 0:
		if err == nil || got != 0 {
			return fmt.Errorf("ReadAt(off=%d): n=%d err=%v, want error", off, got, err)
		}
		return nil
	case off >= size:
		if got != 0 || (n > 0 && err != io.EOF) {
			return fmt.Errorf("ReadAt(off=%d >= size): n=%d err=%v", off, got, err)
		}
		return nil
	}
	want := plain[off:min(off+int64(n), size)]
	if got != len(want) || !bytes.Equal(p[:got], want) {
		return fmt.Errorf("ReadAt(off=%d,n=%d): got %d bytes, want %d (or content differs)", off, n, got, len(want))
	}
	if got < n && err != io.EOF {
		return fmt.Errorf("ReadAt short read without io.EOF: %v", err)
	}
	if got == n && err != nil && err != io.EOF {
		return fmt.Errorf("ReadAt full read with error %v", err)
	}
	return nil
}

func TestRandomRanges(t *testing.T) {
	for _, exp := range []uint8{tExp, defaultChunkExp} {
		t.Run(fmt.Sprintf("chunk=%d", 1<<exp), func(t *testing.T) {
			s := newTestStore(t, exp)
			kek := testKEK(30)
			chunk := 1 << exp
			plain := randBytes(4*chunk+777, uint64(exp))
			ref := put(t, s, kek, plain, 0)
			r, err := s.Open(ref, kek)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = r.Close() }()
			size := int64(len(plain))
			rng := rand.New(rand.NewPCG(42, uint64(exp)))
			for i := 0; i < 300; i++ {
				// Mix offsets near chunk boundaries with uniform ones.
				var off int64
				if rng.IntN(2) == 0 {
					off = int64(rng.IntN(5))*int64(chunk) + int64(rng.IntN(5)) - 2
				} else {
					off = rng.Int64N(size+10) - 2
				}
				n := rng.IntN(3 * chunk)
				if rng.IntN(4) == 0 {
					n = rng.IntN(20)
				}
				if err := checkReadAt(r, plain, off, n); err != nil {
					t.Fatal(err)
				}

				// Seek + Read from the same place.
				if off < 0 {
					if _, err := r.Seek(off, io.SeekStart); err == nil {
						t.Fatal("negative Seek accepted")
					}
					continue
				}
				var pos int64
				switch rng.IntN(3) {
				case 0:
					pos, err = r.Seek(off, io.SeekStart)
				case 1:
					cur, _ := r.Seek(0, io.SeekCurrent)
					pos, err = r.Seek(off-cur, io.SeekCurrent)
				default:
					pos, err = r.Seek(off-size, io.SeekEnd)
				}
				if err != nil || pos != off {
					t.Fatalf("Seek to %d: %d, %v", off, pos, err)
				}
				buf := make([]byte, n)
				got, err := io.ReadFull(r, buf)
				want := plain[min(off, size):min(off+int64(n), size)]
				if got != len(want) || !bytes.Equal(buf[:got], want) {
					t.Fatalf("Seek(%d)+Read(%d): got %d bytes, want %d", off, n, got, len(want))
				}
				if got < n && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
					t.Fatalf("short Read error %v", err)
				}
			}
		})
	}
}

func TestConcurrentReadAt(t *testing.T) {
	s := newTestStore(t, tExp)
	kek := testKEK(31)
	plain := randBytes(20*1024+3, 77)
	ref := put(t, s, kek, plain, 0)
	r, err := s.Open(ref, kek)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for i := 0; i < 100; i++ {
				off := rng.Int64N(int64(len(plain)))
				if err := checkReadAt(r, plain, off, rng.IntN(4000)); err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

// TestServeContent serves a blob with net/http.ServeContent, the way the
// media handlers do, and checks Range answers.
func TestServeContent(t *testing.T) {
	s := newTestStore(t, defaultChunkExp)
	kek := testKEK(32)
	plain := randBytes(3*65536+5, 11)
	ref := put(t, s, kek, plain, 0)
	size := len(plain)
	cases := []struct {
		rng        string
		status     int
		start, end int // inclusive
	}{
		{"", http.StatusOK, 0, size - 1},
		{"bytes=0-0", http.StatusPartialContent, 0, 0},
		{"bytes=100-70000", http.StatusPartialContent, 100, 70000},
		{"bytes=65536-131071", http.StatusPartialContent, 65536, 131071},
		{"bytes=-500", http.StatusPartialContent, size - 500, size - 1},
		{"bytes=196000-", http.StatusPartialContent, 196000, size - 1},
		{"bytes=" + strconv.Itoa(size) + "-", http.StatusRequestedRangeNotSatisfiable, 0, -1},
	}
	for _, tc := range cases {
		t.Run(tc.rng, func(t *testing.T) {
			r, err := s.Open(ref, kek)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = r.Close() }()
			req := httptest.NewRequest(http.MethodGet, "/media", nil)
			if tc.rng != "" {
				req.Header.Set("Range", tc.rng)
			}
			rec := httptest.NewRecorder()
			http.ServeContent(rec, req, "photo.jpg", time.Unix(1700000000, 0), r)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if tc.end < tc.start {
				return
			}
			if !bytes.Equal(rec.Body.Bytes(), plain[tc.start:tc.end+1]) {
				t.Fatalf("body differs: got %d bytes, want %d", rec.Body.Len(), tc.end-tc.start+1)
			}
			if tc.status == http.StatusPartialContent {
				want := fmt.Sprintf("bytes %d-%d/%d", tc.start, tc.end, size)
				if got := rec.Header().Get("Content-Range"); got != want {
					t.Fatalf("Content-Range %q, want %q", got, want)
				}
			}
		})
	}
}

// TestNoPerChunkAllocations: steady-state writing and reading reuse their
// buffers, so memory does not grow with the number of chunks.
func TestNoPerChunkAllocations(t *testing.T) {
	s := newTestStore(t, tExp)
	kek := testKEK(33)
	w, err := s.Create(kek)
	if err != nil {
		t.Fatal(err)
	}
	chunk := randBytes(1024, 3)
	if a := testing.AllocsPerRun(200, func() { _, _ = w.Write(chunk) }); a != 0 {
		t.Fatalf("Write allocates %.1f times per chunk", a)
	}
	ref, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ref, kek)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	p := make([]byte, 1024)
	var off int64
	if a := testing.AllocsPerRun(150, func() {
		if _, err := r.ReadAt(p, off); err != nil {
			t.Fatal(err)
		}
		off += 1024
	}); a != 0 {
		t.Fatalf("ReadAt allocates %.1f times per chunk", a)
	}
}
