package imaging

import (
	"bytes"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/photovault/photovault/store/imaging/imagingtest"
)

// make24MP returns the shared 6000×4000 q92 reference JPEG (see
// imagingtest.Photo24MP).
func make24MP(b *testing.B) []byte {
	b.Helper()
	data, _, err := imagingtest.Photo24MP()
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// peakHeap samples live heap objects while fn runs and returns the peak.
func peakHeap(fn func()) uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s := make([]metrics.Sample, 1)
		copy(s, sample)
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	fn()
	close(done)
	<-stopped
	return peak.Load()
}

// BenchmarkDerive24MP derives preview + thumbnail from a 24 MP q92 JPEG.
//
// Figures (this machine, 2 shared cores; docs/PERFORMANCE.md has the full
// table and the commands), per image:
//
//	before jpegscale — image/jpeg full-size decode (≈ 335 ms) + box
//	pre-shrink + Catmull-Rom on the YCbCr planes + orientation + two
//	encodes: 459 ms wall, 475 ms CPU, peak live heap 58 MB
//	with jpegscale — decode at 1/2 in the DCT domain (≈ 100 ms), the rest
//	unchanged: 204–211 ms wall, 212–218 ms CPU, peak live heap 36 MB
//	vipsthumbnail 8.14 → 2048 px alone, same file: 230 ms wall, 300 ms CPU
//
// The heap figure is the sampled peak of live heap objects during one
// Derive minus the heap before it (the input bytes are excluded).
func BenchmarkDerive24MP(b *testing.B) {
	data := make24MP(b)
	d := Detected{Kind: KindJPEG, ContentType: "image/jpeg", IsImage: true}
	var peak uint64
	var prevLen, thumbLen int
	cpu0 := cpuTime()
	n := 0
	for b.Loop() {
		n++
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		p := peakHeap(func() {
			preview, thumb, err := Derive(bytes.NewReader(data), d, 6)
			if err != nil {
				b.Fatal(err)
			}
			prevLen, thumbLen = len(preview), len(thumb)
		})
		if p > base.HeapAlloc && p-base.HeapAlloc > peak {
			peak = p - base.HeapAlloc
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(n), "cpu-ms/op")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(prevLen)/1024, "preview-KB")
	b.ReportMetric(float64(thumbLen)/1024, "thumb-KB")
	if os.Getenv("IMAGING_BENCH_KEEP") != "" {
		_ = os.WriteFile(os.Getenv("IMAGING_BENCH_KEEP"), data, 0o600)
	}
}

// cpuTime is the process's user+system CPU time: unlike wall time it is not
// inflated when other processes share the two cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecodeOnly24MP is the floor: the decode Derive builds on
// (jpegscale at 1/2 for this file).
func BenchmarkDecodeOnly24MP(b *testing.B) {
	data := make24MP(b)
	cpu0 := cpuTime()
	n := 0
	for b.Loop() {
		n++
		if _, _, err := decodeForDerive(bytes.NewReader(data), Detected{Kind: KindJPEG}, PreviewBox); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(n), "cpu-ms/op")
}

// BenchmarkWatermarkPreview stamps a 2048×1365 preview.
func BenchmarkWatermarkPreview(b *testing.B) {
	src := encodeJPEG(b, noiseImage(2048, 1365, 5), 82)
	for b.Loop() {
		if _, err := Watermark(src, "PROOF · Studio Lumière"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStripLocation10MB rewrites the metadata of a ≈ 10 MB JPEG.
func BenchmarkStripLocation10MB(b *testing.B) {
	src := encodeJPEG(b, noiseImage(4000, 3000, 6), 97)
	b.SetBytes(int64(len(src)))
	d := Detected{Kind: KindJPEG}
	for b.Loop() {
		if _, err := StripLocation(bytes.NewReader(src), io.Discard, d); err != nil {
			b.Fatal(err)
		}
	}
}
