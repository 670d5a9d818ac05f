package imaging

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// insertAfterSOI adds raw marker segments right after SOI.
func insertAfterSOI(j []byte, segs ...[]byte) []byte {
	out := append([]byte{}, j[:2]...)
	for _, s := range segs {
		out = append(out, s...)
	}
	return append(out, j[2:]...)
}

func segment(marker byte, data []byte) []byte {
	n := len(data) + 2
	return append([]byte{0xFF, marker, byte(n >> 8), byte(n)}, data...)
}

// iccSegment is an APP2 ICC_PROFILE chunk with a recognisable fake profile.
func iccSegment() []byte {
	prof := make([]byte, 132)
	copy(prof, be32(132))
	copy(prof[36:], "acsp")
	copy(prof[100:], "PHOTOVAULT-ICC-CANARY")
	return segment(markerAPP2, append([]byte("ICC_PROFILE\x00\x01\x01"), prof...))
}

func samePixels(t *testing.T, a, b []byte) {
	t.Helper()
	ia, err := jpeg.Decode(bytes.NewReader(a))
	if err != nil {
		t.Fatalf("decode original: %v", err)
	}
	ib, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode stripped: %v", err)
	}
	ya, ok1 := ia.(*image.YCbCr)
	yb, ok2 := ib.(*image.YCbCr)
	if !ok1 || !ok2 || ya.Rect != yb.Rect || !bytes.Equal(ya.Y, yb.Y) || !bytes.Equal(ya.Cb, yb.Cb) || !bytes.Equal(ya.Cr, yb.Cr) {
		t.Fatalf("decoded pixels differ after strip")
	}
}

// ownExifCheck parses the stripped JPEG's EXIF with this package's parser
// and fails if a GPS IFD or serial number is still referenced.
func ownExifCheck(t *testing.T, j []byte) (orientation uint32) {
	t.Helper()
	exif, err := exifFromJPEG(bytes.NewReader(j))
	if err != nil || exif == nil {
		t.Fatalf("stripped file lost its EXIF: %v", err)
	}
	tf, err := newTIFF(exif)
	if err != nil {
		t.Fatal(err)
	}
	ifd0, err := tf.readIFD(tf.first)
	if err != nil {
		t.Fatal(err)
	}
	dirs := []tiffIFD{ifd0}
	if ex, ok := tf.subIFD(ifd0, tagExifIFD); ok {
		dirs = append(dirs, ex)
		if _, ok := tf.stringTag(ex, tagDateTimeOriginal); !ok {
			t.Errorf("DateTimeOriginal lost")
		}
	} else {
		t.Errorf("EXIF IFD lost")
	}
	if ifd0.Next != 0 {
		if d, err := tf.readIFD(ifd0.Next); err == nil {
			dirs = append(dirs, d)
		}
	}
	for _, d := range dirs {
		for _, tag := range []uint16{tagGPSIFD, tagBodySerial, tagLensSerial, tagCameraSerial} {
			if _, ok := d.find(tag); ok {
				t.Errorf("tag %#04x still present in IFD at %d", tag, d.Off)
			}
		}
	}
	o, _ := tf.uintTag(ifd0, tagOrientation)
	return o
}

func TestStripLocationJPEG(t *testing.T) {
	p := taggedJPEG(t, 80, 60)
	tagged, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	orig := insertAfterSOI(tagged, iccSegment())
	for _, canary := range []string{fixBodySerial, fixLensSerial, fixCamSerial, "Paris", "ns.adobe.com/xap"} {
		if !bytes.Contains(orig, []byte(canary)) {
			t.Fatalf("fixture lacks %q", canary)
		}
	}
	d := detect(t, orig)

	var out bytes.Buffer
	changed, err := StripLocation(bytes.NewReader(orig), &out, d)
	if err != nil || !changed {
		t.Fatalf("StripLocation: changed=%v err=%v", changed, err)
	}
	stripped := out.Bytes()

	// Nothing that locates or identifies is left anywhere in the bytes.
	for _, canary := range []string{fixBodySerial, fixLensSerial, fixCamSerial, "Paris", "France", "Shot at the tower", "ns.adobe.com/xap", "Photoshop 3.0"} {
		if bytes.Contains(stripped, []byte(canary)) {
			t.Errorf("stripped output still contains %q", canary)
		}
	}
	// Kept: ICC profile byte for byte, orientation, capture time, camera.
	if !bytes.Contains(stripped, iccSegment()) {
		t.Errorf("ICC APP2 segment not kept verbatim")
	}
	if o := ownExifCheck(t, stripped); o != 6 {
		t.Errorf("orientation = %d, want 6", o)
	}
	samePixels(t, orig, stripped)

	// The compressed scan is copied verbatim.
	sos := bytes.Index(orig, []byte{0xFF, 0xDA})
	sos2 := bytes.Index(stripped, []byte{0xFF, 0xDA})
	if sos < 0 || sos2 < 0 || !bytes.Equal(orig[sos:], stripped[sos2:]) {
		t.Errorf("data from SOS on differs")
	}

	// ReadMeta agrees.
	m, err := ReadMeta(bytes.NewReader(stripped), d)
	if err != nil {
		t.Fatal(err)
	}
	if m.HasGPS || m.Orientation != 6 || m.TakenAt.IsZero() || m.Camera != "Canon EOS R5" {
		t.Errorf("meta after strip: %+v", m)
	}

	// exiftool agrees.
	sp := writeFile(t, t.TempDir(), "stripped.jpg", stripped)
	tags := exiftoolJSON(t, sp)
	for k := range tags {
		if strings.HasPrefix(k, "GPS:") || strings.HasPrefix(k, "XMP") || strings.HasPrefix(k, "IPTC:") ||
			strings.HasPrefix(k, "Photoshop:") || strings.Contains(k, "SerialNumber") || strings.Contains(k, "GPS") {
			t.Errorf("exiftool still sees %s = %v", k, tags[k])
		}
	}
	if tags["IFD0:Orientation"] != float64(6) {
		t.Errorf("exiftool orientation = %v", tags["IFD0:Orientation"])
	}
	if tags["ExifIFD:DateTimeOriginal"] != "2024:06:01 12:34:56" {
		t.Errorf("exiftool DateTimeOriginal = %v", tags["ExifIFD:DateTimeOriginal"])
	}
	if tags["IFD0:Model"] != "Canon EOS R5" || tags["ExifIFD:LensModel"] != "RF24-70mm F2.8 L IS USM" {
		t.Errorf("exiftool lost camera or lens: %v %v", tags["IFD0:Model"], tags["ExifIFD:LensModel"])
	}
	// Warnings the stripped file has and the original had not mean the
	// rewrite broke structure (the fake ICC profile warns in both).
	op := writeFile(t, t.TempDir(), "orig.jpg", orig)
	if w, ok := tags["ExifTool:Warning"]; ok && w != exiftoolJSON(t, op)["ExifTool:Warning"] {
		t.Errorf("exiftool warns about the stripped file: %v", w)
	}

	// Deterministic, and a second pass has nothing left to do.
	var again bytes.Buffer
	if _, err := StripLocation(bytes.NewReader(orig), &again, d); err != nil || !bytes.Equal(again.Bytes(), stripped) {
		t.Errorf("second run differs: %v", err)
	}
	var twice bytes.Buffer
	changed, err = StripLocation(bytes.NewReader(stripped), &twice, d)
	if err != nil || changed || !bytes.Equal(twice.Bytes(), stripped) {
		t.Errorf("stripping a stripped file: changed=%v err=%v", changed, err)
	}
}

// TestStripLocationDropsTrailingImages: phones append secondary JPEGs (MPF
// depth maps, gain maps) after EOI with their own EXIF and GPS.
func TestStripLocationDropsTrailingImages(t *testing.T) {
	p := taggedJPEG(t, 32, 32)
	tagged, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	main := insertAfterSOI(makeJPEG(t, 48, 48), segment(markerAPP2, []byte("MPF\x00MM\x00*\x00\x00\x00\x08")))
	withTrailer := append(append([]byte{}, main...), tagged...)
	var out bytes.Buffer
	changed, err := StripLocation(bytes.NewReader(withTrailer), &out, detect(t, withTrailer))
	if err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	if bytes.Contains(out.Bytes(), []byte(fixBodySerial)) || bytes.Contains(out.Bytes(), []byte("MPF\x00")) {
		t.Fatalf("trailing image or MPF index survived")
	}
	if !bytes.HasSuffix(out.Bytes(), []byte{0xFF, 0xD9}) {
		t.Fatalf("output does not end at EOI")
	}
	samePixels(t, main, out.Bytes())
}

func TestStripLocationFailsClosed(t *testing.T) {
	j := makeJPEG(t, 24, 24)
	// Unparseable EXIF: the whole segment goes.
	bad := insertAfterSOI(j, segment(markerAPP1, append([]byte("Exif\x00\x00"), []byte("GPS 48.85 N junk junk")...)))
	var out bytes.Buffer
	changed, err := StripLocation(bytes.NewReader(bad), &out, detect(t, bad))
	if err != nil || !changed || bytes.Contains(out.Bytes(), []byte("48.85")) {
		t.Fatalf("corrupt exif: changed=%v err=%v", changed, err)
	}
	samePixels(t, j, out.Bytes())

	// An IFD0 whose only entry is the GPS pointer cannot be shrunk to
	// zero entries: the segment is dropped rather than kept.
	gpsOnly := buildTIFF([][]tEnt{
		{{tag: tagGPSIFD, typ: 4, count: 1, ref: "ifd", refIdx: []int{1}}},
		{str(gpsLatRef, "N"), {tag: gpsLat, typ: 5, count: 3, val: u32(48, 1, 51, 1, 3013, 100)}},
	}, nil)
	withGPS := insertAfterSOI(j, segment(markerAPP1, append([]byte("Exif\x00\x00"), gpsOnly...)))
	out.Reset()
	changed, err = StripLocation(bytes.NewReader(withGPS), &out, detect(t, withGPS))
	if err != nil || !changed || bytes.Contains(out.Bytes(), []byte("Exif\x00\x00")) {
		t.Fatalf("gps-only exif: changed=%v err=%v", changed, err)
	}

	// Little-endian EXIF with GPS and a serial: scrubbed in place.
	le := buildTIFF([][]tEnt{
		{short(tagOrientation, 3), {tag: tagExifIFD, typ: 4, count: 1, ref: "ifd", refIdx: []int{1}},
			{tag: tagGPSIFD, typ: 4, count: 1, ref: "ifd", refIdx: []int{2}}},
		{str(tagDateTimeOriginal, "2020:01:02 03:04:05"), str(tagBodySerial, "LE-SERIAL-0001")},
		{str(gpsLatRef, "S"), {tag: gpsLat, typ: 5, count: 3, val: u32(33, 1, 51, 1, 5400, 100)}},
	}, nil)
	withLE := insertAfterSOI(j, segment(markerAPP1, append([]byte("Exif\x00\x00"), le...)))
	out.Reset()
	changed, err = StripLocation(bytes.NewReader(withLE), &out, detect(t, withLE))
	if err != nil || !changed || bytes.Contains(out.Bytes(), []byte("LE-SERIAL")) {
		t.Fatalf("le exif: changed=%v err=%v", changed, err)
	}
	if o := ownExifCheck(t, out.Bytes()); o != 3 {
		t.Fatalf("orientation %d after strip", o)
	}
	m, _ := ReadMeta(bytes.NewReader(out.Bytes()), detect(t, out.Bytes()))
	if m.HasGPS || m.TakenAt.IsZero() {
		t.Fatalf("meta after strip: %+v", m)
	}

	// Not a JPEG at all.
	if _, err := StripLocation(bytes.NewReader([]byte("not a jpeg")), &out, Detected{Kind: KindJPEG}); err == nil {
		t.Fatal("want error for non-JPEG bytes")
	}
}

// TestStripLocationProgressive: later scans and the tables between them are
// copied through; stray bytes between header segments are tolerated.
func TestStripLocationProgressive(t *testing.T) {
	et := needTool(t, "exiftool")
	conv := needTool(t, "convert")
	dir := t.TempDir()
	src := writeFile(t, dir, "src.png", encodePNG(t, noiseImage(120, 90, 11)))
	p := filepath.Join(dir, "prog.jpg")
	run(t, conv, src, "-interlace", "Plane", "-quality", "85", p)
	run(t, et, append(exifTagArgs(), p)...)
	orig, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(orig, []byte{0xFF, 0xDA}) < 2 {
		t.Fatalf("fixture is not progressive")
	}
	// Two stray zero bytes after the first segment.
	n := 4 + int(orig[4])<<8 | int(orig[5])
	withJunk := append(append(append([]byte{}, orig[:n]...), 0, 0), orig[n:]...)
	for _, in := range [][]byte{orig, withJunk} {
		var out bytes.Buffer
		changed, err := StripLocation(bytes.NewReader(in), &out, detect(t, in))
		if err != nil || !changed || bytes.Contains(out.Bytes(), []byte(fixBodySerial)) {
			t.Fatalf("changed=%v err=%v", changed, err)
		}
		samePixels(t, orig, out.Bytes())
		if o := ownExifCheck(t, out.Bytes()); o != 6 {
			t.Fatalf("orientation %d", o)
		}
	}
}

func TestStripLocationPNG(t *testing.T) {
	et := needTool(t, "exiftool")
	src := encodePNG(t, noiseImage(40, 30, 5))
	p := writeFile(t, t.TempDir(), "gps.png", src)
	run(t, et, append(exifTagArgs(), "-PNG:Comment=taken at home", "-XMP-dc:Description=home", p)...)
	orig, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"eXIf", fixBodySerial} {
		if !bytes.Contains(orig, []byte(c)) {
			t.Fatalf("fixture lacks %q", c)
		}
	}
	var out bytes.Buffer
	changed, err := StripLocation(bytes.NewReader(orig), &out, detect(t, orig))
	if err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	for _, c := range []string{"eXIf", "tEXt", "iTXt", "zTXt", fixBodySerial, "taken at home"} {
		if bytes.Contains(out.Bytes(), []byte(c)) {
			t.Errorf("stripped PNG still contains %q", c)
		}
	}
	a, err := png.Decode(bytes.NewReader(orig))
	if err != nil {
		t.Fatal(err)
	}
	b, err := png.Decode(bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatalf("stripped PNG does not decode: %v", err)
	}
	if pixOf(a) == nil || !bytes.Equal(pixOf(a), pixOf(b)) {
		t.Errorf("PNG pixels changed")
	}
	sp := writeFile(t, t.TempDir(), "stripped.png", out.Bytes())
	for k := range exiftoolJSON(t, sp) {
		if strings.Contains(k, "GPS") || strings.Contains(k, "Serial") {
			t.Errorf("exiftool still sees %s", k)
		}
	}
}

func pixOf(m image.Image) []byte {
	switch v := m.(type) {
	case *image.NRGBA:
		return v.Pix
	case *image.RGBA:
		return v.Pix
	}
	return nil
}

func TestStripLocationWebP(t *testing.T) {
	et := needTool(t, "exiftool")
	conv := needTool(t, "convert")
	dir := t.TempDir()
	src := writeFile(t, dir, "src.png", encodePNG(t, noiseImage(40, 30, 6)))
	p := filepath.Join(dir, "gps.webp")
	run(t, conv, src, p)
	run(t, et, append(exifTagArgs(), "-XMP-dc:Description=home", p)...)
	orig, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	changed, err := StripLocation(bytes.NewReader(orig), &out, detect(t, orig))
	if err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	if bytes.Contains(out.Bytes(), []byte(fixBodySerial)) || bytes.Contains(out.Bytes(), []byte("EXIF")) {
		t.Fatalf("EXIF survived")
	}
	sp := writeFile(t, dir, "stripped.webp", out.Bytes())
	tags := exiftoolJSON(t, sp)
	for k := range tags {
		if strings.Contains(k, "GPS") || strings.Contains(k, "Serial") {
			t.Errorf("exiftool still sees %s", k)
		}
	}
	if w, ok := tags["ExifTool:Warning"]; ok {
		t.Errorf("exiftool warns: %v", w)
	}
	if _, _, err := Derive(bytes.NewReader(out.Bytes()), detect(t, out.Bytes()), 1); err != nil {
		t.Fatalf("stripped webp does not decode: %v", err)
	}
}

func TestStripLocationOtherKindsUnchanged(t *testing.T) {
	data := pad([]byte("GIF89a\x01\x00\x01\x00"))
	var out bytes.Buffer
	changed, err := StripLocation(bytes.NewReader(data), &out, Detected{Kind: KindGIF})
	if err != nil || changed || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
}

// checkSplice strips src with StripJPEGSplice and checks it writes what
// StripLocation writes and, when it reports a splice, that the output from
// HeadLen on is the source from SrcOffset on.
func checkSplice(t *testing.T, src []byte) Splice {
	t.Helper()
	var want, got bytes.Buffer
	if _, err := StripLocation(bytes.NewReader(src), &want, Detected{Kind: KindJPEG}); err != nil {
		t.Fatal(err)
	}
	changed, sp, err := StripJPEGSplice(bytes.NewReader(src), &got)
	if err != nil || !changed {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatal("StripJPEGSplice wrote other bytes than StripLocation")
	}
	if sp.OK {
		out := got.Bytes()
		tail := int64(len(out)) - sp.HeadLen
		if sp.HeadLen <= 0 || sp.SrcOffset < 0 || tail <= 0 || sp.SrcOffset+tail > int64(len(src)) {
			t.Fatalf("splice %+v out of range (output %d, source %d bytes)", sp, len(out), len(src))
		}
		if !bytes.Equal(out[sp.HeadLen:], src[sp.SrcOffset:sp.SrcOffset+tail]) {
			t.Fatalf("output from %d is not the source from %d", sp.HeadLen, sp.SrcOffset)
		}
		if !bytes.HasPrefix(out[sp.HeadLen:], []byte{0xFF, markerSOS}) {
			t.Fatal("the splice does not start at SOS")
		}
	}
	return sp
}

func TestStripJPEGSplice(t *testing.T) {
	tagged, err := os.ReadFile(taggedJPEG(t, 80, 60))
	if err != nil {
		t.Fatal(err)
	}
	orig := insertAfterSOI(tagged, iccSegment())
	if sp := checkSplice(t, orig); !sp.OK {
		t.Fatal("no splice for a baseline JPEG")
	}
	// Fill bytes before SOS are not copied: the splice still starts at SOS.
	sos := bytes.Index(orig, []byte{0xFF, markerSOS})
	filled := append(append(append([]byte{}, orig[:sos]...), 0xFF, 0xFF), orig[sos:]...)
	if sp := checkSplice(t, filled); !sp.OK || sp.SrcOffset != int64(sos+2) {
		t.Fatalf("fill bytes: %+v, want the splice at %d", sp, sos+2)
	}
	// What follows EOI is dropped: the splice ends there.
	withTrailer := append(append([]byte{}, orig...), tagged...)
	if sp := checkSplice(t, withTrailer); !sp.OK {
		t.Fatal("no splice with a trailer")
	}
	// An APP1 between the scans is scrubbed: the tail is no longer the
	// source's, so no splice.
	eoi := bytes.LastIndex(orig, []byte{0xFF, markerEOI})
	exif := tagged[2 : 2+2+int(tagged[4])<<8|int(tagged[5])]
	between := append(append(append(append([]byte{}, orig[:eoi]...), exif...), orig[sos:eoi]...), 0xFF, markerEOI)
	if exif[1] != markerAPP1 {
		t.Fatalf("fixture's first segment is %x, want APP1", exif[1])
	}
	if sp := checkSplice(t, between); sp.OK {
		t.Fatal("splice reported although a segment after SOS was changed")
	}
}
