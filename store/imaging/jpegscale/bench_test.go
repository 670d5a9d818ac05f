package jpegscale

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"testing"

	"github.com/photovault/photovault/store/imaging/imagingtest"
)

// BenchmarkDecode24MP decodes the shared 6000×4000 q92 4:2:0 reference
// JPEG at each scale, next to image/jpeg's full-size decode. Figures and
// the command: docs/PERFORMANCE.md.
func BenchmarkDecode24MP(b *testing.B) {
	data, _, err := imagingtest.Photo24MP()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, s := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("scale=1/%d", s), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Decode(data, s, 1<<30); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeProgressive24MP is the same photo transcoded to a
// progressive JPEG (jpegtran -progressive: same coefficients, 10 scans),
// next to image/jpeg, which keeps all 64 coefficients of every block as
// int32 until the last scan.
func BenchmarkDecodeProgressive24MP(b *testing.B) {
	data, ok, err := imagingtest.Photo24MPProgressive()
	if err != nil {
		b.Fatal(err)
	}
	if !ok {
		b.Skip("jpegtran is not installed (Debian: libjpeg-turbo-progs)")
	}
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, s := range []int{1, 2} {
		b.Run(fmt.Sprintf("scale=1/%d", s), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Decode(data, s, 1<<30); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
