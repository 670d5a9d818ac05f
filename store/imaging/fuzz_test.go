package imaging

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

// Fuzz targets: hostile bytes must never panic, loop or allocate without
// bound; every failure must be a typed error. Run briefly with e.g.
//
//	go test -run XXX -fuzz FuzzProbe -fuzztime 30s ./store/imaging/

func fuzzSeeds(f *testing.F) {
	f.Add(makeJPEG(f, 17, 9))
	f.Add(encodePNG(f, noiseImage(5, 3, 1)))
	f.Add(pngHeaderOnly(30000, 30000))
	f.Add(jpegHeaderOnly(30000, 30000))
	f.Add([]byte("GIF89a\x01\x00\x01\x00<script>"))
	f.Add(buildTIFF([][]tEnt{{long(tagImageWidth, 8), long(tagImageLength, 8),
		{tag: tagSubIFDs, typ: 4, count: 1, ref: "ifd", refIdx: []int{0}}}}, nil))
	f.Add(heifHeaderOnly("heic", 100, 50, 1))
	f.Add(heifHeaderOnly("avif", 100, 50, 0))
	f.Add([]byte("RIFF\x20\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("FUJIFILMCCD-RAW 0201"))
	f.Add([]byte("<svg onload=alert(1)>"))
}

func FuzzSniff(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, head []byte) {
		d, err := Sniff(head)
		if err != nil {
			if !errors.Is(err, ErrUnsupported) || d != (Detected{}) {
				t.Fatalf("bad rejection: %+v %v", d, err)
			}
			return
		}
		if d.Kind == "" || d.ContentType == "" || d.IsImage == d.IsVideo {
			t.Fatalf("incoherent detection %+v", d)
		}
		if findMarkup(head) != "" {
			t.Fatalf("accepted a head with markup")
		}
	})
}

func FuzzProbe(f *testing.F) {
	fuzzSeeds(f)
	kinds := []Kind{KindJPEG, KindPNG, KindGIF, KindWebP, KindTIFF, KindHEIC, KindAVIF, KindDNG, KindRaw, KindMP4}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, k := range kinds {
			d := Detected{Kind: k, IsImage: true}
			for _, r := range []io.Reader{bytes.NewReader(data), streamOnly{bytes.NewReader(data)}} {
				w, h, err := Probe(r, d, 50_000_000)
				// RAW sensor sizes are reported, not held against the limit
				// (their pixels are never decoded; see Probe).
				raw := k == KindDNG || k == KindRaw
				if err == nil && (w < 0 || h < 0 || !raw && int64(w)*int64(h) > 50_000_000) {
					t.Fatalf("%s: %dx%d accepted", k, w, h)
				}
				if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrPixelFlood) && !errors.Is(err, ErrUnsupported) {
					t.Fatalf("%s: untyped error %v", k, err)
				}
			}
		}
	})
}

// FuzzMetaAndStrip drives the EXIF, TIFF and ISOBMFF parsers and the JPEG,
// PNG and WebP rewriters with hostile input.
func FuzzMetaAndStrip(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		// A hang is a failure too (the fuzzer would otherwise wait).
		tm := time.AfterFunc(10*time.Second, func() { panic("imaging: fuzz input took over 10 s") })
		defer tm.Stop()
		for _, k := range []Kind{KindJPEG, KindPNG, KindWebP, KindTIFF, KindHEIC, KindDNG} {
			d := Detected{Kind: k, IsImage: true}
			_, _ = ReadMeta(bytes.NewReader(data), d)
			var out bytes.Buffer
			if _, err := StripLocation(bytes.NewReader(data), &out, d); err == nil && k == KindJPEG {
				// Whatever was written must carry no GPS pointer.
				if exif, _ := exifFromJPEG(bytes.NewReader(out.Bytes())); exif != nil {
					if tf, err := newTIFF(exif); err == nil {
						if ifd0, err := tf.readIFD(tf.first); err == nil {
							if _, ok := ifd0.find(tagGPSIFD); ok {
								t.Fatalf("GPS pointer survived StripLocation")
							}
						}
					}
				}
			}
		}
		_, _, _ = scrubExif(data)
		_, _ = rawPreview(data)
	})
}
