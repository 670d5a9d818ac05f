package imaging

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func detect(t testing.TB, b []byte) Detected {
	t.Helper()
	d, err := Sniff(b[:min(len(b), SniffLen)])
	if err != nil {
		t.Fatalf("Sniff: %v", err)
	}
	return d
}

func TestProbeDimensions(t *testing.T) {
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, image.NewPaletted(image.Rect(0, 0, 33, 17), color.Palette{color.Black, color.White}), nil); err != nil {
		t.Fatal(err)
	}
	tiffFile := buildTIFF([][]tEnt{{long(tagImageWidth, 640), long(tagImageLength, 480), short(tagCompression, 1)}}, nil)
	dng := buildTIFF([][]tEnt{
		{long(tagNewSubfileType, 1), long(tagImageWidth, 256), long(tagImageLength, 171),
			{tag: tagDNGVersion, typ: 1, count: 4, val: []byte{1, 4, 0, 0}},
			{tag: tagSubIFDs, typ: 4, count: 2, ref: "ifd", refIdx: []int{1, 2}}},
		{long(tagNewSubfileType, 0), long(tagImageWidth, 6000), long(tagImageLength, 4000)},
		{long(tagNewSubfileType, 1), long(tagImageWidth, 1024), long(tagImageLength, 683)},
	}, nil)
	tests := []struct {
		name string
		data []byte
		w, h int
	}{
		{"jpeg", makeJPEG(t, 123, 45), 123, 45},
		{"png", encodePNG(t, noiseImage(31, 7, 2)), 31, 7},
		{"gif", gifBuf.Bytes(), 33, 17},
		{"tiff", tiffFile, 640, 480},
		{"dng main image from sub-ifd", dng, 6000, 4000},
		{"heic ispe", heifHeaderOnly("heic", 4032, 3024, 1), 4032, 3024},
		{"avif ispe", heifHeaderOnly("avif", 1920, 1080, 0), 1920, 1080},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := detect(t, pad(tc.data))
			for _, mode := range []string{"random access", "stream"} {
				var r io.Reader = bytes.NewReader(tc.data)
				if mode == "stream" {
					r = streamOnly{bytes.NewReader(tc.data)}
				}
				w, h, err := Probe(r, d, 100_000_000)
				if err != nil {
					t.Fatalf("%s: Probe: %v", mode, err)
				}
				if w != tc.w || h != tc.h {
					t.Fatalf("%s: got %dx%d, want %dx%d", mode, w, h, tc.w, tc.h)
				}
			}
		})
	}
}

func TestProbeVideoAndUnknownRaw(t *testing.T) {
	for _, head := range [][]byte{ftyp("isom", "isom"), ftyp("qt  "), pad([]byte("FUJIFILMCCD-RAW 0201"))} {
		d := detect(t, head)
		w, h, err := Probe(bytes.NewReader(head), d, 1)
		if err != nil || w != 0 || h != 0 {
			t.Fatalf("%s: got %d,%d,%v; want 0,0,nil", d.Kind, w, h, err)
		}
	}
}

// TestProbePixelFlood sends headers that declare 30000×30000 (900 MP) with
// no pixel data: Probe must refuse them from the header alone, and Derive
// must refuse them too before allocating the image.
func TestProbePixelFlood(t *testing.T) {
	tiffFlood := buildTIFF([][]tEnt{{long(tagImageWidth, 30000), long(tagImageLength, 30000)}}, nil)
	gifFlood := pad([]byte("GIF89a\xff\xff\xff\xff\x00\x00\x00"))
	tests := []struct {
		name string
		data []byte
	}{
		{"png", pngHeaderOnly(30000, 30000)},
		{"jpeg", jpegHeaderOnly(30000, 30000)},
		{"gif", gifFlood},
		{"tiff", tiffFlood},
		{"heic", heifHeaderOnly("heic", 30000, 30000, 0)},
		{"avif", heifHeaderOnly("avif", 30000, 30000, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := detect(t, pad(tc.data))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, err := Probe(streamOnly{bytes.NewReader(tc.data)}, d, 100_000_000)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrPixelFlood) {
				t.Fatalf("Probe: %v, want ErrPixelFlood", err)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
				t.Fatalf("Probe allocated %d bytes: it decoded", grew)
			}
			if d.Kind == KindAVIF {
				return // no decoder: Derive refuses it as unsupported
			}
			runtime.ReadMemStats(&before)
			_, _, err = Derive(bytes.NewReader(tc.data), d, 1)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrPixelFlood) {
				t.Fatalf("Derive: %v, want ErrPixelFlood", err)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
				t.Fatalf("Derive allocated %d bytes before refusing", grew)
			}
		})
	}
	// Within budget: the same header passes with no limit.
	d := detect(t, pad(pngHeaderOnly(30000, 30000)))
	if w, h, err := Probe(bytes.NewReader(pngHeaderOnly(30000, 30000)), d, 0); err != nil || w != 30000 || h != 30000 {
		t.Fatalf("no limit: %d %d %v", w, h, err)
	}
}

func TestProbeCorrupt(t *testing.T) {
	j := makeJPEG(t, 64, 64)
	p := encodePNG(t, noiseImage(8, 8, 3))
	tests := []struct {
		name string
		kind Kind
		data []byte
	}{
		{"jpeg cut before SOF", KindJPEG, j[:4]},
		{"png cut in IHDR", KindPNG, p[:20]},
		{"png zero size", KindPNG, pngHeaderOnly(0, 10)},
		{"tiff loop", KindTIFF, []byte("II*\x00\x08\x00\x00\x00\x00\x00")},
		{"tiff offset past end", KindTIFF, []byte("II*\x00\xff\xff\x00\x00")},
		{"heic without meta", KindHEIC, ftyp("heic")[:24]},
		{"heic box overruns", KindHEIC, append(ftyp("heic")[:24:24], bmffBox("meta", be32(0), []byte{0, 0, 0xff, 0xff, 'i', 'p', 'r', 'p'})...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Detected{Kind: tc.kind, IsImage: true}
			_, _, err := Probe(bytes.NewReader(tc.data), d, 0)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Probe: %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestProbeRealFilesFromTools(t *testing.T) {
	conv := needTool(t, "convert")
	dir := t.TempDir()
	src := writeFile(t, dir, "src.png", encodePNG(t, noiseImage(96, 64, 4)))
	for _, ext := range []string{"webp", "tiff", "heic", "avif"} {
		t.Run(ext, func(t *testing.T) {
			dst := filepath.Join(dir, "out."+ext)
			run(t, conv, src, dst)
			data, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			d := detect(t, data)
			f, err := os.Open(dst)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			w, h, err := Probe(f, d, 0)
			if err != nil {
				t.Fatalf("Probe %s (%s): %v", ext, d.Kind, err)
			}
			if w != 96 || h != 64 {
				t.Fatalf("%s: got %dx%d", ext, w, h)
			}
		})
	}
}
