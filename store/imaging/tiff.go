package imaging

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"
)

// TIFF and EXIF tags used by this package.
const (
	tagNewSubfileType   = 0x00FE
	tagImageWidth       = 0x0100
	tagImageLength      = 0x0101
	tagCompression      = 0x0103
	tagMake             = 0x010F
	tagModel            = 0x0110
	tagStripOffsets     = 0x0111
	tagOrientation      = 0x0112
	tagStripByteCounts  = 0x0117
	tagDateTime         = 0x0132
	tagSubIFDs          = 0x014A
	tagJPEGOffset       = 0x0201 // JPEGInterchangeFormat
	tagJPEGLength       = 0x0202 // JPEGInterchangeFormatLength
	tagExifIFD          = 0x8769
	tagGPSIFD           = 0x8825
	tagDateTimeOriginal = 0x9003
	tagDateTimeDigit    = 0x9004
	tagOffsetTimeOrig   = 0x9011
	tagSubSecTimeOrig   = 0x9291
	tagPixelXDimension  = 0xA002
	tagPixelYDimension  = 0xA003
	tagBodySerial       = 0xA431
	tagLensMake         = 0xA433
	tagLensModel        = 0xA434
	tagLensSerial       = 0xA435
	tagDNGVersion       = 0xC612
	tagCameraSerial     = 0xC62F

	gpsLatRef = 0x0001
	gpsLat    = 0x0002
	gpsLonRef = 0x0003
	gpsLon    = 0x0004
)

// Limits that keep hostile files from making the parser loop or allocate.
const (
	maxIFDEntries = 1024
	maxIFDs       = 64       // IFDs visited per file (chains plus sub-IFDs)
	maxTagBytes   = 1 << 20  // largest tag value read into memory
	maxTIFFHeader = 64 << 20 // furthest offset Probe follows on a stream
)

// tiffEntry is one 12-byte IFD entry.
type tiffEntry struct {
	Tag, Type uint16
	Count     uint32
	Raw       [4]byte // value or offset, in file byte order
	Pos       int64   // offset of the entry inside the TIFF stream
}

// tiffIFD is a parsed image file directory.
type tiffIFD struct {
	Off     uint32
	Entries []tiffEntry
	Next    uint32
}

func (d tiffIFD) find(tag uint16) (tiffEntry, bool) {
	for _, e := range d.Entries {
		if e.Tag == tag {
			return e, true
		}
	}
	return tiffEntry{}, false
}

// tiffFile reads TIFF structures (TIFF files, DNG and RAW files, and EXIF
// blobs) from a random-access source, bounds-checking every offset.
type tiffFile struct {
	src   io.ReaderAt
	size  int64 // -1 when unknown (streamed source)
	bo    binary.ByteOrder
	first uint32
}

// newTIFF parses the header of an in-memory TIFF stream (an EXIF payload
// after "Exif\0\0", or the head of a file).
func newTIFF(b []byte) (*tiffFile, error) {
	return newTIFFAt(bytes.NewReader(b), int64(len(b)))
}

// newTIFFAt parses the 8-byte TIFF header at the start of r. size may be -1.
func newTIFFAt(r io.ReaderAt, size int64) (*tiffFile, error) {
	var h [8]byte
	if _, err := r.ReadAt(h[:], 0); err != nil {
		return nil, fmt.Errorf("imaging: tiff header: %w", ErrCorrupt)
	}
	t := &tiffFile{src: r, size: size}
	switch {
	case h[0] == 'I' && h[1] == 'I':
		t.bo = binary.LittleEndian
	case h[0] == 'M' && h[1] == 'M':
		t.bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("imaging: tiff byte order: %w", ErrCorrupt)
	}
	// 42 for TIFF/DNG/EXIF; ORF and RW2 use other magic numbers but the
	// same structure.
	switch t.bo.Uint16(h[2:4]) {
	case 42, 0x4F52, 0x5352, 0x55:
	default:
		return nil, fmt.Errorf("imaging: tiff magic: %w", ErrCorrupt)
	}
	t.first = t.bo.Uint32(h[4:8])
	if t.first < 8 {
		return nil, fmt.Errorf("imaging: tiff first ifd offset: %w", ErrCorrupt)
	}
	return t, nil
}

func (t *tiffFile) readAt(off int64, n int) ([]byte, error) {
	if off < 0 || n < 0 || n > maxTagBytes+16 || (t.size >= 0 && off+int64(n) > t.size) {
		return nil, fmt.Errorf("imaging: tiff offset %d+%d out of range: %w", off, n, ErrCorrupt)
	}
	b := make([]byte, n)
	if _, err := t.src.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("imaging: tiff read at %d: %w", off, ErrCorrupt)
	}
	return b, nil
}

// readIFD reads the directory at off; a missing next-IFD pointer reads as
// zero.
func (t *tiffFile) readIFD(off uint32) (tiffIFD, error) {
	cb, err := t.readAt(int64(off), 2)
	if err != nil {
		return tiffIFD{}, err
	}
	n := int(t.bo.Uint16(cb))
	if n == 0 || n > maxIFDEntries {
		return tiffIFD{}, fmt.Errorf("imaging: tiff ifd with %d entries: %w", n, ErrCorrupt)
	}
	body, err := t.readAt(int64(off)+2, n*12)
	if err != nil {
		return tiffIFD{}, err
	}
	d := tiffIFD{Off: off, Entries: make([]tiffEntry, n)}
	for i := range n {
		e := body[i*12 : i*12+12]
		d.Entries[i] = tiffEntry{
			Tag:   t.bo.Uint16(e[0:2]),
			Type:  t.bo.Uint16(e[2:4]),
			Count: t.bo.Uint32(e[4:8]),
			Pos:   int64(off) + 2 + int64(i)*12,
		}
		copy(d.Entries[i].Raw[:], e[8:12])
	}
	if nb, err := t.readAt(int64(off)+2+int64(n)*12, 4); err == nil {
		d.Next = t.bo.Uint32(nb)
	}
	return d, nil
}

// typeSize is the byte size of one value of a TIFF field type (0 if unknown).
func typeSize(typ uint16) int {
	switch typ {
	case 1, 2, 6, 7: // BYTE, ASCII, SBYTE, UNDEFINED
		return 1
	case 3, 8: // SHORT, SSHORT
		return 2
	case 4, 9, 11, 13: // LONG, SLONG, FLOAT, IFD
		return 4
	case 5, 10, 12: // RATIONAL, SRATIONAL, DOUBLE
		return 8
	case 16, 17, 18: // LONG8, SLONG8, IFD8 (BigTIFF)
		return 8
	}
	return 0
}

// valueLen is the byte length of an entry's value, or -1 when unknown or too
// large to read.
func valueLen(e tiffEntry) int64 {
	sz := typeSize(e.Type)
	if sz == 0 {
		return -1
	}
	n := int64(sz) * int64(e.Count)
	if n > maxTagBytes {
		return -1
	}
	return n
}

// valueOffset returns where an out-of-line value lives, and false when the
// value is stored inline in the entry.
func (t *tiffFile) valueOffset(e tiffEntry) (uint32, bool) {
	if valueLen(e) <= 4 {
		return 0, false
	}
	return t.bo.Uint32(e.Raw[:]), true
}

// value returns the raw bytes of an entry's value.
func (t *tiffFile) value(e tiffEntry) ([]byte, error) {
	n := valueLen(e)
	if n < 0 {
		return nil, fmt.Errorf("imaging: tiff tag %#04x value too large: %w", e.Tag, ErrCorrupt)
	}
	if n <= 4 {
		return e.Raw[:n], nil
	}
	return t.readAt(int64(t.bo.Uint32(e.Raw[:])), int(n))
}

// uints decodes BYTE/SHORT/LONG/IFD values.
func (t *tiffFile) uints(e tiffEntry) ([]uint32, error) {
	b, err := t.value(e)
	if err != nil {
		return nil, err
	}
	out := make([]uint32, 0, e.Count)
	switch e.Type {
	case 1, 7:
		for _, c := range b {
			out = append(out, uint32(c))
		}
	case 3:
		for i := 0; i+2 <= len(b); i += 2 {
			out = append(out, uint32(t.bo.Uint16(b[i:])))
		}
	case 4, 13:
		for i := 0; i+4 <= len(b); i += 4 {
			out = append(out, t.bo.Uint32(b[i:]))
		}
	default:
		return nil, fmt.Errorf("imaging: tiff tag %#04x is not an integer: %w", e.Tag, ErrCorrupt)
	}
	return out, nil
}

// uintTag returns the first integer value of tag in d.
func (t *tiffFile) uintTag(d tiffIFD, tag uint16) (uint32, bool) {
	e, ok := d.find(tag)
	if !ok {
		return 0, false
	}
	v, err := t.uints(e)
	if err != nil || len(v) == 0 {
		return 0, false
	}
	return v[0], true
}

// stringTag returns an ASCII tag, trimmed of NULs and spaces.
func (t *tiffFile) stringTag(d tiffIFD, tag uint16) (string, bool) {
	e, ok := d.find(tag)
	if !ok || (e.Type != 2 && e.Type != 7 && e.Type != 1) {
		return "", false
	}
	b, err := t.value(e)
	if err != nil {
		return "", false
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), ""))
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s), s != ""
}

// rationals decodes RATIONAL values as float64.
func (t *tiffFile) rationals(e tiffEntry) ([]float64, error) {
	if e.Type != 5 && e.Type != 10 {
		return nil, fmt.Errorf("imaging: tiff tag %#04x is not rational: %w", e.Tag, ErrCorrupt)
	}
	b, err := t.value(e)
	if err != nil {
		return nil, err
	}
	out := make([]float64, 0, e.Count)
	for i := 0; i+8 <= len(b); i += 8 {
		var num, den float64
		if e.Type == 5 {
			num, den = float64(t.bo.Uint32(b[i:])), float64(t.bo.Uint32(b[i+4:]))
		} else {
			num, den = float64(int32(t.bo.Uint32(b[i:]))), float64(int32(t.bo.Uint32(b[i+4:])))
		}
		if den == 0 {
			out = append(out, math.NaN())
			continue
		}
		out = append(out, num/den)
	}
	return out, nil
}

// subIFD follows a pointer tag (ExifIFD, GPS IFD) from d.
func (t *tiffFile) subIFD(d tiffIFD, tag uint16) (tiffIFD, bool) {
	off, ok := t.uintTag(d, tag)
	if !ok || off < 8 {
		return tiffIFD{}, false
	}
	sub, err := t.readIFD(off)
	if err != nil {
		return tiffIFD{}, false
	}
	return sub, true
}

// walk visits IFD0, its chain (IFD1…) and every SubIFDs tree, at most maxIFDs
// directories, never the same offset twice.
func (t *tiffFile) walk(visit func(tiffIFD)) error {
	seen := map[uint32]bool{}
	queue := []uint32{t.first}
	for len(queue) > 0 && len(seen) < maxIFDs {
		off := queue[0]
		queue = queue[1:]
		if off < 8 || seen[off] {
			continue
		}
		seen[off] = true
		d, err := t.readIFD(off)
		if err != nil {
			if off == t.first {
				return err
			}
			continue
		}
		visit(d)
		if e, ok := d.find(tagSubIFDs); ok {
			if subs, err := t.uints(e); err == nil {
				queue = append(queue, subs...)
			}
		}
		if d.Next != 0 {
			queue = append(queue, d.Next)
		}
	}
	return nil
}

// streamReaderAt turns a forward-only reader into an io.ReaderAt by
// buffering what has been read, up to limit bytes. Probe uses it to follow
// TIFF and ISOBMFF offsets on an upload stream without reading the whole
// file when the header is near the start (it almost always is).
type streamReaderAt struct {
	r     io.Reader
	buf   []byte
	limit int64
	err   error
}

func (s *streamReaderAt) ReadAt(p []byte, off int64) (int, error) {
	end := off + int64(len(p))
	if off < 0 || end > s.limit {
		return 0, fmt.Errorf("imaging: header beyond %d bytes: %w", s.limit, ErrCorrupt)
	}
	for int64(len(s.buf)) < end && s.err == nil {
		need := end - int64(len(s.buf))
		chunk := max(need, 64<<10)
		chunk = min(chunk, s.limit-int64(len(s.buf)))
		start := len(s.buf)
		s.buf = append(s.buf, make([]byte, chunk)...)
		n, err := io.ReadFull(s.r, s.buf[start:])
		s.buf = s.buf[:start+n]
		if err != nil {
			s.err = err
		}
	}
	if int64(len(s.buf)) < end {
		n := 0
		if off < int64(len(s.buf)) {
			n = copy(p, s.buf[off:])
		}
		return n, io.ErrUnexpectedEOF
	}
	return copy(p, s.buf[off:end]), nil
}

// asReaderAt returns r as an io.ReaderAt with its size when r supports random
// access (files, bytes.Reader), or a buffering wrapper otherwise.
func asReaderAt(r io.Reader) (io.ReaderAt, int64) {
	if ra, ok := r.(io.ReaderAt); ok {
		if sk, ok := r.(io.Seeker); ok {
			if end, err := sk.Seek(0, io.SeekEnd); err == nil {
				if _, err := sk.Seek(0, io.SeekStart); err == nil {
					return ra, end
				}
			}
		}
	}
	return &streamReaderAt{r: r, limit: maxTIFFHeader}, -1
}
