package imaging

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// StripLocation copies an image from r to w without what can locate the
// photographer or identify their gear, for shares made with
// strip_location. It returns whether anything was removed.
//
// JPEG: the EXIF block is rewritten in place so that the GPS IFD and the
// camera and lens serial numbers (0xA431 BodySerialNumber, 0xA435
// LensSerialNumber, 0xC62F CameraSerialNumber) are unreferenced and zeroed,
// while everything else — orientation, capture time, maker notes, the EXIF
// thumbnail — keeps its bytes and offsets. XMP (which repeats GPS) and
// IPTC/Photoshop APP13 are dropped, as are the MPF index and anything after
// the end-of-image marker (secondary images and vendor trailers carry their
// own EXIF with GPS). ICC profiles and the rest are kept, and everything from
// SOS on is copied verbatim, so the decoded pixels are identical. An EXIF
// block that cannot be parsed is dropped whole: failing closed costs the
// orientation tag, failing open would leak the location.
//
// PNG: eXIf, tEXt, zTXt and iTXt chunks (EXIF and XMP live there) and any
// trailer are dropped. WebP: EXIF and XMP chunks are dropped and the VP8X
// flags fixed. Other kinds are copied unchanged and changed is false; the
// caller decides whether to serve such originals on a stripped share.
//
// The output is a pure function of the input bytes.
func StripLocation(r io.Reader, w io.Writer, d Detected) (changed bool, err error) {
	switch d.Kind {
	case KindJPEG:
		return stripJPEG(r, w, nil)
	case KindPNG:
		return stripPNG(r, w)
	case KindWebP:
		return stripWebP(r, w)
	}
	if _, err := io.Copy(w, r); err != nil {
		return false, fmt.Errorf("imaging: strip copy: %w", err)
	}
	return false, nil
}

// stripSegment decides what happens to one JPEG header segment.
func stripSegment(s jpegSegment) (keep jpegSegment, drop, changed bool) {
	switch {
	case s.marker == markerAPP1 && hasPrefix(s.data, exifPrefix):
		out, ch, err := scrubExif(s.data[len(exifPrefix):])
		if err != nil {
			return jpegSegment{}, true, true
		}
		if !ch {
			return s, false, false
		}
		data := append([]byte(exifPrefix), out...)
		return jpegSegment{marker: s.marker, data: data}, false, true
	case s.marker == markerAPP1 && (hasPrefix(s.data, xmpPrefix) || hasPrefix(s.data, xmpExtPrefix)):
		return jpegSegment{}, true, true
	case s.marker == markerAPP13:
		return jpegSegment{}, true, true
	case s.marker == markerAPP2 && hasPrefix(s.data, mpfPrefix):
		return jpegSegment{}, true, true
	}
	return s, false, false
}

// Splice says where a stripped JPEG starts to repeat its source: from output
// offset HeadLen and source offset SrcOffset (the first SOS marker) to the
// end of the output, every byte is the source's. OK is false when that does
// not hold: no scan, or a segment between scans was changed or dropped.
type Splice struct {
	OK                 bool
	HeadLen, SrcOffset int64
}

// StripJPEGSplice is StripLocation for a JPEG that also reports the splice
// point, so a caller can keep the rewritten head and reuse the rest of the
// source instead of storing a second copy of the compressed pixels.
func StripJPEGSplice(r io.Reader, w io.Writer) (changed bool, sp Splice, err error) {
	changed, err = stripJPEG(r, w, &sp)
	if err != nil {
		return false, Splice{}, err
	}
	return changed, sp, nil
}

// byteCounter counts the bytes read from r or written to w.
type byteCounter struct {
	r io.Reader
	w io.Writer
	n int64
}

func (c *byteCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *byteCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func stripJPEG(r io.Reader, w io.Writer, sp *Splice) (bool, error) {
	in, out := &byteCounter{r: r}, &byteCounter{w: w}
	br := bufio.NewReaderSize(in, 64<<10)
	bw := bufio.NewWriterSize(out, 64<<10)
	changed := false
	inScans, spliceOK := false, true
	m, err := readMarker(br)
	if err != nil || m != markerSOI {
		return false, fmt.Errorf("imaging: strip jpeg: missing SOI: %w", ErrCorrupt)
	}
	if _, err := bw.Write([]byte{0xFF, markerSOI}); err != nil {
		return false, fmt.Errorf("imaging: strip jpeg: %w", err)
	}
	// handle processes one marker outside entropy-coded data. It returns
	// true at EOI.
	handle := func(m byte) (bool, error) {
		if m == markerEOI {
			_, err := bw.Write([]byte{0xFF, markerEOI})
			return true, err
		}
		if !hasLength(m) {
			_, err := bw.Write([]byte{0xFF, m})
			return false, err
		}
		s, err := readSegmentBody(br, m)
		if err != nil {
			return false, err
		}
		keep, drop, ch := stripSegment(s)
		changed = changed || ch
		if inScans && (drop || ch) {
			spliceOK = false
		}
		if drop {
			return false, nil
		}
		return false, writeSegment(bw, keep)
	}
	// Header up to the first SOS.
	for {
		m, err := readMarker(br)
		if err != nil {
			return false, fmt.Errorf("imaging: strip jpeg header: %w", ErrCorrupt)
		}
		if m == markerSOS && sp != nil {
			// The marker's two bytes are read (fill bytes before it are
			// not copied); the output has not written it yet.
			sp.SrcOffset = in.n - int64(br.Buffered()) - 2
			sp.HeadLen = out.n + int64(bw.Buffered())
		}
		eoi, err := handle(m)
		if err != nil {
			return false, fmt.Errorf("imaging: strip jpeg: %w", err)
		}
		if eoi {
			return changed, flushTrailer(br, bw, &changed)
		}
		if m == markerSOS {
			break
		}
	}
	inScans = true
	if sp != nil {
		defer func() { sp.OK = spliceOK }()
	}
	// Entropy-coded data and any later scans (progressive JPEG), verbatim
	// up to EOI.
	for {
		chunk, err := br.ReadSlice(0xFF)
		if len(chunk) > 0 && chunk[len(chunk)-1] == 0xFF && err == nil {
			if _, werr := bw.Write(chunk[:len(chunk)-1]); werr != nil {
				return false, fmt.Errorf("imaging: strip jpeg: %w", werr)
			}
		} else if _, werr := bw.Write(chunk); werr != nil {
			return false, fmt.Errorf("imaging: strip jpeg: %w", werr)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			// Truncated scan: keep what there is, like the decoder would.
			if errors.Is(err, io.EOF) {
				return changed, wrapFlush(bw)
			}
			return false, fmt.Errorf("imaging: strip jpeg: %w", err)
		}
		// chunk ended with 0xFF: look at what follows.
		next, err := br.ReadByte()
		for err == nil && next == 0xFF { // fill bytes
			if _, werr := bw.Write([]byte{0xFF}); werr != nil {
				return false, fmt.Errorf("imaging: strip jpeg: %w", werr)
			}
			next, err = br.ReadByte()
		}
		if err != nil {
			if _, werr := bw.Write([]byte{0xFF}); werr != nil {
				return false, fmt.Errorf("imaging: strip jpeg: %w", werr)
			}
			return changed, wrapFlush(bw)
		}
		if next == 0x00 || (next >= 0xD0 && next <= 0xD7) {
			if _, werr := bw.Write([]byte{0xFF, next}); werr != nil {
				return false, fmt.Errorf("imaging: strip jpeg: %w", werr)
			}
			continue
		}
		eoi, err := handle(next)
		if err != nil {
			return false, fmt.Errorf("imaging: strip jpeg: %w", err)
		}
		if eoi {
			return changed, flushTrailer(br, bw, &changed)
		}
	}
}

// flushTrailer discards whatever follows EOI (noting it as a change) and
// flushes the output.
func flushTrailer(br *bufio.Reader, bw *bufio.Writer, changed *bool) error {
	n, err := io.Copy(io.Discard, br)
	if err != nil {
		return fmt.Errorf("imaging: strip jpeg trailer: %w", err)
	}
	if n > 0 {
		*changed = true
	}
	return wrapFlush(bw)
}

func wrapFlush(bw *bufio.Writer) error {
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("imaging: strip write: %w", err)
	}
	return nil
}

// scrubTag reports the tags removed from IFD0, IFD1 and the EXIF IFD.
func scrubTag(tag uint16) bool {
	switch tag {
	case tagGPSIFD, tagBodySerial, tagLensSerial, tagCameraSerial:
		return true
	}
	return false
}

// scrubExif returns a copy of a TIFF-structured EXIF payload in which the GPS
// IFD and serial-number tags are unreferenced and their bytes zeroed. The
// layout is otherwise untouched, so every other offset (maker notes, the
// thumbnail) stays valid.
func scrubExif(src []byte) ([]byte, bool, error) {
	buf := append([]byte{}, src...)
	t, err := newTIFF(buf)
	if err != nil {
		return nil, false, err
	}
	ifd0, err := t.readIFD(t.first)
	if err != nil {
		return nil, false, err
	}
	dirs := []tiffIFD{ifd0}
	if _, has := ifd0.find(tagExifIFD); has {
		exif, ok := t.subIFD(ifd0, tagExifIFD)
		if !ok {
			// Serial numbers may hide in a directory we cannot read.
			return nil, false, fmt.Errorf("imaging: exif sub-ifd unreadable: %w", ErrCorrupt)
		}
		dirs = append(dirs, exif)
	}
	if ifd0.Next >= 8 {
		if ifd1, err := t.readIFD(ifd0.Next); err == nil {
			dirs = append(dirs, ifd1)
		}
	}
	changed := false
	for _, d := range dirs {
		var kept []tiffEntry
		for _, e := range d.Entries {
			if !scrubTag(e.Tag) {
				kept = append(kept, e)
				continue
			}
			changed = true
			if e.Tag == tagGPSIFD {
				if off, ok := t.uintTag(d, tagGPSIFD); ok {
					zeroIFD(t, buf, off)
				}
			}
			zeroValue(t, buf, e)
		}
		if len(kept) == len(d.Entries) {
			continue
		}
		if len(kept) == 0 {
			// An IFD needs at least one entry; zeroing the directory
			// would break the chain, so fail closed.
			return nil, false, fmt.Errorf("imaging: exif ifd holds only scrubbed tags: %w", ErrCorrupt)
		}
		rewriteIFD(t, buf, d, kept)
	}
	if !changed {
		return src, false, nil
	}
	// The result must still parse.
	if t2, err := newTIFF(buf); err != nil {
		return nil, false, err
	} else if _, err := t2.readIFD(t2.first); err != nil {
		return nil, false, err
	}
	return buf, true, nil
}

// zeroRange clears buf[off:off+n] when it lies inside buf.
func zeroRange(buf []byte, off, n int64) {
	if off < 8 || n <= 0 || off >= int64(len(buf)) {
		return
	}
	clear(buf[off:min(off+n, int64(len(buf)))])
}

// zeroValue clears an entry's out-of-line value.
func zeroValue(t *tiffFile, buf []byte, e tiffEntry) {
	if off, ok := t.valueOffset(e); ok {
		zeroRange(buf, int64(off), valueLen(e))
	}
}

// zeroIFD clears a directory, its out-of-line values and its entries.
func zeroIFD(t *tiffFile, buf []byte, off uint32) {
	d, err := t.readIFD(off)
	if err != nil {
		return
	}
	for _, e := range d.Entries {
		zeroValue(t, buf, e)
	}
	zeroRange(buf, int64(off), 2+12*int64(len(d.Entries))+4)
}

// rewriteIFD writes kept entries over directory d in place: new count,
// entries, the old next-IFD pointer, and zeros where removed entries were.
func rewriteIFD(t *tiffFile, buf []byte, d tiffIFD, kept []tiffEntry) {
	off := int64(d.Off)
	oldLen := 2 + 12*int64(len(d.Entries)) + 4
	var b bytes.Buffer
	var tmp [12]byte
	t.bo.PutUint16(tmp[:2], uint16(len(kept)))
	b.Write(tmp[:2])
	for _, e := range kept {
		t.bo.PutUint16(tmp[0:2], e.Tag)
		t.bo.PutUint16(tmp[2:4], e.Type)
		t.bo.PutUint32(tmp[4:8], e.Count)
		copy(tmp[8:12], e.Raw[:])
		b.Write(tmp[:12])
	}
	t.bo.PutUint32(tmp[:4], d.Next)
	b.Write(tmp[:4])
	zeroRange(buf, off, oldLen)
	copy(buf[off:], b.Bytes())
}

// pngDropChunk reports chunks that carry EXIF, XMP or free text (which
// tools fill with location and serial numbers).
func pngDropChunk(typ string) bool {
	switch typ {
	case "eXIf", "tEXt", "zTXt", "iTXt":
		return true
	}
	return false
}

func stripPNG(r io.Reader, w io.Writer) (bool, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	bw := bufio.NewWriterSize(w, 64<<10)
	sig := make([]byte, 8)
	if _, err := io.ReadFull(br, sig); err != nil || string(sig) != pngSignature {
		return false, fmt.Errorf("imaging: strip png: signature: %w", ErrCorrupt)
	}
	if _, err := bw.Write(sig); err != nil {
		return false, fmt.Errorf("imaging: strip png: %w", err)
	}
	changed := false
	for {
		var h [8]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return false, fmt.Errorf("imaging: strip png: chunk header: %w", ErrCorrupt)
		}
		n := binary.BigEndian.Uint32(h[:4])
		if n > 0x7FFFFFFF {
			return false, fmt.Errorf("imaging: strip png: chunk length: %w", ErrCorrupt)
		}
		typ := string(h[4:8])
		if pngDropChunk(typ) {
			changed = true
			if _, err := io.CopyN(io.Discard, br, int64(n)+4); err != nil {
				return false, fmt.Errorf("imaging: strip png: %w", ErrCorrupt)
			}
			continue
		}
		if _, err := bw.Write(h[:]); err != nil {
			return false, fmt.Errorf("imaging: strip png: %w", err)
		}
		if _, err := io.CopyN(bw, br, int64(n)+4); err != nil {
			return false, fmt.Errorf("imaging: strip png: chunk %q: %w", typ, ErrCorrupt)
		}
		if typ == "IEND" {
			break
		}
	}
	if n, err := io.Copy(io.Discard, br); err != nil {
		return false, fmt.Errorf("imaging: strip png: %w", err)
	} else if n > 0 {
		changed = true
	}
	return changed, wrapFlush(bw)
}

func stripWebP(r io.Reader, w io.Writer) (bool, error) {
	data, err := readLimited(r)
	if err != nil {
		return false, err
	}
	if len(data) < 12 || !bytes.Equal(data[:4], []byte("RIFF")) || !bytes.Equal(data[8:12], []byte("WEBP")) {
		return false, fmt.Errorf("imaging: strip webp: header: %w", ErrCorrupt)
	}
	end := min(int64(binary.LittleEndian.Uint32(data[4:8]))+8, int64(len(data)))
	var out bytes.Buffer
	out.Write(data[:12])
	changed := end < int64(len(data))
	for off := int64(12); off+8 <= end; {
		fourcc := string(data[off : off+4])
		n := int64(binary.LittleEndian.Uint32(data[off+4 : off+8]))
		next := off + 8 + n + n&1
		if off+8+n > end {
			return false, fmt.Errorf("imaging: strip webp: chunk %q overruns file: %w", fourcc, ErrCorrupt)
		}
		chunk := data[off:min(next, end)]
		switch fourcc {
		case "EXIF", "XMP ":
			changed = true
		case "VP8X":
			c := append([]byte{}, chunk...)
			if len(c) > 8 && c[8]&0x0C != 0 {
				c[8] &^= 0x0C // EXIF and XMP flags
				changed = true
			}
			out.Write(c)
		default:
			out.Write(chunk)
		}
		off = next
	}
	b := out.Bytes()
	binary.LittleEndian.PutUint32(b[4:8], uint32(len(b)-8))
	if _, err := w.Write(b); err != nil {
		return false, fmt.Errorf("imaging: strip webp: %w", err)
	}
	return changed, nil
}
