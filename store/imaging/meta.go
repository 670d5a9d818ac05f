package imaging

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/evanoberholster/imagemeta"
)

// Meta is what an image says about itself. Strings come from the file and
// are untrusted display text: escape them when rendering.
type Meta struct {
	TakenAt     time.Time // capture time; UTC when the file has no offset; zero if unknown
	Camera      string    // "Make Model", de-duplicated
	Lens        string
	Orientation int // EXIF orientation 1–8 to pass to Derive (1 when absent)
	// Width and Height are the display dimensions, after orientation.
	Width, Height int
	HasGPS        bool
	Lat, Lon      float64 // degrees, negative south and west; only if HasGPS
}

const maxMetaString = 128 // runes kept from camera and lens names

// ReadMeta extracts capture time, camera, lens, orientation, display size
// and GPS position. It is best effort: a file without EXIF, or with EXIF it
// cannot parse, yields a Meta with the size and Orientation 1 and no error.
// An error is returned only when the image header itself cannot be read.
func ReadMeta(r io.ReadSeeker, d Detected) (Meta, error) {
	m := Meta{Orientation: 1}
	ra := &seekReaderAt{rs: r}
	size, err := r.Seek(0, io.SeekEnd)
	if err != nil {
		return m, fmt.Errorf("imaging: meta seek: %w", err)
	}
	ra.size = size

	exif := exifPayload(ra, size, d)
	if exif != nil {
		fillFromExif(&m, exif)
	}
	if d.Kind == KindRaw && exif == nil && d.ContentType == "image/x-canon-cr3" {
		fillFromImagemeta(&m, r)
	}

	// Display size.
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return m, fmt.Errorf("imaging: meta seek: %w", err)
	}
	switch d.Kind {
	case KindHEIC, KindAVIF:
		// The decoder applies irot/imir itself; EXIF orientation must not
		// be applied a second time.
		m.Orientation = 1
		info, err := heifProbe(io.NewSectionReader(ra, 0, size))
		if err != nil {
			return m, err
		}
		m.Width, m.Height = info.width, info.height
		if info.rotation%2 == 1 {
			m.Width, m.Height = m.Height, m.Width
		}
		return m, nil
	case KindMP4, KindMOV:
		return m, nil
	}
	w, h, err := Probe(io.NewSectionReader(ra, 0, size), d, 0)
	if err != nil {
		return m, err
	}
	if m.Orientation >= 5 {
		w, h = h, w
	}
	m.Width, m.Height = w, h
	return m, nil
}

// seekReaderAt adapts an io.ReadSeeker to io.ReaderAt for one goroutine.
type seekReaderAt struct {
	rs   io.ReadSeeker
	size int64
}

func (s *seekReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= s.size {
		return 0, io.EOF
	}
	if _, err := s.rs.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := io.ReadFull(s.rs, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

// exifPayload finds the TIFF-structured EXIF block for each kind, or nil.
func exifPayload(ra io.ReaderAt, size int64, d Detected) *tiffFile {
	fromBytes := func(b []byte) *tiffFile {
		if b == nil {
			return nil
		}
		t, err := newTIFF(b)
		if err != nil {
			return nil
		}
		return t
	}
	sec := func() *io.SectionReader { return io.NewSectionReader(ra, 0, size) }
	switch d.Kind {
	case KindJPEG:
		b, _ := exifFromJPEG(sec())
		return fromBytes(b)
	case KindPNG:
		return fromBytes(pngExif(sec()))
	case KindWebP:
		return fromBytes(webpExif(ra, size))
	case KindTIFF, KindDNG:
		return tiffWhole(ra, size)
	case KindRaw:
		if d.ContentType == "image/x-fuji-raf" {
			var h [8]byte
			if _, err := ra.ReadAt(h[:], 84); err != nil {
				return nil
			}
			off, n := int64(binary.BigEndian.Uint32(h[:4])), int64(binary.BigEndian.Uint32(h[4:]))
			if off <= 0 || n <= 0 || off+n > size {
				return nil
			}
			b, _ := exifFromJPEG(io.NewSectionReader(ra, off, n))
			return fromBytes(b)
		}
		return tiffWhole(ra, size)
	case KindHEIC, KindAVIF:
		b, _ := heifExif(ra)
		return fromBytes(b)
	}
	return nil
}

// tiffWhole returns the file itself as the EXIF structure (TIFF, DNG and
// TIFF-based RAW), or nil when it does not parse.
func tiffWhole(ra io.ReaderAt, size int64) *tiffFile {
	t, err := newTIFFAt(ra, size)
	if err != nil {
		return nil
	}
	return t
}

// pngExif returns the payload of the eXIf chunk.
func pngExif(r io.Reader) []byte {
	var sig [8]byte
	if _, err := io.ReadFull(r, sig[:]); err != nil || string(sig[:]) != pngSignature {
		return nil
	}
	for range 10000 {
		var h [8]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return nil
		}
		n := int64(binary.BigEndian.Uint32(h[:4]))
		switch string(h[4:8]) {
		case "eXIf":
			if n > maxTagBytes*4 {
				return nil
			}
			b := make([]byte, n)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil
			}
			return b
		case "IDAT", "IEND":
			// eXIf must precede IDAT; stop before reading pixel data.
			return nil
		}
		if _, err := io.CopyN(io.Discard, r, n+4); err != nil {
			return nil
		}
	}
	return nil
}

// webpExif returns the payload of the EXIF chunk.
func webpExif(ra io.ReaderAt, size int64) []byte {
	for off := int64(12); off+8 <= size; {
		var h [8]byte
		if _, err := ra.ReadAt(h[:], off); err != nil {
			return nil
		}
		n := int64(binary.LittleEndian.Uint32(h[4:8]))
		if string(h[:4]) == "EXIF" {
			if n > maxTagBytes*4 || off+8+n > size {
				return nil
			}
			b := make([]byte, n)
			if _, err := ra.ReadAt(b, off+8); err != nil {
				return nil
			}
			return bytes.TrimPrefix(b, []byte(exifPrefix))
		}
		off += 8 + n + n&1
	}
	return nil
}

// fillFromExif copies the interesting tags of a TIFF-structured EXIF block.
func fillFromExif(m *Meta, t *tiffFile) {
	ifd0, err := t.readIFD(t.first)
	if err != nil {
		return
	}
	if o, ok := t.uintTag(ifd0, tagOrientation); ok && o >= 1 && o <= 8 {
		m.Orientation = int(o)
	}
	mk, _ := t.stringTag(ifd0, tagMake)
	model, _ := t.stringTag(ifd0, tagModel)
	m.Camera = cameraName(mk, model)
	taken := ""
	offset, subsec := "", ""
	if ex, ok := t.subIFD(ifd0, tagExifIFD); ok {
		taken, _ = t.stringTag(ex, tagDateTimeOriginal)
		if taken == "" {
			taken, _ = t.stringTag(ex, tagDateTimeDigit)
		}
		offset, _ = t.stringTag(ex, tagOffsetTimeOrig)
		subsec, _ = t.stringTag(ex, tagSubSecTimeOrig)
		lens, _ := t.stringTag(ex, tagLensModel)
		lensMake, _ := t.stringTag(ex, tagLensMake)
		if lens != "" && lensMake != "" && !strings.HasPrefix(strings.ToLower(lens), strings.ToLower(lensMake)) {
			lens = lensMake + " " + lens
		}
		m.Lens = truncate(lens)
	}
	if taken == "" {
		taken, _ = t.stringTag(ifd0, tagDateTime)
	}
	m.TakenAt = parseExifTime(taken, offset, subsec)
	if gps, ok := t.subIFD(ifd0, tagGPSIFD); ok {
		lat, ok1 := gpsCoord(t, gps, gpsLat, gpsLatRef, 'S', 90)
		lon, ok2 := gpsCoord(t, gps, gpsLon, gpsLonRef, 'W', 180)
		if ok1 && ok2 {
			m.HasGPS, m.Lat, m.Lon = true, lat, lon
		}
	}
}

// fillFromImagemeta reads CR3 metadata, which lives in Canon's own boxes,
// through imagemeta. It is guarded against panics in that parser.
func fillFromImagemeta(m *Meta, r io.ReadSeeker) {
	defer func() { _ = recover() }()
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return
	}
	e, err := imagemeta.DecodeCR3(r)
	if err != nil {
		return
	}
	if o := int(e.Orientation); o >= 1 && o <= 8 {
		m.Orientation = o
	}
	m.Camera = cameraName(e.Make, e.Model)
	m.Lens = truncate(e.LensModel)
	if t := e.DateTimeOriginal(); !t.IsZero() && t.Year() > 1900 {
		m.TakenAt = t.UTC()
	}
	lat, lon := e.GPS.Latitude(), e.GPS.Longitude()
	if (lat != 0 || lon != 0) && math.Abs(lat) <= 90 && math.Abs(lon) <= 180 {
		m.HasGPS, m.Lat, m.Lon = true, lat, lon
	}
}

func truncate(s string) string {
	if utf8.RuneCountInString(s) <= maxMetaString {
		return s
	}
	return string([]rune(s)[:maxMetaString])
}

// cameraName joins make and model without repeating the make ("Canon Canon
// EOS R5" → "Canon EOS R5").
func cameraName(mk, model string) string {
	mk, model = strings.TrimSpace(mk), strings.TrimSpace(model)
	switch {
	case model == "":
		return truncate(mk)
	case mk == "":
		return truncate(model)
	}
	first := strings.ToLower(strings.Fields(mk)[0])
	if strings.HasPrefix(strings.ToLower(model), first) {
		return truncate(model)
	}
	return truncate(mk + " " + model)
}

// parseExifTime parses "2006:01:02 15:04:05" with an optional "+02:00"
// offset and sub-second digits. Without an offset the wall clock is taken
// as UTC.
func parseExifTime(s, offset, subsec string) time.Time {
	s = strings.TrimSpace(s)
	if len(s) < 19 {
		return time.Time{}
	}
	t, err := time.Parse("2006:01:02 15:04:05", s[:19])
	if err != nil || t.Year() < 1800 {
		return time.Time{}
	}
	if off, err := time.Parse("-07:00", strings.TrimSpace(offset)); err == nil {
		_, secs := off.Zone()
		t = t.Add(-time.Duration(secs) * time.Second)
	}
	if subsec = strings.TrimSpace(subsec); subsec != "" && len(subsec) <= 9 {
		var ns int64
		for i, c := range subsec {
			if c < '0' || c > '9' {
				ns = 0
				break
			}
			ns += int64(c-'0') * int64(math.Pow10(8-i))
		}
		t = t.Add(time.Duration(ns))
	}
	return t.UTC()
}

// gpsCoord reads degrees/minutes/seconds and the hemisphere reference.
func gpsCoord(t *tiffFile, gps tiffIFD, tag, refTag uint16, negative byte, limit float64) (float64, bool) {
	e, ok := gps.find(tag)
	if !ok {
		return 0, false
	}
	v, err := t.rationals(e)
	if err != nil || len(v) == 0 {
		return 0, false
	}
	deg := v[0]
	if len(v) > 1 {
		deg += v[1] / 60
	}
	if len(v) > 2 {
		deg += v[2] / 3600
	}
	if math.IsNaN(deg) || math.IsInf(deg, 0) || deg < 0 || deg > limit {
		return 0, false
	}
	if ref, _ := t.stringTag(gps, refTag); len(ref) > 0 && ref[0] == negative {
		deg = -deg
	}
	return deg, true
}
