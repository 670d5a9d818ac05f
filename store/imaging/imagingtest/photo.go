// Package imagingtest makes the reference photo the benchmarks and load
// harnesses of store/imaging, server and cmd/pvingest measure with, so all
// of them (and vipsthumbnail, next to them) read the very same bytes.
package imagingtest

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// Photo24MP returns a 6000×4000 q92 4:2:0 JPEG of gradients and fine noise
// (6.2 MB; noise keeps every block busy with high frequencies, like a
// camera JPEG) and the path of a file holding it. The content is
// deterministic, so the file is cached in the temp dir across runs.
func Photo24MP() ([]byte, string, error) {
	p := filepath.Join(os.TempDir(), "photovault-bench-24mp-v1.jpg")
	if data, err := os.ReadFile(p); err == nil && len(data) > 1<<20 { // #nosec G304 -- fixed name in the temp dir
		return data, p, nil
	}
	img := image.NewYCbCr(image.Rect(0, 0, 6000, 4000), image.YCbCrSubsampleRatio420)
	s := uint32(12345)
	for y := range 4000 {
		row := img.Y[y*img.YStride:]
		for x := range 6000 {
			s ^= s << 13
			s ^= s >> 17
			s ^= s << 5
			row[x] = uint8((x/24+y/16)&0xff) ^ uint8(s&15)
		}
	}
	for y := range 2000 {
		for x := range 3000 {
			i := y*img.CStride + x
			img.Cb[i] = uint8(64 + x*128/3000)
			img.Cr[i] = uint8(64 + y*128/2000)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 92}); err != nil {
		return nil, "", fmt.Errorf("imagingtest: encode: %w", err)
	}
	tmp := p + fmt.Sprintf(".%d.tmp", os.Getpid())
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		return nil, "", fmt.Errorf("imagingtest: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return nil, "", fmt.Errorf("imagingtest: %w", err)
	}
	return buf.Bytes(), p, nil
}

// Filler is a reader of N bytes that are never 0xFF (so they hold no JPEG
// marker), standing for whatever follows an image in a stream; Count is
// how many were read.
type Filler struct{ N, Count int64 }

func (f *Filler) Read(p []byte) (int, error) {
	if f.Count >= f.N {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), f.N-f.Count)]
	for i := range p {
		p[i] = byte(i%254) + 1
	}
	f.Count += int64(len(p))
	return len(p), nil
}

// Photo24MPProgressive is Photo24MP losslessly transcoded to a progressive
// JPEG by jpegtran (libjpeg-turbo's standard progression script), so it
// holds the very same coefficients; ok is false when jpegtran is not
// installed.
func Photo24MPProgressive() (data []byte, ok bool, err error) {
	bin, lerr := exec.LookPath("jpegtran")
	if lerr != nil {
		return nil, false, nil
	}
	_, src, err := Photo24MP()
	if err != nil {
		return nil, false, err
	}
	out, err := exec.Command(bin, "-copy", "none", "-progressive", src).Output() // #nosec G204 -- fixed tool and our own fixture
	if err != nil {
		return nil, false, fmt.Errorf("imagingtest: jpegtran: %w", err)
	}
	return out, true, nil
}
