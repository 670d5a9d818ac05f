package jpegscale

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// The fixtures in testdata are one 211×139 photo (ImageMagick's rose,
// resized, with Gaussian noise, so every block has high frequencies and the
// last MCU row and column are partial), saved by ImageMagick 6 (libjpeg) in
// each luma sampling, in gray, progressive and CMYK, and by libvips 8.14
// with restart markers (rst.jpg: 4:4:4, every 3 MCUs; rst420.jpg: 4:2:0,
// every MCU).

var supported = []string{"420.jpg", "422.jpg", "444.jpg", "440.jpg", "411.jpg", "410.jpg", "gray.jpg", "lowq.jpg", "rst.jpg", "rst420.jpg",
	"progressive.jpg", "prog420.jpg", "prog422.jpg", "proggray.jpg"}

// progressiveFixtures are progressive JPEGs (ImageMagick 6's libjpeg
// script: spectral selection and successive approximation, 6–10 scans; and
// libvips with a restart marker every 2 MCUs, which image/jpeg cannot
// decode), each with NAME.baseline.jpg beside it: the same coefficients
// losslessly transcoded to a sequential JPEG by `jpegtran -copy none
// -optimize` (libjpeg-turbo 2.1.5).
var progressiveFixtures = []string{"progressive", "prog420", "prog422", "proggray", "progrst"}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// planes returns the Y (or gray) and, for colour, Cb and Cr planes of img
// with their sizes, trimmed to what the image's bounds cover.
type plane struct {
	w, h, stride int
	pix          []uint8
}

func planesOf(t testing.TB, img image.Image) []plane {
	t.Helper()
	ps := planesOf1(t, img)
	for i, p := range ps {
		if p.w > p.stride || len(p.pix) < (p.h-1)*p.stride+p.w {
			t.Fatalf("plane %d (%d×%d, stride %d) does not fit its %d bytes", i, p.w, p.h, p.stride, len(p.pix))
		}
	}
	return ps
}

func planesOf1(t testing.TB, img image.Image) []plane {
	t.Helper()
	switch m := img.(type) {
	case *image.Gray:
		return []plane{{m.Rect.Dx(), m.Rect.Dy(), m.Stride, m.Pix}}
	case *image.YCbCr:
		w, h := m.Rect.Dx(), m.Rect.Dy()
		cw, ch, ok := ChromaSize(m.SubsampleRatio, w, h)
		if !ok {
			t.Fatalf("unknown subsample ratio %v", m.SubsampleRatio)
		}
		return []plane{
			{w, h, m.YStride, m.Y},
			{cw, ch, m.CStride, m.Cb},
			{cw, ch, m.CStride, m.Cr},
		}
	}
	t.Fatalf("unexpected image type %T", img)
	return nil
}

// boxShrink averages s×s cells of p (cells cut by the edge average what
// they hold) into a plane of ceil(w/s)×ceil(h/s).
func boxShrink(p plane, s int) plane {
	w, h := (p.w+s-1)/s, (p.h+s-1)/s
	out := plane{w, h, w, make([]uint8, w*h)}
	for y := range h {
		for x := range w {
			sum, n := 0, 0
			for yy := y * s; yy < min(y*s+s, p.h); yy++ {
				for xx := x * s; xx < min(x*s+s, p.w); xx++ {
					sum += int(p.pix[yy*p.stride+xx])
					n++
				}
			}
			out.pix[y*w+x] = uint8((sum + n/2) / n)
		}
	}
	return out
}

// compare returns the PSNR of got against want over want's size and the
// largest absolute difference.
func compare(t testing.TB, got, want plane) (psnr float64, maxDiff int) {
	t.Helper()
	if got.w < want.w || got.h < want.h {
		t.Fatalf("plane %d×%d smaller than %d×%d", got.w, got.h, want.w, want.h)
	}
	var se float64
	for y := range want.h {
		for x := range want.w {
			d := int(got.pix[y*got.stride+x]) - int(want.pix[y*want.stride+x])
			se += float64(d * d)
			maxDiff = max(maxDiff, d, -d)
		}
	}
	mse := se / float64(want.w*want.h)
	if mse == 0 {
		return math.Inf(1), 0
	}
	return 10 * math.Log10(255*255/mse), maxDiff
}

func TestDecodeFullSizeMatchesStdlib(t *testing.T) {
	for _, name := range supported {
		t.Run(name, func(t *testing.T) {
			data := readFixture(t, name)
			want, err := jpeg.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(data, 1, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			if got.Bounds() != want.Bounds() {
				t.Fatalf("bounds %v, want %v", got.Bounds(), want.Bounds())
			}
			if g, w := colorModel(got), colorModel(want); g != w {
				t.Fatalf("image %s, stdlib %s", g, w)
			}
			gp, wp := planesOf(t, got), planesOf(t, want)
			for i := range wp {
				// The standard library's IDCT is integer arithmetic with
				// its own rounding; ours is float32.
				if psnr, maxDiff := compare(t, gp[i], wp[i]); maxDiff > 2 {
					t.Errorf("plane %d: max difference %d (PSNR %.1f dB), want ≤ 2", i, maxDiff, psnr)
				}
			}
		})
	}
}

func colorModel(img image.Image) string {
	switch m := img.(type) {
	case *image.Gray:
		return "gray"
	case *image.YCbCr:
		return "ycbcr " + m.SubsampleRatio.String()
	}
	return "other"
}

func TestDecodeScaledApproximatesBoxShrink(t *testing.T) {
	// Dropping the high frequencies is not the same filter as averaging
	// boxes, but on a photo the two agree closely: a wrong coefficient
	// position, scale factor or block placement drops PSNR below 20 dB.
	minPSNR := map[int]float64{2: 36, 4: 38, 8: 42}
	for _, name := range supported {
		data := readFixture(t, name)
		full, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := DecodeConfig(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []int{2, 4, 8} {
			got, err := Decode(data, s, 1<<30)
			if err != nil {
				t.Fatalf("%s 1/%d: %v", name, s, err)
			}
			w, h := cfg.Scaled(s)
			if got.Bounds() != image.Rect(0, 0, w, h) {
				t.Fatalf("%s 1/%d: bounds %v, want %d×%d", name, s, got.Bounds(), w, h)
			}
			gp, fp := planesOf(t, got), planesOf(t, full)
			for i := range fp {
				want := boxShrink(fp[i], s)
				// Chroma planes of the scaled image are ceil(scaled/2) etc.,
				// which can be one sample smaller than the shrunk full plane.
				want.w, want.h = min(want.w, gp[i].w), min(want.h, gp[i].h)
				psnr, maxDiff := compare(t, gp[i], want)
				t.Logf("%s 1/%d plane %d: PSNR %.1f dB, max difference %d", name, s, i, psnr, maxDiff)
				if psnr < minPSNR[s] {
					t.Errorf("%s 1/%d plane %d: PSNR %.1f dB, want ≥ %.0f", name, s, i, psnr, minPSNR[s])
				}
			}
		}
	}
}

func TestDecodeLargeStdlibEncoded(t *testing.T) {
	// A stdlib-encoded 4:2:0 image several MCUs wide with smooth areas
	// (blocks with only a DC), edges and noise.
	img := image.NewYCbCr(image.Rect(0, 0, 517, 389), image.YCbCrSubsampleRatio420)
	r := rand.New(rand.NewPCG(1, 2))
	for y := range 389 {
		for x := range 517 {
			v := (x + y) / 4
			if x > 250 {
				v = r.IntN(256)
			}
			img.Y[y*img.YStride+x] = uint8(v)
		}
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = uint8(i), uint8(255-i/7)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	want, err := jpeg.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(buf.Bytes(), 1, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	gp, wp := planesOf(t, got), planesOf(t, want)
	for i := range wp {
		if psnr, maxDiff := compare(t, gp[i], wp[i]); maxDiff > 2 {
			t.Errorf("plane %d: max difference %d (PSNR %.1f dB)", i, maxDiff, psnr)
		}
	}
}

func TestDecodeProgressiveMatchesItsBaselineTranscode(t *testing.T) {
	// Same coefficients, same IDCT: the pixels must be identical, at every
	// scale, whatever order the scans sent the coefficients in.
	for _, name := range progressiveFixtures {
		prog, base := readFixture(t, name+".jpg"), readFixture(t, name+".baseline.jpg")
		if bytes.Count(prog, []byte{0xFF, 0xDA}) < 6 || !bytes.Contains(prog, []byte{0xFF, 0xC2}) {
			t.Fatalf("%s.jpg is not progressive", name)
		}
		for _, s := range []int{1, 2, 4, 8} {
			got, err := Decode(prog, s, 1<<30)
			if err != nil {
				t.Fatalf("%s 1/%d: %v", name, s, err)
			}
			want, err := Decode(base, s, 1<<30)
			if err != nil {
				t.Fatalf("%s.baseline 1/%d: %v", name, s, err)
			}
			if got.Bounds() != want.Bounds() || colorModel(got) != colorModel(want) {
				t.Fatalf("%s 1/%d: %v %s, baseline %v %s", name, s, got.Bounds(), colorModel(got), want.Bounds(), colorModel(want))
			}
			gp, wp := planesOf(t, got), planesOf(t, want)
			for i := range wp {
				if _, d := compare(t, gp[i], wp[i]); d != 0 {
					t.Errorf("%s 1/%d plane %d differs from the baseline transcode by up to %d", name, s, i, d)
				}
			}
		}
	}
}

func TestDecodeRefusesWhatItDoesNotSupport(t *testing.T) {
	for _, name := range []string{"cmyk.jpg"} {
		_, err := Decode(readFixture(t, name), 2, 1<<30)
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", name, err)
		}
	}
	// Adobe APP14 with transform 0 marks RGB samples.
	data := readFixture(t, "444.jpg")
	adobe := append([]byte{0xFF, 0xD8, 0xFF, 0xEE, 0, 14}, []byte("Adobe\x00\x64\x00\x00\x00\x00\x00")...)
	adobe = append(adobe, data[2:]...)
	if _, err := Decode(adobe, 2, 1<<30); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Adobe RGB: %v, want ErrUnsupported", err)
	}
	if _, err := Decode(data, 3, 1<<30); err == nil {
		t.Error("scale 3 accepted")
	}
}

func TestDecodeRefusesTooManyPixels(t *testing.T) {
	data := readFixture(t, "420.jpg")
	if _, err := Decode(data, 2, 211*139-1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%v, want ErrTooLarge", err)
	}
	if _, err := Decode(data, 2, 211*139); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
}

func TestDecodeCorrupt(t *testing.T) {
	data := readFixture(t, "rst420.jpg")
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"not a JPEG", []byte("\x89PNG\r\n\x1a\n")},
		{"headers only", data[:600]},
		{"truncated scan", data[:len(data)/2]},
		{"no restart markers", dropRST(data)},
	} {
		_, err := Decode(tc.data, 2, 1<<30)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", tc.name, err)
		}
	}
}

// dropRST removes the restart markers from a JPEG's scan.
func dropRST(data []byte) []byte {
	var out []byte
	for i := 0; i < len(data); i++ {
		if data[i] == 0xFF && i+1 < len(data) && data[i+1] >= 0xD0 && data[i+1] <= 0xD7 {
			i++
			continue
		}
		out = append(out, data[i])
	}
	return out
}

func TestPickScale(t *testing.T) {
	for _, tc := range []struct {
		w, h, minW, minH, want int
	}{
		{6000, 4000, 2048, 1365, 2},
		{6000, 4000, 400, 267, 8},
		{6000, 4000, 750, 500, 8},
		{6000, 4000, 751, 500, 4},
		{4000, 3000, 2048, 1536, 1},
		{100, 100, 100, 100, 1},
	} {
		if got := PickScale(Config{Width: tc.w, Height: tc.h}, tc.minW, tc.minH); got != tc.want {
			t.Errorf("PickScale(%d×%d, %d×%d) = %d, want %d", tc.w, tc.h, tc.minW, tc.minH, got, tc.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range supported {
		f.Add(readFixture(f, name), uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, s uint8) {
		scale := 1 << (s % 4)
		cfg, cerr := DecodeConfig(data)
		img, err := Decode(data, scale, 1<<22)
		if err != nil {
			return
		}
		if cerr != nil {
			t.Fatalf("Decode succeeded where DecodeConfig failed: %v", cerr)
		}
		w, h := cfg.Scaled(scale)
		if img.Bounds() != image.Rect(0, 0, w, h) {
			t.Fatalf("bounds %v, want %d×%d", img.Bounds(), w, h)
		}
		planesOf(t, img)
	})
}

// widenDQT rewrites every 8-bit quantisation table of a JPEG as a 16-bit
// one (Pq = 1, as SOF1 extended files may carry): the same values, so the
// decoded image must not change.
func widenDQT(t *testing.T, src []byte) []byte {
	t.Helper()
	out := append([]byte(nil), src[:2]...)
	p := 2
	for p+4 <= len(src) && src[p] == 0xFF && src[p+1] != 0xDA {
		l := int(binary.BigEndian.Uint16(src[p+2:]))
		seg := src[p+4 : p+2+l]
		if src[p+1] != 0xDB {
			out = append(out, src[p:p+2+l]...)
			p += 2 + l
			continue
		}
		var body []byte
		for len(seg) >= 65 {
			body = append(body, 0x10|seg[0]&15)
			for _, v := range seg[1:65] {
				body = binary.BigEndian.AppendUint16(body, uint16(v))
			}
			seg = seg[65:]
		}
		out = append(out, 0xFF, 0xDB)
		out = binary.BigEndian.AppendUint16(out, uint16(len(body)+2))
		out = append(out, body...)
		p += 2 + l
	}
	return append(out, src[p:]...)
}

func TestDecode16BitQuantTables(t *testing.T) {
	src := readFixture(t, "422.jpg")
	wide := widenDQT(t, src)
	if bytes.Equal(wide, src) || !bytes.Contains(wide, []byte{0xFF, 0xDB, 0x00, 0x83, 0x10}) {
		t.Fatal("no 16-bit table written")
	}
	for _, s := range []int{1, 2} {
		want, err := Decode(src, s, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(wide, s, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		gp, wp := planesOf(t, got), planesOf(t, want)
		for i := range wp {
			if _, d := compare(t, gp[i], wp[i]); d != 0 {
				t.Errorf("scale 1/%d plane %d differs by %d", s, i, d)
			}
		}
	}
}

func TestDecodeOddSizesMatchStdlib(t *testing.T) {
	// Sizes around the MCU edges (1, 7, 8, 9, 15, 16, 17 …), thin strips and
	// random qualities, colour and gray, each at every scale: full size
	// against image/jpeg, and the scaled bounds.
	r := rand.New(rand.NewPCG(7, 11))
	sizes := [][2]int{{1, 1}, {1, 9}, {9, 1}, {7, 7}, {8, 8}, {15, 17}, {16, 16}, {17, 15}, {33, 2}, {2, 33}, {127, 65}, {300, 1}}
	for i, sz := range sizes {
		w, h := sz[0], sz[1]
		var src image.Image
		if i%3 == 2 {
			g := image.NewGray(image.Rect(0, 0, w, h))
			for j := range g.Pix {
				g.Pix[j] = uint8(r.IntN(256))
			}
			src = g
		} else {
			c := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
			for j := range c.Y {
				c.Y[j] = uint8(r.IntN(256))
			}
			for j := range c.Cb {
				c.Cb[j], c.Cr[j] = uint8(r.IntN(256)), uint8(r.IntN(256))
			}
			src = c
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 30 + r.IntN(70)}); err != nil {
			t.Fatal(err)
		}
		want, err := jpeg.Decode(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []int{1, 2, 4, 8} {
			got, err := Decode(buf.Bytes(), s, 1<<30)
			if err != nil {
				t.Fatalf("%dx%d 1/%d: %v", w, h, s, err)
			}
			if b := got.Bounds(); b.Dx() != (w+s-1)/s || b.Dy() != (h+s-1)/s {
				t.Fatalf("%dx%d 1/%d: bounds %v", w, h, s, b)
			}
			planesOf(t, got) // the planes cover the bounds
			if s != 1 {
				continue
			}
			gp, wp := planesOf(t, got), planesOf(t, want)
			for p := range wp {
				if _, d := compare(t, gp[p], wp[p]); d > 2 {
					t.Errorf("%dx%d plane %d: max difference %d", w, h, p, d)
				}
			}
		}
	}
}
