package blob

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// smallLimits gives read-aheads of 4 KiB blocks (four 1 KiB chunks) in a
// ring of two, started with 8 KiB left, so small blobs cross many blocks.
func smallLimits(slots int) *readAheadLimits {
	return newReadAheadLimits(slots, 8<<10, 4<<10, 2)
}

// defaultLimits are the production sizes in limits of their own, so tests
// do not depend on (or disturb) the process-wide slots.
func defaultLimits() *readAheadLimits {
	return newReadAheadLimits(maxReadAheads, readAheadMinRemain, readAheadBlock, readAheadDepth)
}

// openWith opens ref and makes the reader use lim; Close runs at cleanup.
func openWith(t *testing.T, s *Store, ref Ref, kek KEK, lim *readAheadLimits) *Reader {
	t.Helper()
	r, err := s.Open(ref, kek)
	if err != nil {
		t.Fatal(err)
	}
	r.lim = lim
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// readPieces reads r to the end or the first error in reads of step
// bytes, as http.ServeContent does with 32 KiB.
func readPieces(r io.Reader, step int) ([]byte, error) {
	var out []byte
	p := make([]byte, step)
	for {
		n, err := r.Read(p)
		out = append(out, p[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// waitSlotsFree waits until every slot of lim is released.
func waitSlotsFree(t *testing.T, lim *readAheadLimits) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(lim.slots) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d read-ahead slots still held", len(lim.slots))
		}
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
}

// waitGoroutines waits until no more than want goroutines run.
func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, want at most %d: leak", runtime.NumGoroutine(), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestReadAheadSequentialMultiMiB(t *testing.T) {
	kek := testKEK(70)
	s := newTestStore(t, defaultChunkExp)
	plain := randBytes(9<<20+123, 70)
	ref := put(t, s, kek, plain, 0)

	t.Run("Read32K", func(t *testing.T) {
		lim := defaultLimits()
		r := openWith(t, s, ref, kek, lim)
		got, err := readPieces(r, 32<<10)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("read %d bytes (want %d), err %v", len(got), len(plain), err)
		}
		if lim.started.Load() != 1 {
			t.Fatalf("read-aheads started = %d, want 1", lim.started.Load())
		}
		if r.ra != nil || len(lim.slots) != 0 {
			t.Fatal("read-ahead still held at the end of the blob")
		}
	})
	t.Run("WriteTo", func(t *testing.T) {
		lim := defaultLimits()
		r := openWith(t, s, ref, kek, lim)
		var buf bytes.Buffer
		n, err := io.Copy(&buf, r)
		if err != nil || n != int64(len(plain)) || !bytes.Equal(buf.Bytes(), plain) {
			t.Fatalf("copied %d, err %v", n, err)
		}
		if lim.started.Load() != 1 || len(lim.slots) != 0 {
			t.Fatalf("started %d, slots held %d", lim.started.Load(), len(lim.slots))
		}
	})
	t.Run("SmallRemainderStaysSynchronous", func(t *testing.T) {
		lim := defaultLimits()
		r := openWith(t, s, ref, kek, lim)
		if _, err := r.Seek(int64(len(plain))-3<<20, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got, err := readPieces(r, 32<<10)
		if err != nil || !bytes.Equal(got, plain[len(plain)-3<<20:]) {
			t.Fatalf("read %d bytes, err %v", len(got), err)
		}
		if lim.started.Load() != 0 {
			t.Fatal("read-ahead started with less than 4 MiB left")
		}
	})
}

func TestReadAheadReadSizes(t *testing.T) {
	kek := testKEK(71)
	s := newTestStore(t, tExp)
	plain := randBytes(300*1024+7, 71)
	ref := put(t, s, kek, plain, 0)
	for _, step := range []int{1, 700, 1024, 1025, 5000, 64 << 10, 100_000} {
		t.Run(fmt.Sprint(step), func(t *testing.T) {
			lim := smallLimits(2)
			r := openWith(t, s, ref, kek, lim)
			got, err := readPieces(r, step)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("read %d bytes (want %d), err %v", len(got), len(plain), err)
			}
			if lim.started.Load() != 1 {
				t.Fatalf("read-aheads started = %d, want 1", lim.started.Load())
			}
			if !r.endOK {
				t.Fatal("EOF without the last chunk authenticated")
			}
		})
	}
}

func TestReadAheadSeekBackMidStream(t *testing.T) {
	kek := testKEK(72)
	s := newTestStore(t, tExp)
	plain := randBytes(200*1024+5, 72)
	ref := put(t, s, kek, plain, 0)
	lim := smallLimits(2)
	r := openWith(t, s, ref, kek, lim)

	p := make([]byte, 100*1024)
	for off := 0; off < len(p); off += 1000 {
		if n, err := r.Read(p[off:min(off+1000, len(p))]); err != nil || n == 0 {
			t.Fatalf("read: %d, %v", n, err)
		}
	}
	if !bytes.Equal(p, plain[:len(p)]) || r.ra == nil {
		t.Fatalf("sequential prefix wrong or no read-ahead (ra=%v)", r.ra != nil)
	}
	ra := r.ra
	// Seeking to where we are keeps the read-ahead.
	if pos, err := r.Seek(0, io.SeekCurrent); err != nil || pos != int64(len(p)) || r.ra != ra {
		t.Fatalf("Seek(0, SeekCurrent) = %d, %v; read-ahead kept: %v", pos, err, r.ra == ra)
	}
	// A ReadAt at the current position keeps it, and does not move it.
	q := make([]byte, 3000)
	if n, err := r.ReadAt(q, int64(len(p))); n != len(q) || err != nil || !bytes.Equal(q, plain[len(p):len(p)+len(q)]) || r.ra != ra {
		t.Fatalf("ReadAt at position: %d, %v", n, err)
	}
	// Seeking back stops it; the goroutine has exited when Seek returns.
	if _, err := r.Seek(10*1024+3, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if r.ra != nil {
		t.Fatal("read-ahead survived a seek back")
	}
	select {
	case <-ra.done:
	default:
		t.Fatal("read-ahead goroutine still running after Seek")
	}
	got, err := readPieces(r, 777)
	if err != nil || !bytes.Equal(got, plain[10*1024+3:]) {
		t.Fatalf("after seek back: %d bytes, %v", len(got), err)
	}
	if lim.started.Load() != 2 {
		t.Fatalf("read-aheads started = %d, want 2 (restarted after the seek)", lim.started.Load())
	}

	// A ReadAt elsewhere stops a running read-ahead; reads go on correctly.
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := readPieces(io.LimitReader(r, 50*1024), 1000); err != nil || r.ra == nil {
		t.Fatalf("read: %v, read-ahead running: %v", err, r.ra != nil)
	}
	if n, err := r.ReadAt(q, 1); n != len(q) || err != nil || !bytes.Equal(q, plain[1:1+len(q)]) {
		t.Fatalf("ReadAt elsewhere: %d, %v", n, err)
	}
	if r.ra != nil {
		t.Fatal("read-ahead survived a ReadAt elsewhere")
	}
	got, err = readPieces(r, 4096)
	if err != nil || !bytes.Equal(got, plain[50*1024:]) {
		t.Fatalf("after ReadAt: %d bytes, %v", len(got), err)
	}
}

// flipChunk flips one ciphertext bit in chunk i of ref's file.
func flipChunk(t *testing.T, s *Store, ref Ref, i int) {
	t.Helper()
	b, err := os.ReadFile(s.Path(ref.ID))
	if err != nil {
		t.Fatal(err)
	}
	chunkAt(b, i)[100] ^= 1
	if err := os.WriteFile(s.Path(ref.ID), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestReadAheadCorruptChunkFarAhead(t *testing.T) {
	kek := testKEK(73)
	s := newTestStore(t, tExp)
	const chunks = 300
	plain := randBytes(chunks*1024-10, 73)
	ref := put(t, s, kek, plain, 0)
	for _, bad := range []int{200, chunks - 1} {
		t.Run(fmt.Sprintf("chunk%d", bad), func(t *testing.T) {
			s2 := newTestStore(t, tExp)
			ref2 := put(t, s2, kek, plain, 0)
			flipChunk(t, s2, ref2, bad)
			want := bad * 1024
			wantMsg := fmt.Sprintf("chunk %d fails authentication", bad)
			for _, step := range []int{700, 32 << 10} {
				lim := smallLimits(2)
				r := openWith(t, s2, ref2, kek, lim)
				got, err := readPieces(r, step)
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), wantMsg) {
					t.Fatalf("step %d: err = %v, want ErrCorrupt at chunk %d", step, err, bad)
				}
				if len(got) != want || !bytes.Equal(got, plain[:want]) {
					t.Fatalf("step %d: delivered %d bytes, want exactly the %d before the bad chunk", step, len(got), want)
				}
				if lim.started.Load() == 0 {
					t.Fatal("read-ahead never ran")
				}
				if r.ra != nil || len(lim.slots) != 0 {
					t.Fatal("read-ahead still held after the error")
				}
				// The error stays where it is: reading again fails again, no bytes.
				if n, err := r.Read(make([]byte, 10)); n != 0 || !errors.Is(err, ErrCorrupt) {
					t.Fatalf("read after error: %d, %v", n, err)
				}
				if r.endOK {
					t.Fatal("end of stream accepted although a chunk failed")
				}
			}
			// WriteTo stops at the same place.
			lim := smallLimits(2)
			r := openWith(t, s2, ref2, kek, lim)
			var buf bytes.Buffer
			n, err := io.Copy(&buf, r)
			if !errors.Is(err, ErrCorrupt) || n != int64(want) || !bytes.Equal(buf.Bytes(), plain[:want]) {
				t.Fatalf("WriteTo: %d bytes, %v", n, err)
			}
			if lim.started.Load() != 1 {
				t.Fatal("WriteTo did not use the read-ahead")
			}
		})
	}
	// The untouched blob still reads in full.
	if got := mustRead(t, s, ref, kek); !bytes.Equal(got, plain) {
		t.Fatal("clean blob differs")
	}
}

func TestReadAheadFileShrinksWhileOpen(t *testing.T) {
	kek := testKEK(74)
	s := newTestStore(t, tExp)
	plain := randBytes(300*1024, 74)
	ref := put(t, s, kek, plain, 0)
	lim := smallLimits(2)
	r := openWith(t, s, ref, kek, lim)
	// Open has checked the size; now cut the file inside chunk 150.
	if err := os.Truncate(s.Path(ref.ID), int64(headerLen+150*ctChunk()+500)); err != nil {
		t.Fatal(err)
	}
	got, err := readPieces(r, 1000)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "shrank") {
		t.Fatalf("err = %v, want ErrCorrupt (file shrank)", err)
	}
	if len(got) != 150*1024 || !bytes.Equal(got, plain[:150*1024]) {
		t.Fatalf("delivered %d bytes, want the %d before the cut chunk", len(got), 150*1024)
	}
	if lim.started.Load() == 0 {
		t.Fatal("read-ahead never ran")
	}
}

func TestReadAheadCloseLeavesNoGoroutine(t *testing.T) {
	kek := testKEK(75)
	s := newTestStore(t, tExp)
	plain := randBytes(400*1024, 75)
	ref := put(t, s, kek, plain, 0)
	lim := smallLimits(4)
	base := runtime.NumGoroutine()
	for round := range 3 {
		r, err := s.Open(ref, kek)
		if err != nil {
			t.Fatal(err)
		}
		r.lim = lim
		p := make([]byte, 1500)
		for range 2 + round {
			if _, err := r.Read(p); err != nil {
				t.Fatal(err)
			}
		}
		ra := r.ra
		if ra == nil {
			t.Fatal("no read-ahead after sequential reads")
		}
		if round == 2 {
			time.Sleep(20 * time.Millisecond) // let the ring fill: goroutine waits for a free block
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ra.done:
		default:
			t.Fatal("Close returned before the read-ahead goroutine exited")
		}
		if len(lim.slots) != 0 {
			t.Fatal("slot not released by Close")
		}
		if n, err := r.Read(p); n != 0 || !errors.Is(err, ErrClosed) {
			t.Fatalf("Read after Close: %d, %v", n, err)
		}
	}
	waitGoroutines(t, base)
}

func TestReadAheadAbandonedReaderReleasesSlot(t *testing.T) {
	kek := testKEK(76)
	s := newTestStore(t, tExp)
	ref := put(t, s, kek, randBytes(400*1024, 76), 0)
	lim := smallLimits(1)
	base := runtime.NumGoroutine()
	func() {
		r, err := s.Open(ref, kek)
		if err != nil {
			t.Fatal(err)
		}
		r.lim = lim
		p := make([]byte, 100)
		_, _ = r.Read(p)
		_, _ = r.Read(p)
		if r.ra == nil {
			t.Fatal("no read-ahead")
		}
		// r is dropped without Close.
	}()
	waitSlotsFree(t, lim)
	waitGoroutines(t, base)
}

func TestReadAheadConcurrentReaders(t *testing.T) {
	kek := testKEK(77)
	s := newTestStore(t, tExp)
	plain := randBytes(256*1024+3, 77)
	ref := put(t, s, kek, plain, 0)
	lim := smallLimits(3) // fewer slots than readers: the rest read synchronously
	base := runtime.NumGoroutine()
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := range 12 {
		wg.Go(func() {
			r, err := s.Open(ref, kek)
			if err != nil {
				errs <- err
				return
			}
			defer func() { _ = r.Close() }()
			r.lim = lim
			got, err := readPieces(r, 500+i*997)
			if err != nil || !bytes.Equal(got, plain) {
				errs <- fmt.Errorf("reader %d: %d bytes, %v", i, len(got), err)
			}
			if len(lim.slots) > 3 {
				errs <- errors.New("more read-aheads than slots")
			}
		})
	}
	// One reader streamed with Read while other goroutines ReadAt it.
	r := openWith(t, s, ref, kek, lim)
	done := make(chan struct{})
	for g := range 3 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(g), 1))
			p := make([]byte, 3000)
			for {
				select {
				case <-done:
					return
				default:
				}
				off := rnd.IntN(len(plain) - len(p))
				if n, err := r.ReadAt(p, int64(off)); err != nil || !bytes.Equal(p[:n], plain[off:off+n]) {
					errs <- fmt.Errorf("ReadAt %d: %d, %v", off, n, err)
					return
				}
			}
		})
	}
	got, err := readPieces(r, 4000)
	close(done)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("streamed reader: %d bytes, %v", len(got), err)
	}
	if lim.started.Load() == 0 {
		t.Fatal("no read-ahead ran")
	}
	_ = r.Close()
	waitSlotsFree(t, lim)
	waitGoroutines(t, base)
}

func TestReadAheadNoFreeSlotFallsBack(t *testing.T) {
	kek := testKEK(78)
	s := newTestStore(t, tExp)
	plain := randBytes(100*1024, 78)
	ref := put(t, s, kek, plain, 0)
	lim := smallLimits(1)
	lim.slots <- struct{}{} // someone else holds the only slot
	r := openWith(t, s, ref, kek, lim)
	got, err := readPieces(r, 1000)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
	if lim.started.Load() != 0 || len(lim.slots) != 1 {
		t.Fatal("read-ahead started without a free slot")
	}
}

// TestReadAheadMatchesBytesReader runs random Read/Seek/ReadAt/WriteTo
// sequences against bytes.Reader over the plaintext.
func TestReadAheadMatchesBytesReader(t *testing.T) {
	kek := testKEK(79)
	s := newTestStore(t, tExp)
	plain := randBytes(150*1024+321, 79)
	ref := put(t, s, kek, plain, 0)
	for seed := range uint64(6) {
		lim := smallLimits(2)
		r := openWith(t, s, ref, kek, lim)
		want := bytes.NewReader(plain)
		rnd := rand.New(rand.NewPCG(seed, 2))
		for op := range 400 {
			switch k := rnd.IntN(20); {
			case k < 14:
				p := make([]byte, 1+rnd.IntN(9000))
				q := make([]byte, len(p))
				n, err := r.Read(p)
				m, werr := want.Read(q)
				if n != m || !errors.Is(err, werr) && (err != nil || werr != nil) || !bytes.Equal(p[:n], q[:m]) {
					t.Fatalf("seed %d op %d Read: %d,%v want %d,%v", seed, op, n, err, m, werr)
				}
			case k < 17:
				off, wh := int64(rnd.IntN(len(plain)+2000)), io.SeekStart
				if rnd.IntN(2) == 0 {
					off, wh = int64(rnd.IntN(3000)), io.SeekCurrent
				}
				a, err := r.Seek(off, wh)
				b, _ := want.Seek(off, wh)
				if err != nil || a != b {
					t.Fatalf("seed %d op %d Seek: %d,%v want %d", seed, op, a, err, b)
				}
			case k < 19:
				off := int64(rnd.IntN(len(plain) + 100))
				p, q := make([]byte, 1+rnd.IntN(5000)), []byte(nil)
				q = make([]byte, len(p))
				n, err := r.ReadAt(p, off)
				m, werr := want.ReadAt(q, off)
				if n != m || !errors.Is(err, werr) && (err != nil || werr != nil) || !bytes.Equal(p[:n], q[:m]) {
					t.Fatalf("seed %d op %d ReadAt(%d): %d,%v want %d,%v", seed, op, off, n, err, m, werr)
				}
			default:
				var a, b bytes.Buffer
				n, err := r.WriteTo(&a)
				m, _ := want.WriteTo(&b)
				if err != nil || n != m || !bytes.Equal(a.Bytes(), b.Bytes()) {
					t.Fatalf("seed %d op %d WriteTo: %d,%v want %d", seed, op, n, err, m)
				}
			}
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if lim.started.Load() == 0 {
			t.Fatalf("seed %d: read-ahead never ran", seed)
		}
		if len(lim.slots) != 0 {
			t.Fatal("slot held after Close")
		}
	}
}

// TestReadAheadServeContent serves a blob the way the server does and
// checks full and Range responses.
func TestReadAheadServeContent(t *testing.T) {
	kek := testKEK(80)
	s := newTestStore(t, defaultChunkExp)
	plain := randBytes(6<<20+99, 80)
	ref := put(t, s, kek, plain, 0)
	lim := defaultLimits()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r, err := s.Open(ref, kek)
		if err != nil {
			http.Error(w, "open", http.StatusInternalServerError)
			return
		}
		defer func() { _ = r.Close() }()
		r.lim = lim
		http.ServeContent(w, req, "x.bin", time.Time{}, r)
	}))
	defer hs.Close()
	for _, c := range []struct {
		rng        string
		start, end int
	}{{"", 0, len(plain)}, {"bytes=1000-5000000", 1000, 5000001}, {"bytes=-100", len(plain) - 100, len(plain)}} {
		req, _ := http.NewRequest(http.MethodGet, hs.URL, nil)
		if c.rng != "" {
			req.Header.Set("Range", c.rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil || !bytes.Equal(body, plain[c.start:c.end]) {
			t.Fatalf("range %q: status %d, %d bytes, %v", c.rng, resp.StatusCode, len(body), err)
		}
	}
	if lim.started.Load() != 2 { // the whole body and the 5 MB range; not the 100 bytes
		t.Fatalf("read-aheads started = %d, want 2", lim.started.Load())
	}
	waitSlotsFree(t, lim)
}
