package blob

import (
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkServeContentReadAhead serves a 64 MiB blob with
// http.ServeContent over loopback (client in the same process, as in
// server's BenchmarkServeOriginal256MiB): synchronously (no slot) and with
// read-ahead rings of several shapes. cpu-ms/op is the whole process's CPU
// time (server and client) per download.
func BenchmarkServeContentReadAhead(b *testing.B) {
	kek := testKEK(81)
	s := newTestStore(b, defaultChunkExp)
	w, err := s.Create(kek)
	if err != nil {
		b.Fatal(err)
	}
	src := randBytes(1<<20, 81)
	for n := 0; n < benchSize; n += len(src) {
		if _, err := w.Write(src); err != nil {
			b.Fatal(err)
		}
	}
	ref, err := w.Commit()
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		slots int
		block int64
		depth int
	}{
		{"128KiBx4", 8, 128 << 10, 4},
		{"256KiBx2", 8, 256 << 10, 2},
		{"256KiBx4", 8, 256 << 10, 4},
		{"512KiBx4", 8, 512 << 10, 4},
		{"1MiBx4", 8, 1 << 20, 4},
		{"sync", 0, readAheadBlock, readAheadDepth},
	} {
		b.Run(c.name, func(b *testing.B) {
			lim := newReadAheadLimits(c.slots, readAheadMinRemain, c.block, c.depth)
			hs := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
				r, err := s.Open(ref, kek)
				if err != nil {
					http.Error(rw, "open", http.StatusInternalServerError)
					return
				}
				defer func() { _ = r.Close() }()
				r.lim = lim
				http.ServeContent(rw, req, "", time.Time{}, r)
			}))
			defer hs.Close()
			buf := make([]byte, 1<<20)
			b.SetBytes(benchSize)
			cpu0 := cpuTime(b)
			for b.Loop() {
				resp, err := http.Get(hs.URL)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.CopyBuffer(io.Discard, resp.Body, buf)
				_ = resp.Body.Close()
				if err != nil || n != benchSize {
					b.Fatalf("%d bytes, %v", n, err)
				}
			}
			b.ReportMetric(float64((cpuTime(b)-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
			if c.slots > 0 && lim.started.Load() == 0 {
				b.Fatal("read-ahead never ran")
			}
		})
	}
}
