package imaging

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/photovault/photovault/store/imaging/imagingtest"
	"golang.org/x/image/draw"
)

func jpegSize(t *testing.T, b []byte) (int, int) {
	t.Helper()
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("derivative is not a JPEG: %v", err)
	}
	return cfg.Width, cfg.Height
}

func TestDeriveSizes(t *testing.T) {
	tests := []struct {
		name    string
		w, h, o int
		pw, ph  int
		tw, th  int
	}{
		{"landscape 2100x1000", 2100, 1000, 1, 2048, 975, 400, 190},
		{"portrait 900x2100", 900, 2100, 1, 878, 2048, 171, 400},
		{"rotated by orientation 6", 2100, 1000, 6, 975, 2048, 190, 400},
		{"small: never upscaled", 300, 200, 1, 300, 200, 300, 200},
		{"between boxes", 1000, 500, 1, 1000, 500, 400, 200},
		{"one pixel", 1, 1, 8, 1, 1, 1, 1},
		{"very thin", 5000, 3, 1, 2048, 1, 400, 1},
		{"decoded at 1/2", 4500, 3000, 1, 2048, 1365, 400, 267},
		{"decoded at 1/4, rotated", 8200, 120, 8, 30, 2048, 6, 400},
	}
	sources := map[[2]int][]byte{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, ok := sources[[2]int{tc.w, tc.h}]
			if !ok {
				src = makeJPEG(t, tc.w, tc.h)
				sources[[2]int{tc.w, tc.h}] = src
			}
			p, th, err := Derive(bytes.NewReader(src), detect(t, src), tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if w, h := jpegSize(t, p); w != tc.pw || h != tc.ph {
				t.Errorf("preview %dx%d, want %dx%d", w, h, tc.pw, tc.ph)
			}
			if w, h := jpegSize(t, th); w != tc.tw || h != tc.th {
				t.Errorf("thumb %dx%d, want %dx%d", w, h, tc.tw, tc.th)
			}
		})
	}
}

// markerImage is w×h mid-gray with a red block at the stored top-left and a
// green block at the stored top-right.
func markerImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	bs := w / 4
	for y := range h {
		row := img.Pix[y*img.Stride : y*img.Stride+4*w]
		for x := range w {
			c := [4]uint8{128, 128, 128, 255}
			if y < bs && x < bs {
				c = [4]uint8{230, 20, 20, 255}
			}
			if y < bs && x >= w-bs {
				c = [4]uint8{20, 200, 20, 255}
			}
			copy(row[4*x:], c[:])
		}
	}
	return img
}

type corner int

const (
	tl corner = iota
	tr
	bl
	br
)

func cornerColor(img image.Image, c corner) (uint8, uint8, uint8) {
	b := img.Bounds()
	in := min(b.Dx(), b.Dy()) / 10
	x, y := in, in
	if c == tr || c == br {
		x = b.Dx() - 1 - in
	}
	if c == bl || c == br {
		y = b.Dy() - 1 - in
	}
	return rgbAt(img, x, y)
}

func TestDeriveOrientation(t *testing.T) {
	// Where the red (stored top-left) and green (stored top-right) blocks
	// must appear after each EXIF orientation is applied.
	want := map[int][2]corner{
		1: {tl, tr}, 2: {tr, tl}, 3: {br, bl}, 4: {bl, br},
		5: {tl, bl}, 6: {tr, br}, 7: {br, tr}, 8: {bl, tl},
	}
	for _, size := range [][2]int{{300, 180}, {2100, 840}} {
		src := encodeJPEG(t, markerImage(size[0], size[1]), 95)
		for o := 1; o <= 8; o++ {
			if size[0] > PreviewBox && o != 6 && o != 7 {
				continue // the large size checks the resize path once per axis swap
			}
			p, th, err := Derive(bytes.NewReader(src), detect(t, src), o)
			if err != nil {
				t.Fatal(err)
			}
			for _, out := range [][]byte{p, th} {
				img := decodeJPEGBytes(t, out)
				b := img.Bounds()
				if (o >= 5) != (b.Dx() < b.Dy()) {
					t.Errorf("size %v orientation %d: result %v has the wrong aspect", size, o, b)
				}
				r, g, _ := cornerColor(img, want[o][0])
				if r < 180 || g > 80 {
					t.Errorf("size %v orientation %d: red block not at corner %d (got %d,%d)", size, o, want[o][0], r, g)
				}
				r, g, _ = cornerColor(img, want[o][1])
				if g < 150 || r > 80 {
					t.Errorf("size %v orientation %d: green block not at corner %d (got %d,%d)", size, o, want[o][1], r, g)
				}
			}
		}
	}
}

// TestResampleQuality compares the resampler with x/image/draw's
// Catmull-Rom (the slow, high-quality reference) on a detailed image.
func TestResampleQuality(t *testing.T) {
	src := noiseImage(900, 600, 3)
	gray := image.NewGray(src.Rect)
	draw.Draw(gray, gray.Rect, src, image.Point{}, draw.Src)
	for _, dst := range [][2]int{{800, 533}, {450, 300}, {307, 205}, {150, 100}, {49, 33}} {
		ref := image.NewGray(image.Rect(0, 0, dst[0], dst[1]))
		draw.CatmullRom.Scale(ref, ref.Rect, gray, gray.Rect, draw.Src, nil)
		got := resizePlane(plane{w: 900, h: 600, stride: gray.Stride, pix: gray.Pix}, dst[0], dst[1])
		var se float64
		for i, v := range ref.Pix {
			d := float64(v) - float64(got.pix[i])
			se += d * d
		}
		psnr := 10 * math.Log10(255*255/(se/float64(len(ref.Pix))))
		t.Logf("900x600 → %dx%d: PSNR vs x/image/draw CatmullRom %.1f dB", dst[0], dst[1], psnr)
		if psnr < 34 {
			t.Errorf("→ %v: PSNR %.1f dB, resampler is off", dst, psnr)
		}
	}
	// A flat plane stays flat (weights sum to one, no ringing at edges).
	flat := newPlane(1001, 777)
	for i := range flat.pix {
		flat.pix[i] = 200
	}
	for _, p := range []plane{resizePlane(flat, 333, 259), resizePlane(flat, 2, 2), resizePlane(flat, 1000, 1)} {
		for _, v := range p.pix {
			if v != 200 {
				t.Fatalf("flat plane resampled to %d", v)
			}
		}
	}
}

func TestDeriveOtherSources(t *testing.T) {
	// Transparent PNG: composited on white.
	tr := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for i := 3; i < len(tr.Pix); i += 4 {
		tr.Pix[i-3], tr.Pix[i] = 255, 0 // red, fully transparent
	}
	// Paletted GIF.
	pal := image.NewPaletted(image.Rect(0, 0, 50, 30), color.Palette{color.RGBA{0, 0, 255, 255}, color.RGBA{255, 255, 0, 255}})
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, pal, nil); err != nil {
		t.Fatal(err)
	}
	// Grayscale JPEG.
	g := image.NewGray(image.Rect(0, 0, 2500, 100))
	for i := range g.Pix {
		g.Pix[i] = uint8(i)
	}
	tests := []struct {
		name   string
		data   []byte
		pw, ph int
		check  func(image.Image) bool
	}{
		{"transparent png on white", encodePNG(t, tr), 64, 64, func(m image.Image) bool {
			r, g, b := rgbAt(m, 32, 32)
			return r > 245 && g > 245 && b > 245
		}},
		{"large opaque png", encodePNG(t, noiseImage(2100, 300, 8)), 2048, 293, nil},
		{"gif", gifBuf.Bytes(), 50, 30, func(m image.Image) bool {
			r, g, b := rgbAt(m, 25, 15)
			return b > 200 && r < 60 && g < 60
		}},
		{"gray jpeg", encodeJPEG(t, g, 90), 2048, 82, func(m image.Image) bool {
			_, ok := m.(*image.Gray)
			return ok
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, _, err := Derive(bytes.NewReader(tc.data), detect(t, tc.data), 1)
			if err != nil {
				t.Fatal(err)
			}
			img := decodeJPEGBytes(t, p)
			if b := img.Bounds(); b.Dx() != tc.pw || b.Dy() != tc.ph {
				t.Fatalf("preview %v, want %dx%d", b, tc.pw, tc.ph)
			}
			if tc.check != nil && !tc.check(img) {
				t.Fatalf("preview content check failed")
			}
		})
	}
}

func TestDeriveFromToolFormats(t *testing.T) {
	conv := needTool(t, "convert")
	dir := t.TempDir()
	src := writeFile(t, dir, "src.png", encodePNG(t, markerImage(480, 320)))
	for _, tc := range []struct{ name, ext string }{
		{"webp", "webp"}, {"tiff", "tiff"}, {"heic", "heic"}, {"cmyk jpeg", "jpg"}, {"progressive jpeg", "jpeg"},
	} {
		ext := tc.ext
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "img."+ext)
			switch ext {
			case "jpg":
				run(t, conv, src, "-colorspace", "CMYK", p)
			case "jpeg":
				run(t, conv, src, "-interlace", "JPEG", p)
			default:
				run(t, conv, src, p)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			prev, thumb, err := Derive(bytes.NewReader(data), detect(t, data), 1)
			if err != nil {
				t.Fatalf("Derive %s: %v", ext, err)
			}
			t.Logf("%s: derive took %v", ext, time.Since(start))
			img := decodeJPEGBytes(t, prev)
			if b := img.Bounds(); b.Dx() != 480 || b.Dy() != 320 {
				t.Fatalf("preview %v", b)
			}
			if r, g, _ := cornerColor(img, tl); r < 180 || g > 80 {
				t.Fatalf("content lost: %d %d", r, g)
			}
			if w, h := jpegSize(t, thumb); w != 400 || h != 267 {
				t.Fatalf("thumb %dx%d", w, h)
			}
		})
	}
}

func TestDeriveJPEGReadsOnlyTheImage(t *testing.T) {
	// A JPEG followed by a gigabyte (MPF previews, or an upload padded to
	// exhaust memory): Derive reads the image and a buffer's worth more.
	src := makeJPEG(t, 2400, 1600)
	tail := &imagingtest.Filler{N: 1 << 30}
	r := io.MultiReader(bytes.NewReader(src), tail)
	p, _, err := Derive(r, detect(t, src), 1)
	if err != nil {
		t.Fatal(err)
	}
	if w, h := jpegSize(t, p); w != 2048 || h != 1365 {
		t.Errorf("preview %dx%d", w, h)
	}
	if tail.Count > 1<<17 {
		t.Errorf("read %d bytes past the image", tail.Count)
	}
}

// rawFixture is a DNG-like TIFF: a 160×120 JPEG thumbnail in IFD0, the raw
// data (lossless JPEG, SOF3, which the standard decoder refuses) in one
// sub-IFD and a 1200×800 JPEG preview in another.
func rawFixture(t *testing.T, dng bool) []byte {
	thumb := encodeJPEG(t, noiseImage(160, 120, 1), 80)
	preview := encodeJPEG(t, markerImage(1200, 800), 85)
	lossless := append([]byte{0xFF, 0xD8, 0xFF, 0xC3, 0x00, 0x0B, 0x10, 0x0F, 0xA0, 0x17, 0x70, 0x01, 0x01, 0x11, 0x00},
		bytes.Repeat([]byte{0x55}, 2048)...)
	ifd0 := []tEnt{
		long(tagNewSubfileType, 1), long(tagImageWidth, 160), long(tagImageLength, 120),
		short(tagCompression, 7), str(tagMake, "Canon"), str(tagModel, "Canon EOS R5"),
		{tag: tagStripOffsets, typ: 4, count: 1, ref: "blob", refIdx: []int{0}},
		long(tagStripByteCounts, uint32(len(thumb))),
		{tag: tagSubIFDs, typ: 4, count: 2, ref: "ifd", refIdx: []int{1, 2}},
	}
	if dng {
		ifd0 = append(ifd0, tEnt{tag: tagDNGVersion, typ: 1, count: 4, val: []byte{1, 4, 0, 0}})
	}
	return buildTIFF([][]tEnt{
		ifd0,
		{long(tagNewSubfileType, 0), long(tagImageWidth, 4000), long(tagImageLength, 6000), short(tagCompression, 7),
			{tag: tagStripOffsets, typ: 4, count: 1, ref: "blob", refIdx: []int{1}}, long(tagStripByteCounts, uint32(len(lossless)))},
		{long(tagNewSubfileType, 1), long(tagImageWidth, 1200), long(tagImageLength, 800), short(tagCompression, 7),
			{tag: tagStripOffsets, typ: 4, count: 1, ref: "blob", refIdx: []int{2}}, long(tagStripByteCounts, uint32(len(preview)))},
	}, [][]byte{thumb, lossless, preview})
}

func TestDeriveRawUsesLargestEmbeddedJPEG(t *testing.T) {
	for _, dng := range []bool{true, false} {
		data := rawFixture(t, dng)
		d := detect(t, data)
		if !d.IsRaw {
			t.Fatalf("fixture sniffed as %+v", d)
		}
		w, h, err := Probe(bytes.NewReader(data), d, 0)
		if err != nil || w != 4000 || h != 6000 {
			t.Fatalf("Probe raw: %d %d %v", w, h, err)
		}
		p, _, err := Derive(bytes.NewReader(data), d, 1)
		if err != nil {
			t.Fatalf("Derive raw (dng=%v): %v", dng, err)
		}
		img := decodeJPEGBytes(t, p)
		if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 800 {
			t.Fatalf("preview from %v, want the 1200x800 embedded JPEG", b)
		}
		if r, g, _ := cornerColor(img, tl); r < 180 || g > 80 {
			t.Fatalf("wrong embedded image chosen")
		}
	}
	// The fallback scan finds a JPEG in an unknown container (CR3-like).
	blob := append(append(ftyp("crx ", "crx "), bytes.Repeat([]byte{0xAB}, 5000)...), encodeJPEG(t, noiseImage(900, 600, 2), 80)...)
	p, _, err := Derive(bytes.NewReader(blob), detect(t, blob), 1)
	if err != nil {
		t.Fatalf("scan fallback: %v", err)
	}
	if w, h := jpegSize(t, p); w != 900 || h != 600 {
		t.Fatalf("scan fallback preview %dx%d", w, h)
	}
	// A RAW whose sensor is larger than the upload budget is fine (never
	// decoded), but an embedded "preview" that declares 30000×30000 is a
	// pixel flood and is refused before decoding.
	flood := buildTIFF([][]tEnt{
		{long(tagNewSubfileType, 0), long(tagImageWidth, 30000), long(tagImageLength, 30000), str(tagMake, "NIKON"),
			{tag: tagSubIFDs, typ: 4, count: 1, ref: "ifd", refIdx: []int{1}}},
		{long(tagNewSubfileType, 1), short(tagCompression, 7),
			{tag: tagStripOffsets, typ: 4, count: 1, ref: "blob", refIdx: []int{0}}, long(tagStripByteCounts, 2000)},
	}, [][]byte{append(jpegHeaderOnly(30000, 30000), make([]byte, 2000)...)})
	fd := detect(t, pad(flood))
	if w, h, err := Probe(bytes.NewReader(flood), fd, 100_000_000); err != nil || w != 30000 || h != 30000 {
		t.Fatalf("Probe raw sensor size: %d %d %v", w, h, err)
	}
	if _, _, err := Derive(bytes.NewReader(flood), fd, 1); !errors.Is(err, ErrPixelFlood) {
		t.Fatalf("flooding embedded preview: %v", err)
	}
	// No preview at all.
	empty := buildTIFF([][]tEnt{{long(tagNewSubfileType, 1), str(tagMake, "SONY"), long(tagImageWidth, 10)}}, nil)
	if _, _, err := Derive(bytes.NewReader(empty), detect(t, pad(empty)), 1); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("raw without preview: %v", err)
	}
}

func TestDeriveRefuses(t *testing.T) {
	j := makeJPEG(t, 200, 100)
	tests := []struct {
		name string
		data []byte
		d    Detected
		want error
	}{
		{"video", ftyp("isom", "isom"), Detected{Kind: KindMP4, IsVideo: true}, ErrUnsupported},
		{"avif", heifHeaderOnly("avif", 64, 64, 0), Detected{Kind: KindAVIF, IsImage: true}, ErrUnsupported},
		{"truncated jpeg header", j[:30], Detected{Kind: KindJPEG}, ErrCorrupt},
		{"garbage png", append(append([]byte{}, pngSignature...), bytes.Repeat([]byte{7}, 100)...), Detected{Kind: KindPNG}, ErrCorrupt},
		{"unknown kind", j, Detected{Kind: "bmp"}, ErrUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, th, err := Derive(bytes.NewReader(tc.data), tc.d, 1)
			if !errors.Is(err, tc.want) || p != nil || th != nil {
				t.Fatalf("got %v (%d, %d bytes), want %v", err, len(p), len(th), tc.want)
			}
		})
	}
	// A truncated scan still decodes in Go's decoder only up to an error:
	// whatever happens, no panic and either output or a typed error.
	if _, _, err := Derive(bytes.NewReader(j[:len(j)/2]), detect(t, j), 1); err != nil && !errors.Is(err, ErrCorrupt) {
		t.Fatalf("truncated scan: %v", err)
	}
}
